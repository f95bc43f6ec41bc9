//! The fleet simulator: many nodes, several monitors, a link per path, zones and correlated
//! fault verbs, measured as a pager would see them.
//!
//! - [`Topology`] — zones of nodes, monitors (each its own detector), per-zone or fleet-wide
//!   path links, loss shared by a node's paths.
//! - [`FaultPlan`] — [`Fault`] verbs with a compact text form (`partition_monitor=m0,2m,30s;…`).
//! - [`run_fleet`] — the engine: the same sans-IO `Beater`/`Monitor` the single-trace engine
//!   drives, N beaters × M monitors, one agenda, per-node seeded RNGs.
//! - [`measure`] — events by kind, false downs (fault-induced or noise), detection times,
//!   missed crashes, and [`pages`] per incident; [`run_many`] repeats with derived seeds.
//! - [`presets`] — the named scenarios of `cargo xtask sim fleet`.
//! - [`agreement`] — witness mode (monitors confirming each other) against its theory.
//!
//! See docs/sim.md, "The fleet simulator".

mod agreement;
mod attribution;
mod cohort;
mod engine;
mod faults;
pub mod gate;
mod gate_witness;
mod intake;
mod measure;
mod pages;
pub mod presets;
mod resolve;
mod topology;
mod witness;

use rayon::prelude::*;

pub use agreement::{AgreementMeasure, agreement, model as agreement_model};
pub use attribution::Attribution;
pub use cohort::{ZoneMeasure, cohort, mixed_join};
pub use engine::run_fleet;
pub use faults::{Fault, FaultPlan, STALL_BUFFER, VERBS};
pub use measure::{FleetMeasure, IncidentMeasure, MonitorMeasure, measure};
pub use pages::{Page, Seen, pages, seen};
pub use resolve::{Resolved, Scope};
pub use topology::{
    FleetError, MAX_DATAGRAMS, MAX_MONITORS, MAX_NODES, MonitorSpec, Topology, WitnessSpec, Zone,
};

use crate::engine::Violation;
use crate::scenario::{splitmix64, trace_seed};

/// A topology and the faults injected into it, checked against each other.
#[derive(Clone, Debug, PartialEq)]
pub struct Fleet {
    /// The fleet's shape.
    pub topology: Topology,
    /// What goes wrong.
    pub plan: FaultPlan,
    resolved: Resolved,
    zones_of: Vec<u16>,
}

impl Fleet {
    /// Validates `topology` and resolves `plan`'s names and times against it.
    pub fn new(topology: Topology, plan: FaultPlan) -> Result<Self, FleetError> {
        topology.validate()?;
        let resolved = plan.resolve(&topology)?;
        let zones_of = topology.node_zones();
        Ok(Self {
            topology,
            plan,
            resolved,
            zones_of,
        })
    }

    /// The plan resolved to indices and µs windows.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The zone index of node `i`.
    pub fn zone_of(&self, i: u32) -> u16 {
        self.zones_of[i as usize]
    }
}

/// One monitor event in the run's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged {
    /// Virtual time, µs.
    pub at_us: u64,
    /// The monitor that emitted it.
    pub monitor: u16,
    /// The node it is about (`None` for monitor-level events).
    pub node: Option<u32>,
    /// hb-core's name of the event (`down`, `up`, …).
    pub name: &'static str,
    /// How the measurements classify it.
    pub seen: Seen,
    /// The node's incarnation.
    pub incarnation: u64,
}

/// Ground truth: one crash of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashRecord {
    /// The node.
    pub node: u32,
    /// When it crashed, µs.
    pub at_us: u64,
    /// When it restarted, µs (`None`: still down at the end of the run).
    pub restart_us: Option<u64>,
    /// The `crash` fault that caused it (index in the plan); `None` for a random crash.
    pub fault: Option<usize>,
}

/// What one monitor's network and process did in a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorCounters {
    /// Datagrams handed to the monitor.
    pub delivered: u64,
    /// Datagrams dropped by a fault (partition, outage, flap, cut).
    pub blocked: u64,
    /// Datagrams lost by the path's link or the node's NIC.
    pub lost: u64,
    /// Datagrams that arrived while the monitor was stalled with its socket buffer full.
    pub stall_dropped: u64,
    /// Stalls the monitor itself detected (`hb_core::Monitor::stalls`).
    pub stalls: u64,
    /// The longest interval `(from, to)` µs in which the monitor got no datagram from a node.
    pub longest_quiet_us: (u64, u64),
    /// Witness datagrams (`Verdicts`) this monitor sent.
    pub verdicts_sent: u64,
    /// Of those, lost on the monitor link or cut by a partition of either monitor.
    pub verdicts_lost: u64,
    /// Witness datagrams handed to this monitor.
    pub verdicts_delivered: u64,
}

/// The result of one fleet run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetOutcome {
    /// The run seed.
    pub seed: u64,
    /// Digest of the event log (every monitor event with its time, every crash, the delivery
    /// counts): equal for the same seed and plan.
    pub hash: u64,
    /// Every event the monitors emitted, in order.
    pub log: Vec<Logged>,
    /// Every crash, in order.
    pub crashes: Vec<CrashRecord>,
    /// Per monitor, in topology order.
    pub monitors: Vec<MonitorCounters>,
    /// Beats sent by all nodes (each to every monitor).
    pub beats_sent: u64,
    /// The largest one-way delay of any delivered node datagram, µs.
    pub max_delay_us: u64,
    /// The largest one-way delay of any witness datagram on the monitor link, µs.
    pub max_vote_delay_us: u64,
    /// Virtual time simulated, µs.
    pub simulated_us: u64,
    /// The first failed check (event stamps, unexpected acks, monitor invariants), if any.
    pub violation: Option<Violation>,
}

/// Runs `fleet` `runs` times, run r seeded `trace_seed(seed, r)`, in parallel; outcomes in
/// run order.
pub fn run_many(fleet: &Fleet, seed: u64, runs: u64) -> Vec<FleetOutcome> {
    (0..runs)
        .into_par_iter()
        .map(|r| run_fleet(fleet, trace_seed(seed, r)))
        .collect()
}

/// One digest over several runs' digests, in order.
pub fn digest(outcomes: &[FleetOutcome]) -> u64 {
    outcomes
        .iter()
        .fold(splitmix64(outcomes.len() as u64), |h, o| {
            splitmix64(h ^ o.hash)
        })
}
