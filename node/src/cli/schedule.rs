//! Central schedules: `--schedule 'NODES key=value …'`, or in the config file
//!
//! ```toml
//! [[monitor.schedule]]
//! nodes = "web-*"                       # a node id or a glob (* and ?)
//! period = "2s"                         # their beat period
//! sensors = ["load@10s", "memory@1m"]   # which sensors run, how often (NAME alone: every 10s)
//!
//! [[monitor.schedule]]
//! nodes = "old-*"
//! redirect = "10.0.0.2:43278"           # move them to another monitor
//! ```
//!
//! The first rule matching a node wins, so put specific patterns before general ones. Each
//! Detector's `hb_core::Monitor` applies the rules (see `hb_core::schedule`): acks carry the
//! rule's schedule until the beat says the node runs its version, and its redirect always.

use hb_core::NodeMatch;
use hb_core::schedule::{ScheduleRule, SensorInterval};

use crate::cli::values::{parse_duration, parse_spec};
use crate::sensors::spec::{DEFAULT_EVERY, name_every};

/// A `--schedule` value (its redirect not yet resolved to an address).
pub(crate) type ScheduleSpec = ScheduleRule;

/// Parses `NODES key=value …` (also the form `[[monitor.schedule]]` tables become).
pub(crate) fn parse_schedule(s: &str) -> Result<ScheduleSpec, String> {
    let (nodes, pairs) = parse_spec(s, "--schedule", "NODES")?;
    let nodes = NodeMatch::new(nodes).map_err(|e| format!("`{nodes}`: {e}"))?;
    let mut rule = ScheduleRule {
        nodes,
        period: None,
        sensors: None,
        redirect: None,
    };
    for (k, v) in pairs {
        match k {
            "period" => rule.period = Some(parse_duration(v)?),
            "sensors" => {
                let mut list = Vec::new();
                for item in v.split(',').filter(|i| !i.is_empty()) {
                    let (name, every) = name_every(item)?;
                    list.push(SensorInterval {
                        sensor: name.into(),
                        every: every.unwrap_or(DEFAULT_EVERY),
                    });
                }
                rule.sensors = Some(list);
            }
            "redirect" => {
                if !v.contains(':') {
                    return Err(format!("redirect `{v}` is not HOST:PORT"));
                }
                rule.redirect = Some(v.to_owned());
            }
            _ => {
                return Err(format!(
                    "unknown schedule key `{k}`: use period, sensors or redirect"
                ));
            }
        }
    }
    if rule.period.is_none() && rule.sensors.is_none() && rule.redirect.is_none() {
        return Err(format!(
            "schedule for {}: set period, sensors or redirect",
            rule.nodes
        ));
    }
    rule.validate().map_err(|e| e.to_string())?;
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn schedule_spec_parses_nodes_and_keys() {
        let r =
            parse_schedule("web-* period=2s sensors=load@10s,memory redirect=10.0.0.2:1").unwrap();
        assert!(r.nodes.matches("web-3"));
        assert_eq!(r.period, Some(Duration::from_secs(2)));
        let s = r.sensors.unwrap();
        assert_eq!(
            (s[0].sensor.as_str(), s[0].every),
            ("load", Duration::from_secs(10))
        );
        assert_eq!(
            (s[1].sensor.as_str(), s[1].every),
            ("memory", DEFAULT_EVERY)
        );
        assert_eq!(r.redirect.as_deref(), Some("10.0.0.2:1"));
        let none = parse_schedule("nodes=db-1 sensors=").unwrap();
        assert_eq!(none.sensors, Some(vec![]));
        for bad in [
            "",
            "web-*",
            "web-* period=soon",
            "web-* period=1ms",
            "web-* sensors=load@1ms",
            "web-* redirect=nowhere",
            "web-* colour=blue",
            "web-* period",
        ] {
            assert!(parse_schedule(bad).is_err(), "{bad:?}");
        }
    }
}
