//! The budget detector's proof: its verify cases, the oracle it is held to, and the two checks.
//!
//! - **Budget** ([`check_budget`]): the measured false-alarm rate meets the budget — the lower
//!   end of its interval never exceeds it. The gate uses [`crate::verify::THEORY_LEVEL`]
//!   (1 − 10⁻⁵, like the theory checks, so a correct build almost never fails by chance); the
//!   detail also prints the 99 % interval.
//! - **Oracle** ([`check_oracle`]): the detection time's p99 is at most
//!   [`ORACLE_SLACK`] × the oracle's p99 plus one period — statistically, at
//!   [`crate::verify::THEORY_LEVEL`]: it fails when the low end of the detector's p99 interval
//!   exceeds the limit drawn from the high end of the oracle's (distribution-free order
//!   statistic intervals, [`stats::quantile_interval_sorted`]). The oracle is the smallest fixed
//!   timeout that meets the budget on the true link ([`oracle_timeout`], by hb-core's theory —
//!   for a link that changes regime, on the time-weighted mix of its two regimes), run on the
//!   same traces (same seeds, so the same crashes).
//!
//! Each check is a function of what was claimed and what was observed, so
//! `sim/tests/sim/gate.rs` can hand it a broken detector's traces and see it fail.

use core::time::Duration;

use hb_core::detector::{AlarmRate, DetectorConfig};
use rayon::prelude::*;

use crate::engine::{TraceOutcome, run_trace};
use crate::link::Link;
use crate::scenario::{Scenario, budget, fixed, trace_seed};
use crate::stats;
use crate::theory;
use crate::verify::{Case, Check, THEORY_LEVEL};

/// How much slower than the oracle the budget detector may detect a crash (p99), on top of one
/// period.
pub const ORACLE_SLACK: f64 = 1.25;

fn link(spec: &str) -> Link {
    Link::parse(spec).expect("suite link specs are valid")
}

fn rate(spec: &str) -> AlarmRate {
    AlarmRate::parse(spec).expect("suite budgets are valid")
}

/// The budget cases of the suite: `traces` traces of 4 h each (a monitor runs for long; the
/// first hour's estimates are the least certain), crashes every 10 min.
pub fn suite(traces: u64) -> Vec<Case> {
    let base = Scenario {
        duration: Duration::from_secs(4 * 3600),
        crash_every: Some(Duration::from_secs(600)),
        restart_after: Duration::from_secs(30),
        ..Scenario::default()
    };
    let case = |name, budget_spec: &str, link_spec: &str| Case {
        name,
        scenario: Scenario {
            detector: budget(rate(budget_spec)),
            link: link(link_spec),
            ..base.clone()
        },
        traces,
    };
    vec![
        case(
            "budget-bern0.1%-1/h",
            "1/hour",
            "loss=0.1%;delay=normal:20ms,5ms",
        ),
        case(
            "budget-bern1%-1/h",
            "1/hour",
            "loss=1%;delay=normal:20ms,5ms",
        ),
        case(
            "budget-bern5%-1/day",
            "1/day",
            "loss=5%;delay=uniform:0,50ms",
        ),
        case(
            "budget-GE-5%,50%-1/h",
            "1/hour",
            "burst=5%,50%;delay=normal:10ms,3ms",
        ),
        case(
            "budget-GE-3%,60%-pareto-1/h",
            "1/hour",
            "burst=3%,60%;delay=const:2ms+pareto:1ms,1.5",
        ),
        case(
            "budget-pareto-1/h",
            "1/hour",
            "loss=0.1%;delay=pareto:50ms,1.2",
        ),
        case("budget-wan-1/h", "1/hour", "wan"),
        case(
            "budget-regime-1/h",
            "1/hour",
            "loss=0.1%;delay=normal:20ms,5ms;switch=2h,5%",
        ),
    ]
}

