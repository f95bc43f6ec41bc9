//! What the monitor tells the world.

use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

use compact_str::CompactString;

use crate::id::NodeId;
use crate::probe::ProbeStatus;
use crate::time::Timestamp;

/// A change in a node's liveness, drained with [`crate::Monitor::poll_event`].
///
/// Monitor-level events ([`EventKind::is_monitor_level`]: isolation) are about the monitor
/// itself: `node` is the monitor's own id ([`crate::MonitorConfig::id`]), `addr` unspecified
/// (`0.0.0.0:0`) and `incarnation` 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When the monitor decided (the `now` of the input that produced the event).
    pub at: Timestamp,
    /// The node (the monitor's own id for monitor-level events).
    pub node: NodeId,
    /// The node's last known address.
    pub addr: SocketAddr,
    /// The node's incarnation (after the change, for `Restarted`).
    pub incarnation: u64,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// First beat from a node the monitor did not know (or had forgotten, or that had left).
    Joined,
    /// The node's detector crossed its threshold.
    Down {
        /// Silence since the node's last fresh beat, at `at`.
        silence: Duration,
        /// The detector's value at `at` (see [`crate::detector::Detector::value`]).
        value: f64,
        /// The instant the detector crossed its threshold (equals `at` when driven on time).
        deadline: Timestamp,
        /// Why.
        reason: DownReason,
    },
    /// A down node beat again with the same incarnation.
    Up {
        /// How long it had been down.
        down_for: Duration,
    },
    /// The node beat with a higher incarnation: it restarted. Caught even when the restart was
    /// faster than the detector's timeout. If it was down, this event also means it is up.
    Restarted {
        /// The incarnation before the restart.
        previous: u64,
        /// Whether it was down when the new incarnation appeared.
        was_down: bool,
    },
    /// The node said goodbye (graceful shutdown).
    Left,
    /// The node was down or gone for longer than `forget_after` and was dropped from the
    /// registry.
    Forgotten,
    /// One of the node's probes changed state (after the configured hysteresis).
    Probe {
        /// The probe's name.
        probe: CompactString,
        /// Its new state.
        status: ProbeStatus,
        /// Its state before.
        previous: ProbeStatus,
        /// The reading that completed the change.
        value: f64,
    },
    /// Monitor-level: far more nodes fell silent together than independent failures explain
    /// (see [`crate::Isolation`]); they are held unreachable, not reported down.
    Isolated {
        /// Nodes silent together (quiet, or down by silence within one timeout).
        silent: u32,
        /// Nodes watched (alive, held, or down by silence within one timeout).
        watched: u32,
    },
    /// Monitor-level: enough held nodes beat again; the isolation is over. The nodes still
    /// silent are judged afresh, their silence counted from now.
    Reconnected {
        /// Held nodes that beat again during the episode.
        returned: u32,
        /// Nodes still held when it ended.
        still_silent: u32,
        /// How long the episode lasted.
        lasted: Duration,
    },
    /// Monitor-level: most of a zone fell silent together while the rest of the fleet is fine:
    /// a real outage of that zone. Its nodes' downs follow (or came just before), each marked
    /// with the zone.
    ZoneDown {
        /// The zone.
        zone: CompactString,
        /// Its nodes silent together (quiet, or down by silence within one timeout).
        silent: u32,
        /// Its nodes watched.
        watched: u32,
    },
    /// Monitor-level: most of a zone that was out is alive again.
    ZoneUp {
        /// The zone.
        zone: CompactString,
        /// How long it was out.
        lasted: Duration,
    },
    /// Monitor-level: the isolation hold passed with the monitor still cut off; the nodes
    /// still held follow as `down` events at the same instant, reason
    /// [`DownReason::Isolation`].
    IsolationExpired {
        /// Nodes reported down with it.
        down: u32,
        /// How long the episode lasted.
        lasted: Duration,
    },
    /// Witness mode: this monitor's detector convicted the node but not enough witnesses
    /// agree within one of the node's periods (see [`crate::Quorum`]): the path from the node
    /// to `by` is the likely fault. The node is held unreachable, not down.
    Unreachable {
        /// Silence since the node's last fresh beat, at `at`.
        silence: Duration,
        /// This monitor's id: the one that cannot hear the node.
        by: CompactString,
    },
    /// Witness mode: a node reported unreachable beat again.
    Reachable {
        /// How long it was unreachable from here.
        lasted: Duration,
    },
    /// Monitor-level, witness mode: a witness's messages stopped (its silence judged by this
    /// monitor's detector, as a node's would be).
    WitnessDown {
        /// The witness's id (its address until it was first heard).
        witness: CompactString,
        /// Its address, as configured.
        addr: SocketAddr,
    },
    /// Monitor-level, witness mode: a witness is heard (again).
    WitnessUp {
        /// The witness's id.
        witness: CompactString,
        /// Its address, as configured.
        addr: SocketAddr,
    },
    /// Monitor-level, witness mode: fewer monitors than the quorum are up (this one and the
    /// witnesses it hears): its own verdicts are final until enough return. Nodes held
    /// unreachable are judged by this monitor alone: down at once.
    QuorumLost {
        /// Monitors up, this one included.
        up: u32,
        /// Monitors needed.
        needed: u32,
    },
    /// Monitor-level, witness mode: enough monitors are up again; downs need their agreement.
    QuorumRegained {
        /// Monitors up, this one included.
        up: u32,
        /// Monitors needed.
        needed: u32,
    },
}

