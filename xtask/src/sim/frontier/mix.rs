//! The mixed fleet: one fleet-wide fixed timeout against `budget`, per link class and weighted
//! by the classes' shares of the nodes.
//!
//! Nodes are independent (each has its own link, its own detector state and its own crashes),
//! so a fleet's false alarms and detection times are exactly the share-weighted mix of its
//! classes': each class is simulated on its own and the results are weighted.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::bail;
use hb_sim::{Link, Report, Scenario, budget, fixed};
use rayon::prelude::*;

use super::{FrontierArgs, csv_field, csv_num};
use crate::sim::output::progress;

/// One class's plan: the link the theory is applied to and its own oracle.
pub(crate) struct ClassPlan {
    /// The class's scenario under the fixed detector's theory (its link without duplication).
    theory: Scenario,
    /// The smallest fixed timeout that meets the budget on this class alone.
    pub(crate) oracle: Duration,
    /// Whether duplication was dropped from the link for the theory.
    dup_dropped: bool,
}

/// The fleet's timeouts.
pub(crate) struct Plan {
    /// Per class, in `--fleet` order.
    pub(crate) classes: Vec<ClassPlan>,
    /// (a) The smallest fixed timeout that meets the budget on every class.
    pub(crate) every_class: Duration,
    /// (b) The smallest fixed timeout that meets it on the fleet's average.
    pub(crate) fleet_average: Duration,
}

/// The link the theory is applied to: the class's link without duplication. A duplicate only
/// gives a beat a second, independent chance to arrive, so the monitor's first copy is never
/// later than without it: the rate without duplication is an upper bound, and its timeout a
/// safe one.
fn theory_link(l: &Link) -> Link {
    Link {
        duplicate: 0.0,
        ..l.clone()
    }
}

/// Plans the fleet's timeouts by the theory the budget detector's oracle uses
/// ([`budget::oracle_timeout`], [`budget::oracle_rate`]).
pub(crate) fn plan(a: &FrontierArgs) -> anyhow::Result<Plan> {
    let rate = a.budget.rate;
    let mut classes = Vec::new();
    for c in &a.fleet.0 {
        let theory = Scenario {
            link: theory_link(&c.link.link),
            ..a.base(&c.link)
        };
        let Some(oracle) = budget::oracle_timeout(&theory, rate) else {
            let l = &theory.link;
            let why = if l.delay.law().is_none() {
                "its delay is a sum of two or more random parts, which the theory does not model"
            } else if l.reorder.0 > 0.0 || !l.partitions.is_empty() {
                "it reorders or partitions beats, which the theory does not model"
            } else {
                "no fixed timeout up to 10 000 periods meets the budget on it"
            };
            bail!(
                "fleet class {:?}: no fixed timeout can be planned for {}: {why}",
                c.link.name,
                a.budget.label()
            );
        };
        classes.push(ClassPlan {
            theory,
            oracle,
            dup_dropped: c.link.link.duplicate > 0.0,
        });
    }
    let every_class = classes.iter().map(|c| c.oracle).max().unwrap_or_default();
    let eta = a.period.as_micros() as u64;
    let shares: Vec<f64> = a.fleet.0.iter().map(|c| c.share).collect();
    let averaged = hb_core::theory::smallest_timeout(
        eta,
        (eta / 1000).max(1),
        eta.saturating_mul(10_000),
        rate.as_per_second(),
        |t_us| {
            let t = Duration::from_micros(t_us);
            classes
                .iter()
                .zip(&shares)
                .map(|(c, w)| w * budget::oracle_rate(&c.theory, t).unwrap_or(f64::INFINITY))
                .sum()
        },
    );
    let Some(averaged) = averaged else {
        bail!("no fixed timeout up to 10 000 periods meets the budget on the fleet's average");
    };
    Ok(Plan {
        classes,
        every_class,
        fleet_average: Duration::from_micros(averaged),
    })
}

