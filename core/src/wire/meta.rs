//! What a reading may say beside its value: its unit, the sender's own warning and critical
//! ranges, and the value's minimum and maximum (Nagios performance data
//! `label=value[UOM];warn;crit;min;max`). Only readings that have any of them carry one.

use serde::{Deserialize, Serialize};

use super::error::DecodeError;

/// Longest unit of measure in a reading, in bytes (`s`, `%`, `KB`, `MiB`, `c`, …).
pub const MAX_UNIT_LEN: usize = 8;

/// The extras of one reading. Encoded after the reading's status as a postcard `Option`, so a
/// plain reading costs one byte for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadingMeta<'a> {
    /// Unit of measure, as the sender wrote it (0–[`MAX_UNIT_LEN`] bytes; see [`valid_unit`]).
    #[serde(borrow)]
    pub unit: &'a str,
    /// The sender's warning range.
    pub warning: Option<WireRange>,
    /// The sender's critical range.
    pub critical: Option<WireRange>,
    /// The smallest value possible (finite).
    pub min: Option<f64>,
    /// The largest value possible (finite).
    pub max: Option<f64>,
}

/// A Nagios range on the wire: alerts outside `low..=high` (inside, when `inside`); a bound
/// left out is unbounded. Bounds are finite and `low ≤ high` (checked at decode and encode).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireRange {
    /// Lower bound (`None`: −∞, Nagios `~`).
    pub low: Option<f64>,
    /// Upper bound (`None`: +∞, Nagios `N:`).
    pub high: Option<f64>,
    /// Alert inside the bounds (Nagios `@`).
    pub inside: bool,
}

impl From<crate::probe::Range> for WireRange {
    fn from(r: crate::probe::Range) -> Self {
        Self {
            low: r.low(),
            high: r.high(),
            inside: r.inside(),
        }
    }
}

impl TryFrom<WireRange> for crate::probe::Range {
    type Error = crate::probe::RangeError;

    fn try_from(r: WireRange) -> Result<Self, Self::Error> {
        Self::new(r.low, r.high, r.inside)
    }
}

impl ReadingMeta<'_> {
    /// Whether it says nothing (no unit, ranges, min or max): then send no meta at all.
    pub fn is_empty(&self) -> bool {
        self.unit.is_empty()
            && self.warning.is_none()
            && self.critical.is_none()
            && self.min.is_none()
            && self.max.is_none()
    }
}

/// Whether `unit` may be a reading's unit: at most [`MAX_UNIT_LEN`] bytes, no whitespace,
/// control characters or characters that delimit performance data (`;` `=` `'` `"` `|` `\`),
/// and not starting with a character a number can hold (digits, `.`, `+`, `-`): written back
/// after its value (`hbnode check`), it reads back as the same value and unit.
pub fn valid_unit(unit: &str) -> bool {
    unit.len() <= MAX_UNIT_LEN
        && !unit.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '.' | '+' | '-'))
        && !unit.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ';' | '=' | '\'' | '"' | '|' | '\\')
        })
}

/// Checks one reading's meta: a valid unit, finite bounds in order.
pub(super) fn validate_meta(m: &ReadingMeta<'_>) -> Result<(), DecodeError> {
    if !valid_unit(m.unit) {
        return Err(DecodeError::InvalidField("reading unit"));
    }
    for r in [m.warning, m.critical].into_iter().flatten() {
        if crate::probe::Range::try_from(r).is_err() {
            return Err(DecodeError::InvalidField("reading range"));
        }
    }
    if [m.min, m.max].into_iter().flatten().any(|v| !v.is_finite()) {
        return Err(DecodeError::InvalidField("reading min/max"));
    }
    Ok(())
}
