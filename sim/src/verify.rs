//! The CI gate: a fixed suite of scenarios, each run over ≥ 1000 traces, with four checks.
//!
//! 1. **Theory**: where it applies (fixed detector), the predicted mistake rate lies inside the
//!    measured 99 % interval (normal over traces with ≥ 30 mistakes, else Garwood's exact
//!    Poisson interval).
//! 2. **Detection bound**: no crash in any trace is detected later than the detector's bound
//!    ([`Scenario::detection_bound_us`]); every down fires exactly at its deadline.
//! 3. **Determinism**: the suite is run twice; every trace's event-log hash must match.
//! 4. **Invariants**: `Monitor::check_invariants` after every monitor input of every trace.
//!
//! A failure names the trace seed; `SIM_SEED=<seed> cargo xtask sim run <flags>` replays it.

use core::time::Duration;

use crate::engine::{TraceOutcome, run_trace};
use crate::link::Link;
use crate::runner::{Report, report};
use crate::scenario::{Scenario, Stalls, chen, fixed, phi, trace_seed};

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
    /// Which check (`theory`, `bound`, `determinism`, `invariants`).
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

/// The suite: 14 scenarios, `traces` traces each (the CI gate uses 1000).
pub fn suite(traces: u64) -> Vec<Case> {
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
                detector: fixed(ms(4000)),
                link: link("loss=1%;delay=const:10ms"),
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
                link: link("wan"),
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

/// Runs one case: its traces twice (in parallel), then the checks.
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
    let rep = report(&case.scenario, seed, &first);
    let mut checks = Vec::new();

    // (1) theory
    if let Some(p) = rep.predicted {
        let m = &rep.summary.mistake_rate_per_hour;
        checks.push(Check {
            name: "theory",
            ok: m.contains(p.mistake_rate_per_hour),
            detail: format!(
                "predicted {:.4}/h, measured {:.4}/h (99% CI {:.4}–{:.4}, {} mistakes)",
                p.mistake_rate_per_hour, m.value, m.lo, m.hi, rep.summary.mistakes
            ),
            seed: None,
        });
    }
    // (2) bound, (4) invariants: both surface as trace violations.
    let (bound, inv): (Vec<_>, Vec<_>) = rep
        .violations
        .iter()
        .partition(|(_, _, v)| !v.what.starts_with("monitor invariant"));
    let bound_detail = match rep.scenario_bound_detail(&case.scenario) {
        Some(d) => d,
        None => "no closed-form bound for this detector; downs fire at their deadline".into(),
    };
    checks.push(Check {
        name: "bound",
        ok: bound.is_empty(),
        detail: bound.first().map_or(bound_detail, |(i, _, v)| {
            format!("trace {i}: {} (at {} µs)", v.what, v.at_us)
        }),
        seed: bound.first().map(|(_, s, _)| *s),
    });
    checks.push(Check {
        name: "invariants",
        ok: inv.is_empty(),
        detail: inv.first().map_or_else(
            || "check_invariants after every monitor input".into(),
            |(i, _, v)| format!("trace {i}: {}", v.what),
        ),
        seed: inv.first().map(|(_, s, _)| *s),
    });
    // (3) determinism
    let diff = first
        .iter()
        .zip(&second)
        .position(|(a, b)| a.hash != b.hash || a.stats != b.stats);
    checks.push(Check {
        name: "determinism",
        ok: diff.is_none(),
        detail: diff.map_or_else(
            || format!("{} traces × 2 runs, hash {:016x}", case.traces, rep.hash),
            |i| format!("trace {i} differs between two runs"),
        ),
        seed: diff.map(|i| first[i].seed),
    });
    CaseResult {
        case: case.clone(),
        report: rep,
        checks,
    }
}

impl Report {
    fn scenario_bound_detail(&self, sc: &Scenario) -> Option<String> {
        let bound = sc.detection_bound_us((self.summary.max_delay_s * 1e6) as u64)?;
        Some(format!(
            "{} crashes, T_D max {:.3}s ≤ bound {:.3}s (max delay {:.3}s)",
            self.summary.crashes,
            self.summary.t_d_max_s.unwrap_or(0.0),
            bound as f64 / 1e6,
            self.summary.max_delay_s
        ))
    }
}
