//! Analytic predictions for the fixed-timeout detector, computed apart from the engine: a thin
//! adapter from the simulator's [`Loss`] and [`Delay`] to [`hb_core::theory`], where the math
//! lives (shared with `hbnode plan` and the budget detector).
//!
//! Model (see docs/sim.md for the derivation): beats are sent at `jη`; beat j is lost according
//! to a Markov-modulated loss process (Bernoulli is the one-state case, Gilbert–Elliott the
//! two-state one) and otherwise arrives after an independent delay `D_j ~ D`. The monitor
//! declares the node down when the silence since the last *fresh* arrival reaches `T`.
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
//! P_A      = 1 − λ_M · E(T_M)
//! ```
//!
//! where S(z) = P(D ≥ z) (S = 1 for z ≤ 0, so the product is finite) and E_x is over the delay
//! law, discretised by [`DelayLaw::nodes`](crate::delay::DelayLaw::nodes).

use core::time::Duration;

use hb_core::theory::{Law, LossChain};

use crate::delay::{Delay, DelayLaw};
use crate::link::Loss;

/// Cells used to discretise the delay law.
pub const NODES: usize = 400;

/// What the theory predicts for a fixed-timeout detector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Mistakes per hour of up-time (λ_M · 3600).
    pub mistake_rate_per_hour: f64,
    /// E(T_MR) = 1/λ_M, seconds (infinite when λ_M = 0).
    pub t_mr_mean_s: f64,
    /// E(T_M), seconds (0 when no mistake can happen).
    pub t_m_mean_s: f64,
    /// P_A = 1 − λ_M · E(T_M).
    pub p_a: f64,
    /// p_S: probability that a delivered beat is followed by a mistake (λ_M · η / (1 − loss)).
    pub p_s: f64,
    /// Worst-case detection time, seconds: T + the delay's worst case (exact maximum for
    /// bounded laws, the 1 − 10⁻⁹ quantile otherwise).
    pub t_d_bound_s: f64,
    /// Approximate mean detection time for a crash at a uniformly random phase, seconds:
    /// T + E(D) − η/2 − η·q/(1 − q) with q the mean loss (ignores reordering).
    pub t_d_mean_s: f64,
}

/// hb-core's loss chain for the simulator's loss model (the one implementation of the theory
/// lives in [`hb_core::theory`]).
pub fn chain_of(loss: &Loss) -> LossChain {
    match *loss {
        Loss::Bernoulli(p) => LossChain::bernoulli(p),
        Loss::GilbertElliott {
            p_gb,
            p_bg,
            loss_good,
            loss_bad,
        } => LossChain::gilbert_elliott(p_gb, p_bg, loss_good, loss_bad),
    }
}

/// λ_M (per second) and, if `with_tm`, E(T_M) for period `eta`, timeout `t` (seconds), by
/// hb-core's theory on `law` discretised into [`NODES`] cells.
fn rate_and_tm(chain: &LossChain, law: &DelayLaw, eta: f64, t: f64, with_tm: bool) -> (f64, f64) {
    let nodes = law.nodes(NODES);
    let law = Law {
        nodes: &nodes,
        survival: |x| law.survival(x),
    };
    if with_tm {
        hb_core::theory::mistake_rate_and_duration(chain, &law, eta, t)
    } else {
        (hb_core::theory::mistake_rate(chain, &law, eta, t), 0.0)
    }
}

/// Predicts the QoS of a fixed timeout `timeout` with beats every `period` over a link with
/// `loss` and `delay`; `None` when the delay law is outside the theory (a sum of two or more
/// random parts).
pub fn predict(
    period: Duration,
    timeout: Duration,
    loss: &Loss,
    delay: &Delay,
) -> Option<Prediction> {
    let law = delay.law()?;
    let eta = period.as_secs_f64();
    let t = timeout.as_secs_f64();
    if eta <= 0.0 || t <= 0.0 {
        return None;
    }
    let chain = chain_of(loss);
    let (rate, tm) = rate_and_tm(&chain, &law, eta, t, true);
    let q = loss.mean();
    let mean_delay: f64 = law.nodes(NODES).iter().map(|(x, w)| x * w).sum();
    Some(Prediction {
        mistake_rate_per_hour: rate * 3600.0,
        t_mr_mean_s: if rate > 0.0 {
            1.0 / rate
        } else {
            f64::INFINITY
        },
        t_m_mean_s: tm,
        p_a: (1.0 - rate * tm).clamp(0.0, 1.0),
        p_s: if q < 1.0 { rate * eta / (1.0 - q) } else { 1.0 },
        t_d_bound_s: t + delay.worst_case(),
        t_d_mean_s: if q < 1.0 {
            (t + mean_delay - eta / 2.0 - eta * q / (1.0 - q)).max(0.0)
        } else {
            t
        },
    })
}

