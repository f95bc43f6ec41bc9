//! `cargo xtask sim sweep`: detectors (fixed, φ, Chen, budget) × loss × jitter × knob, written to
//! target/sim/.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use hb_core::detector::AlarmRate;
use hb_sim::plan::{PlanRequest, plan};
use hb_sim::{
    Delay, Link, Loss, Scenario, Summary, budget, chen, fixed, fmt_duration, phi, theory,
};
use plotters::prelude::*;

use super::parse::{dur, prob};
use super::plot::{COLORS, legend, svg_canvas};
use super::points::run_points;

/// Sweep flags.
#[derive(Debug, Args)]
pub(crate) struct SweepArgs {
    /// Beat period η.
    #[arg(long, default_value = "1s", value_parser = dur)]
    period: Duration,
    /// Bernoulli loss levels, comma-separated.
    #[arg(long, default_value = "0.1%,1%,5%", value_delimiter = ',', value_parser = prob)]
    loss: Vec<f64>,
    /// Delay jitter levels (standard deviation of a normal delay), comma-separated.
    #[arg(long, default_value = "10ms", value_delimiter = ',', value_parser = dur)]
    jitter: Vec<Duration>,
    /// Mean one-way delay the jitter is around.
    #[arg(long, default_value = "20ms", value_parser = dur)]
    base_delay: Duration,
    /// Fixed timeouts as multiples of the period.
    #[arg(long, default_value = "1.5,2,2.5,3,4,5,6", value_delimiter = ',')]
    ratios: Vec<f64>,
    /// φ thresholds.
    #[arg(long, default_value = "1,2,4,8,12,16", value_delimiter = ',')]
    phi_thresholds: Vec<f64>,
    /// Chen safety margins as multiples of the period.
    #[arg(long, default_value = "0.1,0.25,0.5,1,2,3", value_delimiter = ',')]
    chen_margins: Vec<f64>,
    /// Budget detector: false-alarm budgets (N/hour, N/day, N/year), comma-separated.
    #[arg(long, default_value = "1/hour,1/day", value_delimiter = ',', value_parser = super::budget_rate)]
    budgets: Vec<AlarmRate>,
    /// Traces per grid point.
    #[arg(long, default_value_t = 200)]
    traces: u64,
    /// Virtual time per trace.
    #[arg(long, default_value = "1h", value_parser = dur)]
    duration: Duration,
    /// Mean time between crashes (to measure T_D).
    #[arg(long, default_value = "10m", value_parser = dur)]
    crash_every: Duration,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "target/sim")]
    out: PathBuf,
}

#[derive(Clone, Debug)]
struct Point {
    detector: &'static str,
    /// The detector's knob: T/η, φ threshold, α/η or the budget in alarms per hour.
    knob: f64,
    loss: f64,
    jitter: Duration,
    scenario: Scenario,
}

struct Row {
    p: Point,
    s: Summary,
    predicted_per_hour: Option<f64>,
}

fn grid(a: &SweepArgs) -> Vec<Point> {
    let mut pts = Vec::new();
    for &loss in &a.loss {
        for &jitter in &a.jitter {
            let link = Link {
                loss: Loss::Bernoulli(loss),
                delay: Delay::new(hb_sim::DelayDist::Normal(a.base_delay, jitter)),
                ..Link::default()
            };
            let base = Scenario {
                period: a.period,
                link,
                duration: a.duration,
                crash_every: Some(a.crash_every),
                restart_after: Duration::from_secs(60),
                check_invariants: false,
                ..Scenario::default()
            };
            let mut add = |detector, knob, det| {
                pts.push(Point {
                    detector,
                    knob,
                    loss,
                    jitter,
                    scenario: Scenario {
                        detector: det,
                        ..base.clone()
                    },
                });
            };
            for &r in &a.ratios {
                add("fixed", r, fixed(a.period.mul_f64(r)));
            }
            for &t in &a.phi_thresholds {
                add("phi", t, phi(t));
            }
            for &m in &a.chen_margins {
                add("chen", m, chen(a.period.mul_f64(m)));
            }
            for &r in &a.budgets {
                add("budget", r.as_per_hour(), budget(r));
            }
        }
    }
    pts
}

