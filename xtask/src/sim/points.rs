//! Running a grid of scenarios: every point on every core, one progress bar. Shared by `sweep`
//! and `frontier`.

use hb_sim::{Report, Scenario};
use rayon::prelude::*;

use super::output::progress;

/// Runs `traces` traces of each scenario, point i under master seed `seed + i` (so a point's
/// traces do not depend on the rest of the grid), all points in parallel; reports in the
/// scenarios' order.
pub(crate) fn run_points(scenarios: &[Scenario], traces: u64, seed: u64, msg: &str) -> Vec<Report> {
    let pb = progress(scenarios.len() as u64 * traces, msg);
    let reports = scenarios
        .par_iter()
        .enumerate()
        .map(|(i, sc)| hb_sim::run(sc, traces, seed.wrapping_add(i as u64), &|| pb.inc(1)))
        .collect();
    pb.finish_and_clear();
    reports
}
