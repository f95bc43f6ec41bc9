//! The monitor: which nodes exist, which are alive, and when silence means failure.

mod deadlines;
mod registry;
mod restore;

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use compact_str::CompactString;

use deadlines::{Deadlines, Entry};
pub use registry::NodeState;
use registry::{Node, Registry};
pub use restore::{Restored, RestoredNode};

use crate::arrival::BeatArrival;
use crate::auth::Keyring;
use crate::detector::{Arrival, ConfigError, Detector, DetectorConfig, DetectorState, Fixed};
use crate::event::{DownReason, Event, EventKind};
use crate::id::{self, NodeId};
use crate::probe::{ProbeConfig, ProbeState, ProbeStatus, Sample};
use crate::reject::{Rejection, Rejections};
use crate::schedule::{self, ScheduleRule};
use crate::time::{Timestamp, micros};
use crate::transmit::Transmit;
use crate::wire::{self, Ack, Beat, BeatFlags, Identify, Leave, Member, Message};

/// Most distinct probes tracked per node; readings of further probes are counted
/// ([`Monitor::probes_refused`]) and still handed on as samples.
pub const MAX_PROBES_PER_NODE: usize = 64;

/// Width of the per-node window in which late (reordered) beats are still accepted.
pub const REORDER_WINDOW: u64 = 64;

/// How a [`Monitor`] decides and behaves.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// This monitor's id, sent in acks (≤ 64 bytes).
    pub id: String,
    /// The failure detector applied to every node.
    pub detector: DetectorConfig,
    /// Drop a node from the registry after it has been down or gone this long (`None`: never).
    pub forget_after: Option<Duration>,
    /// Most nodes held; beats from further new ids are refused and counted (`registry_full`),
    /// known nodes are never evicted to make room.
    pub max_nodes: usize,
    /// Keys accepted, and whether unauthenticated beats are refused.
    pub keyring: Keyring,
    /// Peer group hash; beats for another group are refused (0 outside peer mode).
    pub group: u32,
    /// Peer mode: this monitor is also a member of its group. Its own beats (looped back by
    /// multicast) are ignored, and identify requests are answered with a [`wire::Member`].
    pub peer: Option<PeerIdentity>,
    /// Period assumed for senders that advertise none (legacy protocols).
    pub default_period: Duration,
    /// Seed of the registry's hash function. Real hosts pass a random value; the simulator a
    /// seeded one.
    pub hash_seed: u64,
    /// Most acks (and member answers) queued between `poll_transmit` drains; further ones are
    /// dropped and counted.
    pub max_pending_acks: usize,
    /// Local-pause guard: if an input arrives more than this long after the deadline
    /// [`Monitor::poll_timeout`] named, the monitor itself was stalled (stopped process, blocked
    /// loop). Silence during a stall was not observed, so instead of convicting every node whose
    /// deadline passed, each alive node's silence clock restarts at the resume instant (see
    /// [`Monitor::stalls`]). `None` disables the guard.
    pub stall_threshold: Option<Duration>,
    /// Most [`Sample`]s queued between `poll_sample` drains; further readings are dropped and
    /// counted ([`Monitor::samples_dropped`]). Zero discards readings without counting.
    pub max_pending_samples: usize,
    /// Most [`BeatArrival`]s queued between `poll_arrival` drains; further ones are dropped and
    /// counted ([`Monitor::arrivals_dropped`]). Zero (the default) records nothing and counts
    /// nothing.
    pub max_pending_arrivals: usize,
    /// Thresholds and hysteresis for sensor readings (see [`crate::probe`]).
    pub probes: ProbeConfig,
    /// Central schedules (see [`crate::schedule`]): the first rule matching a node sets the
    /// period and sensors sent in its acks, and may redirect it to another monitor.
    pub schedules: Vec<ScheduleRule>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            id: "monitor".into(),
            detector: DetectorConfig::Fixed(Fixed {
                timeout: Duration::from_secs(15),
            }),
            forget_after: None,
            max_nodes: 1 << 20,
            keyring: Keyring::open(),
            group: 0,
            peer: None,
            default_period: Duration::from_secs(5),
            hash_seed: 0,
            max_pending_acks: 4096,
            stall_threshold: Some(Duration::from_secs(1)),
            max_pending_samples: 65_536,
            max_pending_arrivals: 0,
            probes: ProbeConfig::default(),
            schedules: Vec::new(),
        }
    }
}

