//! The false-alarm theory of a fixed timeout: pure math, shared by the simulator's checks,
//! `hbnode plan` and the [`Budget`](crate::detector::Budget) detector.
//!
//! Model (docs/sim.md derives it): beats are sent at `jη`; beat j is lost according to a
//! Markov-modulated loss process ([`LossChain`]: Bernoulli is the one-state case,
//! Gilbert–Elliott the two-state one) and otherwise arrives after an independent offset
//! `D_j ~ D` (one-way delay plus sender jitter; only differences of offsets matter, so `D` may be
//! known up to a constant shift). The monitor declares the node down when the silence since the
//! last *fresh* arrival reaches `T`.
//!
//! Every gap between consecutive fresh arrivals that reaches `T` is exactly one mistake. Given
//! that beat 0 arrives at x (in channel state s₀), a mistake follows iff every later beat is
//! lost or arrives at or after x + T:
//!
//! ```text
//! H(y; s₀) = P(∀ j ≥ 1: beat j lost or jη + D_j ≥ y | s₀)
//!          = 1ᵀ · Π_{j ≥ 1} (P · diag(ℓ + (1 − ℓ)·S(y − jη)))   started from e_{s₀}
//! λ_M      = (1/η) · Σ_{s₀} π(s₀)(1 − ℓ(s₀)) · E_x[H(x + T; s₀)]
//! E(T_M)   = Σ π(1−ℓ) E_x[∫₀^∞ H(x + T + u) du] / Σ π(1−ℓ) E_x[H(x + T)]
//! ```
//!
//! where S(z) = P(D ≥ z) (S = 1 for z ≤ 0, so the product is finite) and E_x is over the
//! offset law, given as a discretisation ([`Law`]: nodes `(x, weight)` summing to 1, and the
//! survival function). Everything here is plain `f64` arithmetic in a fixed order: the same
//! inputs give bit-identical outputs on every machine.
//!
//! [`agreement`] extends it to K-of-N monitors that confirm each other (witness mode).

pub mod agreement;

/// The loss process as a two-state Markov chain: stationary law, transitions, per-state loss.
///
/// The chain steps once per beat: beat j is lost with `loss[s_j]`, then `s_{j+1}` is drawn from
/// `trans[s_j]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossChain {
    /// Stationary probability of each state.
    pub pi: [f64; 2],
    /// `trans[from][to]`: one-step transition probabilities.
    pub trans: [[f64; 2]; 2],
    /// Loss probability in each state.
    pub loss: [f64; 2],
}

impl LossChain {
    /// Independent loss with probability `p` (all mass in state 0).
    pub fn bernoulli(p: f64) -> Self {
        Self {
            pi: [1.0, 0.0],
            trans: [[1.0, 0.0], [1.0, 0.0]],
            loss: [p, p],
        }
    }

    /// Gilbert–Elliott: good (0) → bad (1) with `p_gb`, bad → good with `p_bg` per beat; a beat
    /// is lost with `loss_good` in the good state and `loss_bad` in the bad one.
    pub fn gilbert_elliott(p_gb: f64, p_bg: f64, loss_good: f64, loss_bad: f64) -> Self {
        let pb = if p_gb + p_bg > 0.0 {
            p_gb / (p_gb + p_bg)
        } else {
            0.0
        };
        Self {
            pi: [1.0 - pb, pb],
            trans: [[1.0 - p_gb, p_gb], [p_bg, 1.0 - p_bg]],
            loss: [loss_good, loss_bad],
        }
    }

    /// Long-run fraction of beats lost.
    pub fn mean_loss(&self) -> f64 {
        self.pi[0] * self.loss[0] + self.pi[1] * self.loss[1]
    }

