//! Central schedules: monitor-side rules that set matching nodes' beat period and sensor
//! schedule, or move them to another monitor.
//!
//! The monitor takes the **first** rule whose pattern matches a node's id (order is the
//! configuration's order). Its period and sensors travel in acks as a [`wire::Schedule`] whose
//! version is a hash of exactly those settings: it changes when the rule's settings change and
//! stays the same across monitor restarts, so a beater adopts each version once. A node that
//! matches no rule (or a rule that sets neither period nor sensors) has version 0: its own
//! settings, and a node still running an old schedule is told to return to them.

use core::time::Duration;

use compact_str::CompactString;

use crate::glob::NodeMatch;
use crate::wire::{self, MAX_REDIRECT_LEN, MAX_SCHEDULED_SENSORS, MAX_SENSOR_NAME_LEN};

/// One sensor of a schedule: run `sensor` every `every`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorInterval {
    /// The sensor's name on the node (`load`, `memory`, `processes`, or a `cmd:` sensor's name).
    pub sensor: CompactString,
    /// How often.
    pub every: Duration,
}

/// A rule: nodes matching `nodes` beat every `period`, run `sensors`, and move to `redirect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRule {
    /// Which nodes.
    pub nodes: NodeMatch,
    /// Their beat period (`None`: their own).
    pub period: Option<Duration>,
    /// Their sensors and intervals (`None`: their own).
    pub sensors: Option<Vec<SensorInterval>>,
    /// Another monitor's `IP:PORT` to move to (they switch once it answers).
    pub redirect: Option<String>,
}

/// Why a [`ScheduleRule`] is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Period under 10 ms or over 2³² ms.
    #[error("schedule for {0}: the period must be between 10ms and 49 days")]
    Period(String),
    /// Too many sensors.
    #[error("schedule for {0}: at most 16 sensors")]
    TooManySensors(String),
    /// A sensor name empty or over 32 bytes, or an interval under 100 ms.
    #[error(
        "schedule for {0}: sensor `{1}` needs a 1–32 byte name and an interval of at least 100ms"
    )]
    Sensor(String, String),
    /// A redirect address empty or over 128 bytes.
    #[error("schedule for {0}: the redirect address must be 1–128 bytes")]
    Redirect(String),
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

impl ScheduleRule {
    /// Checks the bounds the wire format imposes.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let who = || self.nodes.to_string();
        if let Some(p) = self.period
            && (millis(p) < wire::MIN_SCHEDULE_PERIOD_MS || p.as_millis() >= u128::from(u32::MAX))
        {
            return Err(ScheduleError::Period(who()));
        }
        if let Some(sensors) = &self.sensors {
            if sensors.len() > MAX_SCHEDULED_SENSORS {
                return Err(ScheduleError::TooManySensors(who()));
            }
            for s in sensors {
                if s.sensor.is_empty()
                    || s.sensor.len() > MAX_SENSOR_NAME_LEN
                    || millis(s.every) < wire::MIN_SENSOR_EVERY_MS
                {
                    return Err(ScheduleError::Sensor(who(), s.sensor.to_string()));
                }
            }
        }
        if self
            .redirect
            .as_ref()
            .is_some_and(|r| r.is_empty() || r.len() > MAX_REDIRECT_LEN)
        {
            return Err(ScheduleError::Redirect(who()));
        }
        Ok(())
    }

    /// The schedule's version: 0 if the rule sets neither period nor sensors, else a hash of
    /// them (never 0).
    pub fn version(&self) -> u32 {
        if self.period.is_none() && self.sensors.is_none() {
            return 0;
        }
        let mut h = blake3::Hasher::new();
        h.update(b"hbnode schedule v1");
        h.update(&self.period.map_or(0, millis).to_le_bytes());
        if let Some(list) = &self.sensors {
            h.update(&[1]);
            for s in list {
                h.update(&[s.sensor.len() as u8]); // ≤ 32, validated
                h.update(s.sensor.as_bytes());
                h.update(&millis(s.every).to_le_bytes());
            }
        } else {
            h.update(&[0]);
        }
        let bytes = h.finalize();
        let b = bytes.as_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]).max(1)
    }

    /// The rule's schedule as sent in acks, with `version` (from [`Self::version`]).
    pub fn wire(&self, version: u32) -> wire::Schedule<'_> {
        let sensors = self.sensors.as_ref().map(|list| {
            list.iter()
                .take(MAX_SCHEDULED_SENSORS)
                .map(|s| wire::SensorEvery {
                    sensor: s.sensor.as_str(),
                    every_ms: millis(s.every),
                })
                .collect()
        });
        wire::Schedule {
            version,
            period_ms: self.period.map_or(0, millis),
            sensors,
        }
    }
}

