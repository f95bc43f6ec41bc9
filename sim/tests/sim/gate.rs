//! The gate's checks fail on broken input: each test runs real traces (or builds synthetic
//! outcomes) and hands `hb_sim::verify`'s check functions a claim that does not match what ran
//! — a detector one period slower or faster than stated, a φ that never fires, a Chen margin
//! wider than stated, a prediction 2× off, a detector that never errs, a budget detector that
//! ignores loss or is twice as slow as its oracle.

use std::time::Duration;

use hb_core::detector::{AlarmRate, Chen, DetectorConfig, Phi};
use hb_sim::budget::{check_budget, check_oracle, oracle_scenario};
use hb_sim::verify::{self, Case, check_detection, check_theory};
use hb_sim::{
    Link, Loss, Scenario, TraceOutcome, TraceStats, Violation, fixed, predict, run_trace,
    trace_seed,
};
use rayon::prelude::*;

fn case(name: &str) -> Scenario {
    verify::suite(1)
        .into_iter()
        .find(|c: &Case| c.name == name)
        .unwrap_or_else(|| panic!("no suite case {name}"))
        .scenario
}

fn outcomes(sc: &Scenario, traces: u64, seed: u64) -> Vec<TraceOutcome> {
    (0..traces)
        .into_par_iter()
        .map(|i| run_trace(sc, trace_seed(seed, i)))
        .collect()
}

fn rate(sc: &Scenario) -> f64 {
    predict(sc).expect("theory applies").mistake_rate_per_hour
}

#[test]
fn a_fixed_detector_one_period_slower_than_claimed_fails_detection() {
    // Runs T = 3 s; claims T = 2 s (one period less).
    let ran = case("fixed-lan-crashes");
    let claimed = Scenario {
        detector: fixed(Duration::from_secs(2)),
        ..ran.clone()
    };
    let obs = outcomes(&ran, 40, 1);
    let honest = check_detection(&ran, &obs).unwrap();
    assert!(honest.ok, "{}", honest.detail);
    let c = check_detection(&claimed, &obs).unwrap();
    assert!(!c.ok, "{}", c.detail);
    assert!(c.detail.contains("exceeds the bound"), "{}", c.detail);
    assert!(c.seed.is_some(), "a per-trace failure names its trace seed");
}

#[test]
fn a_fixed_detector_one_period_faster_than_claimed_fails_theory() {
    // Runs T = 2 s; claims T = 3 s: twenty times the claimed false alarms.
    let claimed = case("fixed-loss5%-T3-uniform");
    let ran = Scenario {
        detector: fixed(Duration::from_secs(2)),
        ..claimed.clone()
    };
    let obs = outcomes(&ran, 100, 2);
    let honest = check_theory(rate(&ran), &obs);
    assert!(honest.ok, "{}", honest.detail);
    let c = check_theory(rate(&claimed), &obs);
    assert!(!c.ok, "{}", c.detail);
}

#[test]
fn a_prediction_twice_or_half_the_theory_fails() {
    let sc = case("fixed-loss1%-T2");
    let obs = outcomes(&sc, 100, 3);
    let p = rate(&sc);
    assert!(check_theory(p, &obs).ok, "{}", check_theory(p, &obs).detail);
    for wrong in [2.0 * p, 0.5 * p] {
        let c = check_theory(wrong, &obs);
        assert!(!c.ok, "{wrong}: {}", c.detail);
    }
}

/// Outcomes of `traces` traces of `sc` with `total` mistakes spread as evenly as possible and
/// every trace up for its whole duration.
fn synthetic(sc: &Scenario, traces: u64, total: u64) -> Vec<TraceOutcome> {
    (0..traces)
        .map(|i| TraceOutcome {
            seed: i,
            hash: i,
            stats: TraceStats {
                up_us: sc.duration.as_micros() as u64,
                mistakes: total / traces + u64::from(i < total % traces),
                ..TraceStats::default()
            },
            violation: None,
        })
        .collect()
}