    /// H(y; s₀) for `y` in seconds after beat 0's send time.
    fn h(&self, survival: &impl Fn(f64) -> f64, eta: f64, y: f64, s0: usize) -> f64 {
        let mut v = [0.0; 2];
        v[s0] = 1.0;
        let mut j = 1.0;
        while y - j * eta > 0.0 {
            let s = survival(y - j * eta);
            let mut w = [0.0; 2];
            for (from, &mass) in v.iter().enumerate() {
                for (to, wt) in w.iter_mut().enumerate() {
                    *wt += mass * self.trans[from][to];
                }
            }
            for (k, wk) in w.iter_mut().enumerate() {
                *wk *= self.loss[k] + (1.0 - self.loss[k]) * s;
            }
            v = w;
            j += 1.0;
            if v[0] + v[1] < 1e-300 {
                return 0.0;
            }
        }
        v[0] + v[1]
    }
}

/// A discretised offset law: `nodes` are `(x in seconds, probability)` pairs summing to 1 (the
/// law of beat 0's offset), `survival(z)` is P(D ≥ z) for z in seconds (1 for z ≤ 0).
///
/// The two should describe the same law (for a purely discrete law, `survival` is the sum of
/// the weights of the nodes at or above z); the simulator uses the exact survival function of
/// its delay law and a fine quantile discretisation for the nodes.
#[derive(Clone, Copy, Debug)]
pub struct Law<'a, S> {
    /// Discretisation of the law: `(value, weight)` pairs.
    pub nodes: &'a [(f64, f64)],
    /// P(D ≥ z), z in seconds.
    pub survival: S,
}

/// λ_M (mistakes per second of up-time) of timeout `t` with beats every `eta` (both seconds,
/// both positive: the callers check).
pub fn mistake_rate<S: Fn(f64) -> f64>(
    chain: &LossChain,
    law: &Law<'_, S>,
    eta: f64,
    t: f64,
) -> f64 {
    rate_and_tm(chain, law, eta, t, false).0
}

/// λ_M (per second) and E(T_M) (seconds, 0 when no mistake can happen) of timeout `t` with
/// beats every `eta`.
pub fn mistake_rate_and_duration<S: Fn(f64) -> f64>(
    chain: &LossChain,
    law: &Law<'_, S>,
    eta: f64,
    t: f64,
) -> (f64, f64) {
    rate_and_tm(chain, law, eta, t, true)
}

fn rate_and_tm<S: Fn(f64) -> f64>(
    chain: &LossChain,
    law: &Law<'_, S>,
    eta: f64,
    t: f64,
    with_tm: bool,
) -> (f64, f64) {
    let mut num = 0.0;
    let mut tm_num = 0.0;
    for s0 in 0..2 {
        let w0 = chain.pi[s0] * (1.0 - chain.loss[s0]);
        if w0 <= 0.0 {
            continue;
        }
        for &(x, wx) in law.nodes {
            let h = chain.h(&law.survival, eta, x + t, s0);
            num += w0 * wx * h;
            if with_tm && h > 0.0 {
                tm_num += w0
                    * wx
                    * integrate_tail(|u| chain.h(&law.survival, eta, x + t + u, s0), h, eta);
            }
        }
    }
    let rate = num / eta;
    let tm = if num > 0.0 { tm_num / num } else { 0.0 };
    (rate, tm)
}

/// ∫₀^∞ f(u) du for a decreasing f with f(0) = f0, by the midpoint rule: cells of η/256 for
/// the first 2η (exact for the step functions of lattice delays, whose jumps fall on cell
/// edges), η/32 after, until f falls below 10⁻⁹ · f0 (or 10⁴ η).
fn integrate_tail(f: impl Fn(f64) -> f64, f0: f64, eta: f64) -> f64 {
    let mut sum = 0.0;
    let mut u = 0.0;
    while u < 1e4 * eta {
        let h = if u < 2.0 * eta {
            eta / 256.0
        } else {
            eta / 32.0
        };
        let cur = f(u + 0.5 * h);
        sum += cur * h;
        if cur < 1e-9 * f0 {
            break;
        }
        u += h;
    }
    sum
}

