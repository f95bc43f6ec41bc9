//! How a monitor is configured, and why a configuration is refused.

use core::net::SocketAddr;
use core::time::Duration;

use crate::auth::Keyring;
use crate::detector::{ConfigError, DetectorConfig, Fixed};
use crate::id::{self, NodeId};
use crate::probe::ProbeConfig;
use crate::schedule::ScheduleRule;

/// How a [`Monitor`](super::Monitor) decides and behaves.
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
    /// multicast) are ignored, and identify requests are answered with a [`wire::Member`](crate::wire::Member).
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
    /// [`Monitor::poll_timeout`](super::Monitor::poll_timeout) named, the monitor itself was stalled (stopped process, blocked
    /// loop). Silence during a stall was not observed, so instead of convicting every node whose
    /// deadline passed, each alive node's silence clock restarts at the resume instant (see
    /// [`Monitor::stalls`](super::Monitor::stalls)). `None` disables the guard.
    pub stall_threshold: Option<Duration>,
    /// Most [`Sample`](crate::probe::Sample)s queued between `poll_sample` drains; further readings are dropped and
    /// counted ([`Monitor::samples_dropped`](super::Monitor::samples_dropped)). Zero discards readings without counting.
    pub max_pending_samples: usize,
    /// Most [`BeatArrival`](crate::BeatArrival)s queued between `poll_arrival` drains; further ones are dropped and
    /// counted ([`Monitor::arrivals_dropped`](super::Monitor::arrivals_dropped)). Zero (the default) records nothing and counts
    /// nothing.
    pub max_pending_arrivals: usize,
    /// Thresholds and hysteresis for sensor readings (see [`crate::probe`]).
    pub probes: ProbeConfig,
    /// Central schedules (see [`crate::schedule`]): the first rule matching a node sets the
    /// period and sensors sent in its acks, and may redirect it to another monitor.
    pub schedules: Vec<ScheduleRule>,
    /// The isolation guard: when far more nodes fall silent together than independent
    /// failures explain, the monitor reports its own blindness once instead of every node
    /// down. `None` disables it.
    pub isolation: Option<Isolation>,
    /// Zone rules (first match wins): a zone whose nodes fall silent together while the
    /// others are fine is reported once, `zone_down` (see `zones.rs`). Needs `isolation` (its
    /// share and hold); empty: no zones.
    pub zones: Vec<super::zones::ZoneRule>,
    /// Witness mode: other monitors that must agree before a node is down (see `witness.rs`).
    /// `None`: this monitor's own verdicts are final.
    pub quorum: Option<Quorum>,
}

/// Most witnesses a monitor names.
pub const MAX_WITNESSES: usize = 8;

/// Witness mode: the other monitors that confirm this one's verdicts (see
/// [`MonitorConfig::quorum`]).
///
/// The monitor sends its verdicts ([`wire::Verdicts`](crate::wire::Verdicts)) to every witness
/// each `period` and at once when one changes. When its own detector convicts a node, the node
/// is down only if `needed` monitors (itself included) suspect it; otherwise it is held
/// [`Unreachable`](crate::NodeState::Unreachable): after one of the node's periods without
/// agreement the monitor reports [`EventKind::Unreachable`](crate::EventKind::Unreachable)
/// naming itself, and the node is down the moment enough witnesses agree, or alive again at its
/// next beat ([`EventKind::Reachable`](crate::EventKind::Reachable)). Each witness's own
/// messages are its beats, judged by the monitor's detector: a silent witness is
/// [`EventKind::WitnessDown`](crate::EventKind::WitnessDown). When fewer than `needed`
/// monitors are up (itself and the witnesses it hears), the monitor falls back to its own
/// verdicts ([`EventKind::QuorumLost`](crate::EventKind::QuorumLost)) until enough return.
#[derive(Clone, Debug, PartialEq)]
pub struct Quorum {
    /// The other monitors' addresses (where their beats arrive; they send from there too).
    pub witnesses: Vec<SocketAddr>,
    /// Monitors, this one included, that must suspect a node for it to be down (K of
    /// `witnesses.len() + 1`).
    pub needed: usize,
    /// How often the monitor repeats its verdicts to each witness (default 1 s).
    pub period: Duration,
    /// Grows across restarts of this monitor (hbnode: its start time in µs since the Unix
    /// epoch), so witnesses refuse replays of its old messages.
    pub incarnation: u64,
}

