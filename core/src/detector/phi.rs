//! The φ accrual detector (Hayashibara et al.; Akka's normal model).

use core::time::Duration;

use super::api::{Arrival, Detector, DetectorState};
use super::estimate::{at_offset, ewma_weight};
use crate::time::{Timestamp, micros_f64};

/// Accrual detector: down when φ(silence) reaches `threshold`.
///
/// Model (as in Akka): inter-arrival times are normal with mean μ and standard deviation σ,
/// estimated by streaming (exponentially weighted, [`Phi::window`]) mean and variance — no sample
/// window is stored. With μ' = μ + `acceptable_pause` and σ' = max(σ, `min_std_dev`),
///
/// ```text
/// y = (silence − μ') / σ'
/// P_later(y) ≈ 1 / (1 + exp(g(y)))        g(y) = y · (1.5976 + 0.070566 · y²)
/// φ = −log10 P_later(y)
/// ```
///
/// φ grows monotonically with silence, so it crosses `threshold` at exactly one instant: solving
/// `g(y) = ln(10^threshold − 1)` (a cubic with one real root, by Cardano) gives z, and
/// `deadline = last + μ' + z · σ'`. The first beat seeds μ = advertised period, σ = μ/4 (Akka's
/// bootstrap). The gap before a beat that ends an outage is not an inter-arrival sample.
///
/// Guarantee (checked by the simulator): the node is reported down at the first µs at which
/// φ ≥ threshold, never earlier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phi {
    threshold: f64,
    acceptable_pause: Duration,
    min_std_dev: Duration,
    window: u32,
    z: f64,
}

impl Default for Phi {
    /// Akka's defaults: threshold 8, no acceptable pause, σ ≥ 100 ms; a 32-sample window.
    fn default() -> Self {
        Self::new(8.0, Duration::ZERO, Duration::from_millis(100))
    }
}

impl Phi {
    /// A φ detector. `threshold`: φ at which the node is down (Akka's default 8: ~10⁻⁸ chance
    /// the beat is merely late); `acceptable_pause`: extra silence tolerated on top of the mean
    /// (GC pauses); `min_std_dev`: lower bound on σ, so a very regular sender is not convicted
    /// on the first late beat. See [`super::DetectorConfig::validate`] for the bounds.
    pub fn new(threshold: f64, acceptable_pause: Duration, min_std_dev: Duration) -> Self {
        let mut phi = Self {
            threshold,
            acceptable_pause,
            min_std_dev,
            window: 32,
            z: 0.0,
        };
        phi.z = phi.solve_z();
        phi
    }

    /// The same detector with running estimates over an effective `window` samples.
    pub fn with_window(mut self, window: u32) -> Self {
        self.window = window.max(1);
        self
    }

    /// The φ threshold.
    pub fn threshold_phi(&self) -> f64 {
        self.threshold
    }

    /// The acceptable pause added to the mean.
    pub fn acceptable_pause(&self) -> Duration {
        self.acceptable_pause
    }

    /// The floor on the standard deviation.
    pub fn min_std_dev(&self) -> Duration {
        self.min_std_dev
    }

    /// The standardised silence y at which φ equals the threshold.
    pub fn z(&self) -> f64 {
        self.z
    }

    fn solve_z(&self) -> f64 {
        // ln(10^t − 1), computed without overflow for large t.
        let t = self.threshold;
        let c = t * core::f64::consts::LN_10 + (-(10f64.powf(-t))).ln_1p();
        // Depressed cubic y³ + p·y + q = 0 with p > 0: exactly one real root.
        let a = 0.070566;
        let p = 1.5976 / a;
        let q = -c / a;
        let disc = (q * q / 4.0 + p * p * p / 27.0).sqrt();
        (-q / 2.0 + disc).cbrt() + (-q / 2.0 - disc).cbrt()
    }

    fn mean_and_sd(&self, state: &DetectorState, period: Duration) -> (f64, f64) {
        let (mean, sd) = if state.samples == 0 {
            let m = micros_f64(period);
            (m, m / 4.0)
        } else {
            (state.mean, state.var.max(0.0).sqrt())
        };
        let min_sd = micros_f64(self.min_std_dev);
        (mean + micros_f64(self.acceptable_pause), sd.max(min_sd))
    }

