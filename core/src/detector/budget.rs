//! The false-alarm budget detector: each node's timeout is the smallest the theory allows on
//! that node's own measured link.

use core::time::Duration;

use super::api::{Arrival, Detector, DetectorState};
use super::classes::{LinkClasses, MAX_CLASSES};
use super::estimate::at_offset;
use super::link::{BINS, LinkEstimate, gain};
use super::rate::AlarmRate;
use crate::theory::{self, Law, LossChain};
use crate::time::{Timestamp, micros, micros_f64};

/// The prior's loss: 5 % independent loss.
pub const PRIOR_LOSS: f64 = 0.05;

/// Cells of the prior's offset law (uniform over one period).
const PRIOR_CELLS: usize = 8;

/// Timeout grid: a period in this many steps.
const GRID: u64 = 128;

/// Down when the silence reaches the node's own timeout: the smallest whose predicted
/// false-alarm rate on the node's measured link meets [`Budget::rate`].
///
/// Per node the detector keeps a [`LinkEstimate`] (128 bytes, beside the 24-byte
/// [`DetectorState`] every detector has): loss as a two-state Markov chain fitted from sequence
/// gaps, and arrival offsets in a decayed log-scale sketch. From those, the theory in
/// [`crate::theory`] (the one `hbnode plan` and the simulator's checks use) gives λ_M(T), the
/// false-alarm rate of a fixed timeout T on that link, and the node's timeout is the smallest T
/// on a grid of η/128 with λ_M(T) ≤ `rate`, at most `max_periods` periods.
///
/// - **Prior**: until a node has sent [`Budget::warmup`] beats, its link is assumed to lose 5 %
///   of beats independently ([`PRIOR_LOSS`]) and to delay them uniformly by up to one period;
///   after that the estimate is used, whose loss fit never reaches zero (see
///   [`LinkEstimate::chain`]) and whose memory is [`Budget::window`] beats.
/// - **The fleet's prior**: a node not yet settled ([`super::SETTLED`] beats) on a monitor
///   whose other nodes are must also meet the budget on every class of their links it may
///   belong to ([`LinkClasses`]): a young node cannot tell a clean link from one whose bursts
///   have not come yet, and the settled nodes tell it what links this monitor sees.
/// - **Re-solving**: the timeout is recomputed on a node's first beat, when its period changes,
///   at the end of warm-up, then every [`Budget::resolve_every`] beats (every quarter of the
///   estimate's age past warm-up, at least 8 beats, while that is shorter: a young estimate
///   moves fast), and after a loss (a sequence gap) once at least `resolve_every / 8` beats
///   have passed since the last solve — not on every beat, and not during warm-up (the prior
///   does not move). A solve starts from the previous timeout, so an unchanged answer costs two
///   evaluations of λ_M.
/// - The state holds the timeout in µs (`mean`), the period it was solved for (`var`, µs) and
///   the beat count at the last solve (`samples`).
///
/// Guarantee (checked by `cargo xtask sim verify`): on links the theory models, the measured
/// false-alarm rate meets the budget (the lower end of its 99 % interval never exceeds it), and
/// the detection time's p99 is within 25 % plus one period of the oracle's — the smallest fixed
/// timeout meeting the budget on the true link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// False alarms allowed per node, per second of up-time.
    pub rate: AlarmRate,
    /// Effective memory of the link estimate, in beats ([`Self::window`]).
    window: u32,
    /// `1 + 1/window`, the link estimate's per-beat weight growth.
    gain: f32,
    /// Beats before the estimate replaces the prior.
    pub warmup: u32,
    /// Beats between two solves.
    pub resolve_every: u32,
    /// The longest timeout, in periods (used when even that misses the budget).
    pub max_periods: u32,
}

impl Budget {
    /// A budget detector with the default knobs: window 8192 beats, warm-up 50 beats, a solve
    /// every 128 beats, timeouts of at most 100 periods.
    pub fn new(rate: AlarmRate) -> Self {
        Self {
            rate,
            window: 8192,
            gain: gain(8192),
            warmup: 50,
            resolve_every: 128,
            max_periods: 100,
        }
    }

    /// The same detector with a link-estimate memory of `window` beats (see
    /// [`super::DetectorConfig::validate`] for the bounds).
    pub fn with_window(mut self, window: u32) -> Self {
        self.window = window;
        self.gain = gain(window);
        self
    }

