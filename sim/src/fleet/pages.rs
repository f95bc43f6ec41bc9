//! What a pager sees: which monitor events are node verdicts, which are monitor-level, and
//! which of them page someone. The whole paging policy is [`seen`] and [`pages`].

use hb_core::{DownReason, EventKind};

/// A monitor event as the fleet measurements classify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A node's first beat.
    Joined,
    /// A node declared down after `silence_us` of silence.
    Down {
        /// The silence that convicted it, µs.
        silence_us: u64,
        /// Reported with others — at the end of an isolation hold (reason `isolation`), or while
        /// its zone is reported out — and so part of that one `hold_expired` or `zone_down`
        /// page (Alertmanager inhibits it), not a page of its own.
        grouped: bool,
    },
    /// A down node beat again.
    Up,
    /// A node restarted (new incarnation).
    Restarted,
    /// Any other node event (left, forgotten, probe): never a page.
    Other,
    /// An event about the monitor itself that pages: `isolated`, `hold_expired` (zone reports
    /// too, once hb-core has them).
    MonitorLevel,
    /// An event about the monitor itself that resolves rather than pages: `reconnected`.
    MonitorResolved,
}

impl Seen {
    /// A small stable code for the event-log hash.
    pub fn code(self) -> u64 {
        match self {
            Self::Joined => 1,
            Self::Down { .. } => 2,
            Self::Up => 3,
            Self::Restarted => 4,
            Self::Other => 5,
            Self::MonitorLevel => 6,
            Self::MonitorResolved => 7,
        }
    }
}

/// How the fleet measurements see one hb-core event. The match is exhaustive: a new kind of
/// event cannot be added to hb-core without deciding here whether it pages. (A node held
/// `unreachable` during an isolation has no event at all.)
pub fn seen(kind: &EventKind) -> Seen {
    match kind {
        EventKind::Joined => Seen::Joined,
        EventKind::Down {
            silence, reason, ..
        } => Seen::Down {
            silence_us: silence.as_micros() as u64,
            grouped: *reason == DownReason::Isolation,
        },
        EventKind::Isolated { .. }
        | EventKind::IsolationExpired { .. }
        | EventKind::ZoneDown { .. }
        | EventKind::WitnessDown { .. }
        | EventKind::QuorumLost { .. } => Seen::MonitorLevel,
        EventKind::Reconnected { .. }
        | EventKind::ZoneUp { .. }
        | EventKind::WitnessUp { .. }
        | EventKind::QuorumRegained { .. } => Seen::MonitorResolved,
        EventKind::Up { .. } => Seen::Up,
        EventKind::Restarted { .. } => Seen::Restarted,
        // One monitor's path to the node, not the node: a warning, not a page.
        EventKind::Left
        | EventKind::Forgotten
        | EventKind::Probe { .. }
        | EventKind::Unreachable { .. }
        | EventKind::Reachable { .. } => Seen::Other,
    }
}

/// One page: what woke someone, from which monitor, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Index into the event log.
    pub event: usize,
    /// The monitor that paged.
    pub monitor: u16,
    /// The node it is about; `None` for a monitor-level page.
    pub node: Option<u32>,
    /// When, µs.
    pub at_us: u64,
}

/// The paging policy, in one place: every `down` is a page, except those reported together at
/// the end of an isolation hold (their `hold_expired` paged once for all of them); `isolated`
/// and `hold_expired` page once each, however many nodes they concern; `reconnected` resolves.
/// Nothing else pages.
pub fn pages(log: &[super::Logged]) -> Vec<Page> {
    log.iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(
                e.seen,
                Seen::Down { grouped: false, .. } | Seen::MonitorLevel
            )
        })
        .map(|(i, e)| Page {
            event: i,
            monitor: e.monitor,
            node: e.node,
            at_us: e.at_us,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use hb_core::{DownReason, Timestamp};

    use super::super::Logged;
    use super::*;

    fn logged(at_us: u64, node: Option<u32>, kind: &EventKind) -> Logged {
        Logged {
            at_us,
            monitor: 1,
            node,
            name: kind.name(),
            seen: seen(kind),
            incarnation: 1,
        }
    }

    #[test]
    fn every_down_pages_and_nothing_else_does_today() {
        let down = EventKind::Down {
            silence: Duration::from_secs(3),
            value: 3.0,
            deadline: Timestamp::from_micros(5),
            reason: DownReason::Silence,
        };
        let up = EventKind::Up {
            down_for: Duration::from_secs(1),
        };
        let log = [
            logged(1, Some(0), &EventKind::Joined),
            logged(5, Some(0), &down),
            logged(6, Some(0), &up),
            logged(7, Some(0), &EventKind::Left),
            logged(8, Some(2), &down),
        ];
        assert_eq!(
            log[1].seen,
            Seen::Down {
                silence_us: 3_000_000,
                grouped: false
            }
        );
        let p = pages(&log);
        assert_eq!(
            p,
            [
                Page {
                    event: 1,
                    monitor: 1,
                    node: Some(0),
                    at_us: 5
                },
                Page {
                    event: 4,
                    monitor: 1,
                    node: Some(2),
                    at_us: 8
                },
            ]
        );
        // A monitor-level event is one page, whatever it concerns.
        let mut isolated = logged(9, None, &EventKind::Joined);
        isolated.seen = Seen::MonitorLevel;
        assert_eq!(pages(&[isolated]).len(), 1);
    }
}