/// The smallest timeout on a grid that meets a target, for a rate that never grows with the
/// timeout: the least `k · step` (k ≥ 1, in any integer unit such as µs) with
/// `rate(k · step) ≤ target`, searched up to `max`; `None` when even `max` misses it.
///
/// `start` is a guess (the previous answer, or a period): the search first brackets the answer
/// by doubling the distance from `start` (so an unchanged answer costs two evaluations), then
/// bisects. `rate` is evaluated O(log(max/step)) times.
pub fn smallest_timeout(
    start: u64,
    step: u64,
    max: u64,
    target: f64,
    rate: impl Fn(u64) -> f64,
) -> Option<u64> {
    let step = step.max(1);
    let max_k = max / step;
    if max_k == 0 {
        return None;
    }
    let meets = |k: u64| rate(k * step) <= target;
    // Bracket: `lo` misses (0 stands for "no timeout", which never meets a target), `hi` meets.
    let mut k = start.div_ceil(step).clamp(1, max_k);
    let (mut lo, mut hi);
    if meets(k) {
        hi = k;
        let mut d = 1;
        loop {
            let below = hi.saturating_sub(d);
            if below == 0 {
                lo = 0;
                break;
            }
            if meets(below) {
                hi = below;
                d *= 2;
            } else {
                lo = below;
                break;
            }
        }
    } else {
        lo = k;
        let mut d = 1;
        loop {
            if lo == max_k {
                return None;
            }
            k = lo.saturating_add(d).min(max_k);
            if meets(k) {
                hi = k;
                break;
            }
            lo = k;
            d *= 2;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if meets(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi * step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(c: f64) -> impl Fn(f64) -> f64 {
        move |z| f64::from(u8::from(z <= c))
    }

    #[test]
    fn constant_offset_bernoulli_needs_k_minus_1_losses() {
        // T = 3η, constant offset: a mistake needs beats 1 and 2 lost: λ = (1 − p)·p²/η.
        let p = 0.1;
        let law = Law {
            nodes: &[(0.01, 1.0)],
            survival: constant(0.01),
        };
        let r = mistake_rate(&LossChain::bernoulli(p), &law, 1.0, 3.0);
        assert!((r - (1.0 - p) * p * p).abs() < 1e-15, "{r}");
    }

    #[test]
    fn gilbert_elliott_needs_a_burst() {
        let (gb, bg) = (0.05, 0.25);
        let law = Law {
            nodes: &[(0.001, 1.0)],
            survival: constant(0.001),
        };
        let chain = LossChain::gilbert_elliott(gb, bg, 0.0, 1.0);
        let r = mistake_rate(&chain, &law, 1.0, 3.0);
        let pi_g = bg / (gb + bg);
        assert!((r - pi_g * gb * (1.0 - bg)).abs() < 1e-12, "{r}");
        assert!((chain.mean_loss() - gb / (gb + bg)).abs() < 1e-15);
    }

    #[test]
    fn smallest_timeout_finds_the_first_grid_point_from_any_start() {
        // A step function: rate 1 below 4001, 0.5 below 7000, 0 after; target 0.5.
        let rate = |t: u64| match t {
            0..4001 => 1.0,
            4001..7000 => 0.5,
            _ => 0.0,
        };
        for start in [0, 1, 1000, 4000, 4001, 5000, 100_000, 2_000_000] {
            assert_eq!(
                smallest_timeout(start, 1, 1_000_000, 0.5, rate),
                Some(4001),
                "start {start}"
            );
        }
        assert_eq!(smallest_timeout(1000, 1, 1_000_000, 0.1, rate), Some(7000));
        assert_eq!(smallest_timeout(1000, 1, 6000, 0.1, rate), None);
        assert_eq!(smallest_timeout(1000, 7, 1_000_000, 0.5, rate), Some(4004));
    }

    #[test]
    fn an_unchanged_answer_costs_two_evaluations() {
        let calls = core::cell::Cell::new(0);
        let rate = |t: u64| {
            calls.set(calls.get() + 1);
            if t >= 3000 { 0.0 } else { 1.0 }
        };
        assert_eq!(smallest_timeout(3000, 1, 100_000, 0.5, rate), Some(3000));
        assert_eq!(calls.get(), 2);
    }
}