    /// Effective memory of the link estimate, in beats (default 8192).
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The smallest timeout (µs) meeting the budget on `link` for beats every `period`, searched
    /// from `start_us`, and its predicted false-alarm rate (per second); the longest timeout
    /// when none meets it.
    ///
    /// A node not yet settled, on a monitor with settled nodes, must also meet it on every
    /// class of their `classes` it may belong to, each weighted by [`LinkClasses::weights`];
    /// the rate returned is then the larger of the two predictions.
    pub fn solve(
        &self,
        link: &LinkEstimate,
        period: Duration,
        start_us: u64,
        classes: &LinkClasses,
    ) -> (u64, f64) {
        let eta_us = micros(period).max(1);
        let eta = eta_us as f64 / 1e6;
        let mut nodes = [(0.0, 0.0); BINS];
        let estimated = if link.beats() >= self.warmup {
            link.law_nodes(eta, &mut nodes)
        } else {
            None
        };
        let (chain, len) = match estimated {
            Some(len) => (link.chain(), len),
            None => {
                for (i, n) in nodes.iter_mut().take(PRIOR_CELLS).enumerate() {
                    *n = (
                        (i + 1) as f64 / PRIOR_CELLS as f64 * eta,
                        1.0 / PRIOR_CELLS as f64,
                    );
                }
                (LossChain::bernoulli(PRIOR_LOSS), PRIOR_CELLS)
            }
        };
        let nodes = &nodes[..len];
        let mut tail = [0.0; BINS + 1];
        for i in (0..len).rev() {
            tail[i] = tail[i + 1] + nodes[i].1;
        }
        let law = Law {
            nodes,
            survival: |z: f64| {
                if z <= 0.0 {
                    1.0
                } else {
                    tail[nodes.partition_point(|n| n.0 < z)]
                }
            },
        };
        let mut weights = [0.0; MAX_CLASSES];
        let mixed = if classes.apply_to(link) {
            classes.weights(link, &mut weights)
        } else {
            0
        };
        let own = |t: f64| theory::mistake_rate(&chain, &law, eta, t);
        let mix = |t: f64| {
            (classes.classes().iter().zip(&weights[..mixed]))
                // Classes the evidence has ruled out cost nothing.
                .filter(|&(_, &w)| w > 1e-12)
                .map(|(c, &w)| w * theory::mistake_rate(&c.chain, &law, eta, t))
                .sum::<f64>()
        };
        let rate = |t_us: u64| {
            let t = t_us as f64 / 1e6;
            if mixed == 0 {
                own(t)
            } else {
                own(t).max(mix(t))
            }
        };
        let max = eta_us.saturating_mul(u64::from(self.max_periods));
        let start = if start_us == 0 { 3 * eta_us } else { start_us };
        let target = self.rate.as_per_second();
        let t = theory::smallest_timeout(start, (eta_us / GRID).max(1), max, target, rate)
            .unwrap_or(max);
        (t, rate(t))
    }

    /// Takes a fresh beat into `link` and re-solves `state`'s timeout when it is due (against
    /// `classes`, see [`Self::solve`]).
    pub fn observe_link(
        &self,
        state: &mut DetectorState,
        link: &mut LinkEstimate,
        classes: &LinkClasses,
        a: &Arrival,
    ) {
        link.observe_with_gain(a, self.gain);
        let period_us = micros_f64(a.period);
        let beats = link.beats();
        let since = beats.saturating_sub(state.samples);
        // During warm-up the prior holds: nothing to re-solve. After it, a young estimate
        // moves fast: re-solve every quarter of its age (at least 8 beats) until that reaches
        // `resolve_every` (cheap: only early in a node's life).
        let age = beats.saturating_sub(self.warmup);
        let every = self.resolve_every.min((age / 4).max(8));
        let due = state.samples == 0
            || state.var != period_us
            || beats == self.warmup
            || (beats > self.warmup
                && (since >= every
                    || (a.seq_advance > 1 && since >= (self.resolve_every / 8).max(1))));
        if due {
            let start = if state.var == period_us {
                state.mean as u64
            } else {
                0
            };
            let (t, _) = self.solve(link, a.period, start, classes);
            *state = DetectorState {
                mean: t as f64,
                var: period_us,
                samples: link.beats().max(1),
            };
        }
    }