/// The false-alarm rate (per second of up-time) that the theory predicts for a fixed timeout
/// `timeout` on `sc`'s link — the rate [`oracle_timeout`] holds to the budget; `None` when the
/// theory does not describe the link (`f64::INFINITY` for a delay law outside it).
///
/// A link that changes regime at `at` is up under its first loss model for the fraction
/// `at / duration` of the trace: the rate is the mix of the two regimes' rates.
pub fn oracle_rate(sc: &Scenario, timeout: Duration) -> Option<f64> {
    let l = &sc.link;
    let plain = Link {
        switch: None,
        ..l.clone()
    };
    if !plain.theory_applies() {
        return None;
    }
    let r =
        |loss| theory::mistake_rate(sc.period, timeout, loss, &l.delay).unwrap_or(f64::INFINITY);
    Some(match l.switch {
        None => r(&l.loss),
        Some((at, loss)) => {
            let f = (at.as_secs_f64() / sc.duration.as_secs_f64()).clamp(0.0, 1.0);
            f * r(&l.loss) + (1.0 - f) * r(&loss)
        }
    })
}

/// The oracle: the smallest fixed timeout (on a grid of η/1000) whose false-alarm rate, by
/// theory ([`oracle_rate`]), meets `budget` on `sc`'s link; `None` when the theory does not
/// describe the link or no timeout up to 10 000 periods meets it.
pub fn oracle_timeout(sc: &Scenario, budget: AlarmRate) -> Option<Duration> {
    oracle_rate(sc, sc.period)?;
    let eta = sc.period.as_micros() as u64;
    let t = hb_core::theory::smallest_timeout(
        eta,
        (eta / 1000).max(1),
        eta.saturating_mul(10_000),
        budget.as_per_second(),
        |t_us| oracle_rate(sc, Duration::from_micros(t_us)).unwrap_or(f64::INFINITY),
    )?;
    Some(Duration::from_micros(t))
}

/// The oracle's scenario: `sc` with the fixed detector at [`oracle_timeout`].
pub fn oracle_scenario(sc: &Scenario, budget: AlarmRate) -> Option<Scenario> {
    Some(Scenario {
        detector: fixed(oracle_timeout(sc, budget)?),
        ..sc.clone()
    })
}

/// The budget check: the lower end of the measured false-alarm rate's interval (the hull of
/// the normal interval over traces and Garwood's, at [`THEORY_LEVEL`]) does not exceed
/// `budget`.
pub fn check_budget(budget: AlarmRate, observed: &[TraceOutcome]) -> Check {
    let counts: Vec<f64> = observed.iter().map(|o| o.stats.mistakes as f64).collect();
    let hours: Vec<f64> = observed
        .iter()
        .map(|o| o.stats.up_us as f64 / 3.6e9)
        .collect();
    let up: f64 = hours.iter().sum();
    let mistakes: u64 = observed.iter().map(|o| o.stats.mistakes).sum();
    let gate = stats::rate_interval_hull(&counts, &hours, THEORY_LEVEL);
    let (lo99, hi99) = stats::poisson_interval(mistakes, 0.99);
    let per_hour = budget.as_per_hour();
    let ok = gate.lo <= per_hour;
    Check {
        name: "budget",
        ok,
        detail: format!(
            "budget {per_hour:.4}/h; measured {:.4}/h ({mistakes} false alarms in {up:.0} h; \
             99% CI {:.4}–{:.4}, 1−1e-5 lower end {:.4}){}",
            gate.value,
            lo99 / up.max(1e-9),
            hi99 / up.max(1e-9),
            gate.lo,
            if ok { "" } else { ": over budget" }
        ),
        seed: None,
    }
}

/// p99 of the detection times in `observed`, seconds (`None` without a detected crash).
/// The detection times' p99 and its [`THEORY_LEVEL`] confidence interval, in seconds.
fn detection_p99(observed: &[TraceOutcome]) -> Option<(f64, (f64, f64))> {
    let mut t: Vec<f64> = observed
        .iter()
        .flat_map(|o| o.stats.detection_us.iter().map(|&u| u as f64 / 1e6))
        .collect();
    t.sort_by(f64::total_cmp);
    Some((
        stats::quantile_sorted(&t, 0.99)?,
        stats::quantile_interval_sorted(&t, 0.99, THEORY_LEVEL)?,
    ))
}