pub(crate) fn run(a: &SweepArgs) -> anyhow::Result<()> {
    let pts = grid(a);
    let t0 = Instant::now();
    let scenarios: Vec<Scenario> = pts.iter().map(|p| p.scenario.clone()).collect();
    let reports = run_points(&scenarios, a.traces, a.seed, "sweep");
    let rows: Vec<Row> = pts
        .into_iter()
        .zip(reports)
        .map(|(p, r)| Row {
            p,
            predicted_per_hour: r.predicted.map(|x| x.mistake_rate_per_hour),
            s: r.summary,
        })
        .collect();
    std::fs::create_dir_all(&a.out).with_context(|| format!("create {}", a.out.display()))?;
    let csv = a.out.join("sweep.csv");
    std::fs::write(&csv, to_csv(&rows)).with_context(|| format!("write {}", csv.display()))?;
    let md = a.out.join("sweep.md");
    std::fs::write(&md, to_markdown(a, &rows))
        .with_context(|| format!("write {}", md.display()))?;
    plot_false_alarms(a, &rows, &a.out.join("false_alarms.svg"))?;
    plot_t_d(&rows, &a.out.join("detection_time.svg"))?;
    plot_tradeoff(a, &rows, &a.out.join("tradeoff.svg"))?;
    println!("{}", to_markdown(a, &rows));
    println!(
        "{} grid points × {} traces in {:.1}s; wrote {}/{{sweep.csv,sweep.md,false_alarms.svg,\
         detection_time.svg,tradeoff.svg}}",
        rows.len(),
        a.traces,
        t0.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from(
        "detector,knob,loss,jitter_s,traces,up_hours,mistakes,mistake_rate_per_hour,rate_lo,rate_hi,\
         predicted_per_hour,t_m_mean_s,p_a,crashes,t_d_mean_s,t_d_p99_s,t_d_max_s\n",
    );
    let o = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v}"));
    for r in rows {
        let m = &r.s.mistake_rate_per_hour;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.p.detector,
            r.p.knob,
            r.p.loss,
            r.p.jitter.as_secs_f64(),
            r.s.traces,
            r.s.up_seconds / 3600.0,
            r.s.mistakes,
            m.value,
            m.lo,
            m.hi,
            o(r.predicted_per_hour),
            o(r.s.t_m_mean_s.map(|i| i.value)),
            r.s.p_a.value,
            r.s.crashes,
            o(r.s.t_d_mean_s.map(|i| i.value)),
            o(r.s.t_d_p99_s),
            o(r.s.t_d_max_s),
        );
    }
    s
}

fn knob_name(d: &str) -> &'static str {
    match d {
        "fixed" => "T/η",
        "phi" => "φ",
        "budget" => "alarms/h",
        _ => "α/η",
    }
}

fn to_markdown(a: &SweepArgs, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Sweep: period {}, delay normal({}, jitter), {} traces × {} per point\n",
        fmt_duration(a.period),
        fmt_duration(a.base_delay),
        a.traces,
        fmt_duration(a.duration)
    );
    let _ = writeln!(
        s,
        "| detector | knob | loss | jitter | mistakes/h (99% CI) | predicted/h | per host-year \
         | E(T_M) s | P_A | T_D mean s | T_D p99 s | T_D max s |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    let o = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.3}"));
    for r in rows {
        let m = &r.s.mistake_rate_per_hour;
        let _ = writeln!(
            s,
            "| {} | {}={} | {}% | {} | {:.4} ({:.4}–{:.4}) | {} | {:.1} | {} | {:.6} | {} | {} | {} |",
            r.p.detector,
            knob_name(r.p.detector),
            r.p.knob,
            r.p.loss * 100.0,
            fmt_duration(r.p.jitter),
            m.value,
            m.lo,
            m.hi,
            r.predicted_per_hour
                .map_or("–".into(), |v| format!("{v:.3e}")),
            m.value * 24.0 * 365.25,
            o(r.s.t_m_mean_s.map(|i| i.value)),
            r.s.p_a.value,
            o(r.s.t_d_mean_s.map(|i| i.value)),
            o(r.s.t_d_p99_s),
            o(r.s.t_d_max_s),
        );
    }
    let _ = writeln!(
        s,
        "\n### Fixed timeout needed for ≤ 1 false alarm per host-year (theory)\n"
    );
    let _ = writeln!(s, "| loss | jitter | timeout | T/η | worst-case T_D |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for &loss in &a.loss {
        for &jitter in &a.jitter {
            let req = PlanRequest {
                period: a.period,
                loss: Loss::Bernoulli(loss),
                delay: Delay::new(hb_sim::DelayDist::Normal(a.base_delay, jitter)),
                max_false_alarms_per_host_year: 1.0,
            };
            let cell = match plan(&req) {
                Ok(p) => format!(
                    "{} | {:.3} | {:.3} s",
                    fmt_duration(p.timeout),
                    p.ratio,
                    p.worst_case_detection_s
                ),
                Err(e) => format!("{e} | – | –"),
            };
            let _ = writeln!(
                s,
                "| {}% | {} | {cell} |",
                loss * 100.0,
                fmt_duration(jitter)
            );
        }
    }
    s
}