    fn timeout_us(&self, state: &DetectorState, period: Duration) -> f64 {
        if state.mean > 0.0 {
            state.mean
        } else {
            micros_f64(period) * f64::from(self.max_periods)
        }
    }
}

impl Detector for Budget {
    fn name(&self) -> &'static str {
        "budget"
    }

    /// Without the node's [`LinkEstimate`] (which the monitor keeps beside the state and passes
    /// through [`Budget::observe_link`]), the detector holds its prior's timeout.
    fn observe(&self, state: &mut DetectorState, arrival: &Arrival) {
        if state.samples == 0 || state.var != micros_f64(arrival.period) {
            let empty = LinkClasses::default();
            self.observe_link(state, &mut LinkEstimate::default(), &empty, arrival);
        }
    }

    fn deadline(&self, state: &DetectorState, last: Timestamp, period: Duration) -> Timestamp {
        if state.mean > 0.0 {
            // A solved timeout: a whole number of µs.
            Timestamp::from_micros(last.as_micros().saturating_add(state.mean as u64))
        } else {
            at_offset(last, self.timeout_us(state, period))
        }
    }

    /// Silence as a fraction of the node's timeout (1 at the deadline).
    fn value(
        &self,
        state: &DetectorState,
        last: Timestamp,
        period: Duration,
        now: Timestamp,
    ) -> f64 {
        micros_f64(now - last) / self.timeout_us(state, period)
    }

    fn threshold(&self) -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ETA: Duration = Duration::from_secs(1);

    proptest! {
        #[test]
        fn any_arrivals_give_a_timeout_on_the_grid_within_its_bounds(
            period_ms in 0u64..5000,
            steps in prop::collection::vec(
                (0u64..20_000_000, prop_oneof![Just(1u64), 1u64..5, Just(u64::MAX / 2)], any::<bool>()),
                1..300,
            ),
            spec in prop_oneof![Just("1/hour"), Just("1e-6/year"), Just("60/hour")],
        ) {
            let b = budget(spec);
            let period = Duration::from_millis(period_ms);
            let mut st = DetectorState::default();
            let mut link = LinkEstimate::default();
            let mut at = 0u64;
            let mut prev = None;
            for (gap, advance, resumed) in steps {
                at = at.saturating_add(gap);
                let a = Arrival {
                    at: Timestamp::from_micros(at),
                    prev,
                    seq_advance: advance,
                    period,
                    resumed,
                };
                b.observe_link(&mut st, &mut link, &LinkClasses::default(), &a);
                prev = Some(Timestamp::from_micros(at));
                let eta = micros(period).max(1);
                let t = b.timeout(&st, period).as_micros() as u64;
                prop_assert!(t >= (eta / GRID).max(1), "{t}");
                prop_assert!(t <= eta * u64::from(b.max_periods), "{t}");
                let s = link.summary(period);
                prop_assert!((0.0..=1.0).contains(&s.loss) && s.mean_burst >= 1.0, "{s:?}");
            }
        }
    }

    fn budget(spec: &str) -> Budget {
        Budget::new(AlarmRate::parse(spec).unwrap())
    }

    /// Feeds `n` beats: beat i is lost when `lost(i)`, delayed by `delay_us(i)` otherwise.
    fn feed(
        b: &Budget,
        n: u64,
        lost: impl Fn(u64) -> bool,
        delay_us: impl Fn(u64) -> u64,
    ) -> (DetectorState, LinkEstimate) {
        let mut st = DetectorState::default();
        let mut link = LinkEstimate::default();
        let mut prev: Option<(u64, u64)> = None;
        for i in 0..n {
            if lost(i) {
                continue;
            }
            let at = i * 1_000_000 + delay_us(i);
            let a = Arrival {
                at: Timestamp::from_micros(at),
                prev: prev.map(|p| Timestamp::from_micros(p.0)),
                seq_advance: prev.map_or(1, |p| i - p.1),
                period: ETA,
                resumed: false,
            };
            b.observe_link(&mut st, &mut link, &LinkClasses::default(), &a);
            prev = Some((at, i));
        }
        (st, link)
    }

    #[test]
    fn the_prior_is_five_percent_loss_and_a_period_of_delay() {
        // Prior: Bernoulli 5 %, offsets uniform over (0, η] in eighths. At T = 3η two losses
        // in a row (0.05² = 2.5e-3, times the chance the third beat is late) exceed 1/hour
        // (2.78e-4/s); at 4η three (1.25e-4) do not: the timeout lies in (3η, 4η].
        let b = budget("1/hour");
        let (t, r) = b.solve(&LinkEstimate::default(), ETA, 0, &LinkClasses::default());
        assert!(r <= 1.0 / 3600.0, "{r}");
        assert!((3_000_000..=4_000_000).contains(&t), "{t}");
        let (st, _) = feed(&b, 10, |_| false, |_| 1000);
        assert_eq!(st.mean as u64, t, "warm-up uses the prior");
    }

    #[test]
    fn a_lossy_link_gets_a_longer_timeout_than_a_clean_one() {
        let b = budget("1/day");
        let (clean, _) = feed(&b, 3000, |_| false, |i| 1000 + (i * 7919) % 5000);
        let (lossy, _) = feed(&b, 3000, |i| i % 20 == 7, |i| 1000 + (i * 7919) % 5000);
        assert!(clean.mean < lossy.mean, "{} vs {}", clean.mean, lossy.mean);
        // A clean LAN-like link converges to a couple of periods, far below the prior.
        let (prior, _) = b.solve(&LinkEstimate::default(), ETA, 0, &LinkClasses::default());
        assert!(clean.mean < prior as f64, "{} vs {prior}", clean.mean);
    }

    #[test]
    fn the_timeout_is_the_smallest_grid_point_meeting_the_budget() {
        let b = budget("1/hour");
        let (_, link) = feed(&b, 5000, |i| i % 10 == 3, |i| 2000 + (i * 104_729) % 40_000);
        let (t, r) = b.solve(&link, ETA, 0, &LinkClasses::default());
        assert!(r <= b.rate.as_per_second());
        let step = 1_000_000 / GRID;
        for start in [step, t - step, t, t + step, 50_000_000] {
            assert_eq!(
                b.solve(&link, ETA, start, &LinkClasses::default()).0,
                t,
                "start {start}"
            );
        }
        let chain = link.chain();
        assert!(chain.mean_loss() > 0.05 && chain.mean_loss() < 0.15);
    }

    #[test]
    fn the_deadline_is_last_plus_the_timeout_and_value_crosses_one_there() {
        let b = budget("1/day");
        let (st, _) = feed(&b, 500, |_| false, |_| 500);
        let last = Timestamp::from_micros(10_000_000);
        let dl = b.deadline(&st, last, ETA);
        assert_eq!(dl - last, Duration::from_micros(st.mean as u64));
        assert_eq!(b.timeout(&st, ETA), dl - last);
        assert!(b.value(&st, last, ETA, dl) >= b.threshold());
        assert!(b.value(&st, last, ETA, dl - Duration::from_micros(1)) < b.threshold());
    }

    #[test]
    fn re_solves_happen_on_schedule_not_on_every_beat() {
        let b = budget("1/day");
        let mut st = DetectorState::default();
        let mut link = LinkEstimate::default();
        let mut solves = Vec::new();
        for i in 0..2000u64 {
            let a = Arrival {
                at: Timestamp::from_micros(i * 1_000_000 + 500),
                prev: (i > 0).then(|| Timestamp::from_micros((i - 1) * 1_000_000 + 500)),
                seq_advance: 1,
                period: ETA,
                resumed: false,
            };
            let before = st.samples;
            b.observe_link(&mut st, &mut link, &LinkClasses::default(), &a);
            if st.samples != before {
                solves.push(st.samples);
            }
        }
        // None during warm-up but the first; then at its end, every quarter of the age (at
        // least 8 beats), and once old every resolve_every beats. Far fewer solves than beats.
        assert_eq!(solves[0], 1);
        assert_eq!(solves[1], b.warmup);
        let gaps: Vec<u32> = solves.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|&g| g >= 1 && g <= b.resolve_every),
            "{gaps:?}"
        );
        assert!(
            gaps.iter().rev().take(5).all(|&g| g == b.resolve_every),
            "{gaps:?}"
        );
        assert!(solves.len() < 60, "{} solves", solves.len());
    }
}
