//! Choosing a timeout: the smallest fixed timeout whose predicted false-alarm rate meets a
//! target, its worst-case detection time, and a simulation that confirms the theory.

use core::time::Duration;

use crate::delay::Delay;
use crate::link::{Link, Loss};
use crate::qos::Summary;
use crate::runner::run;
use crate::scenario::{Scenario, fixed};
use crate::stats::{self, Interval};
use crate::theory;

/// Seconds in a (Julian) year.
pub const YEAR_S: f64 = 365.25 * 86_400.0;

/// What to plan for.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRequest {
    /// Beat period η.
    pub period: Duration,
    /// Loss model of the path.
    pub loss: Loss,
    /// One-way delay of the path.
    pub delay: Delay,
    /// Target: at most this many false alarms per monitored host per year.
    pub max_false_alarms_per_host_year: f64,
}

/// Why no plan could be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The delay law is a sum of two or more random parts, which the theory does not cover.
    #[error("the theory needs a delay of one random part plus a constant (got {0})")]
    DelayOutsideTheory(String),
    /// No timeout up to 10 000 periods meets the target (the loss is too high).
    #[error("no timeout up to 10000 periods meets the target; reduce loss or raise the target")]
    Unreachable,
    /// The target is not a positive number.
    #[error("the false-alarm target must be a positive number")]
    BadTarget,
}

/// The theory's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The smallest timeout (on a grid of η/1000, at least 1 µs) meeting the target.
    pub timeout: Duration,
    /// `timeout / period`.
    pub ratio: f64,
    /// Predicted false alarms per host-year at that timeout.
    pub predicted_per_year: f64,
    /// Worst-case detection time, seconds (timeout + the delay's worst case).
    pub worst_case_detection_s: f64,
}

/// A simulation run that checks the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirmation {
    /// Traces × duration simulated at each timeout.
    pub host_hours: f64,
    /// QoS measured at the planned timeout (expect no or almost no mistakes).
    pub at_plan: Summary,
    /// Upper end of the 99 % Poisson interval on the planned timeout's rate, per host-year.
    pub at_plan_upper_per_year: f64,
    /// A shorter timeout where the predicted rate is high enough to measure.
    pub probe_timeout: Duration,
    /// Predicted mistakes per hour at the probe timeout.
    pub probe_predicted_per_hour: f64,
    /// Measured mistakes per hour at the probe timeout (99 % interval).
    pub probe_measured_per_hour: Interval,
}

impl Confirmation {
    /// Whether the probe's measurement agrees with the theory (the prediction lies inside the
    /// measured 99 % interval).
    pub fn theory_confirmed(&self) -> bool {
        self.probe_measured_per_hour
            .contains(self.probe_predicted_per_hour)
    }
}

/// Finds the smallest fixed timeout meeting `req`'s target, by theory.
pub fn plan(req: &PlanRequest) -> Result<Plan, PlanError> {
    let target = req.max_false_alarms_per_host_year;
    if !(target.is_finite() && target > 0.0) {
        return Err(PlanError::BadTarget);
    }
    if req.loss.mean() >= 1.0 {
        return Err(PlanError::Unreachable);
    }
    if req.delay.law().is_none() {
        return Err(PlanError::DelayOutsideTheory(req.delay.to_string()));
    }
    let per_year = |t_us: u64| -> f64 {
        theory::mistake_rate(
            req.period,
            Duration::from_micros(t_us),
            &req.loss,
            &req.delay,
        )
        .map_or(f64::INFINITY, |r| r * YEAR_S)
    };
    let eta = req.period.as_micros() as u64;
    let step = (eta / 1000).max(1);
    let hi =
        hb_core::theory::smallest_timeout(eta, step, eta.saturating_mul(10_000), target, per_year)
            .ok_or(PlanError::Unreachable)?;
    let timeout = Duration::from_micros(hi);
    Ok(Plan {
        timeout,
        ratio: hi as f64 / eta as f64,
        predicted_per_year: per_year(hi),
        worst_case_detection_s: timeout.as_secs_f64() + req.delay.worst_case(),
    })
}

/// Simulates `traces` traces of `duration` at the planned timeout and at a shorter probe
/// timeout where about `expected_probe` mistakes are predicted in that much host-time.
pub fn confirm(
    req: &PlanRequest,
    plan: &Plan,
    traces: u64,
    duration: Duration,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Confirmation {
    let host_hours = traces as f64 * duration.as_secs_f64() / 3600.0;
    let link = Link {
        loss: req.loss,
        delay: req.delay.clone(),
        ..Link::default()
    };
    let scenario = |t: Duration| Scenario {
        detector: fixed(t),
        period: req.period,
        link: link.clone(),
        duration,
        check_invariants: false,
        ..Scenario::default()
    };
    let at_plan = run(&scenario(plan.timeout), traces, seed, progress).summary;
    let (_, hi) = stats::poisson_interval(at_plan.mistakes, 0.99);
    let at_plan_upper_per_year = hi / (at_plan.up_seconds.max(1.0)) * YEAR_S;
    // Probe: the largest timeout below the plan with ≥ 200 predicted mistakes in the budget.
    let want_per_hour = 200.0 / host_hours.max(1e-9);
    let mut probe = plan.timeout;
    let eta = req.period;
    let mut rate = 0.0;
    while probe > eta / 2 {
        probe = probe.saturating_sub(eta / 20);
        rate = theory::mistake_rate(eta, probe, &req.loss, &req.delay).unwrap_or(0.0) * 3600.0;
        if rate >= want_per_hour {
            break;
        }
    }
    let measured = run(&scenario(probe), traces, seed ^ 1, progress).summary;
    Confirmation {
        host_hours,
        at_plan,
        at_plan_upper_per_year,
        probe_timeout: probe,
        probe_predicted_per_hour: rate,
        probe_measured_per_hour: measured.mistake_rate_per_hour,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_for_constant_delay_is_the_hand_computed_multiple() {
        // Const delay, Bernoulli 1 %: with T in ((k−1)η, kη] a mistake needs k−1 losses
        // (the k-th beat arrives at or after the deadline): λ = 0.99·0.01^(k−1)/s.
        // 1 per year is 3.17e-8/s: k − 1 = 4 gives 9.9e-9 ≤ 3.17e-8 < 9.9e-7, so T ∈ (4η, 5η]:
        // the smallest grid point is 4η + η/1000.
        let req = PlanRequest {
            period: Duration::from_secs(1),
            loss: Loss::Bernoulli(0.01),
            delay: Delay::parse("const:10ms").unwrap(),
            max_false_alarms_per_host_year: 1.0,
        };
        let p = plan(&req).unwrap();
        assert_eq!(p.timeout, Duration::from_millis(4001));
        assert!((p.predicted_per_year - 0.99e-8 * YEAR_S).abs() < 1e-6);
        assert!((p.worst_case_detection_s - 4.011).abs() < 1e-9);
    }

    #[test]
    fn impossible_targets_are_errors() {
        let mut req = PlanRequest {
            period: Duration::from_secs(1),
            loss: Loss::Bernoulli(1.0),
            delay: Delay::parse("const:0").unwrap(),
            max_false_alarms_per_host_year: 1.0,
        };
        assert_eq!(plan(&req), Err(PlanError::Unreachable));
        req.max_false_alarms_per_host_year = 0.0;
        assert_eq!(plan(&req), Err(PlanError::BadTarget));
    }
}
