//! Events as the world sees them: an owned, serialisable record with wall-clock time.
//!
//! The JSON form is the stable schema documented in `docs/events.md`.

use std::fmt;
use std::net::SocketAddr;

use hb_core::{Event, EventKind};
use serde::Serialize;

use crate::runtime::clock::Clock;

/// One monitor event, ready for every sink. Field order is the JSON field order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct EventRecord {
    /// RFC 3339 UTC with milliseconds: when the monitor decided (display only).
    pub(crate) time: String,
    /// `joined`, `down`, `up`, `restarted`, `left`, `forgotten`, `probe_*`, `unreachable`,
    /// `reachable`; monitor-level: `isolated`, `reconnected`, `hold_expired`, `zone_down`,
    /// `zone_up`, `witness_down`, `witness_up`, `quorum_lost`, `quorum_regained`.
    pub(crate) event: &'static str,
    /// The node's id (monitor-level events: the monitor's own id).
    pub(crate) node: String,
    /// The node's last known address.
    pub(crate) addr: SocketAddr,
    /// The node's incarnation (the new one, for `restarted`).
    pub(crate) incarnation: u64,
    /// This process's event number, counting from 1 (what `/v1/events?since=` takes).
    pub(crate) event_id: u64,
    /// The detector in use (`fixed`, `phi`, `chen`).
    pub(crate) detector: &'static str,
    /// `down`, `unreachable`: silence since the node's last fresh beat, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) silence_ms: Option<u64>,
    /// `down`: the detector's value when it decided (fixed: seconds of silence; phi: φ;
    /// chen: seconds past the expected arrival).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<f64>,
    /// `down`: why (`silence`, `connection closed`, `isolation`, `agreed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<&'static str>,
    /// `down`: how late the report came after the detector's exact deadline, in µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) slack_us: Option<u64>,
    /// `up`: how long the node had been down, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) down_ms: Option<u64>,
    /// `restarted`: the incarnation before the restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous_incarnation: Option<u64>,
    /// `restarted`: whether the node was down when the new incarnation appeared (the event
    /// then also means it is up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) was_down: Option<bool>,
    /// `probe_*`: the probe's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) probe: Option<String>,
    /// `probe_*`: the reading that completed the change (null if it was NaN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reading: Option<f64>,
    /// `probe_*`: the probe's state before (`ok`, `warning`, `error`, `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous_state: Option<&'static str>,
    /// `isolated`: nodes silent together; `reconnected`: nodes still silent at the end;
    /// `hold_expired`: nodes reported down with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nodes: Option<u32>,
    /// `isolated`: nodes watched (alive, held, or down by silence within one timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) watched: Option<u32>,
    /// `reconnected`: held nodes that beat again during the episode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) returned: Option<u32>,
    /// `zone_down`, `zone_up`: the zone; node events: the node's zone, if a `--zone` rule gave
    /// it one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) zone: Option<String>,
    /// `reconnected`, `hold_expired`: how long the isolation lasted (`zone_up`: the zone's
    /// outage), in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lasted_ms: Option<u64>,
    /// `unreachable`: the monitor that cannot hear the node (this one); `witness_down`,
    /// `witness_up`: the witness's id (its address until first heard; `addr` is its address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) monitor: Option<String>,
    /// `quorum_lost`, `quorum_regained`: monitors up, this one included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) monitors_up: Option<u32>,
    /// `quorum_lost`, `quorum_regained`: monitors that must agree for a down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) needed: Option<u32>,
    /// The node's process id, when a legacy listener reported one (Circus, TCP/JSON): a claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pid: Option<u32>,
    /// With `pid`: whether the monitor verified it (the process owns the socket the beats come
    /// from and started before them; see `legacy::owner`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pid_verified: Option<bool>,
    /// A verified pid's start time (clock ticks since boot), rechecked before a hook gets it
    /// as `HBNODE_PID`; not serialised.
    #[serde(skip)]
    pub(crate) pid_start: Option<u64>,
    /// The monotonic decision time (µs since process start); not serialised.
    #[serde(skip)]
    pub(crate) at_us: u64,
}

