//! The CI gate: a fixed suite of scenarios, each run over ≥ 1000 traces, with five checks (and
//! two more for the budget detector's cases, see [`crate::budget`]).
//!
//! Each check is a function of what was *claimed* (the [`Scenario`] whose detector and
//! prediction are being vouched for) and what was *observed* (the traces' outcomes), so a test
//! can hand it a mis-stated claim and see it fail:
//!
//! 1. **Theory** ([`check_theory`]): where it applies (fixed detector), the predicted mistake
//!    rate lies inside the measured interval at level [`THEORY_LEVEL`] (the hull of the normal
//!    interval over traces and Garwood's exact Poisson interval), widened by
//!    [`THEORY_NUMERICS`] for the theory's quadrature. A case must expect at least
//!    [`MIN_EXPECTED_MISTAKES`] mistakes, so observing none fails it.
//! 2. **Detection** ([`check_detection`]): in a scenario with crashes, at least
//!    [`MIN_CRASHES`] crashes happened, every detected one within the detector's bound
//!    ([`Scenario::detection_bound_us`]: fixed, Chen and φ all have one), and none was left
//!    undetected for longer than that bound.
//! 3. **Deadlines** ([`check_deadlines`]): the engine's per-step checks — every down fires
//!    exactly at its deadline, a fixed detector after exactly its timeout, no stray output.
//! 4. **Invariants** ([`check_invariants`]): `Monitor::check_invariants` after every monitor
//!    input of every trace.
//! 5. **Determinism** ([`check_determinism`]): the traces are run twice; every trace's
//!    event-log hash and statistics must match.
//!
//! Checks 2–5 are exact: a correct detector passes them for every seed. The theory check is
//! statistical, and so is the budget detector's budget check; with 9 theory cases and 8 budget
//! cases at [`THEORY_LEVEL`] a correct build fails a run with probability below 2·10⁻⁴,
//! whatever the master seed (see docs/sim.md). The budget detector's oracle check compares two
//! measured p99s with a 25 % + η allowance.
//!
//! A failure names the trace seed; `SIM_SEED=<seed> cargo xtask sim run <flags>` replays it.

use core::time::Duration;

use crate::engine::{TraceOutcome, Violation, run_trace};
use crate::link::Link;
use crate::runner::{Report, predict, report};
use crate::scenario::{Scenario, Stalls, chen, fixed, phi, splitmix64, trace_seed};
use crate::stats;

use rayon::prelude::*;

/// One scenario of the suite.
#[derive(Clone, Debug)]
pub struct Case {
    /// Short name.
    pub name: &'static str,
    /// The scenario.
    pub scenario: Scenario,
    /// Traces to run.
    pub traces: u64,
}

/// One check's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Which check (`theory`, `detection`, `deadlines`, `invariants`, `determinism`).
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// Numbers behind the verdict.
    pub detail: String,
    /// For a failure inside one trace: the trace seed that replays it.
    pub seed: Option<u64>,
}

/// A case's results.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// Its report (first run).
    pub report: Report,
    /// The checks.
    pub checks: Vec<Check>,
}