/// The oracle check: the detection time p99 of `observed` is at most [`ORACLE_SLACK`] × that
/// of `oracle` (the oracle's traces, same seeds) plus one `period`. Fails without detections.
pub fn check_oracle(
    period: Duration,
    oracle_timeout: Duration,
    observed: &[TraceOutcome],
    oracle: &[TraceOutcome],
) -> Check {
    let check = |ok, detail| Check {
        name: "oracle",
        ok,
        detail,
        seed: None,
    };
    let (Some((p99, (p99_lo, _))), Some((o99, (_, o99_hi)))) =
        (detection_p99(observed), detection_p99(oracle))
    else {
        return check(false, "no crash detected: nothing to compare".into());
    };
    // Statistical, like the budget check: it fails only when the detector's p99 is above the
    // limit beyond doubt — the low end of its interval above the limit drawn from the high end
    // of the oracle's — so a correct detector near the limit does not fail by chance.
    let limit = ORACLE_SLACK * o99 + period.as_secs_f64();
    let limit_hi = ORACLE_SLACK * o99_hi + period.as_secs_f64();
    let ok = p99_lo <= limit_hi;
    check(
        ok,
        format!(
            "T_D p99 {p99:.3}s (1−1e-5 low end {p99_lo:.3}s) vs the oracle's {o99:.3}s \
             (high end {o99_hi:.3}s; fixed T {:.3}s): limit {:.0}% + η = {limit:.3}s \
             ({limit_hi:.3}s at the high end){}",
            oracle_timeout.as_secs_f64(),
            ORACLE_SLACK * 100.0,
            if ok { "" } else { ": too slow" }
        ),
    )
}

/// The budget and oracle checks of a budget case whose traces (`first`, in trace order under
/// `seed`) have run: runs the oracle's traces and checks both. Empty for another detector.
pub fn checks(
    claimed: &Scenario,
    first: &[TraceOutcome],
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Vec<Check> {
    let DetectorConfig::Budget(b) = claimed.detector else {
        return Vec::new();
    };
    let mut out = vec![check_budget(b.rate, first)];
    let Some(oracle) = oracle_scenario(claimed, b.rate) else {
        out.push(Check {
            name: "oracle",
            ok: false,
            detail: "the theory does not describe this link: no oracle".into(),
            seed: None,
        });
        return out;
    };
    let oracle_runs: Vec<TraceOutcome> = (0..first.len() as u64)
        .into_par_iter()
        .map(|i| {
            let o = run_trace(&oracle, trace_seed(seed, i));
            progress();
            o
        })
        .collect();
    let t = oracle
        .fixed_timeout()
        .expect("the oracle is a fixed timeout");
    out.push(check_oracle(claimed.period, t, first, &oracle_runs));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_is_the_plan_for_the_link() {
        // Bernoulli 1 %, const delay: T ∈ (kη, (k+1)η] needs k losses in a row:
        // 0.99·0.01^k per second ≤ 1/hour (2.78e-4) first at k = 2, so T = 2η + η/1000.
        let sc = Scenario {
            link: link("loss=1%;delay=const:10ms"),
            ..Scenario::default()
        };
        assert_eq!(
            oracle_timeout(&sc, rate("1/hour")),
            Some(Duration::from_millis(2001))
        );
    }

    #[test]
    fn a_regime_change_mixes_the_two_oracles() {
        let clean = Scenario {
            link: link("loss=0.1%;delay=const:10ms"),
            ..Scenario::default()
        };
        let lossy = Scenario {
            link: link("loss=5%;delay=const:10ms"),
            ..Scenario::default()
        };
        let mixed = Scenario {
            link: link("loss=0.1%;delay=const:10ms;switch=30m,5%"),
            ..Scenario::default()
        };
        let r = rate("1/hour");
        let (c, l, m) = (
            oracle_timeout(&clean, r).unwrap(),
            oracle_timeout(&lossy, r).unwrap(),
            oracle_timeout(&mixed, r).unwrap(),
        );
        assert!(c < m && m <= l, "{c:?} {m:?} {l:?}");
    }
}