/// Who this monitor is as a member of a peer group (see [`MonitorConfig::peer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The member's node id, the one its own beats carry.
    pub id: NodeId,
    /// The incarnation its own beats carry.
    pub incarnation: u64,
}

/// Why a [`MonitorConfig`] is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MonitorConfigError {
    /// The detector's parameters are out of bounds.
    #[error(transparent)]
    Detector(#[from] ConfigError),
    /// The monitor id is not 1–64 bytes without control characters.
    #[error("monitor id: {0}")]
    Id(#[from] id::IdError),
    /// `max_nodes` is zero or above 2³².
    #[error("max nodes must be between 1 and 4294967295")]
    MaxNodes,
    /// A schedule rule is out of bounds (see [`ScheduleRule::validate`]).
    #[error("schedule rule {rule} is out of bounds")]
    Schedule {
        /// Its index in `schedules`.
        rule: usize,
    },
}

/// A snapshot of one node, for status pages and metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo<'a> {
    /// The node's id.
    pub id: &'a NodeId,
    /// Its last known address.
    pub addr: SocketAddr,
    /// Its state.
    pub state: NodeState,
    /// When it entered that state.
    pub state_since: Timestamp,
    /// Its current incarnation.
    pub incarnation: u64,
    /// Highest sequence number seen in this incarnation.
    pub seq: u64,
    /// Receive time of its latest fresh beat.
    pub last_seen: Timestamp,
    /// Silence since then, at the snapshot's `now`.
    pub silence: Duration,
    /// The detector's value at `now`.
    pub value: f64,
    /// When it will be declared down if silent (alive nodes only).
    pub deadline: Option<Timestamp>,
    /// Its advertised (or assumed) beat period.
    pub period: Duration,
    /// Fresh beats received (this incarnation and before).
    pub beats: u64,
    /// Beats missing from the sequence (gaps not filled by late arrivals).
    pub lost: u32,
    /// Duplicate beats refused.
    pub duplicates: u32,
    /// Beats that arrived after a later one.
    pub reordered: u32,
}

impl NodeInfo<'_> {
    /// Estimated beat loss, 0.0–1.0.
    pub fn loss_ratio(&self) -> f64 {
        let lost = f64::from(self.lost);
        let total = self.beats as f64 + lost;
        if total == 0.0 { 0.0 } else { lost / total }
    }
}