impl CaseResult {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn link(spec: &str) -> Link {
    Link::parse(spec).expect("suite link specs are valid")
}

/// The suite: 14 scenarios of the fixed, φ and Chen detectors, `traces` traces each (the CI
/// gate uses 1000), then the budget detector's 8 ([`crate::budget::suite`], `traces / 4` traces
/// of 4 h each: each of those also runs its oracle).
pub fn suite(traces: u64) -> Vec<Case> {
    let mut cases = classic(traces);
    cases.extend(crate::budget::suite((traces / 4).max(1)));
    cases
}

fn classic(traces: u64) -> Vec<Case> {
    let hour = Duration::from_secs(3600);
    let base = Scenario {
        duration: hour,
        ..Scenario::default()
    };
    let case = |name, scenario| Case {
        name,
        scenario,
        traces,
    };
    vec![
        case(
            "fixed-loss1%-T2",
            Scenario {
                detector: fixed(ms(2000)),
                link: link("loss=1%;delay=normal:20ms,5ms"),
                ..base.clone()
            },
        ),
        case(
            "fixed-loss5%-T3-uniform",
            Scenario {
                detector: fixed(ms(3000)),
                link: link("loss=5%;delay=uniform:0,50ms"),
                ..base.clone()
            },
        ),
        case(
            "fixed-rare-T4-const",
            Scenario {
                // Three losses in a row (4 %³): ≈ 221 mistakes expected in 1000 h.
                detector: fixed(ms(4000)),
                link: link("loss=4%;delay=const:10ms"),
                ..base.clone()
            },
        ),
        case(
            "fixed-bursty-GE-T3",
            Scenario {
                detector: fixed(ms(3000)),
                link: link("burst=2%,30%;delay=normal:10ms,3ms"),
                ..base.clone()
            },
        ),
        case(
            "fixed-bursty-pareto-T2.5",
            Scenario {
                detector: fixed(ms(2500)),
                link: link("burst=0.5%,20%;delay=const:2ms+pareto:1ms,1.5"),
                ..base.clone()
            },
        ),
        case(
            "fixed-heavy-tail-T1.5",
            Scenario {
                detector: fixed(ms(1500)),
                link: link("loss=0.1%;delay=pareto:50ms,1.2"),
                ..base.clone()
            },
        ),
        case(
            "fixed-wan-250ms-T600",
            Scenario {
                detector: fixed(ms(600)),
                period: ms(250),
                duration: Duration::from_secs(900),
                // Two losses in a row (1 %²) at 4 beats/s: ≈ 356 mistakes expected in 250 h.
                link: link("wan;loss=1%"),
                ..base.clone()
            },
        ),
        case(
            "fixed-clamped-normal-T2",
            Scenario {
                detector: fixed(ms(2000)),
                link: link("loss=2%;delay=normal:5ms,10ms"),
                ..base.clone()
            },
        ),
        case(
            "fixed-lan-crashes",
            Scenario {
                detector: fixed(ms(3000)),
                link: link("lan;loss=1%"),
                crash_every: Some(Duration::from_secs(600)),
                restart_after: Duration::from_secs(30),
                ..base.clone()
            },
        ),
        case(
            "fixed-stalls-crashes",
            Scenario {
                detector: fixed(ms(3000)),
                link: link("wan"),
                stalls: Some(Stalls {
                    every: Duration::from_secs(300),
                    length: ms(2500),
                }),
                crash_every: Some(Duration::from_secs(900)),
                ..base.clone()
            },
        ),
        case(
            "fixed-chaos",
            Scenario {
                detector: fixed(ms(3000)),
                link: link("congested;dup=1%;partition=20m,10s,30m"),
                drift_ppm: 100.0,
                jitter: 0.1,
                crash_every: Some(Duration::from_secs(900)),
                ..base.clone()
            },
        ),
        case(
            "chen-congested-crashes",
            Scenario {
                detector: chen(ms(500)),
                link: link("congested"),
                crash_every: Some(Duration::from_secs(600)),
                ..base.clone()
            },
        ),
        case(
            "chen-stalls-drift",
            Scenario {
                detector: chen(ms(300)),
                link: link("wifi_lossy"),
                drift_ppm: -200.0,
                stalls: Some(Stalls {
                    every: Duration::from_secs(600),
                    length: Duration::from_secs(2),
                }),
                crash_every: Some(Duration::from_secs(900)),
                ..base.clone()
            },
        ),
        case(
            "phi-wan-crashes",
            Scenario {
                detector: phi(8.0),
                link: link("wan;loss=1%"),
                crash_every: Some(Duration::from_secs(600)),
                ..base
            },
        ),
    ]
}

/// Confidence level of each theory check: two-sided, 1 − 10⁻⁵ (z ≈ 4.42).
pub const THEORY_LEVEL: f64 = 1.0 - 1e-5;

/// Relative allowance for the theory's own numerical error (quadrature over 400 cells): the
/// interval is widened by this fraction of the prediction on each side.
pub const THEORY_NUMERICS: f64 = 0.01;

/// Fewest mistakes a theory case must expect. Garwood's interval for 0 observed events at
/// [`THEORY_LEVEL`] reaches 12.2, so with ≥ 30 expected a detector that never errs fails.
pub const MIN_EXPECTED_MISTAKES: f64 = 30.0;

/// Fewest crashes a scenario that injects crashes must see for its detection check to count.
pub const MIN_CRASHES: u64 = 100;

/// How many traces [`run_case`] runs for `case` (its progress callback fires once per trace):
/// twice its traces, three times for a budget case (its oracle runs too).
pub fn runs(case: &Case) -> u64 {
    let extra = u64::from(matches!(
        case.scenario.detector,
        hb_core::detector::DetectorConfig::Budget(_)
    ));
    (2 + extra) * case.traces
}

/// Runs one case: its traces twice (in parallel), then the checks (for a budget case, its
/// oracle's traces too, and the budget and oracle checks).
pub fn run_case(case: &Case, seed: u64, progress: &(dyn Fn() + Sync)) -> CaseResult {
    let go = || -> Vec<TraceOutcome> {
        (0..case.traces)
            .into_par_iter()
            .map(|i| {
                let o = run_trace(&case.scenario, trace_seed(seed, i));
                progress();
                o
            })
            .collect()
    };
    let first = go();
    let second = go();
    let mut checks = checks(&case.scenario, &first, &second);
    checks.extend(crate::budget::checks(
        &case.scenario,
        &first,
        seed,
        progress,
    ));
    CaseResult {
        case: case.clone(),
        report: report(&case.scenario, seed, &first),
        checks,
    }
}

/// Every check that applies to `claimed`, over two runs of the same traces (`first`,
/// `second`, in trace order): theory (if [`predict`] applies), detection (if `claimed`
/// injects crashes), deadlines, invariants, determinism.
pub fn checks(claimed: &Scenario, first: &[TraceOutcome], second: &[TraceOutcome]) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(p) = predict(claimed) {
        out.push(check_theory(p.mistake_rate_per_hour, first));
    }
    out.extend(check_detection(claimed, first));
    out.push(check_deadlines(first));
    out.push(check_invariants(first));
    out.push(check_determinism(first, second));
    out
}

