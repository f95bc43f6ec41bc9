//! Many traces of one scenario, spread over every core, summarised.

use rayon::prelude::*;

use crate::engine::{TraceOutcome, Violation, run_trace};
use crate::qos::Summary;
use crate::scenario::{Scenario, splitmix64, trace_seed};
use crate::theory::{self, Prediction};

/// The outcome of [`run`].
#[derive(Clone, Debug)]
pub struct Report {
    /// The master seed.
    pub seed: u64,
    /// QoS over all traces.
    pub summary: Summary,
    /// The theory's prediction, when it applies to the scenario.
    pub predicted: Option<Prediction>,
    /// Hash of every trace's event-log hash, in trace order.
    pub hash: u64,
    /// Failed checks: (trace index, trace seed, what).
    pub violations: Vec<(u64, u64, Violation)>,
}

/// Runs `traces` traces of `scenario` (trace i seeded with `trace_seed(seed, i)`) in parallel
/// and summarises them. `progress` is called once per finished trace, from any thread.
pub fn run(scenario: &Scenario, traces: u64, seed: u64, progress: &(dyn Fn() + Sync)) -> Report {
    let outcomes: Vec<TraceOutcome> = (0..traces)
        .into_par_iter()
        .map(|i| {
            let o = run_trace(scenario, trace_seed(seed, i));
            progress();
            o
        })
        .collect();
    report(scenario, seed, &outcomes)
}

/// Summarises outcomes (in trace order) into a [`Report`].
pub fn report(scenario: &Scenario, seed: u64, outcomes: &[TraceOutcome]) -> Report {
    let summary = Summary::of(outcomes.iter().map(|o| &o.stats));
    let hash = outcomes
        .iter()
        .fold(splitmix64(seed), |h, o| splitmix64(h ^ o.hash));
    let violations = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.violation.clone().map(|v| (i as u64, o.seed, v)))
        .collect();
    Report {
        seed,
        summary,
        predicted: predict(scenario),
        hash,
        violations,
    }
}

/// The theory's prediction for `scenario`, if it applies.
pub fn predict(scenario: &Scenario) -> Option<Prediction> {
    if !scenario.theory_applies() {
        return None;
    }
    theory::predict(
        scenario.period,
        scenario.fixed_timeout()?,
        &scenario.link.loss,
        &scenario.link.delay,
    )
}