/// The monitor-level events' names (see [`hb_core::EventKind::is_monitor_level`]).
pub(crate) const MONITOR_EVENTS: [&str; 9] = [
    "isolated",
    "reconnected",
    "hold_expired",
    "zone_down",
    "zone_up",
    "witness_down",
    "witness_up",
    "quorum_lost",
    "quorum_regained",
];

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl EventRecord {
    /// Builds the record of `ev`, numbered `event_id`.
    pub(crate) fn new(ev: &Event, event_id: u64, detector: &'static str, clock: &Clock) -> Self {
        let mut r = Self {
            time: clock.rfc3339(ev.at),
            event: ev.kind.name(),
            node: ev.node.to_string(),
            addr: ev.addr,
            incarnation: ev.incarnation,
            event_id,
            detector,
            silence_ms: None,
            value: None,
            reason: None,
            slack_us: None,
            down_ms: None,
            previous_incarnation: None,
            was_down: None,
            probe: None,
            reading: None,
            previous_state: None,
            nodes: None,
            zone: None,
            watched: None,
            returned: None,
            lasted_ms: None,
            monitor: None,
            monitors_up: None,
            needed: None,
            at_us: ev.at.as_micros(),
            pid: None,
            pid_verified: None,
            pid_start: None,
        };
        match &ev.kind {
            EventKind::Down {
                silence,
                value,
                deadline,
                reason,
            } => {
                r.silence_ms = Some(ms(*silence));
                r.value = value.is_finite().then_some(*value);
                r.reason = Some(reason.as_str());
                r.slack_us = Some(
                    (ev.at - *deadline)
                        .as_micros()
                        .try_into()
                        .unwrap_or(u64::MAX),
                );
            }
            EventKind::Up { down_for } => r.down_ms = Some(ms(*down_for)),
            EventKind::Restarted { previous, was_down } => {
                r.previous_incarnation = Some(*previous);
                r.was_down = Some(*was_down);
            }
            EventKind::Probe {
                probe,
                previous,
                value,
                ..
            } => {
                r.probe = Some(probe.to_string());
                r.reading = value.is_finite().then_some(*value);
                r.previous_state = Some(previous.as_str());
            }
            EventKind::Isolated { silent, watched } => {
                r.nodes = Some(*silent);
                r.watched = Some(*watched);
            }
            EventKind::Reconnected {
                returned,
                still_silent,
                lasted,
            } => {
                r.nodes = Some(*still_silent);
                r.returned = Some(*returned);
                r.lasted_ms = Some(ms(*lasted));
            }
            EventKind::IsolationExpired { down, lasted } => {
                r.nodes = Some(*down);
                r.lasted_ms = Some(ms(*lasted));
            }
            EventKind::ZoneDown {
                zone,
                silent,
                watched,
            } => {
                r.zone = Some(zone.to_string());
                r.nodes = Some(*silent);
                r.watched = Some(*watched);
            }
            EventKind::ZoneUp { zone, lasted } => {
                r.zone = Some(zone.to_string());
                r.lasted_ms = Some(ms(*lasted));
            }
            EventKind::Unreachable { silence, by } => {
                r.silence_ms = Some(ms(*silence));
                r.monitor = Some(by.to_string());
            }
            EventKind::Reachable { lasted } => r.lasted_ms = Some(ms(*lasted)),
            EventKind::WitnessDown { witness, addr } | EventKind::WitnessUp { witness, addr } => {
                r.monitor = Some(witness.to_string());
                r.addr = *addr;
            }
            EventKind::QuorumLost { up, needed } | EventKind::QuorumRegained { up, needed } => {
                r.monitors_up = Some(*up);
                r.needed = Some(*needed);
            }
            EventKind::Joined | EventKind::Left | EventKind::Forgotten => {}
        }
        r
    }

    /// Whether the event is about the monitor itself ([`MONITOR_EVENTS`]) rather than one
    /// node.
    pub(crate) fn is_monitor_level(&self) -> bool {
        MONITOR_EVENTS.contains(&self.event)
    }

    /// The record as one JSON line (no newline).
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The human form: `TIME  EVENT  NODE (ADDR) details`.
/// A `joined` event of node `a`, for tests of what consumes records.
#[cfg(test)]
pub(crate) fn sample_record() -> std::sync::Arc<EventRecord> {
    let ev = Event {
        at: hb_core::Timestamp::ZERO,
        node: hb_core::NodeId::new("a").expect("valid id"),
        addr: "127.0.0.1:1".parse().expect("valid address"),
        incarnation: 1,
        kind: EventKind::Joined,
    };
    std::sync::Arc::new(EventRecord::new(&ev, 1, "fixed", &Clock::new()))
}

/// The event column's width in text lines: the longest event name (`quorum_regained`), so
/// every line's node starts in the same column.
const EVENT_WIDTH: usize = 15;

impl fmt::Display for EventRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_monitor_level() {
            // About the monitor itself, which has no address of its own here.
            write!(
                f,
                "{}  {:<EVENT_WIDTH$}  monitor {}",
                self.time, self.event, self.node
            )?;
        } else {
            write!(
                f,
                "{}  {:<EVENT_WIDTH$}  {} ({})",
                self.time, self.event, self.node, self.addr
            )?;
        }
        match self.event {
            "down" => {
                write!(
                    f,
                    " after {:.3}s of silence",
                    self.silence_ms.unwrap_or(0) as f64 / 1000.0
                )?;
                if let Some(v) = self.value {
                    write!(f, ", {} value {v:.3}", self.detector)?;
                }
                if let Some(r) = self.reason.filter(|r| *r != "silence") {
                    write!(f, " ({r})")?;
                }
                Ok(())
            }
            "up" => write!(
                f,
                " after {:.3}s down",
                self.down_ms.unwrap_or(0) as f64 / 1000.0
            ),
            "restarted" => {
                write!(
                    f,
                    ", incarnation {} -> {}",
                    self.previous_incarnation.unwrap_or(0),
                    self.incarnation
                )?;
                if self.was_down == Some(true) {
                    f.write_str(" (was down, now up)")?;
                }
                Ok(())
            }
            "isolated" => write!(
                f,
                ": {} of {} nodes silent together; held unreachable, not down",
                self.nodes.unwrap_or(0),
                self.watched.unwrap_or(0)
            ),
            "reconnected" => write!(
                f,
                " after {:.3}s: {} nodes beat again, {} still silent",
                self.lasted_ms.unwrap_or(0) as f64 / 1000.0,
                self.returned.unwrap_or(0),
                self.nodes.unwrap_or(0)
            ),
            "zone_down" => write!(
                f,
                ": zone {}, {} of its {} nodes silent together: a zone outage",
                self.zone.as_deref().unwrap_or("?"),
                self.nodes.unwrap_or(0),
                self.watched.unwrap_or(0)
            ),
            "zone_up" => write!(
                f,
                ": zone {} back after {:.3}s",
                self.zone.as_deref().unwrap_or("?"),
                self.lasted_ms.unwrap_or(0) as f64 / 1000.0
            ),
            "hold_expired" => write!(
                f,
                " after {:.3}s isolated: {} nodes still silent, reported down",
                self.lasted_ms.unwrap_or(0) as f64 / 1000.0,
                self.nodes.unwrap_or(0)
            ),
            "unreachable" => write!(
                f,
                " after {:.3}s of silence: monitor {} cannot hear it, its witnesses can (held, not down)",
                self.silence_ms.unwrap_or(0) as f64 / 1000.0,
                self.monitor.as_deref().unwrap_or("?")
            ),
            "reachable" => write!(
                f,
                " again after {:.3}s unreachable",
                self.lasted_ms.unwrap_or(0) as f64 / 1000.0
            ),
            "witness_down" => write!(
                f,
                ": witness {} ({}) is silent",
                self.monitor.as_deref().unwrap_or("?"),
                self.addr
            ),
            "witness_up" => write!(
                f,
                ": witness {} ({}) is heard again",
                self.monitor.as_deref().unwrap_or("?"),
                self.addr
            ),
            "quorum_lost" => write!(
                f,
                ": {} of {} needed monitors up; this monitor's own verdicts are final",
                self.monitors_up.unwrap_or(0),
                self.needed.unwrap_or(0)
            ),
            "quorum_regained" => write!(
                f,
                ": {} monitors up, {} needed; downs need agreement again",
                self.monitors_up.unwrap_or(0),
                self.needed.unwrap_or(0)
            ),
            e if e.starts_with("probe_") => {
                write!(f, ": {}", self.probe.as_deref().unwrap_or("?"))?;
                match self.reading {
                    Some(v) => write!(f, " = {v}")?,
                    None => f.write_str(" = NaN")?,
                }
                write!(f, " (was {})", self.previous_state.unwrap_or("ok"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hb_core::{DownReason, NodeId, Timestamp};

    use super::*;

    #[test]
    fn down_event_json_has_the_documented_fields_in_order() {
        let clock = Clock::new();
        let ev = Event {
            at: Timestamp::from_micros(3_000_250),
            node: NodeId::new("web-1").unwrap(),
            addr: "10.0.0.7:5000".parse().unwrap(),
            incarnation: 42,
            kind: EventKind::Down {
                silence: Duration::from_millis(3000),
                value: 3.00025,
                deadline: Timestamp::from_micros(3_000_000),
                reason: DownReason::Silence,
            },
        };
        let json = EventRecord::new(&ev, 7, "fixed", &clock).to_json();
        let time = clock.rfc3339(ev.at);
        assert_eq!(
            json,
            format!(
                "{{\"time\":\"{time}\",\"event\":\"down\",\"node\":\"web-1\",\"addr\":\"10.0.0.7:5000\",\
                 \"incarnation\":42,\"event_id\":7,\"detector\":\"fixed\",\"silence_ms\":3000,\
                 \"value\":3.00025,\"reason\":\"silence\",\"slack_us\":250}}"
            )
        );
        assert!(time.ends_with('Z') && time.len() == 24, "{time}");
    }

    #[test]
    fn restarted_event_carries_the_previous_incarnation() {
        let clock = Clock::new();
        let ev = Event {
            at: Timestamp::ZERO,
            node: NodeId::new("a").unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: 2,
            kind: EventKind::Restarted {
                previous: 1,
                was_down: false,
            },
        };
        let r = EventRecord::new(&ev, 1, "phi", &clock);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["previous_incarnation"], 1);
        assert_eq!(v["was_down"], false);
        assert!(v.get("silence_ms").is_none());
        assert!(r.to_string().contains("incarnation 1 -> 2"));
    }

    #[test]
    fn witness_events_carry_their_fields_and_read_well() {
        let clock = Clock::new();
        let ev = |node: &str, kind| Event {
            at: Timestamp::ZERO,
            node: NodeId::new(node).unwrap(),
            addr: "127.0.0.1:7001".parse().unwrap(),
            incarnation: 1,
            kind,
        };
        let r = EventRecord::new(
            &ev(
                "web-1",
                EventKind::Unreachable {
                    silence: Duration::from_millis(1200),
                    by: "m0".into(),
                },
            ),
            1,
            "fixed",
            &clock,
        );
        assert_eq!(
            (r.silence_ms, r.monitor.as_deref()),
            (Some(1200), Some("m0"))
        );
        assert!(!r.is_monitor_level());
        assert!(r.to_string().contains("monitor m0 cannot hear it"), "{r}");
        let r = EventRecord::new(
            &ev("m0", EventKind::QuorumLost { up: 1, needed: 2 }),
            2,
            "fixed",
            &clock,
        );
        assert!(r.is_monitor_level());
        assert_eq!((r.monitors_up, r.needed), (Some(1), Some(2)));
        assert!(r.to_string().contains("1 of 2 needed monitors up"), "{r}");
        let r = EventRecord::new(
            &ev(
                "m0",
                EventKind::WitnessDown {
                    witness: "m2".into(),
                    addr: "127.0.0.1:7002".parse().unwrap(),
                },
            ),
            3,
            "fixed",
            &clock,
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            (v["monitor"].as_str(), v["addr"].as_str()),
            (Some("m2"), Some("127.0.0.1:7002"))
        );
        assert!(
            r.to_string()
                .contains("witness m2 (127.0.0.1:7002) is silent"),
            "{r}"
        );
    }

    #[test]
    fn every_event_name_fits_the_text_column() {
        for name in crate::cli::values::EVENT_NAMES {
            assert!(name.len() <= EVENT_WIDTH, "{name}");
        }
    }
}