    /// φ for a silence of `silence_us` µs given mean μ' and σ' (both µs).
    pub fn phi(silence_us: f64, mean: f64, sd: f64) -> f64 {
        let y = (silence_us - mean) / sd;
        let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
        if silence_us > mean {
            -(e / (1.0 + e)).log10()
        } else {
            -(1.0 - 1.0 / (1.0 + e)).log10()
        }
    }
}

impl Detector for Phi {
    fn name(&self) -> &'static str {
        "phi"
    }

    fn observe(&self, state: &mut DetectorState, arrival: &Arrival) {
        let Some(prev) = arrival.prev.filter(|_| !arrival.resumed) else {
            if state.samples == 0 {
                // Akka's bootstrap: μ = advertised period, σ = μ/4, worth one sample.
                let m = micros_f64(arrival.period);
                *state = DetectorState {
                    mean: m,
                    var: (m / 4.0) * (m / 4.0),
                    samples: 1,
                };
            }
            return;
        };
        let x = micros_f64(arrival.at - prev);
        let w = ewma_weight(state.samples, self.window);
        let d = x - state.mean;
        state.mean += w * d;
        state.var = (1.0 - w) * (state.var + w * d * d);
        state.samples = state.samples.saturating_add(1);
    }

    fn deadline(&self, state: &DetectorState, last: Timestamp, period: Duration) -> Timestamp {
        let (mean, sd) = self.mean_and_sd(state, period);
        at_offset(last, mean + self.z * sd)
    }

    fn value(
        &self,
        state: &DetectorState,
        last: Timestamp,
        period: Duration,
        now: Timestamp,
    ) -> f64 {
        let (mean, sd) = self.mean_and_sd(state, period);
        Self::phi(micros_f64(now - last), mean, sd)
    }

    fn threshold(&self) -> f64 {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_solves_the_logistic_for_the_threshold() {
        for t in [0.5, 1.0, 3.0, 8.0, 16.0, 50.0] {
            let d = Phi::new(t, Duration::ZERO, Duration::from_millis(100));
            let z = d.z();
            let phi = Phi::phi(z, 0.0, 1.0);
            assert!((phi - t).abs() < 1e-6 * t.max(1.0), "t={t} z={z} phi={phi}");
        }
    }

    #[test]
    fn phi_crosses_the_threshold_at_the_deadline_microsecond() {
        let d = Phi::default();
        let mut st = DetectorState::default();
        let period = Duration::from_secs(1);
        let mut last = Timestamp::from_micros(0);
        d.observe(
            &mut st,
            &Arrival {
                at: last,
                prev: None,
                seq_advance: 1,
                period,
                resumed: false,
            },
        );
        for i in 1..50u64 {
            let at = Timestamp::from_micros(i * 1_000_000 + (i % 7) * 13_000);
            d.observe(
                &mut st,
                &Arrival {
                    at,
                    prev: Some(last),
                    seq_advance: 1,
                    period,
                    resumed: false,
                },
            );
            last = at;
        }
        let dl = d.deadline(&st, last, period);
        assert!(d.value(&st, last, period, dl) >= d.threshold - 1e-9);
        assert!(d.value(&st, last, period, dl - Duration::from_micros(2)) < d.threshold);
        // Mean ≈ 1.04 s, σ floored at 100 ms: z(8) ≈ 5.6 → deadline ≈ 1.6 s after last.
        let after = (dl - last).as_secs_f64();
        assert!((1.4..1.8).contains(&after), "deadline {after}s after last");
    }

    #[test]
    fn outage_gap_is_not_a_sample() {
        let d = Phi::default();
        let period = Duration::from_secs(1);
        let mut st = DetectorState::default();
        let t = Timestamp::from_micros;
        d.observe(
            &mut st,
            &Arrival {
                at: t(0),
                prev: None,
                seq_advance: 1,
                period,
                resumed: false,
            },
        );
        d.observe(
            &mut st,
            &Arrival {
                at: t(1_000_000),
                prev: Some(t(0)),
                seq_advance: 1,
                period,
                resumed: false,
            },
        );
        let before = st;
        d.observe(
            &mut st,
            &Arrival {
                at: t(90_000_000),
                prev: Some(t(1_000_000)),
                seq_advance: 1,
                period,
                resumed: true,
            },
        );
        assert_eq!(st, before);
    }
}
