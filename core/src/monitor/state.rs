//! The `Monitor` itself: its state and queues, construction, and the plain getters.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use compact_str::CompactString;

use super::config::{MonitorConfig, MonitorConfigError};
use super::deadlines::Deadlines;
use super::isolation::Guard;
use super::links::Links;
use super::registry::{NodeState, Registry};
use super::witness::Witnesses;
use super::zones::Zones;
use crate::arrival::BeatArrival;
use crate::event::Event;
use crate::id::NodeId;
use crate::probe::{ProbeState, ReadingRefusals, Sample};
use crate::reject::Rejections;
use crate::schedule::ScheduleRule;
use crate::time::Timestamp;

/// A datagram waiting for `poll_transmit`.
#[derive(Clone, Debug)]
pub(super) enum Pending {
    /// An ack of `node`'s beat `seq`.
    Ack {
        to: SocketAddr,
        node: NodeId,
        seq: u64,
        /// The schedule version the beat said it runs.
        have: u32,
    },
    /// A member answer to the identify request with `nonce`.
    Member { to: SocketAddr, nonce: u64 },
    /// Verdicts to a witness.
    Verdicts {
        to: SocketAddr,
        suspect: Vec<NodeId>,
        trust: Vec<NodeId>,
    },
}

/// The monitor state machine.
///
/// Sans-IO: inputs are `handle_*` calls that take `now`; after every input drain
/// [`poll_event`](Self::poll_event) and [`poll_transmit`](Self::poll_transmit) until `None`, then
/// arm a timer for [`poll_timeout`](Self::poll_timeout) and call
/// [`handle_timeout`](Self::handle_timeout) when it fires.
///
/// # `poll_*` outputs
///
/// - [`poll_event`](Self::poll_event): what happened to nodes and probes ([`Event`]).
/// - [`poll_transmit`](Self::poll_transmit): acks (and member answers in peer mode) to send;
///   bounded by [`MonitorConfig::max_pending_acks`], overflow counted in
///   [`acks_dropped`](Self::acks_dropped).
/// - [`poll_sample`](Self::poll_sample): sensor readings of fresh beats; bounded by
///   [`MonitorConfig::max_pending_samples`], overflow counted in
///   [`samples_dropped`](Self::samples_dropped).
/// - [`poll_arrival`](Self::poll_arrival): every authenticated beat's arrival, for recording
///   traces; off unless [`MonitorConfig::max_pending_arrivals`] is above zero, overflow counted
///   in [`arrivals_dropped`](Self::arrivals_dropped).
/// - [`poll_timeout`](Self::poll_timeout): when to call `handle_timeout` next.
///
/// Drain the optional queues (samples, arrivals) with the others after every input, or they
/// fill and drop.
///
/// Every input first expires deadlines up to its `now`, so events come out in time order even
/// if the driver's timer fired late. Time never goes backwards: a `now` earlier than one already
/// seen is treated as that one.
#[derive(Debug)]
pub struct Monitor {
    pub(super) cfg: MonitorConfig,
    pub(super) nodes: Registry,
    /// The budget detector's link estimates by slot (empty for the other detectors).
    pub(super) links: Links,
    pub(super) deadlines: Deadlines,
    pub(super) events: VecDeque<Event>,
    pub(super) acks: VecDeque<Pending>,
    pub(super) samples: VecDeque<Sample>,
    pub(super) samples_dropped: u64,
    pub(super) arrivals: VecDeque<BeatArrival>,
    pub(super) arrivals_dropped: u64,
    pub(super) probes: BTreeMap<(NodeId, CompactString), ProbeState>,
    pub(super) probes_refused: u64,
    pub(super) readings_refused: ReadingRefusals,
    pub(super) rejections: Rejections,
    pub(super) now: Timestamp,
    pub(super) beats_received: u64,
    pub(super) acks_dropped: u64,
    pub(super) counts: [usize; 4],
    /// The isolation guard's counts and episode.
    pub(super) guard: Guard,
    /// The zone table and its counts.
    pub(super) zones: Zones,
    /// Witness mode: the other monitors and their votes.
    pub(super) witness: Witnesses,
    /// Resume instant of the latest detected stall: alive nodes' silence counts from here.
    pub(super) rearm_at: Timestamp,
    pub(super) stalls: u64,
    pub(super) last_stall: Duration,
    /// When the monitor was created (member answers report the uptime since).
    pub(super) started: Timestamp,
    /// `schedule_versions[i]` is `cfg.schedules[i].version()`.
    pub(super) schedule_versions: Vec<u32>,
}