/// The theory check: is `predicted_per_hour` (mistakes per hour of up-time) consistent with
/// the mistakes `observed`? Fails when the prediction lies outside the hull interval
/// ([`stats::rate_interval_hull`]) at [`THEORY_LEVEL`] widened by [`THEORY_NUMERICS`], and
/// when the prediction expects fewer than [`MIN_EXPECTED_MISTAKES`] over the observed up-time
/// (such a check could not tell a silent detector from a correct one).
pub fn check_theory(predicted_per_hour: f64, observed: &[TraceOutcome]) -> Check {
    let counts: Vec<f64> = observed.iter().map(|o| o.stats.mistakes as f64).collect();
    let hours: Vec<f64> = observed
        .iter()
        .map(|o| o.stats.up_us as f64 / 3.6e9)
        .collect();
    let up: f64 = hours.iter().sum();
    let expected = predicted_per_hour * up;
    let m = stats::rate_interval_hull(&counts, &hours, THEORY_LEVEL);
    let slack = THEORY_NUMERICS * predicted_per_hour;
    let mistakes: f64 = counts.iter().sum();
    let numbers = format!(
        "predicted {predicted_per_hour:.4}/h ({expected:.0} expected in {up:.0} h), measured \
         {:.4}/h ({mistakes} mistakes; 1−1e-5 CI {:.4}–{:.4}, ±{:.0}% for numerics)",
        m.value,
        m.lo,
        m.hi,
        THEORY_NUMERICS * 100.0
    );
    let (ok, detail) = if expected < MIN_EXPECTED_MISTAKES {
        (
            false,
            format!(
                "{numbers}: fewer than {MIN_EXPECTED_MISTAKES} expected, so 0 mistakes would \
                 pass; lengthen the case"
            ),
        )
    } else {
        let ok = m.lo - slack <= predicted_per_hour && predicted_per_hour <= m.hi + slack;
        (ok, numbers)
    };
    Check {
        name: "theory",
        ok,
        detail,
        seed: None,
    }
}

