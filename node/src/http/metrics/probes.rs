//! The probe families: each probe's value and state, and the ranges in force, min and max its
//! latest reading carried, in base units.
//!
//! # Units
//!
//! A probe's unit is data, not schema: every probe (a built-in, `check_load`'s loads,
//! `check_disk`'s partitions, any plugin's items) is one series of `hbnode_probe_value`, so
//! `hbnode_probe_value{probe="…"}` is the one query for any probe. Values are converted to
//! base units (`hb_core::probe::Unit::base`: `ms`, `us` → seconds; `B`, `KB`…`TB` → bytes,
//! 1024-powers; `%` → a 0–1 ratio) and a `unit` label names the base unit (`seconds`,
//! `bytes`, `ratio`; `counter` for Nagios `c`, unchanged). A unit hbnode does not know passes
//! through unconverted under its own name (`unit="rpm"`); a probe without one has no `unit`
//! label. (Telegraf's Nagios parser carries the unit as a tag the same way.) A plugin that
//! changes its unit starts a new series rather than mixing scales in one. Per-unit family
//! names (`hbnode_probe_value_bytes`, …) would give OpenMetrics `# UNIT` lines, but would
//! split one probe's history across families when its unit changes, multiply every probe
//! family by four, and make each query know the unit in advance.
//!
//! Thresholds, min and max are in the same base unit (a rule's ranges are written in the
//! unit the probe is sent in, so they convert with it). Like `hbnode_probe_value`, they are
//! absent while the node is not alive.

use hb_core::probe::{Range, Unit};

use crate::http::metrics::model::{Family, Labels, Value};
use crate::http::views::ProbeView;

/// The probe families of one scrape, filled one probe at a time.
pub(super) struct ProbeFamilies {
    value: Family,
    state: Family,
    threshold: Family,
    min: Family,
    max: Family,
}

impl ProbeFamilies {
    pub(super) fn new() -> Self {
        Self {
            value: Family::gauge(
                "probe_value",
                "Latest sensor reading of the probe of an alive node, in base units (the unit label: seconds, bytes, ratio, counter, or a unit passed through unconverted); absent while the node is down or left",
            ),
            state: Family::gauge(
                "probe_state",
                "State of the node's probe: 0 ok, 1 warning, 2 error, 3 unknown (after hysteresis; 3 while the node is not alive)",
            ),
            threshold: Family::gauge(
                "probe_threshold",
                "A bound of the probe's warning or error range in force (level), low or high (bound; an open end has no series), alerting outside or inside the bounds (alerts), from a monitor rule or the plugin (source), in the value's base unit",
            ),
            min: Family::gauge(
                "probe_min",
                "The smallest value the probe's latest reading can take (perfdata min), in the value's base unit",
            ),
            max: Family::gauge(
                "probe_max",
                "The largest value the probe's latest reading can take (perfdata max), in the value's base unit",
            ),
        }
    }

    /// Adds probe `p` of node `node` (`alive`: whether the node is).
    pub(super) fn push(&mut self, node: &str, alive: bool, p: &ProbeView) {
        let labels = || vec![("node", node.to_owned()), ("probe", p.name.clone())];
        let code = match p.state.as_str() {
            _ if !alive => 3,
            "ok" => 0,
            "warning" => 1,
            "error" => 2,
            _ => 3,
        };
        self.state.push(labels(), Value::Int(code));
        if !alive {
            return;
        }
        let (label, unit) = scale(p.unit.as_deref());
        let with_unit = |mut l: Labels| {
            if let Some(u) = &label {
                l.push(("unit", u.clone()));
            }
            l
        };
        let scaled = |v: f64| Value::Float(unit.to_base(v));
        self.value
            .push(with_unit(labels()), scaled(p.value.unwrap_or(f64::NAN)));
        if let Some(v) = p.min {
            self.min.push(with_unit(labels()), scaled(v));
        }
        if let Some(v) = p.max {
            self.max.push(with_unit(labels()), scaled(v));
        }
        let Some(source) = &p.source else {
            return;
        };
        for (level, range) in [("warning", &p.warning), ("error", &p.error)] {
            let Some(range) = range.as_deref().and_then(|r| r.parse::<Range>().ok()) else {
                continue;
            };
            let alerts = if range.inside() { "inside" } else { "outside" };
            for (bound, v) in [("low", range.low()), ("high", range.high())] {
                let Some(v) = v else { continue };
                let mut l = labels();
                l.extend([
                    ("level", level.to_owned()),
                    ("bound", bound.to_owned()),
                    ("alerts", alerts.to_owned()),
                    ("source", source.clone()),
                ]);
                self.threshold.push(with_unit(l), scaled(v));
            }
        }
    }

    /// The families, in exposition order.
    pub(super) fn into_families(self) -> [Family; 5] {
        [self.value, self.state, self.threshold, self.min, self.max]
    }
}

/// The `unit` label for a probe sent in `unit` (the base unit for one hbnode knows, the unit
/// itself for one it does not, none for none) and the unit to convert its values from.
fn scale(unit: Option<&str>) -> (Option<String>, Unit) {
    let text = unit.unwrap_or_default();
    let parsed = Unit::new(text).unwrap_or_default();
    let label = match parsed.base() {
        Some(base) => Some(base.as_str().to_owned()),
        None => (!text.is_empty()).then(|| text.to_owned()),
    };
    (label, parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_to_base_units_and_unknown_ones_pass_through() {
        let s = |u: Option<&str>, v: f64| {
            let (label, unit) = scale(u);
            (label, unit.to_base(v))
        };
        assert_eq!(s(None, 2.0), (None, 2.0));
        assert_eq!(s(Some(""), 2.0), (None, 2.0));
        assert_eq!(s(Some("ms"), 250.0), (Some("seconds".into()), 0.25));
        assert_eq!(s(Some("MB"), 1.0), (Some("bytes".into()), 1_048_576.0));
        assert_eq!(s(Some("%"), 91.0), (Some("ratio".into()), 0.91));
        assert_eq!(s(Some("c"), 7.0), (Some("counter".into()), 7.0));
        assert_eq!(s(Some("rpm"), 900.0), (Some("rpm".into()), 900.0));
    }
}