impl Monitor {
    /// A monitor with no nodes, at time `now`.
    pub fn new(cfg: MonitorConfig, now: Timestamp) -> Result<Self, MonitorConfigError> {
        Self::with_capacity(cfg, now, 0)
    }

    /// As [`Monitor::new`], with room reserved for `nodes` nodes.
    pub fn with_capacity(
        cfg: MonitorConfig,
        now: Timestamp,
        nodes: usize,
    ) -> Result<Self, MonitorConfigError> {
        cfg.detector.validate()?;
        NodeId::new(&cfg.id)?;
        if cfg.max_nodes == 0 || u32::try_from(cfg.max_nodes).is_err() {
            return Err(MonitorConfigError::MaxNodes);
        }
        if let Some(rule) = cfg.schedules.iter().position(|r| r.validate().is_err()) {
            return Err(MonitorConfigError::Schedule { rule });
        }
        if let Some(i) = &cfg.isolation {
            i.validate()?;
        }
        let mut names: Vec<&str> = cfg.zones.iter().map(|z| z.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() > super::zones::MAX_ZONES
            || cfg.zones.iter().any(|z| NodeId::new(&z.name).is_err())
        {
            return Err(MonitorConfigError::Zones);
        }
        let schedule_versions = cfg.schedules.iter().map(ScheduleRule::version).collect();
        let cap = nodes.min(cfg.max_nodes);
        let zones = Zones::new(&cfg.zones);
        if let Some(q) = &cfg.quorum {
            q.validate()?;
        }
        let witness = Witnesses::new(cfg.quorum.as_ref(), &cfg.detector, now);
        Ok(Self {
            schedule_versions,
            nodes: Registry::with_capacity(cfg.hash_seed, cap),
            links: Links::new(&cfg.detector, cap),
            cfg,
            deadlines: Deadlines::default(),
            events: VecDeque::new(),
            acks: VecDeque::new(),
            samples: VecDeque::new(),
            samples_dropped: 0,
            arrivals: VecDeque::new(),
            arrivals_dropped: 0,
            probes: BTreeMap::new(),
            probes_refused: 0,
            readings_refused: ReadingRefusals::default(),
            rejections: Rejections::default(),
            now,
            beats_received: 0,
            acks_dropped: 0,
            counts: [0; 4],
            guard: Guard::default(),
            zones,
            witness,
            rearm_at: Timestamp::ZERO,
            stalls: 0,
            last_stall: Duration::ZERO,
            started: now,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.cfg
    }

    /// Number of known nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 0
    }

    /// Number of nodes in `state`.
    pub fn count(&self, state: NodeState) -> usize {
        self.counts[state as usize]
    }

    /// Fresh beats accepted so far.
    pub fn beats_received(&self) -> u64 {
        self.beats_received
    }

    /// Rejected inputs by reason.
    pub fn rejections(&self) -> &Rejections {
        &self.rejections
    }

    /// Stalls of the monitor itself detected so far, and the length of the latest one (how
    /// late the driver called after a deadline). See [`MonitorConfig::stall_threshold`].
    pub fn stalls(&self) -> (u64, Duration) {
        (self.stalls, self.last_stall)
    }

    /// The latest `now` seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Heap bytes held by the registry and the deadline heap (for the memory benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity_bytes() + self.deadlines.capacity_bytes() + self.links.capacity_bytes()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
