//! What a sender said about a probe beside its value (unit, its own ranges, min, max), and
//! which ranges judge a probe: a monitor rule, else the sender's own, else its status.

use super::range::Range;
use super::rule::ProbeRule;
use super::status::ProbeStatus;
use super::unit::Unit;
use crate::wire::{ReadingMeta, WireRange};

/// The latest unit, ranges, min and max a sender attached to a probe's reading (a Nagios
/// plugin's performance data `value[UOM];warn;crit;min;max`). Fixed size.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProbeMeta {
    /// Unit of measure (empty: none).
    pub unit: Unit,
    /// The sender's warning range.
    pub warning: Option<Range>,
    /// The sender's critical range.
    pub critical: Option<Range>,
    /// The smallest value possible.
    pub min: Option<f64>,
    /// The largest value possible.
    pub max: Option<f64>,
}

impl ProbeMeta {
    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self.unit.is_empty()
            && self.warning.is_none()
            && self.critical.is_none()
            && self.min.is_none()
            && self.max.is_none()
    }

    /// From a decoded reading's meta. Decoding validated it; a field that still does not fit
    /// (a hand-built reading) is left out, never the reading.
    pub fn from_wire(m: &ReadingMeta<'_>) -> Self {
        let range = |r: Option<WireRange>| r.and_then(|r| Range::try_from(r).ok());
        Self {
            unit: Unit::new(m.unit).unwrap_or_default(),
            warning: range(m.warning),
            critical: range(m.critical),
            min: m.min.filter(|v| v.is_finite()),
            max: m.max.filter(|v| v.is_finite()),
        }
    }

    /// As a reading carries it (`None` when empty).
    pub fn to_wire(&self) -> Option<ReadingMeta<'_>> {
        (!self.is_empty()).then(|| ReadingMeta {
            unit: self.unit.as_str(),
            warning: self.warning.map(WireRange::from),
            critical: self.critical.map(WireRange::from),
            min: self.min,
            max: self.max,
        })
    }
}

/// Where the ranges judging a probe come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RangeSource {
    /// A monitor `--threshold` rule.
    Rule,
    /// The sender's own (a plugin's performance data warn/crit fields).
    Plugin,
}

impl RangeSource {
    /// `rule` or `plugin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rule => "rule",
            Self::Plugin => "plugin",
        }
    }
}

/// The ranges in force for a probe, and where they come from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranges {
    /// Rule or plugin.
    pub source: RangeSource,
    /// Alert range for `warning`.
    pub warning: Option<Range>,
    /// Alert range for `error` (Nagios critical).
    pub error: Option<Range>,
}

impl Ranges {
    /// The ranges judging a probe whose rule is `rule` and whose latest reading said `meta`:
    /// a monitor rule wins whole (its ranges replace the plugin's, even one it leaves out);
    /// else the plugin's own, if it gave any; else none (the sender's status decides).
    pub fn in_force(rule: Option<&ProbeRule>, meta: &ProbeMeta) -> Option<Self> {
        match rule {
            Some(r) => Some(Self {
                source: RangeSource::Rule,
                warning: r.warning,
                error: r.error,
            }),
            None if meta.warning.is_some() || meta.critical.is_some() => Some(Self {
                source: RangeSource::Plugin,
                warning: meta.warning,
                error: meta.critical,
            }),
            None => None,
        }
    }

    /// The state `value` puts the probe in: unknown for NaN, then the error range, then the
    /// warning range (the Nagios order).
    pub fn evaluate(&self, value: f64) -> ProbeStatus {
        if value.is_nan() {
            ProbeStatus::Unknown
        } else if self.error.is_some_and(|r| r.alerts(value)) {
            ProbeStatus::Error
        } else if self.warning.is_some_and(|r| r.alerts(value)) {
            ProbeStatus::Warning
        } else {
            ProbeStatus::Ok
        }
    }
}
