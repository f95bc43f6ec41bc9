//! Chen–Toueg–Aguilera's NFD-E: expected arrival plus a safety margin.

use core::time::Duration;

use super::api::{Arrival, Detector, DetectorState};
use super::estimate::{at_offset, ewma_weight};
use crate::time::{Timestamp, micros_f64};

/// Down at `EA + margin`, where EA is the expected arrival of the next beat.
///
/// For a sender beating every η with sequence numbers s_i received at A_i, each beat's offset
/// is o_i = A_i − η·s_i; EA_{l+1} = mean(o) + η·(s_l + 1). Writing L = mean(o) − o_l (how far the
/// average beat lags behind the latest one), `deadline = A_l + η + L + α`. L is kept as a
/// streaming average ([`Chen::window`]): L' = (1 − w)·(L − ΔA + η·Δs), so the state is one float.
/// Lost beats are accounted for by the sequence numbers; the period η is the one the sender
/// advertises.
///
/// Guarantee (checked by the simulator): a crash is detected within η + α + (max delay −
/// min delay) after the last beat's expected arrival; mistakes occur only when a beat is
/// delayed beyond α past its expected arrival or lost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chen {
    /// The safety margin α added to the expected arrival.
    pub margin: Duration,
    /// Effective number of samples in the running average.
    pub window: u32,
}

impl Default for Chen {
    fn default() -> Self {
        Self {
            margin: Duration::from_millis(500),
            window: 32,
        }
    }
}

impl Detector for Chen {
    fn name(&self) -> &'static str {
        "chen"
    }

    fn observe(&self, state: &mut DetectorState, arrival: &Arrival) {
        let Some(prev) = arrival.prev else {
            // The first arrival is the average of one offset: itself.
            *state = DetectorState {
                mean: 0.0,
                var: 0.0,
                samples: 1,
            };
            return;
        };
        let eta = micros_f64(arrival.period);
        let da = micros_f64(arrival.at - prev);
        let ds = arrival.seq_advance as f64;
        let w = ewma_weight(state.samples, self.window);
        // New offset enters the average with weight w; L is relative to the newest offset.
        state.mean = (1.0 - w) * (state.mean - da + eta * ds);
        state.samples = state.samples.saturating_add(1);
        if eta + state.mean <= 0.0 {
            // The average says the next beat is already due: the sender re-phased (it stalled
            // and resumed its schedule from "now"). Past offsets no longer predict anything, so
            // the average restarts from this beat. (Found by the simulator, seed
            // 10408667759918069152; see sim/tests.)
            *state = DetectorState {
                mean: 0.0,
                var: 0.0,
                samples: 1,
            };
        }
    }

    fn deadline(&self, state: &DetectorState, last: Timestamp, period: Duration) -> Timestamp {
        let eta = micros_f64(period);
        at_offset(last, eta + state.mean + micros_f64(self.margin))
    }

    fn value(
        &self,
        state: &DetectorState,
        last: Timestamp,
        period: Duration,
        now: Timestamp,
    ) -> f64 {
        let ea = last.as_micros() as f64 + micros_f64(period) + state.mean;
        (now.as_micros() as f64 - ea) / 1e6
    }

    fn threshold(&self) -> f64 {
        self.margin.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &Chen, arrivals: &[(u64, u64)], period: Duration) -> (DetectorState, Timestamp) {
        let mut st = DetectorState::default();
        let mut prev: Option<(u64, u64)> = None;
        for &(at, seq) in arrivals {
            let a = Arrival {
                at: Timestamp::from_micros(at),
                prev: prev.map(|p| Timestamp::from_micros(p.0)),
                seq_advance: prev.map_or(1, |p| seq - p.1),
                period,
                resumed: false,
            };
            d.observe(&mut st, &a);
            prev = Some((at, seq));
        }
        (st, Timestamp::from_micros(prev.unwrap().0))
    }

    #[test]
    fn expected_arrival_is_the_average_offset_plus_one_period() {
        let d = Chen {
            margin: Duration::from_millis(100),
            window: 1000,
        };
        let period = Duration::from_secs(1);
        // Delays 10, 30, 20 ms; the average offset is 20 ms, so EA(seq 3) = 3.020 s.
        let (st, last) = feed(&d, &[(10_000, 0), (1_030_000, 1), (2_020_000, 2)], period);
        let dl = d.deadline(&st, last, period);
        assert_eq!(dl, Timestamp::from_micros(3_020_000 + 100_000));
    }

    #[test]
    fn a_re_phased_sender_restarts_the_average() {
        let d = Chen {
            margin: Duration::from_millis(100),
            window: 32,
        };
        let period = Duration::from_secs(1);
        // On schedule for 10 beats, then a 5 s stall: beat 10 arrives 5 s late and the
        // sender's schedule restarts from there.
        let mut arrivals: Vec<(u64, u64)> = (0..10).map(|i| (i * 1_000_000, i)).collect();
        arrivals.push((14_000_000, 10));
        let (st, last) = feed(&d, &arrivals, period);
        let dl = d.deadline(&st, last, period);
        assert_eq!(
            dl,
            Timestamp::from_micros(15_100_000),
            "one period + margin after resuming"
        );
    }

    #[test]
    fn lost_beats_are_bridged_by_sequence_numbers() {
        let d = Chen {
            margin: Duration::ZERO,
            window: 1000,
        };
        let period = Duration::from_secs(1);
        // Beats 1 and 2 lost: the offsets stay consistent.
        let (st, last) = feed(&d, &[(5_000, 0), (3_005_000, 3)], period);
        assert_eq!(
            d.deadline(&st, last, period),
            Timestamp::from_micros(4_005_000)
        );
        assert!(
            d.value(&st, last, period, Timestamp::from_micros(4_005_000))
                .abs()
                < 1e-9
        );
    }
}
