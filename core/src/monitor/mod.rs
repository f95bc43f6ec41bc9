//! The monitor: which nodes exist, which are alive, and when silence means failure.
//!
//! [`Monitor`] is one struct whose methods are split by concept: `state.rs` (the struct,
//! construction, getters), `intake.rs` (beats, leaves, disconnects), `liveness.rs` (time,
//! deadlines, down and forget), `acks.rs` (what it sends), `probes.rs` (readings and samples),
//! `arrivals.rs`, `info.rs` (node snapshots), `links.rs` (the budget detector's per-node link
//! estimates), `isolation.rs` (the monitor's own blindness: quiet marks, held nodes), `zones.rs`
//! (zone outages), `witness.rs` (other monitors' agreement) and `restore.rs`; `registry.rs`, `deadlines.rs`
//! and `sequence.rs` hold the per-node records, the deadline heap and the sequence window.

mod acks;
mod arrivals;
mod config;
mod deadlines;
mod info;
mod intake;
mod isolation;
mod links;
mod liveness;
mod probes;
mod registry;
mod restore;
mod sequence;
mod state;
mod witness;
mod zones;

pub use config::{
    Isolation, MAX_WITNESSES, MonitorConfig, MonitorConfigError, PeerIdentity, Quorum,
};
pub use info::NodeInfo;
pub use isolation::IsolationView;
pub use links::LinkView;
pub use probes::MAX_PROBES_PER_NODE;
pub use registry::NodeState;
pub use restore::{Restored, RestoredNode, RestoredProbe};
pub use sequence::REORDER_WINDOW;
pub use state::Monitor;
pub use witness::{VOTE_MEMORY, WitnessView, WitnessesView};
pub use zones::{MAX_ZONES, ZoneRule};

#[cfg(test)]
mod tests;