/// Why a node went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownReason {
    /// Its silence crossed the detector's threshold.
    Silence,
    /// Its stream connection closed (stream listeners only).
    ConnectionClosed,
    /// It was held unreachable while the monitor seemed cut off, and stayed silent for the
    /// whole isolation hold.
    Isolation,
    /// Witness mode: its silence crossed the detector's threshold here and enough other
    /// monitors suspect it too.
    Agreed,
}

impl EventKind {
    /// The event's stable name, as in the JSON event stream (`joined`, `down`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Down { .. } => "down",
            Self::Up { .. } => "up",
            Self::Restarted { .. } => "restarted",
            Self::Left => "left",
            Self::Forgotten => "forgotten",
            Self::Probe { status, .. } => match status {
                ProbeStatus::Ok => "probe_ok",
                ProbeStatus::Warning => "probe_warning",
                ProbeStatus::Error => "probe_error",
                ProbeStatus::Unknown => "probe_unknown",
            },
            Self::Isolated { .. } => "isolated",
            Self::Reconnected { .. } => "reconnected",
            Self::IsolationExpired { .. } => "hold_expired",
            Self::ZoneDown { .. } => "zone_down",
            Self::ZoneUp { .. } => "zone_up",
            Self::Unreachable { .. } => "unreachable",
            Self::Reachable { .. } => "reachable",
            Self::WitnessDown { .. } => "witness_down",
            Self::WitnessUp { .. } => "witness_up",
            Self::QuorumLost { .. } => "quorum_lost",
            Self::QuorumRegained { .. } => "quorum_regained",
        }
    }

    /// Whether the event is about the monitor itself rather than one node.
    pub fn is_monitor_level(&self) -> bool {
        matches!(
            self,
            Self::Isolated { .. }
                | Self::Reconnected { .. }
                | Self::IsolationExpired { .. }
                | Self::ZoneDown { .. }
                | Self::ZoneUp { .. }
                | Self::WitnessDown { .. }
                | Self::WitnessUp { .. }
                | Self::QuorumLost { .. }
                | Self::QuorumRegained { .. }
        )
    }
}

impl DownReason {
    /// The reason's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Silence => "silence",
            Self::ConnectionClosed => "connection closed",
            Self::Isolation => "isolation",
            Self::Agreed => "agreed",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind.is_monitor_level() {
            write!(f, "monitor {} {}", self.node, self.kind.name())?;
        } else {
            write!(f, "{} {} ({})", self.node, self.kind.name(), self.addr)?;
        }
        match &self.kind {
            EventKind::Down { silence, value, .. } => {
                write!(
                    f,
                    " after {:.3}s of silence, detector value {value:.3}",
                    silence.as_secs_f64()
                )
            }
            EventKind::Up { down_for } => write!(f, " after {:.3}s down", down_for.as_secs_f64()),
            EventKind::Restarted { previous, .. } => {
                write!(f, ", incarnation {previous} -> {}", self.incarnation)
            }
            EventKind::Probe {
                probe,
                status,
                previous,
                value,
            } => write!(
                f,
                ": {probe} {} -> {} at {value}",
                previous.as_str(),
                status.as_str()
            ),
            EventKind::Isolated { silent, watched } => {
                write!(
                    f,
                    ": {silent} of {watched} nodes silent together, held unreachable"
                )
            }
            EventKind::Reconnected {
                returned,
                still_silent,
                lasted,
            } => write!(
                f,
                " after {:.3}s: {returned} nodes beat again, {still_silent} still silent",
                lasted.as_secs_f64()
            ),
            EventKind::ZoneDown {
                zone,
                silent,
                watched,
            } => write!(
                f,
                ": zone {zone}, {silent} of its {watched} nodes silent together"
            ),
            EventKind::ZoneUp { zone, lasted } => {
                write!(f, ": zone {zone} back after {:.3}s", lasted.as_secs_f64())
            }
            EventKind::IsolationExpired { down, lasted } => write!(
                f,
                " after {:.3}s: {down} nodes still silent, reported down",
                lasted.as_secs_f64()
            ),
            EventKind::Unreachable { silence, by } => write!(
                f,
                ": silent for {:.3}s here ({by}), the witnesses do not agree",
                silence.as_secs_f64()
            ),
            EventKind::Reachable { lasted } => {
                write!(f, " after {:.3}s unreachable", lasted.as_secs_f64())
            }
            EventKind::WitnessDown { witness, addr } => {
                write!(f, ": witness {witness} ({addr}) silent")
            }
            EventKind::WitnessUp { witness, addr } => {
                write!(f, ": witness {witness} ({addr}) heard")
            }
            EventKind::QuorumLost { up, needed } => write!(
                f,
                ": {up} of the {needed} monitors needed are up, own verdicts are final"
            ),
            EventKind::QuorumRegained { up, needed } => {
                write!(
                    f,
                    ": {up} monitors up, {needed} needed, downs need agreement again"
                )
            }
            _ => Ok(()),
        }
    }
}
