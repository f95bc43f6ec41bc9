//! The fixed-timeout detector (PyHeartbeat's rule, made exact).

use core::time::Duration;

use super::api::{Arrival, Detector, DetectorState};
use crate::time::Timestamp;

/// Down when the silence since the last fresh beat reaches `timeout`.
///
/// Formula: `deadline = last + timeout`. This is Chen–Toueg–Aguilera's NFD-S on receive times.
/// Guarantee (checked by `cargo xtask sim verify`): a crashed node is reported within
/// `timeout + max delay` of its last beat's send time; with period η, Bernoulli loss p and
/// delay D, the false-alarm (mistake) rate is `p_S / η` where
/// `p_S = P(no beat sent in a window of length timeout arrives within it)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed {
    /// Silence after which a node is down.
    pub timeout: Duration,
}

impl Detector for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }

    fn observe(&self, _: &mut DetectorState, _: &Arrival) {}

    fn deadline(&self, _: &DetectorState, last: Timestamp, _: Duration) -> Timestamp {
        last + self.timeout
    }

    fn value(&self, _: &DetectorState, last: Timestamp, _: Duration, now: Timestamp) -> f64 {
        (now - last).as_secs_f64()
    }

    fn threshold(&self) -> f64 {
        self.timeout.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_node_is_down_exactly_at_timeout() {
        let d = Fixed {
            timeout: Duration::from_secs(3),
        };
        let last = Timestamp::from_micros(10);
        let st = DetectorState::default();
        assert_eq!(
            d.deadline(&st, last, Duration::ZERO),
            Timestamp::from_micros(3_000_010)
        );
        let dl = d.deadline(&st, last, Duration::ZERO);
        assert!(d.value(&st, last, Duration::ZERO, dl) >= d.threshold());
        assert!(d.value(&st, last, Duration::ZERO, dl - Duration::from_micros(1)) < d.threshold());
    }
}
