//! hb-core: the deterministic, sans-IO heart of hbnode.
//!
//! # Sans-IO
//!
//! Nothing in this crate reads a clock, touches a socket, spawns a thread, reads the
//! environment or draws hidden randomness. Time is an input ([`Timestamp`], passed as `now`);
//! bytes are inputs and outputs; seeds are configuration. The same [`Monitor`] and [`Beater`]
//! therefore run on real hosts (driven by hb-node's actors) and inside the simulator (driven by
//! a virtual clock and a lossy fake network), with identical behaviour.
//!
//! # Run loop
//!
//! The API comes in four kinds: getters, `handle_*` inputs, a few mutators, and `poll_*`
//! outputs. The invariant: **after every input, drain `poll_event`, `poll_transmit` (and
//! `poll_sample` if readings matter, `poll_arrival` if arrivals are recorded) until they return
//! `None`, then sleep until `poll_timeout`** and call `handle_timeout` then. The optional
//! outputs are off unless configured (`max_pending_samples`, `max_pending_arrivals`); each
//! queue is bounded, and what does not fit is dropped and counted.
//!
//! ```
//! use std::time::Duration;
//! use hb_core::{Monitor, MonitorConfig, Timestamp, EventKind};
//! use hb_core::detector::{DetectorConfig, Fixed};
//! use hb_core::wire::{self, Beat, Message};
//!
//! let cfg = MonitorConfig {
//!     detector: DetectorConfig::Fixed(Fixed { timeout: Duration::from_secs(3) }),
//!     ..MonitorConfig::default()
//! };
//! let mut monitor = Monitor::new(cfg, Timestamp::ZERO).unwrap();
//! let beat = Message::Beat(Beat { period_ms: 1000, ..Beat::new("web-1", 1, 1) });
//! let mut buf = [0u8; wire::MAX_DATAGRAM];
//! let n = wire::encode(&beat, None, &mut buf).unwrap();
//!
//! let from = "127.0.0.1:9000".parse().unwrap();
//! monitor.handle_datagram(Timestamp::from_micros(1_000), from, &buf[..n]);
//! assert_eq!(monitor.poll_event().unwrap().kind, EventKind::Joined);
//!
//! // Nothing more arrives. First the isolation guard's quiet mark (1.5 periods before the
//! // deadline: the node now counts as unusually silent), then the deadline, 3 s after the beat.
//! let quiet = monitor.poll_timeout().unwrap();
//! assert_eq!(quiet, Timestamp::from_micros(1_501_000));
//! monitor.handle_timeout(quiet);
//! assert!(monitor.poll_event().is_none());
//! let deadline = monitor.poll_timeout().unwrap();
//! assert_eq!(deadline, Timestamp::from_micros(3_001_000));
//! monitor.handle_timeout(deadline);
//! assert!(matches!(monitor.poll_event().unwrap().kind, EventKind::Down { .. }));
//! ```
//!
//! # Design
//!
//! - [`wire`]: the datagram format (postcard in a small authenticated envelope).
//! - [`detector`]: fixed, φ-accrual and Chen NFD-E detectors behind one trait; each names the
//!   exact instant a silent node crosses its line.
//! - [`Monitor`]: registry of nodes keyed by id (never by address), per-node sequence windows,
//!   event-driven deadlines (a lazily corrected min-heap: no periodic sweep), and the isolation
//!   guard ([`Isolation`]): a mass silence is the monitor's own blindness, reported once;
//!   witness mode ([`Quorum`]): with other monitors, a node is down only when enough of them
//!   agree.
//! - [`probe`]: sensor readings accepted from beats, drained with `Monitor::poll_sample`.
//! - [`group`]: peer groups: a name's multicast address, port and wire hash.
//! - [`Beater`]: beat schedule with seeded jitter, acks, monitor loss and failover; readings
//!   riding on beats; schedules and redirects from monitors.
//! - [`schedule`]: central schedule rules (per node id or glob, [`NodeMatch`]).
//! - [`theory`]: the false-alarm rate of a timeout on a lossy, delayed link (pure math, shared
//!   by the simulator, `hbnode plan` and the budget detector).
//! - [`legacy`]: decoders for the protocols hbnode replaces (PyHeartbeat, Circus, TCP/JSON).
//!
//! # Panics, errors and unwraps
//!
//! A panic is a bug. Peer input never panics: every malformed, forged, stale or excess input
//! becomes a counted [`Rejection`]. The decoders are fuzz targets (see `fuzz/`).

#![warn(missing_docs)]

mod arrival;
mod auth;
mod beater;
pub mod detector;
mod event;
mod glob;
pub mod group;
mod id;
pub mod legacy;
mod monitor;
pub mod probe;
mod reject;
pub mod schedule;
pub mod theory;
mod time;
mod transmit;
pub mod wire;

pub use arrival::BeatArrival;
pub use auth::{KEY_LEN, Key, KeyFileError, KeyParseError, Keyring, TAG_LEN, parse_key_file};
pub use beater::{
    Beater, BeaterConfig, BeaterConfigError, BeaterEvent, MAX_PENDING_READINGS, MonitorStatus,
    REDIRECT_RETRY, REDIRECT_TIMEOUT, ReadingError, SCHEDULE_POLL,
};
pub use event::{DownReason, Event, EventKind};
pub use glob::{NodeMatch, NodeMatchError};
pub use id::{IdError, MAX_ID_LEN, NodeId};
pub use monitor::MAX_ZONES;
pub use monitor::{
    Isolation, IsolationView, LinkView, MAX_PROBES_PER_NODE, Monitor, MonitorConfig,
    MonitorConfigError, NodeInfo, NodeState, PeerIdentity, Quorum, REORDER_WINDOW, Restored,
    RestoredNode, RestoredProbe, WitnessView, WitnessesView, ZoneRule,
};
pub use monitor::{MAX_WITNESSES, VOTE_MEMORY};
pub use reject::{Rejection, Rejections};
pub use time::Timestamp;
pub use transmit::Transmit;