/// The first rule in `rules` whose pattern matches `node`, with its index.
pub fn first_match<'a>(rules: &'a [ScheduleRule], node: &str) -> Option<(usize, &'a ScheduleRule)> {
    rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.nodes.matches(node))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(nodes: &str, period_ms: Option<u64>, sensors: &[(&str, u64)]) -> ScheduleRule {
        ScheduleRule {
            nodes: NodeMatch::new(nodes).unwrap(),
            period: period_ms.map(Duration::from_millis),
            sensors: (!sensors.is_empty()).then(|| {
                sensors
                    .iter()
                    .map(|(s, ms)| SensorInterval {
                        sensor: (*s).into(),
                        every: Duration::from_millis(*ms),
                    })
                    .collect()
            }),
            redirect: None,
        }
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = [
            rule("web-1", Some(500), &[]),
            rule("web-*", Some(2000), &[]),
        ];
        assert_eq!(first_match(&rules, "web-1").unwrap().0, 0);
        assert_eq!(first_match(&rules, "web-2").unwrap().0, 1);
        assert!(first_match(&rules, "db-1").is_none());
    }

    #[test]
    fn version_follows_the_settings_not_the_pattern() {
        let a = rule("web-*", Some(2000), &[("load", 10_000)]);
        let b = rule("*", Some(2000), &[("load", 10_000)]);
        assert_eq!(a.version(), b.version(), "same settings, same version");
        assert_ne!(a.version(), 0);
        assert_ne!(
            a.version(),
            rule("web-*", Some(3000), &[("load", 10_000)]).version()
        );
        assert_ne!(
            a.version(),
            rule("web-*", Some(2000), &[("load", 20_000)]).version()
        );
        assert_ne!(a.version(), rule("web-*", Some(2000), &[]).version());
        // Pinned: the version must not change between builds or restarts, or every node
        // re-adopts its schedule.
        assert_eq!(a.version(), 2_083_331_338);
        assert_eq!(rule("x", None, &[]).version(), 0);
        let w = a.wire(a.version());
        assert_eq!(w.period_ms, 2000);
        assert_eq!(w.sensors.unwrap()[0].every_ms, 10_000);
    }

    #[test]
    fn out_of_bounds_rules_are_refused() {
        assert!(rule("a", Some(2000), &[("load", 100)]).validate().is_ok());
        assert!(matches!(
            rule("a", Some(5), &[]).validate(),
            Err(ScheduleError::Period(_))
        ));
        assert!(matches!(
            rule("a", None, &[("load", 99)]).validate(),
            Err(ScheduleError::Sensor(..))
        ));
        let long = "x".repeat(33);
        assert!(matches!(
            rule("a", None, &[(&long, 1000)]).validate(),
            Err(ScheduleError::Sensor(..))
        ));
        let many: Vec<_> = (0..17).map(|_| ("s", 1000)).collect();
        assert!(matches!(
            rule("a", None, &many).validate(),
            Err(ScheduleError::TooManySensors(_))
        ));
        let mut r = rule("a", None, &[]);
        r.redirect = Some(String::new());
        assert!(matches!(r.validate(), Err(ScheduleError::Redirect(_))));
    }
}
