//! How a beater is configured, what it reports, and why a configuration is refused.

use core::net::SocketAddr;
use core::time::Duration;

use compact_str::CompactString;

use crate::auth::Keyring;
use crate::id::NodeId;
use crate::schedule::SensorInterval;

/// hbnode's [`BeaterConfig::schedule_poll`]: without an ack timeout, one beat in this long
/// still asks for an ack, so a monitor's schedule or redirect reaches the node.
pub const SCHEDULE_POLL: Duration = Duration::from_secs(10);
/// How long a redirect target has to answer when there is no ack timeout (with one, it has
/// the ack timeout).
pub const REDIRECT_TIMEOUT: Duration = Duration::from_secs(10);
/// After a redirect target failed to answer, the same redirect is not tried again for this
/// long.
pub const REDIRECT_RETRY: Duration = Duration::from_secs(60);

/// How a [`Beater`](super::Beater) behaves.
#[derive(Clone, Debug)]
pub struct BeaterConfig {
    /// This node's id.
    pub id: NodeId,
    /// This run's incarnation; must grow across restarts (hbnode: start time, µs since the
    /// Unix epoch).
    pub incarnation: u64,
    /// Beat period.
    pub period: Duration,
    /// Each interval is `period × (1 + u)` with u uniform in `[−jitter, +jitter]` (0 to 0.5),
    /// so a fleet started together does not beat in lockstep.
    pub jitter: f64,
    /// Seed of the jitter's random generator (ChaCha8).
    pub seed: u64,
    /// Monitors, in priority order.
    pub monitors: Vec<SocketAddr>,
    /// Send to the first healthy monitor only (and probe higher-priority lost ones) instead of
    /// to all. Needs `ack_timeout`.
    pub failover: bool,
    /// Ask for acks; a monitor silent this long is lost. `None`: fire and forget.
    pub ack_timeout: Option<Duration>,
    /// Without `ack_timeout`, still ask for an ack on one beat in this long, so monitors'
    /// schedules and redirects arrive (hbnode: [`SCHEDULE_POLL`]). `None`: never.
    pub schedule_poll: Option<Duration>,
    /// Signing key (the first) and keys accepted on acks.
    pub keyring: Keyring,
    /// Peer group hash (0 outside peer mode).
    pub group: u32,
    /// Wall-clock time (µs since the Unix epoch) at `Timestamp::ZERO`; beats carry
    /// `unix_offset_us + now` as their informational send time.
    pub unix_offset_us: u64,
}

/// What the beater tells its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeaterEvent {
    /// A monitor stopped acknowledging beats for `ack_timeout`.
    MonitorLost {
        /// The monitor.
        monitor: SocketAddr,
        /// How long since its last ack (or since we started sending to it).
        silence: Duration,
    },
    /// A lost monitor acknowledged again.
    MonitorBack {
        /// The monitor.
        monitor: SocketAddr,
    },
    /// In failover mode: beats now go to this monitor.
    Active {
        /// The monitor.
        monitor: SocketAddr,
    },
    /// A monitor's ack carried a schedule version this beater did not run; it now does.
    ScheduleAdopted {
        /// The id of the monitor that sent it.
        monitor: CompactString,
        /// That monitor's address.
        addr: SocketAddr,
        /// The new version (0: back to the node's own settings).
        version: u32,
        /// The beat period before.
        previous_period: Duration,
        /// The beat period now.
        period: Duration,
        /// The sensors to run and how often (`None`: the node's own).
        sensors: Option<Vec<SensorInterval>>,
    },
    /// A monitor asked to move to another; beats now also go there, asking for acks.
    RedirectStarted {
        /// The monitor that asked.
        from: SocketAddr,
        /// Where to.
        to: SocketAddr,
    },
    /// The redirect target answered: it replaces `from`, which was sent a Leave.
    Redirected {
        /// The monitor left.
        from: SocketAddr,
        /// Its replacement.
        to: SocketAddr,
    },
    /// An unsigned ack carried a schedule or a redirect, ignored: only acks signed with a key
    /// the beater holds may change them (reported for the first such ack only; the count is
    /// `Beater::unsigned_acks_ignored`).
    UnsignedIgnored {
        /// The address the ack came from.
        monitor: SocketAddr,
    },
    /// The redirect target did not answer in time: the beater stays with `from` (and sends
    /// `to` a Leave in case its acks, not its beats, were lost).
    RedirectFailed {
        /// The monitor kept.
        from: SocketAddr,
        /// The silent target.
        to: SocketAddr,
        /// How long it was given.
        waited: Duration,
    },
}

/// A monitor as the beater sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorStatus {
    /// Being sent beats and acking (or not yet overdue).
    Healthy,
    /// Overdue: no ack for `ack_timeout`. Still probed.
    Lost,
    /// Failover mode: a backup not currently sent beats.
    Standby,
}

/// Why a [`BeaterConfig`] is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BeaterConfigError {
    /// No monitor address.
    #[error("at least one monitor address is needed")]
    NoMonitors,
    /// Zero period.
    #[error("the beat period must be greater than zero")]
    ZeroPeriod,
    /// Jitter outside 0–0.5.
    #[error("jitter must be between 0% and 50%")]
    Jitter,
    /// Failover without acks cannot tell a healthy monitor from a dead one.
    #[error("failover needs an ack timeout")]
    FailoverWithoutAcks,
}