/// A datagram waiting for `poll_transmit`.
#[derive(Clone, Debug)]
enum Pending {
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
    cfg: MonitorConfig,
    nodes: Registry,
    deadlines: Deadlines,
    events: VecDeque<Event>,
    acks: VecDeque<Pending>,
    samples: VecDeque<Sample>,
    samples_dropped: u64,
    arrivals: VecDeque<BeatArrival>,
    arrivals_dropped: u64,
    probes: BTreeMap<(NodeId, CompactString), ProbeState>,
    probes_refused: u64,
    rejections: Rejections,
    now: Timestamp,
    beats_received: u64,
    acks_dropped: u64,
    counts: [usize; 3],
    /// Resume instant of the latest detected stall: alive nodes' silence counts from here.
    rearm_at: Timestamp,
    stalls: u64,
    last_stall: Duration,
    /// When the monitor was created (member answers report the uptime since).
    started: Timestamp,
    /// `schedule_versions[i]` is `cfg.schedules[i].version()`.
    schedule_versions: Vec<u32>,
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
        let schedule_versions = cfg.schedules.iter().map(ScheduleRule::version).collect();
        let cap = nodes.min(cfg.max_nodes);
        Ok(Self {
            schedule_versions,
            nodes: Registry::with_capacity(cfg.hash_seed, cap),
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
            rejections: Rejections::default(),
            now,
            beats_received: 0,
            acks_dropped: 0,
            counts: [0; 3],
            rearm_at: Timestamp::ZERO,
            stalls: 0,
            last_stall: Duration::ZERO,
            started: now,
        })
    }

    // ---- getters ----

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

    /// Acks and member answers dropped because the transmit queue was full.
    pub fn acks_dropped(&self) -> u64 {
        self.acks_dropped
    }

    /// Readings of probes beyond [`MAX_PROBES_PER_NODE`] for their node (not judged).
    pub fn probes_refused(&self) -> u64 {
        self.probes_refused
    }

    /// Every tracked probe of `node`, by name.
    pub fn probes(&self, node: &str) -> impl Iterator<Item = (&str, &ProbeState)> + '_ {
        let node = NodeId::new(node).ok();
        node.into_iter().flat_map(move |id| {
            let lo = (id.clone(), CompactString::default());
            self.probes
                .range(lo..)
                .take_while(move |((n, _), _)| *n == id)
                .map(|((_, p), s)| (p.as_str(), s))
        })
    }

    /// Every tracked probe of every node, ordered by node then probe.
    pub fn all_probes(&self) -> impl Iterator<Item = (&NodeId, &str, &ProbeState)> + '_ {
        self.probes.iter().map(|((n, p), s)| (n, p.as_str(), s))
    }

    /// Readings dropped because the sample queue was full (`max_pending_samples`).
    pub fn samples_dropped(&self) -> u64 {
        self.samples_dropped
    }

    /// Arrivals dropped because the arrival queue was full (`max_pending_arrivals`).
    pub fn arrivals_dropped(&self) -> u64 {
        self.arrivals_dropped
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

    /// One node, as of `now`.
    pub fn node(&self, id: &str, now: Timestamp) -> Option<NodeInfo<'_>> {
        let slot = self.nodes.find(id)?;
        self.nodes.get(slot).map(|n| self.info(n, now))
    }

    /// Every node as of `now`, in a deterministic order (registration order, slots reused).
    pub fn nodes(&self, now: Timestamp) -> impl Iterator<Item = NodeInfo<'_>> {
        self.nodes.iter().map(move |(_, n)| self.info(n, now))
    }

    /// Heap bytes held by the registry and the deadline heap (for the memory benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity_bytes() + self.deadlines.capacity_bytes()
    }

    fn info<'a>(&self, n: &'a Node, now: Timestamp) -> NodeInfo<'a> {
        let period = n.period();
        let alive = n.state == NodeState::Alive;
        NodeInfo {
            id: &n.id,
            addr: n.addr,
            state: n.state,
            state_since: n.since,
            incarnation: n.incarnation,
            seq: n.seq,
            last_seen: n.last,
            silence: now - n.last,
            value: self.cfg.detector.value(&n.det, n.last, period, now),
            deadline: alive.then(|| self.due(n)),
            period,
            beats: n.beats,
            lost: n.lost,
            duplicates: n.duplicates,
            reordered: n.reordered,
        }
    }

    /// Checks the monitor's internal invariants, in O(nodes); for tests and the simulator.
    ///
    /// - the per-state counts match the registry;
    /// - every alive node has a live deadline no later than its true deadline;
    /// - [`Self::poll_timeout`] is exactly the earliest true deadline, and lies after `now`.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut counts = [0usize; 3];
        let mut earliest = Timestamp::MAX;
        for (slot, n) in self.nodes.iter() {
            counts[n.state as usize] += 1;
            let due = self.due(n);
            earliest = earliest.min(due);
            if n.scheduled > due {
                return Err(format!(
                    "node {} (slot {slot}) scheduled {:?} after due {due:?}",
                    n.id, n.scheduled
                ));
            }
            if self.nodes.find(n.id.as_str()) != Some(slot) {
                return Err(format!("node {} not found at its slot {slot}", n.id));
            }
        }
        if counts != self.counts {
            return Err(format!(
                "state counts {:?} but registry has {counts:?}",
                self.counts
            ));
        }
        let top = self.poll_timeout().unwrap_or(Timestamp::MAX);
        if top != earliest {
            return Err(format!(
                "poll_timeout {top:?} but earliest true deadline {earliest:?}"
            ));
        }
        if top <= self.now {
            return Err(format!("poll_timeout {top:?} not after now {:?}", self.now));
        }
        Ok(())
    }

    // ---- inputs ----

    /// A datagram arrived from `from` at `now`.
    pub fn handle_datagram(&mut self, now: Timestamp, from: SocketAddr, bytes: &[u8]) {
        let now = self.advance(now);
        match wire::decode(bytes, &self.cfg.keyring) {
            Err(e) => self.rejections.add(e.into()),
            Ok(d) => match d.message {
                Message::Beat(b) => {
                    self.queue_arrival(now, &b);
                    self.on_beat(now, from, &b);
                }
                Message::Leave(l) => self.on_leave(now, &l),
                Message::Identify(i) => self.on_identify(from, &i),
                Message::Ack(_) | Message::Member(_) => {
                    self.rejections.add(Rejection::UnexpectedKind);
                }
            },
        }
        self.settle();
    }

    /// A beat that arrived by other means than a native datagram (legacy listeners build one
    /// after parsing their own format). Authentication is the caller's business.
    pub fn handle_beat(&mut self, now: Timestamp, from: SocketAddr, beat: &Beat<'_>) {
        let now = self.advance(now);
        if id::validate(beat.node).is_err() {
            self.rejections.add(Rejection::InvalidField);
        } else {
            self.queue_arrival(now, beat);
            self.on_beat(now, from, beat);
        }
        self.settle();
    }

    /// Counts an input refused before it reached the monitor (a legacy listener's parse error).
    pub fn handle_rejection(&mut self, why: Rejection) {
        self.rejections.add(why);
    }

    /// The stream connection that carried `node`'s beats closed or was reset: if the node is
    /// alive it is down at once, with reason [`DownReason::ConnectionClosed`]. Unknown, down or
    /// departed nodes are left as they are (a later beat on a new connection brings it back).
    pub fn handle_disconnect(&mut self, now: Timestamp, node: &str) {
        let now = self.advance(now);
        if let Some(slot) = self.nodes.find(node)
            && self.nodes.get_mut(slot).state == NodeState::Alive
        {
            self.go_down(slot, now, now, DownReason::ConnectionClosed);
        }
        self.settle();
    }

    /// The timer armed for [`Self::poll_timeout`] fired (calling it at any time is harmless).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.advance(now);
        self.settle();
    }

    // ---- outputs ----

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next datagram to send (an ack, or a member answer in peer mode), written into `buf`
    /// (give it [`wire::MAX_DATAGRAM`] bytes).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(p) = self.acks.pop_front() {
            let (to, msg) = match &p {
                Pending::Ack {
                    to,
                    node,
                    seq,
                    have,
                } => {
                    let (schedule, redirect) = self.schedule_for(node.as_str(), *have);
                    (
                        *to,
                        Message::Ack(Ack {
                            node: node.as_str(),
                            seq: *seq,
                            monitor: &self.cfg.id,
                            schedule,
                            redirect,
                        }),
                    )
                }
                Pending::Member { to, nonce } => {
                    let Some(me) = &self.cfg.peer else { continue };
                    (
                        *to,
                        Message::Member(Member {
                            group: self.cfg.group,
                            node: me.id.as_str(),
                            incarnation: me.incarnation,
                            uptime_ms: u64::try_from((self.now - self.started).as_millis())
                                .unwrap_or(u64::MAX),
                            nonce: *nonce,
                        }),
                    )
                }
            };
            if let Ok(len) = wire::encode(&msg, self.cfg.keyring.signing_key(), buf) {
                return Some(Transmit { to, len });
            }
        }
        None
    }

    /// The next sensor reading accepted from a fresh beat, if any (see [`crate::probe`]).
    pub fn poll_sample(&mut self) -> Option<Sample> {
        self.samples.pop_front()
    }

    /// The next beat arrival, if any: every beat that decoded and authenticated (and every
    /// [`handle_beat`](Self::handle_beat)), before the group, sequence and replay checks;
    /// queued only when [`MonitorConfig::max_pending_arrivals`] is above zero.
    pub fn poll_arrival(&mut self) -> Option<BeatArrival> {
        self.arrivals.pop_front()
    }

    /// The earliest instant at which some node's deadline falls, exactly; `None` when nothing
    /// is scheduled. Changed by every `handle_*` call and by nothing else.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.deadlines.peek().map(|e| e.at)
    }

    // ---- internals ----

    /// Moves time forward and fires every deadline up to `now`.
    fn advance(&mut self, now: Timestamp) -> Timestamp {
        let now = now.max(self.now);
        self.now = now;
        if let (Some(threshold), Some(due)) = (self.cfg.stall_threshold, self.poll_timeout())
            && now > due + threshold
        {
            // We were not running when we should have been: forgive the gap.
            self.stalls += 1;
            self.last_stall = now - due;
            self.rearm_at = now;
        }
        loop {
            self.settle();
            let Some(e) = self.deadlines.peek() else {
                break;
            };
            if e.at > now {
                break;
            }
            self.deadlines.pop();
            self.fire(e.slot, e.at, now);
        }
        now
    }

    /// Corrects the heap top until it is a true deadline (see [`deadlines`]).
    fn settle(&mut self) {
        while let Some(e) = self.deadlines.peek() {
            let due = match self.nodes.get(e.slot) {
                Some(n) if n.generation == e.generation && n.scheduled == e.at => self.due(n),
                _ => {
                    self.deadlines.pop();
                    continue;
                }
            };
            if due == e.at {
                return;
            }
            self.deadlines.pop();
            self.nodes.get_mut(e.slot).scheduled = due;
            if due != Timestamp::MAX {
                let entry = Entry {
                    at: due,
                    slot: e.slot,
                    generation: e.generation,
                };
                self.deadlines.push(entry);
            }
        }
    }

    /// When `n` next needs attention: its detector deadline if alive, else its forget time.
    fn due(&self, n: &Node) -> Timestamp {
        match n.state {
            NodeState::Alive if n.last >= self.rearm_at => n.deadline,
            // Silence before our own stall counts from the resume instant.
            NodeState::Alive => self
                .cfg
                .detector
                .deadline(&n.det, self.rearm_at, n.period()),
            NodeState::Down | NodeState::Left => match self.cfg.forget_after {
                Some(f) => n.since + f,
                None => Timestamp::MAX,
            },
        }
    }

    /// Makes sure `slot` has a heap entry no later than its due time.
    fn arm(&mut self, slot: u32) {
        let Some(n) = self.nodes.get(slot) else {
            return;
        };
        let due = self.due(n);
        if due < n.scheduled {
            let generation = n.generation;
            self.nodes.get_mut(slot).scheduled = due;
            self.deadlines.push(Entry {
                at: due,
                slot,
                generation,
            });
        }
    }

    fn fire(&mut self, slot: u32, deadline: Timestamp, now: Timestamp) {
        let n = self.nodes.get_mut(slot);
        n.scheduled = Timestamp::MAX;
        match n.state {
            NodeState::Alive => self.go_down(slot, deadline, now, DownReason::Silence),
            NodeState::Down | NodeState::Left => {
                let (addr, incarnation) = (n.addr, n.incarnation);
                self.counts[n.state as usize] -= 1;
                let node = self.nodes.remove(slot);
                self.forget_probes(&node);
                self.events.push_back(Event {
                    at: now,
                    node,
                    addr,
                    incarnation,
                    kind: EventKind::Forgotten,
                });
            }
        }
    }

    /// Declares the alive node in `slot` down at `now` (its detector crossed the line at
    /// `deadline`) and arms its forget time.
    fn go_down(&mut self, slot: u32, deadline: Timestamp, now: Timestamp, reason: DownReason) {
        let n = self.nodes.get_mut(slot);
        let value = self.cfg.detector.value(&n.det, n.last, n.period(), now);
        let ev = Event {
            at: now,
            node: n.id.clone(),
            addr: n.addr,
            incarnation: n.incarnation,
            kind: EventKind::Down {
                silence: now - n.last,
                value,
                deadline,
                reason,
            },
        };
        self.set_state(slot, NodeState::Down, now);
        self.events.push_back(ev);
        self.arm(slot);
    }

    fn set_state(&mut self, slot: u32, state: NodeState, now: Timestamp) {
        let n = self.nodes.get_mut(slot);
        if n.state != state {
            self.counts[n.state as usize] -= 1;
            self.counts[state as usize] += 1;
            n.state = state;
            n.since = now;
        }
    }

    fn period_us(&self, beat_period_ms: u32) -> u32 {
        let us = if beat_period_ms == 0 {
            micros(self.cfg.default_period)
        } else {
            u64::from(beat_period_ms) * 1000
        };
        u32::try_from(us).unwrap_or(u32::MAX)
    }

    /// The schedule (if `node`, running version `have`, needs another) and redirect its ack
    /// carries: the first matching rule's, or, with no rule, a reset to the node's own settings
    /// if it still runs an old schedule.
    fn schedule_for(&self, node: &str, have: u32) -> (Option<wire::Schedule<'_>>, Option<&str>) {
        match schedule::first_match(&self.cfg.schedules, node) {
            Some((i, rule)) => {
                let version = self.schedule_versions[i];
                let schedule = (version != have).then(|| rule.wire(version));
                (schedule, rule.redirect.as_deref())
            }
            None => {
                let reset = wire::Schedule {
                    version: 0,
                    period_ms: 0,
                    sensors: None,
                };
                ((have != 0).then_some(reset), None)
            }
        }
    }

    fn queue(&mut self, p: Pending) {
        if self.acks.len() >= self.cfg.max_pending_acks {
            self.acks_dropped += 1;
            return;
        }
        self.acks.push_back(p);
    }

    fn queue_ack(&mut self, to: SocketAddr, node: &str, seq: u64, have: u32) {
        if let Ok(node) = NodeId::new(node) {
            self.queue(Pending::Ack {
                to,
                node,
                seq,
                have,
            });
        }
    }

    /// Peer mode: whether a beat or leave from `node` (of `incarnation`) is this member's own,
    /// looped back, and so to be ignored. Another incarnation under our id is a second process
    /// using the same id: refused and counted, so the clash shows in the metrics.
    fn is_own(&mut self, node: &str, incarnation: u64) -> bool {
        match &self.cfg.peer {
            Some(me) if me.id.as_str() == node => {
                if me.incarnation != incarnation {
                    self.rejections.add(Rejection::IdConflict);
                }
                true
            }
            _ => false,
        }
    }

    fn on_identify(&mut self, from: SocketAddr, i: &Identify) {
        if self.cfg.peer.is_none() {
            self.rejections.add(Rejection::UnexpectedKind);
        } else if i.group != self.cfg.group {
            self.rejections.add(Rejection::WrongGroup);
        } else {
            self.queue(Pending::Member {
                to: from,
                nonce: i.nonce,
            });
        }
    }

    fn on_beat(&mut self, now: Timestamp, from: SocketAddr, b: &Beat<'_>) {
        if b.group != self.cfg.group {
            self.rejections.add(Rejection::WrongGroup);
            return;
        }
        if self.is_own(b.node, b.incarnation) {
            return;
        }
        if b.flags.has(BeatFlags::LEAVING) {
            let l = Leave {
                node: b.node,
                incarnation: b.incarnation,
                seq: b.seq,
                group: b.group,
            };
            return self.on_leave(now, &l);
        }
        let ack = b.flags.has(BeatFlags::ACK_WANTED);
        let period_us = self.period_us(b.period_ms);
        let Some(slot) = self.nodes.find(b.node) else {
            return self.join(now, from, b, period_us, ack);
        };
        let n = self.nodes.get_mut(slot);
        if b.incarnation < n.incarnation {
            self.rejections.add(Rejection::StaleIncarnation);
            return;
        }
        let prev_state = n.state;
        let event;
        if b.incarnation > n.incarnation {
            event = Some(if prev_state == NodeState::Left {
                EventKind::Joined
            } else {
                EventKind::Restarted {
                    previous: n.incarnation,
                    was_down: prev_state == NodeState::Down,
                }
            });
            n.incarnation = b.incarnation;
            n.seq = b.seq;
            n.window = 0;
            n.period_us = period_us;
            n.det = first_arrival(&self.cfg.detector, now, n.period());
        } else {
            // Same incarnation: the sequence number decides.
            let advance = match sequence(n, b.seq) {
                Seq::Fresh(advance) => advance,
                Seq::Reordered => {
                    n.reordered = n.reordered.saturating_add(1);
                    n.lost = n.lost.saturating_sub(1);
                    if ack {
                        self.queue_ack(from, b.node, b.seq, b.schedule_version);
                    }
                    return;
                }
                Seq::Duplicate => {
                    n.duplicates = n.duplicates.saturating_add(1);
                    self.rejections.add(Rejection::Duplicate);
                    if ack {
                        self.queue_ack(from, b.node, b.seq, b.schedule_version);
                    }
                    return;
                }
                Seq::TooOld => {
                    self.rejections.add(Rejection::Replayed);
                    return;
                }
            };
            n.lost = n
                .lost
                .saturating_add(u32::try_from(advance - 1).unwrap_or(u32::MAX));
            n.period_us = period_us;
            // An outage, or a stall of ours, is not an inter-arrival sample.
            let resumed = prev_state != NodeState::Alive || n.last < self.rearm_at;
            let arrival = Arrival {
                at: now,
                prev: Some(n.last),
                seq_advance: advance,
                period: n.period(),
                resumed,
            };
            self.cfg.detector.observe(&mut n.det, &arrival);
            event = match prev_state {
                NodeState::Alive => None,
                NodeState::Down => Some(EventKind::Up {
                    down_for: now - n.since,
                }),
                NodeState::Left => Some(EventKind::Joined),
            };
        }
        n.last = now;
        n.deadline = deadline_after(&self.cfg.detector, &n.det, now, n.period());
        n.addr = from;
        n.beats += 1;
        self.beats_received += 1;
        self.set_state(slot, NodeState::Alive, now);
        self.take_readings(now, slot, b);
        if let Some(kind) = event {
            let n = self.nodes.get(slot).expect("present");
            let ev = Event {
                at: now,
                node: n.id.clone(),
                addr: from,
                incarnation: n.incarnation,
                kind,
            };
            self.events.push_back(ev);
        }
        self.arm(slot);
        if ack {
            self.queue_ack(from, b.node, b.seq, b.schedule_version);
        }
    }

    /// Queues the arrival of beat `b` at `now` for `poll_arrival`, if arrivals are recorded.
    fn queue_arrival(&mut self, now: Timestamp, b: &Beat<'_>) {
        if self.cfg.max_pending_arrivals == 0 {
            return;
        }
        if self.arrivals.len() >= self.cfg.max_pending_arrivals {
            self.arrivals_dropped += 1;
            return;
        }
        // Decoding and `handle_beat` validated the id already.
        let Ok(node) = NodeId::new(b.node) else {
            return;
        };
        self.arrivals.push_back(BeatArrival {
            node,
            at: now,
            seq: b.seq,
            incarnation: b.incarnation,
            period_ms: b.period_ms,
        });
    }

    /// Judges and queues the readings of the fresh beat just accepted from the node in `slot`.
    fn take_readings(&mut self, now: Timestamp, slot: u32, b: &Beat<'_>) {
        if b.readings.is_empty() {
            return;
        }
        let n = self.nodes.get(slot).expect("present");
        let (node, addr, incarnation) = (n.id.clone(), n.addr, n.incarnation);
        for r in b.readings.iter() {
            self.judge(now, &node, addr, incarnation, &r);
            if self.cfg.max_pending_samples == 0 {
                continue;
            }
            if self.samples.len() >= self.cfg.max_pending_samples {
                self.samples_dropped += 1;
                continue;
            }
            self.samples.push_back(Sample {
                at: now,
                node: node.clone(),
                probe: r.probe.into(),
                value: r.value,
                status: r.status,
            });
        }
    }

    /// Updates the probe's state from one reading, with an event if the state changed.
    fn judge(
        &mut self,
        now: Timestamp,
        node: &NodeId,
        addr: SocketAddr,
        incarnation: u64,
        r: &wire::Reading<'_>,
    ) {
        let key = (node.clone(), CompactString::from(r.probe));
        if !self.probes.contains_key(&key) {
            if self.probes(node.as_str()).count() >= MAX_PROBES_PER_NODE {
                self.probes_refused += 1;
                return;
            }
            self.probes.insert(key.clone(), ProbeState::new(now));
        }
        let rule = self.cfg.probes.rule(node.as_str(), r.probe);
        let status = match rule {
            Some(rule) => rule.evaluate(r.value),
            None if r.value.is_nan() => ProbeStatus::Unknown,
            None => ProbeStatus::from_code(r.status),
        };
        let hysteresis = rule
            .and_then(|r| r.hysteresis)
            .unwrap_or(self.cfg.probes.hysteresis);
        let state = self.probes.get_mut(&key).expect("inserted above");
        if let Some(previous) = state.observe(now, r.value, status, hysteresis) {
            self.events.push_back(Event {
                at: now,
                node: node.clone(),
                addr,
                incarnation,
                kind: EventKind::Probe {
                    probe: key.1,
                    status,
                    previous,
                    value: r.value,
                },
            });
        }
    }

    fn forget_probes(&mut self, node: &NodeId) {
        let lo = (node.clone(), CompactString::default());
        let gone: Vec<_> = self
            .probes
            .range(lo..)
            .take_while(|((n, _), _)| n == node)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.probes.remove(&k);
        }
    }

    fn join(&mut self, now: Timestamp, from: SocketAddr, b: &Beat<'_>, period_us: u32, ack: bool) {
        if self.nodes.len() >= self.cfg.max_nodes {
            self.rejections.add(Rejection::RegistryFull);
            return;
        }
        let Ok(id) = NodeId::new(b.node) else {
            self.rejections.add(Rejection::InvalidField);
            return;
        };
        let period = Duration::from_micros(u64::from(period_us));
        let det = first_arrival(&self.cfg.detector, now, period);
        let slot = self.nodes.insert(Node {
            id: id.clone(),
            addr: from,
            incarnation: b.incarnation,
            seq: b.seq,
            window: 0,
            last: now,
            since: now,
            scheduled: Timestamp::MAX,
            deadline: deadline_after(&self.cfg.detector, &det, now, period),
            det,
            beats: 1,
            lost: 0,
            duplicates: 0,
            reordered: 0,
            period_us,
            generation: 0,
            state: NodeState::Alive,
            occupied: true,
        });
        self.counts[NodeState::Alive as usize] += 1;
        self.beats_received += 1;
        self.events.push_back(Event {
            at: now,
            node: id,
            addr: from,
            incarnation: b.incarnation,
            kind: EventKind::Joined,
        });
        self.take_readings(now, slot, b);
        self.arm(slot);
        if ack {
            self.queue_ack(from, b.node, b.seq, b.schedule_version);
        }
    }

    fn on_leave(&mut self, now: Timestamp, l: &Leave<'_>) {
        if l.group != self.cfg.group {
            self.rejections.add(Rejection::WrongGroup);
            return;
        }
        if self.is_own(l.node, l.incarnation) {
            return;
        }
        let Some(slot) = self.nodes.find(l.node) else {
            self.rejections.add(Rejection::UnknownNode);
            return;
        };
        let n = self.nodes.get_mut(slot);
        if l.incarnation < n.incarnation {
            self.rejections.add(Rejection::StaleIncarnation);
            return;
        }
        if l.incarnation == n.incarnation {
            match sequence(n, l.seq) {
                Seq::Fresh(_) | Seq::Reordered => {}
                Seq::Duplicate => {
                    self.rejections.add(Rejection::Duplicate);
                    return;
                }
                Seq::TooOld => {
                    self.rejections.add(Rejection::Replayed);
                    return;
                }
            }
        } else {
            n.incarnation = l.incarnation;
            n.seq = l.seq;
            n.window = 0;
        }
        if n.state == NodeState::Left {
            return;
        }
        let ev = Event {
            at: now,
            node: n.id.clone(),
            addr: n.addr,
            incarnation: n.incarnation,
            kind: EventKind::Left,
        };
        self.set_state(slot, NodeState::Left, now);
        self.nodes.get_mut(slot).scheduled = Timestamp::MAX;
        self.events.push_back(ev);
        self.arm(slot);
    }
}