#[test]
fn every_theory_case_fails_a_silent_detector_and_a_prediction_2x_off() {
    let mut theory_cases = 0;
    for c in verify::suite(1000) {
        let Some(p) = predict(&c.scenario).map(|p| p.mistake_rate_per_hour) else {
            continue;
        };
        theory_cases += 1;
        let hours = c.traces as f64 * c.scenario.duration.as_secs_f64() / 3600.0;
        let expected = p * hours;
        // ≥ 150 (fixed-lan-crashes: 0.18/h over 1000 h less crash down-time) for power on
        // both sides at the gate's level; the check itself refuses < 30.
        assert!(expected >= 150.0, "{}: only {expected:.1} expected", c.name);
        // A detector that never errs.
        let silent = check_theory(p, &synthetic(&c.scenario, c.traces, 0));
        assert!(!silent.ok, "{}: {}", c.name, silent.detail);
        // Exactly the expected count passes; a prediction twice or half of it does not.
        let obs = synthetic(&c.scenario, c.traces, expected.round() as u64);
        assert!(check_theory(p, &obs).ok, "{}", c.name);
        assert!(!check_theory(2.0 * p, &obs).ok, "{}: 2×", c.name);
        assert!(!check_theory(0.5 * p, &obs).ok, "{}: ½×", c.name);
    }
    assert_eq!(theory_cases, 9);
}

#[test]
fn a_case_expecting_fewer_than_30_mistakes_cannot_pass() {
    let sc = case("fixed-loss1%-T2");
    let obs = synthetic(&sc, 1, 1); // 1 h at 18/h: 18 expected
    let c = check_theory(rate(&sc), &obs);
    assert!(
        !c.ok && c.detail.contains("lengthen the case"),
        "{}",
        c.detail
    );
}

#[test]
fn a_phi_that_never_fires_fails_detection() {
    // φ = 8 with an hour of "acceptable pause": it never reports a crash before the restart.
    let claimed = case("phi-wan-crashes");
    let ran = Scenario {
        detector: DetectorConfig::Phi(Phi::new(
            8.0,
            Duration::from_secs(3600),
            Duration::from_millis(100),
        )),
        ..claimed.clone()
    };
    let honest = check_detection(&claimed, &outcomes(&claimed, 40, 4)).unwrap();
    assert!(honest.ok, "{}", honest.detail);
    let c = check_detection(&claimed, &outcomes(&ran, 40, 4)).unwrap();
    assert!(!c.ok, "{}", c.detail);
    assert!(c.detail.contains("still undetected"), "{}", c.detail);
}

#[test]
fn a_chen_margin_wider_than_claimed_fails_detection() {
    // Runs α = 500 ms; claims α = 200 ms.
    let ran = case("chen-congested-crashes");
    let claimed = Scenario {
        detector: DetectorConfig::Chen(Chen {
            margin: Duration::from_millis(200),
            ..Chen::default()
        }),
        ..ran.clone()
    };
    let obs = outcomes(&ran, 40, 5);
    assert!(check_detection(&ran, &obs).unwrap().ok);
    let c = check_detection(&claimed, &obs).unwrap();
    assert!(!c.ok, "{}", c.detail);
}

#[test]
fn a_crash_scenario_that_saw_too_few_crashes_fails_detection() {
    // Claims crashes every 10 min; the traces ran without any.
    let claimed = case("fixed-lan-crashes");
    let ran = Scenario {
        crash_every: None,
        duration: Duration::from_secs(600),
        ..claimed.clone()
    };
    let c = check_detection(&claimed, &outcomes(&ran, 4, 6)).unwrap();
    assert!(!c.ok && c.detail.contains("only 0 crashes"), "{}", c.detail);
    assert!(
        check_detection(&ran, &[]).is_none(),
        "no crashes claimed: no check"
    );
}

#[test]
fn engine_violations_and_nondeterminism_fail_their_checks() {
    let sc = case("fixed-loss1%-T2");
    let clean = synthetic(&sc, 4, 400);
    assert!(verify::check_deadlines(&clean).ok);
    assert!(verify::check_invariants(&clean).ok);
    assert!(verify::check_determinism(&clean, &clean).ok);
    let mut bad = clean.clone();
    bad[2].violation = Some(Violation {
        at_us: 7,
        what: "down fired at 7 µs, its deadline was 6 µs".into(),
    });
    let d = verify::check_deadlines(&bad);
    assert!(!d.ok && d.seed == Some(2), "{d:?}");
    assert!(verify::check_invariants(&bad).ok);
    bad[2].violation = Some(Violation {
        at_us: 7,
        what: "monitor invariant: poll_timeout not after now".into(),
    });
    assert!(!verify::check_invariants(&bad).ok);
    assert!(verify::check_deadlines(&bad).ok);
    let mut other = clean.clone();
    other[3].hash ^= 1;
    let c = verify::check_determinism(&clean, &other);
    assert!(!c.ok && c.seed == Some(3), "{c:?}");
    assert!(!verify::check_determinism(&clean, &clean[..3]).ok);
}

