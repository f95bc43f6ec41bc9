//! Numeric helpers shared by the streaming estimators (φ and Chen).

use crate::time::Timestamp;

/// Exponentially weighted update shared by the estimators: the first `window` samples form a
/// plain running average, after which each new sample weighs `1/window`. Returns the weight.
pub(super) fn ewma_weight(samples: u32, window: u32) -> f64 {
    1.0 / f64::from(samples.saturating_add(1).min(window.max(1)))
}

/// Rounds a µs offset (≥ 0 expected) up to a whole µs and adds it to `t`, saturating.
pub(super) fn at_offset(t: Timestamp, offset_us: f64) -> Timestamp {
    if offset_us.is_nan() {
        return Timestamp::MAX;
    }
    let off = offset_us.max(0.0).ceil();
    if off >= u64::MAX as f64 {
        return Timestamp::MAX;
    }
    Timestamp::from_micros(t.as_micros().saturating_add(off as u64))
}