/// The detector's deadline for a node that beat at `now`, never at or before `now`: a beat
/// always buys at least a microsecond, so `poll_timeout` stays in the future.
fn deadline_after(
    d: &DetectorConfig,
    st: &DetectorState,
    now: Timestamp,
    p: Duration,
) -> Timestamp {
    d.deadline(st, now, p).max(now + Duration::from_micros(1))
}

enum Seq {
    /// Newer than anything seen; advanced by this much (≥ 1). The window is updated.
    Fresh(u64),
    /// Inside the window and not seen before. The window is updated.
    Reordered,
    /// Seen before.
    Duplicate,
    /// Older than the window.
    TooOld,
}

/// Classifies `seq` against the node's sequence window and records it.
fn sequence(n: &mut Node, seq: u64) -> Seq {
    if seq > n.seq {
        let shift = seq - n.seq;
        n.window = match shift {
            s if s < REORDER_WINDOW => (n.window << s) | (1 << (s - 1)),
            REORDER_WINDOW => 1 << (REORDER_WINDOW - 1),
            _ => 0,
        };
        n.seq = seq;
        return Seq::Fresh(shift);
    }
    if seq == n.seq {
        return Seq::Duplicate;
    }
    let back = n.seq - seq;
    if back > REORDER_WINDOW {
        return Seq::TooOld;
    }
    let bit = 1u64 << (back - 1);
    if n.window & bit != 0 {
        return Seq::Duplicate;
    }
    n.window |= bit;
    Seq::Reordered
}

/// A node's detector state after its first beat (of an incarnation, or after a restore) at `at`.
fn first_arrival(detector: &DetectorConfig, at: Timestamp, period: Duration) -> DetectorState {
    let mut det = DetectorState::default();
    let arrival = Arrival {
        at,
        prev: None,
        seq_advance: 1,
        period,
        resumed: false,
    };
    detector.observe(&mut det, &arrival);
    det
}

#[cfg(test)]
mod tests;