/// The mistake rate alone (per second); cheaper than [`predict`] (no E(T_M) integral).
pub fn mistake_rate(
    period: Duration,
    timeout: Duration,
    loss: &Loss,
    delay: &Delay,
) -> Option<f64> {
    let law = delay.law()?;
    let (eta, t) = (period.as_secs_f64(), timeout.as_secs_f64());
    (eta > 0.0 && t > 0.0).then(|| rate_and_tm(&chain_of(loss), &law, eta, t, false).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Delay {
        Delay::parse(s).unwrap()
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn constant_delay_bernoulli_is_p_to_the_k_minus_1() {
        // T = 3η, constant delay: a mistake needs beats 1 and 2 lost; beat 3 arrives exactly
        // at the deadline (down, then up at once). λ = (1 − p)·p²/η, T_M = p·η + … .
        let p = 0.1;
        let pr = predict(S, 3 * S, &Loss::Bernoulli(p), &d("const:10ms")).unwrap();
        let lambda = (1.0 - p) * p * p;
        assert!((pr.mistake_rate_per_hour - lambda * 3600.0).abs() < 1e-9);
        // T_M: the first arrival at or after the deadline comes k·η later w.p. (1 − p)·p^k:
        // E = η·p/(1 − p).
        assert!(
            (pr.t_m_mean_s - p / (1.0 - p)).abs() < 1e-3,
            "{}",
            pr.t_m_mean_s
        );
        assert!((pr.p_a - (1.0 - lambda * p / (1.0 - p))).abs() < 1e-5);
        assert!((pr.p_s - p * p).abs() < 1e-12);
        assert!((pr.t_d_bound_s - 3.01).abs() < 1e-12);
    }

    #[test]
    fn timeout_between_beats_rounds_up_the_needed_losses() {
        // T = 2.5η, const delay: beats 1 and 2 must be lost (2η + D < D + 2.5η), beat 3
        // arrives after the deadline anyway: λ = (1 − p)·p²/η and T_M = 0.5η + η·p/(1 − p).
        let p = 0.2;
        let pr = predict(
            S,
            Duration::from_millis(2500),
            &Loss::Bernoulli(p),
            &d("const:0"),
        )
        .unwrap();
        assert!((pr.mistake_rate_per_hour / 3600.0 - (1.0 - p) * p * p).abs() < 1e-12);
        assert!(
            (pr.t_m_mean_s - (0.5 + p / (1.0 - p))).abs() < 2e-3,
            "{}",
            pr.t_m_mean_s
        );
    }

    #[test]
    fn uniform_delay_matches_a_hand_integral() {
        // η = 1, T = 1.5, D ~ U(0, 1), no loss. A mistake after beat 0 (at x) needs beat 1
        // (sent at 1) to arrive at or after x + 1.5: P = P(D₁ ≥ x + 0.5) = 0.5 − x for x < 0.5;
        // beat 2 always arrives after x + 1.5 − 2 < 0. E_x = ∫₀^½ (½ − x) dx = 1/8.
        let pr = predict(
            S,
            Duration::from_millis(1500),
            &Loss::Bernoulli(0.0),
            &d("uniform:0,1s"),
        )
        .unwrap();
        assert!((pr.mistake_rate_per_hour / 3600.0 - 0.125).abs() < 1e-4);
    }

    #[test]
    fn gilbert_elliott_needs_a_burst() {
        // Constant delay, T = 3η: a mistake needs a delivered beat in the good state followed
        // by two losses: π_G·p_gb·(1 − p_bg) with loss only in the bad state.
        let (gb, bg) = (0.05, 0.25);
        let loss = Loss::GilbertElliott {
            p_gb: gb,
            p_bg: bg,
            loss_good: 0.0,
            loss_bad: 1.0,
        };
        let r = mistake_rate(S, 3 * S, &loss, &d("const:1ms")).unwrap();
        let pi_g = bg / (gb + bg);
        assert!((r - pi_g * gb * (1.0 - bg)).abs() < 1e-12, "{r}");
    }

    #[test]
    fn more_timeout_never_means_more_mistakes() {
        let loss = Loss::Bernoulli(0.05);
        let delay = d("normal:50ms,20ms");
        let mut last = f64::INFINITY;
        for ms in [1200, 1800, 2500, 3100, 4000, 6000] {
            let r = mistake_rate(S, Duration::from_millis(ms), &loss, &delay).unwrap();
            assert!(r <= last, "{ms}: {r} > {last}");
            last = r;
        }
    }
}