/// A budget case of the suite and its budget.
fn budget_case(name: &str) -> (Scenario, AlarmRate) {
    let sc = case(name);
    let DetectorConfig::Budget(b) = sc.detector else {
        panic!("{name} is not a budget case");
    };
    (sc, b.rate)
}

#[test]
fn a_budget_detector_that_ignores_loss_fails_the_budget() {
    // What a detector blind to loss would choose: the oracle of the same link without loss,
    // just past the delay spread (about one period).
    let (sc, budget) = budget_case("budget-bern5%-1/day");
    let lossless = Scenario {
        link: Link {
            loss: Loss::Bernoulli(0.0),
            ..sc.link.clone()
        },
        ..sc.clone()
    };
    let t = oracle_scenario(&lossless, budget)
        .unwrap()
        .fixed_timeout()
        .unwrap();
    let blind = Scenario {
        detector: fixed(t),
        ..sc.clone()
    };
    assert!(t < Duration::from_millis(1100), "{t:?}");
    let c = check_budget(budget, &outcomes(&blind, 20, 7));
    assert!(!c.ok && c.detail.contains("over budget"), "{}", c.detail);
    // The real budget detector, on the same traces' seeds, meets it.
    let honest = check_budget(budget, &outcomes(&sc, 20, 7));
    assert!(honest.ok, "{}", honest.detail);
}

#[test]
fn a_budget_detector_twice_as_slow_as_the_oracle_fails_the_oracle_check() {
    for name in ["budget-bern1%-1/h", "budget-GE-5%,50%-1/h"] {
        let (sc, budget) = budget_case(name);
        let oracle = oracle_scenario(&sc, budget).unwrap();
        let t = oracle.fixed_timeout().unwrap();
        let slow = Scenario {
            detector: fixed(2 * t),
            ..sc.clone()
        };
        let oracle_runs = outcomes(&oracle, 20, 8);
        let c = check_oracle(sc.period, t, &outcomes(&slow, 20, 8), &oracle_runs);
        assert!(
            !c.ok && c.detail.contains("too slow"),
            "{name}: {}",
            c.detail
        );
        // The oracle itself passes against itself, and the budget detector against it.
        assert!(check_oracle(sc.period, t, &oracle_runs, &oracle_runs).ok);
        let honest = check_oracle(sc.period, t, &outcomes(&sc, 20, 8), &oracle_runs);
        assert!(honest.ok, "{name}: {}", honest.detail);
    }
}

#[test]
fn a_budget_case_without_crashes_or_theory_fails_the_oracle_check() {
    let (sc, budget) = budget_case("budget-bern1%-1/h");
    let calm = Scenario {
        crash_every: None,
        duration: Duration::from_secs(600),
        ..sc.clone()
    };
    let obs = outcomes(&calm, 2, 9);
    let c = check_oracle(sc.period, Duration::from_secs(2), &obs, &obs);
    assert!(!c.ok && c.detail.contains("no crash"), "{}", c.detail);
    // A link outside the theory (duplicates) has no oracle: the case cannot pass.
    let dup = Scenario {
        link: Link {
            duplicate: 0.01,
            ..sc.link.clone()
        },
        ..calm
    };
    assert!(oracle_scenario(&dup, budget).is_none());
    let checks = hb_sim::budget::checks(&dup, &obs, 9, &|| {});
    assert!(
        checks.iter().any(|c| c.name == "oracle" && !c.ok),
        "{checks:?}"
    );
}

#[test]
fn the_suite_has_the_budget_cases_the_issue_asks_for() {
    let names: Vec<_> = verify::suite(1000)
        .into_iter()
        .filter(|c| matches!(c.scenario.detector, DetectorConfig::Budget(_)))
        .map(|c| (c.name, c.scenario.link.clone(), c.traces))
        .collect();
    assert_eq!(names.len(), 8);
    let bern = |p: f64| {
        names
            .iter()
            .any(|(_, l, _)| l.loss == Loss::Bernoulli(p) && l.switch.is_none())
    };
    assert!(bern(0.001) && bern(0.01) && bern(0.05));
    let ge = names
        .iter()
        .filter(|(_, l, _)| matches!(l.loss, Loss::GilbertElliott { .. }))
        .count();
    assert_eq!(ge, 2);
    assert!(
        names
            .iter()
            .any(|(_, l, _)| l.delay.to_string().starts_with("pareto"))
    );
    assert!(names.iter().any(|(n, _, _)| n.contains("wan")));
    assert!(names.iter().any(|(_, l, _)| l.switch.is_some()));
    assert!(names.iter().all(|(_, _, t)| *t == 250));
}