impl Quorum {
    /// A majority of `witnesses + 1` monitors.
    pub fn majority(witnesses: usize) -> usize {
        witnesses.div_ceil(2) + 1
    }

    /// Checks the bounds: 1–[`MAX_WITNESSES`] distinct witnesses, `needed` in 1..=N, `period`
    /// of at least 10 ms.
    pub fn validate(&self) -> Result<(), MonitorConfigError> {
        let n = self.witnesses.len();
        let mut sorted = self.witnesses.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let ok = (1..=MAX_WITNESSES).contains(&n)
            && sorted.len() == n
            && (1..=n + 1).contains(&self.needed)
            && self.period >= Duration::from_millis(10);
        if ok {
            Ok(())
        } else {
            Err(MonitorConfigError::Quorum)
        }
    }
}

/// When a mass silence means the monitor is the one cut off (see [`MonitorConfig::isolation`]).
///
/// A node is *quiet* once its silence is within `min(T/2, 1.5 periods)` of its own deadline `T`
/// (for 1 s beats and a 3 s timeout: after 1.5 s without a beat). When an alive node's deadline
/// passes, the monitor counts the quiet nodes plus those declared down by silence within the
/// last `T`. If that is at least `min_nodes` and at least `min_share` of the nodes it watches,
/// the monitor is *isolated*: one [`EventKind::Isolated`](crate::EventKind::Isolated), and the
/// quiet nodes are held [`Unreachable`](crate::NodeState::Unreachable), not down. Otherwise the
/// node is down at once — an ordinary crash costs no detection time — unless half the rule is
/// met (twice as many would meet it): then its verdict waits one period, once.
///
/// The episode ends with [`EventKind::Reconnected`](crate::EventKind::Reconnected) once so many
/// held nodes beat again that the rest no longer meet the rule (held nodes that beat are alive
/// again without an event; the rest are judged afresh, their silence counted from that
/// instant), or with [`EventKind::IsolationExpired`](crate::EventKind::IsolationExpired) after
/// `hold`: the nodes still held are then all down at one instant, reason
/// [`DownReason::Isolation`](crate::DownReason::Isolation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Isolation {
    /// Fewest silent nodes that can mean isolation (default 10).
    pub min_nodes: u32,
    /// Smallest share of the watched nodes (alive, held, and down within one timeout) that can
    /// mean isolation, in (0, 1] (default 0.5).
    pub min_share: f64,
    /// How long nodes are held unreachable before they are reported down (default 1 minute).
    pub hold: Duration,
}

impl Default for Isolation {
    fn default() -> Self {
        Self {
            min_nodes: 10,
            min_share: 0.5,
            hold: Duration::from_secs(60),
        }
    }
}

impl Isolation {
    /// Checks the bounds: `min_nodes` ≥ 1, `min_share` in (0, 1], `hold` of at least 1 ms.
    pub fn validate(&self) -> Result<(), MonitorConfigError> {
        let share_ok = self.min_share > 0.0 && self.min_share <= 1.0;
        if self.min_nodes == 0 || !share_ok || self.hold < Duration::from_millis(1) {
            return Err(MonitorConfigError::Isolation);
        }
        Ok(())
    }

    /// Whether `silent` of `watched` nodes going quiet together means isolation.
    pub fn is_met(&self, silent: usize, watched: usize) -> bool {
        silent >= self.min_nodes as usize && silent as f64 >= self.min_share * watched as f64
    }
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
            isolation: Some(Isolation::default()),
            zones: Vec::new(),
            quorum: None,
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
    /// The isolation guard's bounds (see [`Isolation::validate`]).
    #[error("isolation: min nodes must be at least 1, min share in (0, 1] and hold at least 1ms")]
    Isolation,
    /// A zone name is not 1–64 bytes without control characters, or there are more than
    /// [`MAX_ZONES`](super::MAX_ZONES) zones.
    #[error("zones: names must be 1-64 bytes without control characters, at most 255 zones")]
    Zones,
    /// The witness settings' bounds (see [`Quorum::validate`]).
    #[error(
        "witnesses: 1-8 distinct addresses, quorum between 1 and the number of monitors, period at least 10ms"
    )]
    Quorum,
}