/// What the fleet comparison writes.
pub(crate) struct Output {
    /// fleet-mix.csv.
    pub(crate) csv: String,
    /// fleet-mix.md.
    pub(crate) md: String,
}

/// The three detectors compared.
fn contenders(p: &Plan, a: &FrontierArgs) -> [(String, hb_core::detector::DetectorConfig); 3] {
    let s = |d: Duration| format!("{:.3}s", d.as_secs_f64());
    [
        (
            format!("fixed {} (every class)", s(p.every_class)),
            fixed(p.every_class),
        ),
        (
            format!("fixed {} (fleet average)", s(p.fleet_average)),
            fixed(p.fleet_average),
        ),
        (
            format!("budget {}", a.budget.label()),
            budget(a.budget.rate),
        ),
    ]
}

/// The p-quantile of a mix of samples: class i's samples each weigh `w_i / n_i`.
pub(crate) fn weighted_quantile(classes: &[(&[f64], f64)], p: f64) -> Option<f64> {
    let mut all: Vec<(f64, f64)> = classes
        .iter()
        .filter(|(xs, _)| !xs.is_empty())
        .flat_map(|(xs, w)| xs.iter().map(move |&x| (x, w / xs.len() as f64)))
        .collect();
    let total: f64 = all.iter().map(|x| x.1).sum();
    if total <= 0.0 {
        return None;
    }
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut acc = 0.0;
    for (x, w) in &all {
        acc += w / total;
        if acc >= p - 1e-12 {
            return Some(*x);
        }
    }
    all.last().map(|x| x.0)
}

