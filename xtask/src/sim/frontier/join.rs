//! The mixed fleet's fourth contender: `budget` for nodes that join a monitor which already
//! knows the fleet. The budget detector's young nodes plan with the link classes of the
//! settled ones (`hb_core::detector::LinkClasses`), so nodes are no longer independent: this
//! runs the fleet simulator — one monitor, a settled cohort of every class from the start and
//! a cohort of newcomers joining once it has settled — and measures each cohort per class.

use std::fmt::Write as _;

use hb_core::detector::SETTLED;
use hb_sim::fleet::{ZoneMeasure, cohort, mixed_join, run_many};
use hb_sim::stats::{poisson_interval, quantile_sorted};

use super::{FrontierArgs, csv_field, csv_num};

/// The 99 % interval of a false-alarm count, per node-day of `up_s` seconds.
fn per_day(z: &ZoneMeasure) -> (f64, f64, f64) {
    let days = (z.up_s / 86_400.0).max(1e-12);
    let (lo, hi) = poisson_interval(z.false_downs, 0.99);
    (z.per_node_day(), lo / days, hi / days)
}

/// Runs the joining fleet; its CSV rows (the columns of fleet-mix.csv) and its Markdown
/// section.
pub(crate) fn run(a: &FrontierArgs) -> anyhow::Result<(String, String)> {
    let classes: Vec<_> = a
        .fleet
        .0
        .iter()
        .map(|c| (c.link.name.clone(), c.link.link.clone(), c.share))
        .collect();
    // The settled cohort needs SETTLED beats, and a census after them.
    let join = a.period * (SETTLED + 600);
    let mut fleet = mixed_join(
        &classes,
        a.join_nodes,
        hb_sim::budget(a.budget.rate),
        join,
        a.duration,
        a.crash_every,
        a.restart_after,
    )?;
    fleet.topology.period = a.period;
    fleet.topology.jitter = a.jitter;
    let outcomes = run_many(&fleet, a.seed.wrapping_add(0x_701e), a.join_runs);
    let zones = cohort(&fleet, &outcomes);
    let budget_day = a.budget.rate.as_per_hour() * 24.0;
    let label = format!("budget {}", a.budget.label());
    let mut csv = String::new();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n## (d) {label}, nodes joining a monitor that knows the fleet\n\n\
         One monitor, {} runs of the fleet simulator: a settled cohort of {} nodes in the \
         shares above beats from the start; after {} (once each has {SETTLED} beats) as many \
         newcomers join, measured over their first {}. Their young budget detectors plan \
         with the link classes of the settled nodes. The settled rows are measured from \
         their own first beat (a first deployment: nothing settled yet).\n",
        a.join_runs,
        a.join_nodes,
        hb_sim::fmt_duration(join),
        hb_sim::fmt_duration(a.duration),
    );
    let _ = writeln!(
        md,
        "| class | cohort | nodes | false alarms per node-day (99% CI) | meets {} | T_D mean s | \
         T_D p99 s | undetected |",
        a.budget.label()
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (i, c) in a.fleet.0.iter().enumerate() {
        for (k, cohort) in ["settled", "new"].iter().enumerate() {
            let z = &zones[2 * i + k];
            let nodes = fleet.topology.zones[2 * i + k].nodes;
            let (v, lo, hi) = per_day(z);
            let meets = lo <= budget_day;
            let secs: Vec<f64> = z.detection_us.iter().map(|&d| d as f64 / 1e6).collect();
            let mean = (!secs.is_empty()).then(|| secs.iter().sum::<f64>() / secs.len() as f64);
            let p99 = quantile_sorted(&secs, 0.99);
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{v},{lo},{hi},{meets},{},{},{}",
                csv_field(&c.link.name),
                c.share,
                csv_field(&format!("{label} ({cohort}, joining fleet)")),
                u64::from(nodes) * a.join_runs,
                z.up_s / 3600.0,
                z.false_downs,
                csv_num(mean),
                csv_num(p99),
                z.undetected
            );
            let fmt = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.2}"));
            let _ = writeln!(
                md,
                "| `{}` | {cohort} | {} | {v:.4} ({lo:.4}–{hi:.4}) | {} | {} | {} | {} |",
                c.link.name,
                u64::from(nodes) * a.join_runs,
                if meets { "yes" } else { "**no**" },
                fmt(mean),
                fmt(p99),
                z.undetected
            );
        }
    }
    Ok((csv, md))
}