fn plot_false_alarms(a: &SweepArgs, rows: &[Row], path: &std::path::Path) -> anyhow::Result<()> {
    let root = svg_canvas(path, (900, 600))?;
    let xmax = a.ratios.iter().copied().fold(1.0, f64::max) + 0.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Fixed detector: false alarms vs timeout (points: simulated, lines: theory)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1.0..xmax, (1e-6f64..1e4f64).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("timeout / period")
        .y_desc("mistakes per host-hour")
        .draw()?;
    let mut series = 0;
    for &loss in &a.loss {
        for &jitter in &a.jitter {
            let color = COLORS[series % COLORS.len()];
            series += 1;
            let delay = Delay::new(hb_sim::DelayDist::Normal(a.base_delay, jitter));
            let curve: Vec<(f64, f64)> = (0..=200)
                .map(|i| 1.0 + (xmax - 1.0) * f64::from(i) / 200.0)
                .filter_map(|r| {
                    theory::mistake_rate(
                        a.period,
                        a.period.mul_f64(r),
                        &Loss::Bernoulli(loss),
                        &delay,
                    )
                    .map(|l| (r, (l * 3600.0).max(1e-7)))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(curve, color))?
                .label(format!(
                    "loss {}%, jitter {}",
                    loss * 100.0,
                    fmt_duration(jitter)
                ))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            let pts = rows.iter().filter(|r| {
                r.p.detector == "fixed"
                    && r.p.loss == loss
                    && r.p.jitter == jitter
                    && r.s.mistakes > 0
            });
            chart.draw_series(pts.map(|r| {
                Circle::new(
                    (r.p.knob, r.s.mistake_rate_per_hour.value),
                    4,
                    color.filled(),
                )
            }))?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    root.present()?;
    Ok(())
}

fn plot_t_d(rows: &[Row], path: &std::path::Path) -> anyhow::Result<()> {
    let root = svg_canvas(path, (900, 600))?;
    let all: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.s.t_d_samples_s.iter().copied())
        .collect();
    let xmax = all.iter().copied().fold(1.0, f64::max) * 1.05;
    let bins = 60usize;
    let width = xmax / bins as f64;
    let dets = ["fixed", "phi", "chen"];
    let hist = |d: &str| -> Vec<(f64, f64)> {
        let xs: Vec<f64> = rows
            .iter()
            .filter(|r| r.p.detector == d)
            .flat_map(|r| r.s.t_d_samples_s.iter().copied())
            .collect();
        let mut h = vec![0.0; bins];
        for x in &xs {
            h[((x / width) as usize).min(bins - 1)] += 1.0;
        }
        let n = xs.len().max(1) as f64;
        h.iter()
            .enumerate()
            .map(|(i, c)| ((i as f64 + 0.5) * width, c / n))
            .collect()
    };
    let ymax = dets
        .iter()
        .flat_map(|d| hist(d).into_iter().map(|p| p.1))
        .fold(0.01, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Detection time T_D per detector (all grid points)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
    chart
        .configure_mesh()
        .x_desc("T_D (s)")
        .y_desc("fraction of crashes")
        .draw()?;
    for (i, d) in dets.iter().enumerate() {
        let color = COLORS[i];
        chart
            .draw_series(LineSeries::new(hist(d), color))?
            .label(*d)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    root.present()?;
    Ok(())
}

fn plot_tradeoff(a: &SweepArgs, rows: &[Row], path: &std::path::Path) -> anyhow::Result<()> {
    let root = svg_canvas(path, (900, 600))?;
    let xmax = rows
        .iter()
        .filter_map(|r| r.s.t_d_mean_s.map(|i| i.value))
        .fold(1.0, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Accuracy vs speed: 1 − P_A against mean T_D",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..xmax, (1e-9f64..1.0f64).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("mean detection time T_D (s)")
        .y_desc("1 − P_A (fraction of up-time wrongly suspected)")
        .draw()?;
    let mut series = 0;
    for det in ["fixed", "phi", "chen"] {
        for &loss in &a.loss {
            let color = COLORS[series % COLORS.len()];
            series += 1;
            let mut pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.p.detector == det && r.p.loss == loss && r.p.jitter == a.jitter[0])
                .filter_map(|r| {
                    r.s.t_d_mean_s
                        .map(|t| (t.value, (1.0 - r.s.p_a.value).max(1e-9)))
                })
                .collect();
            pts.sort_by(|x, y| x.0.total_cmp(&y.0));
            chart
                .draw_series(LineSeries::new(pts.clone(), color))?
                .label(format!("{det}, loss {}%", loss * 100.0))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::MiddleRight)?;
    root.present()?;
    Ok(())
}