/// The detection check of a scenario with crashes (`None` when `claimed` injects none): at
/// least [`MIN_CRASHES`] crashes were observed; every detection time is within `claimed`'s
/// [`Scenario::detection_bound_us`] for its trace; and no crash stayed undetected for longer
/// than that bound (or, for a detector without one, until the node restarted). A crash still
/// undetected when the trace ended less than a bound after it is not a failure.
pub fn check_detection(claimed: &Scenario, observed: &[TraceOutcome]) -> Option<Check> {
    claimed.crash_every?;
    let restart = claimed.restart_after.as_micros() as u64;
    let mut crashes = 0;
    let mut detected = 0;
    let mut cut_off = 0;
    let mut unobserved = 0;
    let mut worst: Option<(f64, u64, u64)> = None; // (T_D / bound, T_D, bound)
    let mut first_fail: Option<(usize, u64, String)> = None;
    for (i, o) in observed.iter().enumerate() {
        let s = &o.stats;
        crashes += s.crashes;
        unobserved += s.unobserved;
        detected += s.detection_us.len() as u64;
        let bound = claimed.detection_bound_us(s.max_delay_us, s.max_sample_gap_us);
        let mut fail = |what: String| {
            first_fail.get_or_insert((i, o.seed, what));
        };
        for &t_d in &s.detection_us {
            if let Some(b) = bound {
                if t_d > b {
                    fail(format!(
                        "detection time {t_d} µs exceeds the bound of {b} µs"
                    ));
                }
                let r = t_d as f64 / b as f64;
                if worst.is_none_or(|(w, _, _)| r > w) {
                    worst = Some((r, t_d, b));
                }
            }
        }
        for &w in &s.undetected_watched_us {
            match bound {
                Some(b) if w > b => fail(format!(
                    "a crash was still undetected after {w} µs, beyond the bound of {b} µs"
                )),
                None if w >= restart => fail(format!(
                    "a crash was still undetected when the node restarted {w} µs later"
                )),
                _ => cut_off += 1,
            }
        }
    }
    if crashes < MIN_CRASHES && first_fail.is_none() {
        first_fail = Some((
            0,
            observed.first().map_or(0, |o| o.seed),
            format!("only {crashes} crashes observed, fewer than {MIN_CRASHES}"),
        ));
    }
    let detail = match &first_fail {
        Some((i, _, what)) => format!("trace {i}: {what}"),
        None => {
            let tight = worst.map_or_else(
                || "no closed-form bound: none undetected until restart".into(),
                |(r, t_d, b)| {
                    format!(
                        "closest: T_D {:.3}s of bound {:.3}s ({:.0}%)",
                        t_d as f64 / 1e6,
                        b as f64 / 1e6,
                        r * 100.0
                    )
                },
            );
            format!(
                "{crashes} crashes, {detected} detected within the bound, {cut_off} cut off by \
                 the trace's end, {unobserved} before the monitor heard of the node; {tight}"
            )
        }
    };
    Some(Check {
        name: "detection",
        ok: first_fail.is_none(),
        detail,
        seed: first_fail.map(|(_, s, _)| s),
    })
}

fn violations(
    observed: &[TraceOutcome],
    invariant: bool,
) -> impl Iterator<Item = (usize, &TraceOutcome, &Violation)> {
    observed.iter().enumerate().filter_map(move |(i, o)| {
        o.violation
            .as_ref()
            .filter(|v| v.what.starts_with(INVARIANT) == invariant)
            .map(|v| (i, o, v))
    })
}

/// The prefix of the engine's `Monitor::check_invariants` violations.
const INVARIANT: &str = "monitor invariant";

/// The engine's per-step checks (everything but invariants): downs at their deadlines, a
/// fixed detector's silence equal to its timeout, no unexpected event or ack, and the engine's
/// own detection bound for the scenario it ran.
pub fn check_deadlines(observed: &[TraceOutcome]) -> Check {
    let first = violations(observed, false).next();
    Check {
        name: "deadlines",
        ok: first.is_none(),
        detail: first.map_or_else(
            || "every down at its deadline (fixed: after exactly T)".into(),
            |(i, _, v)| format!("trace {i}: {} (at {} µs)", v.what, v.at_us),
        ),
        seed: first.map(|(_, o, _)| o.seed),
    }
}

/// `Monitor::check_invariants` held after every monitor input of every trace.
pub fn check_invariants(observed: &[TraceOutcome]) -> Check {
    let first = violations(observed, true).next();
    Check {
        name: "invariants",
        ok: first.is_none(),
        detail: first.map_or_else(
            || "check_invariants after every monitor input".into(),
            |(i, _, v)| format!("trace {i}: {}", v.what),
        ),
        seed: first.map(|(_, o, _)| o.seed),
    }
}

/// Two runs of the same traces gave identical event-log hashes and statistics.
pub fn check_determinism(first: &[TraceOutcome], second: &[TraceOutcome]) -> Check {
    let diff = if first.len() == second.len() {
        first
            .iter()
            .zip(second)
            .position(|(a, b)| a.hash != b.hash || a.stats != b.stats)
    } else {
        Some(first.len().min(second.len()))
    };
    let hash = first
        .iter()
        .fold(0xCBF2_9CE4_8422_2325, |h, o| splitmix64(h ^ o.hash));
    Check {
        name: "determinism",
        ok: diff.is_none(),
        detail: diff.map_or_else(
            || format!("{} traces × 2 runs, hash {hash:016x}", first.len()),
            |i| format!("trace {i} differs between two runs"),
        ),
        seed: diff.and_then(|i| first.get(i).map(|o| o.seed)),
    }
}