/// Runs every class under every contender (the same seeds for the three, so the same crashes)
/// and tabulates them.
pub(crate) fn run(a: &FrontierArgs, p: &Plan) -> anyhow::Result<Output> {
    let dets = contenders(p, a);
    let jobs: Vec<(usize, usize)> = (0..a.fleet.0.len())
        .flat_map(|c| (0..dets.len()).map(move |d| (c, d)))
        .collect();
    let pb = progress(jobs.len() as u64 * a.traces, "fleet mix");
    let reports: Vec<Report> = jobs
        .par_iter()
        .map(|&(c, d)| {
            let sc = Scenario {
                detector: dets[d].1,
                ..a.base(&a.fleet.0[c].link)
            };
            let seed = a.seed.wrapping_add(0x_f1ee7).wrapping_add(c as u64);
            hb_sim::run(&sc, a.traces, seed, &|| pb.inc(1))
        })
        .collect();
    pb.finish_and_clear();
    let report = |c: usize, d: usize| &reports[c * dets.len() + d];
    let budget_day = a.budget.rate.as_per_hour() * 24.0;
    let mut csv = String::from(
        "class,share,detector,traces,up_hours,mistakes,false_alarms_per_node_day,rate_lo,rate_hi,\
         meets_budget,t_d_mean_s,t_d_p99_s,undetected\n",
    );
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Mixed fleet: budget {} per node, {} traces × {} per class and detector, beats every {}, \
         jitter {}%\n",
        a.budget.label(),
        a.traces,
        hb_sim::fmt_duration(a.duration),
        hb_sim::fmt_duration(a.period),
        a.jitter * 100.0
    );
    let _ = writeln!(
        md,
        "Nodes are independent, so each class is simulated on its own and the fleet's figures \
         are the share-weighted mix (exact, not an approximation; the fleet's T_D p99 is the \
         p99 of the weighted mix of the classes' detection times, its false-alarm interval the \
         weighted sum of the classes' 99 % bounds).\n"
    );
    let _ = writeln!(
        md,
        "Fixed timeouts from the theory (the budget oracle of `sim verify`):\n"
    );
    for (c, cp) in a.fleet.0.iter().zip(&p.classes) {
        let _ = writeln!(
            md,
            "- `{}` ({:.1} % of nodes): smallest timeout meeting {} on its own: {:.3} s{}",
            c.link.name,
            c.share * 100.0,
            a.budget.label(),
            cp.oracle.as_secs_f64(),
            if cp.dup_dropped {
                " (its duplication left out: it only makes beats arrive sooner, so this is an \
                 upper bound)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        md,
        "- (a) one timeout meeting it on every class: {:.3} s; (b) on the fleet's average: {:.3} s\n",
        p.every_class.as_secs_f64(),
        p.fleet_average.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "| class | share | detector | false alarms per node-day (99% CI) | meets {} | T_D mean s | \
         T_D p99 s | undetected |",
        a.budget.label()
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    let fmt = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.2}"));
    for (d, (name, _)) in dets.iter().enumerate() {
        let (mut v, mut lo, mut hi, mut mean) = (0.0, 0.0, 0.0, 0.0);
        let mut samples = Vec::new();
        let mut undetected = 0;
        for (c, class) in a.fleet.0.iter().enumerate() {
            let s = &report(c, d).summary;
            let m = &s.mistake_rate_per_hour;
            let meets = m.lo * 24.0 <= budget_day;
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                csv_field(&class.link.name),
                class.share,
                csv_field(name),
                s.traces,
                s.up_seconds / 3600.0,
                s.mistakes,
                m.value * 24.0,
                m.lo * 24.0,
                m.hi * 24.0,
                meets,
                csv_num(s.t_d_mean_s.map(|i| i.value)),
                csv_num(s.t_d_p99_s),
                s.undetected
            );
            let _ = writeln!(
                md,
                "| `{}` | {:.1} % | {name} | {:.4} ({:.4}–{:.4}) | {} | {} | {} | {} |",
                class.link.name,
                class.share * 100.0,
                m.value * 24.0,
                m.lo * 24.0,
                m.hi * 24.0,
                if meets { "yes" } else { "**no**" },
                fmt(s.t_d_mean_s.map(|i| i.value)),
                fmt(s.t_d_p99_s),
                s.undetected
            );
            v += class.share * m.value * 24.0;
            lo += class.share * m.lo * 24.0;
            hi += class.share * m.hi * 24.0;
            mean += class.share * s.t_d_mean_s.map_or(f64::NAN, |i| i.value);
            samples.push((s.t_d_samples_s.as_slice(), class.share));
            undetected += s.undetected;
        }
        let p99 = weighted_quantile(&samples, 0.99);
        let meets = lo <= budget_day;
        let _ = writeln!(
            csv,
            "fleet,1,{},,,,{v},{lo},{hi},{meets},{},{},{undetected}",
            csv_field(name),
            csv_num(Some(mean)),
            csv_num(p99)
        );
        let _ = writeln!(
            md,
            "| **fleet** | 100 % | {name} | **{v:.4}** ({lo:.4}–{hi:.4}) | {} | **{}** | **{}** | {undetected} |",
            if meets { "yes" } else { "**no**" },
            fmt(Some(mean).filter(|m| m.is_finite())),
            fmt(p99)
        );
    }
    Ok(Output { csv, md })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weighted_quantile_weighs_classes_by_share_not_by_samples() {
        // 90 % of the weight on [1, 2] (two samples), 10 % on [10] (one sample): the p50 is in
        // the first class, the p95 the second's 10 however few samples it has.
        let a = [1.0, 2.0];
        let b = [10.0];
        let cls = [(&a[..], 0.9), (&b[..], 0.1)];
        assert_eq!(weighted_quantile(&cls, 0.5), Some(2.0));
        assert_eq!(weighted_quantile(&cls, 0.45), Some(1.0));
        assert_eq!(weighted_quantile(&cls, 0.95), Some(10.0));
        assert_eq!(weighted_quantile(&[(&[][..], 1.0)], 0.5), None);
    }

    #[test]
    fn duplication_is_left_out_of_the_theory_link_only() {
        let l = Link::parse("wifi_lossy").unwrap();
        assert!(l.duplicate > 0.0 && !l.theory_applies());
        let t = theory_link(&l);
        assert!(t.theory_applies());
        assert_eq!(t.loss, l.loss);
    }
}
