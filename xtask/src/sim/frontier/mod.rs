//! `cargo xtask sim frontier`: per link model, the false-alarm rate against the detection time
//! (mean and p99) of fixed (T), φ (threshold × acceptable pause), Chen (α) and budget (RATE),
//! with the Pareto-efficient points marked; and a mixed fleet, one fleet-wide fixed timeout
//! against `budget`. Written to target/sim/: frontier.{csv,md}, frontier-<link>.svg,
//! fleet-mix.{csv,md}.

mod chart;
mod join;
mod mix;
mod pareto;
mod spec;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hb_core::detector::{DetectorConfig, Phi};
use hb_sim::{Scenario, Summary, budget, chen, fixed, fmt_duration};

use super::parse::dur;
use super::points::run_points;
use spec::{Fleet, Links, NamedLink, Rate};

/// Frontier flags.
#[derive(Debug, Args)]
pub(crate) struct FrontierArgs {
    /// Link models, comma-separated: presets (lan, wan, wifi_lossy, congested) or link specs
    /// (`loss=1%;delay=normal:20ms,10ms`; a comma followed by a digit continues a spec).
    #[arg(long, default_value = "lan,wifi_lossy,wan,congested", value_parser = spec::links)]
    links: Links,
    /// Beat period η.
    #[arg(long, default_value = "1s", value_parser = dur)]
    period: Duration,
    /// The beater's period jitter, 0–0.5 (`hbnode beat` jitters by 5 % by default).
    #[arg(long, default_value_t = 0.05)]
    jitter: f64,
    /// Fixed detector: timeouts as multiples of the period.
    #[arg(
        long,
        default_value = "1.5,2,2.5,3,4,5,6,8,10,12,15,20,25",
        value_delimiter = ','
    )]
    timeouts: Vec<f64>,
    /// φ detector: thresholds (each run with every `--phi-pauses`).
    #[arg(long, default_value = "1,4,8,16", value_delimiter = ',')]
    phi_thresholds: Vec<f64>,
    /// φ detector: acceptable pauses (silence tolerated on top of the mean interval).
    #[arg(long, default_value = "0,1s,2s,5s,10s,20s", value_delimiter = ',', value_parser = dur)]
    phi_pauses: Vec<Duration>,
    /// Chen detector: safety margins α as multiples of the period.
    #[arg(long, default_value = "0.25,0.5,1,2,3,5,10,20", value_delimiter = ',')]
    chen_margins: Vec<f64>,
    /// Budget detector: false-alarm budgets per node (N/hour, N/day, N/year).
    #[arg(long, default_value = "10/hour,1/hour,1/day,1/year", value_delimiter = ',', value_parser = spec::rate)]
    budgets: Vec<Rate>,
    /// Traces per grid point (and per fleet class and detector).
    #[arg(long, default_value_t = 250)]
    traces: u64,
    /// Virtual time per trace (a monitor runs for long; the budget detector's first hour is
    /// its least certain).
    #[arg(long, default_value = "4h", value_parser = dur)]
    duration: Duration,
    /// Mean up-time between crashes (exponential), to measure detection times.
    #[arg(long, default_value = "10m", value_parser = dur)]
    crash_every: Duration,
    /// Down-time after a crash (longer than the slowest detection, or that crash counts as
    /// undetected and its detection time is missing from T_D).
    #[arg(long, default_value = "2m", value_parser = dur)]
    restart_after: Duration,
    /// Master seed (decimal or 0x…); grid point i runs under seed + i.
    #[arg(long, default_value = "1", value_parser = super::seed_arg)]
    seed: u64,
    /// Mixed fleet: `LINK=SHARE` classes (shares of the nodes), compared under `--budget`.
    #[arg(long, default_value = "lan=90,wifi_lossy=9,wan=1", value_parser = spec::fleet)]
    fleet: Fleet,
    /// Mixed fleet: the false-alarm budget per node the fixed timeout and `budget` must meet.
    #[arg(long, default_value = "1/day", value_parser = spec::rate)]
    budget: Rate,
    /// Mixed fleet, nodes joining a monitor that knows the fleet: nodes of the settled cohort
    /// (as many join), split by `--fleet`'s shares (every class at least one).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    join_nodes: u32,
    /// Mixed fleet, nodes joining: runs of the fleet simulator.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    join_runs: u64,
    /// Output directory.
    #[arg(long, default_value = "target/sim")]
    out: PathBuf,
}

/// The detectors of the frontier, in legend order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Det {
    /// Fixed timeout; knob T/η.
    Fixed,
    /// φ accrual; knobs threshold and acceptable pause (s).
    Phi,
    /// Chen NFD-E; knob α/η.
    Chen,
    /// Budget; knob the budget in alarms per hour.
    Budget,
}

impl Det {
    /// Every detector, in legend order.
    pub(crate) const ALL: [Self; 4] = [Self::Fixed, Self::Phi, Self::Chen, Self::Budget];

    /// The name `--detector` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Phi => "phi",
            Self::Chen => "chen",
            Self::Budget => "budget",
        }
    }
}

/// One grid point: a link, a detector and its knob(s).
#[derive(Clone, Debug)]
pub(crate) struct Point {
    /// Index into `--links`.
    pub(crate) link: usize,
    /// The detector.
    pub(crate) det: Det,
    /// T/η, φ threshold, α/η, or the budget per hour.
    pub(crate) knob: f64,
    /// φ's acceptable pause in seconds (`None` for the others).
    pub(crate) knob2: Option<f64>,
    /// The knob(s) for people: `T=3η`, `φ=8 pause=2s`, `α=0.5η`, `1/day`.
    pub(crate) label: String,
    /// What runs.
    pub(crate) scenario: Scenario,
}

/// A point with its measurements.
pub(crate) struct Row {
    /// The point.
    pub(crate) p: Point,
    /// Its QoS over all traces.
    pub(crate) s: Summary,
    /// The theory's false alarms per hour (fixed detector, where the theory applies).
    pub(crate) predicted_per_hour: Option<f64>,
    /// Efficient in (T_D mean, rate) among its link's points.
    pub(crate) pareto_mean: bool,
    /// Efficient in (T_D p99, rate) among its link's points.
    pub(crate) pareto_p99: bool,
}

impl Row {
    /// T_D mean in seconds, NaN without a detected crash.
    pub(crate) fn t_d_mean(&self) -> f64 {
        self.s.t_d_mean_s.map_or(f64::NAN, |i| i.value)
    }

    /// T_D p99 in seconds, NaN without a detected crash.
    pub(crate) fn t_d_p99(&self) -> f64 {
        self.s.t_d_p99_s.unwrap_or(f64::NAN)
    }
}

impl FrontierArgs {
    fn check(&self) -> anyhow::Result<()> {
        if !(0.0..=0.5).contains(&self.jitter) {
            bail!("--jitter must be between 0 and 0.5");
        }
        if self.traces == 0 {
            bail!("--traces must be at least 1");
        }
        for (flag, xs) in [
            ("--timeouts", &self.timeouts),
            ("--phi-thresholds", &self.phi_thresholds),
            ("--chen-margins", &self.chen_margins),
        ] {
            if let Some(x) = xs.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                bail!("{flag}: {x} is not a positive number");
            }
        }
        Ok(())
    }

    fn base(&self, link: &NamedLink) -> Scenario {
        Scenario {
            period: self.period,
            jitter: self.jitter,
            link: link.link.clone(),
            duration: self.duration,
            crash_every: Some(self.crash_every),
            restart_after: self.restart_after,
            check_invariants: false,
            ..Scenario::default()
        }
    }
}

/// The grid: every link × every detector setting, in flag order.
pub(crate) fn grid(a: &FrontierArgs) -> anyhow::Result<Vec<Point>> {
    a.check()?;
    let mut pts = Vec::new();
    for (li, link) in a.links.0.iter().enumerate() {
        let base = a.base(link);
        let mut add = |det, knob, knob2, label: String, d: DetectorConfig| -> anyhow::Result<()> {
            d.validate()
                .with_context(|| format!("{} {label}", Det::name(det)))?;
            pts.push(Point {
                link: li,
                det,
                knob,
                knob2,
                label,
                scenario: Scenario {
                    detector: d,
                    ..base.clone()
                },
            });
            Ok(())
        };
        for &r in &a.timeouts {
            add(
                Det::Fixed,
                r,
                None,
                format!("T={r}η"),
                fixed(a.period.mul_f64(r)),
            )?;
        }
        for &pause in &a.phi_pauses {
            for &t in &a.phi_thresholds {
                let min_sd = Phi::default().min_std_dev();
                add(
                    Det::Phi,
                    t,
                    Some(pause.as_secs_f64()),
                    format!("φ={t} pause={}", fmt_duration(pause)),
                    DetectorConfig::Phi(Phi::new(t, pause, min_sd)),
                )?;
            }
        }
        for &m in &a.chen_margins {
            add(
                Det::Chen,
                m,
                None,
                format!("α={m}η"),
                chen(a.period.mul_f64(m)),
            )?;
        }
        for r in &a.budgets {
            add(
                Det::Budget,
                r.rate.as_per_hour(),
                None,
                r.label(),
                budget(r.rate),
            )?;
        }
    }
    Ok(pts)
}

/// Marks each row's Pareto efficiency among the rows of its link.
fn mark_pareto(rows: &mut [Row], links: usize) {
    for l in 0..links {
        let idx: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].p.link == l).collect();
        let rate = |r: &Row| r.s.mistake_rate_per_hour.value;
        let mean: Vec<_> = idx
            .iter()
            .map(|&i| (rows[i].t_d_mean(), rate(&rows[i])))
            .collect();
        let p99: Vec<_> = idx
            .iter()
            .map(|&i| (rows[i].t_d_p99(), rate(&rows[i])))
            .collect();
        for ((&i, m), p) in idx
            .iter()
            .zip(pareto::efficient(&mean))
            .zip(pareto::efficient(&p99))
        {
            rows[i].pareto_mean = m;
            rows[i].pareto_p99 = p;
        }
    }
}

/// Runs the command.
pub(crate) fn run(a: &FrontierArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let pts = grid(a)?;
    // Fail on a fleet the theory cannot plan before spending minutes on the grid.
    let plan = mix::plan(a)?;
    let scenarios: Vec<Scenario> = pts.iter().map(|p| p.scenario.clone()).collect();
    let reports = run_points(&scenarios, a.traces, a.seed, "frontier");
    let mut rows: Vec<Row> = pts
        .into_iter()
        .zip(reports)
        .map(|(p, r)| Row {
            p,
            predicted_per_hour: r.predicted.map(|x| x.mistake_rate_per_hour),
            s: r.summary,
            pareto_mean: false,
            pareto_p99: false,
        })
        .collect();
    mark_pareto(&mut rows, a.links.0.len());
    let grid_wall = t0.elapsed();
    std::fs::create_dir_all(&a.out).with_context(|| format!("create {}", a.out.display()))?;
    write(&a.out.join("frontier.csv"), &to_csv(a, &rows))?;
    let md = to_markdown(a, &rows);
    write(&a.out.join("frontier.md"), &md)?;
    for (li, link) in a.links.0.iter().enumerate() {
        let path = a.out.join(format!("frontier-{}.svg", link.slug()));
        chart::plot(
            a,
            link,
            &rows.iter().filter(|r| r.p.link == li).collect::<Vec<_>>(),
            &path,
        )
        .with_context(|| format!("draw {}", path.display()))?;
    }
    println!("{md}");
    let t1 = Instant::now();
    let mut fleet = mix::run(a, &plan)?;
    let (csv, md) = join::run(a)?;
    fleet.csv.push_str(&csv);
    fleet.md.push_str(&md);
    write(&a.out.join("fleet-mix.csv"), &fleet.csv)?;
    write(&a.out.join("fleet-mix.md"), &fleet.md)?;
    println!("{}", fleet.md);
    println!(
        "{} grid points × {} traces × {} in {:.1}s, the fleet in {:.1}s; wrote {}/{{frontier.csv,\
         frontier.md,frontier-*.svg,fleet-mix.csv,fleet-mix.md}}",
        rows.len(),
        a.traces,
        fmt_duration(a.duration),
        grid_wall.as_secs_f64(),
        t1.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A number for CSV: empty when missing or not finite.
pub(crate) fn csv_num(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or(String::new(), |v| v.to_string())
}

/// The CSV header of frontier.csv.
pub(crate) const CSV_HEADER: &str = "link,detector,knob,knob2,setting,traces,up_hours,mistakes,\
    false_alarms_per_hour,rate_lo,rate_hi,predicted_per_hour,p_a,crashes,undetected,t_d_mean_s,\
    t_d_p99_s,t_d_max_s,pareto_mean,pareto_p99";

fn to_csv(a: &FrontierArgs, rows: &[Row]) -> String {
    let mut s = format!("{CSV_HEADER}\n");
    for r in rows {
        let m = &r.s.mistake_rate_per_hour;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&a.links.0[r.p.link].name),
            r.p.det.name(),
            r.p.knob,
            csv_num(r.p.knob2),
            csv_field(&r.p.label),
            r.s.traces,
            r.s.up_seconds / 3600.0,
            r.s.mistakes,
            m.value,
            m.lo,
            m.hi,
            csv_num(r.predicted_per_hour),
            r.s.p_a.value,
            r.s.crashes,
            r.s.undetected,
            csv_num(r.s.t_d_mean_s.map(|i| i.value)),
            csv_num(r.s.t_d_p99_s),
            csv_num(r.s.t_d_max_s),
            r.pareto_mean,
            r.pareto_p99,
        );
    }
    s
}

fn to_markdown(a: &FrontierArgs, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# QoS frontier: period {}, beater jitter {}%, {} traces × {} per point, crashes every {} \
         (down {})\n",
        fmt_duration(a.period),
        a.jitter * 100.0,
        a.traces,
        fmt_duration(a.duration),
        fmt_duration(a.crash_every),
        fmt_duration(a.restart_after),
    );
    let _ = writeln!(
        s,
        "False alarms per host-hour with their 99 % interval; ★ marks the Pareto-efficient \
         points of the link (no other point both detects at least as fast and alarms at most \
         as often), for T_D mean and for T_D p99.\n"
    );
    let o = |x: f64| {
        if x.is_finite() {
            format!("{x:.2}")
        } else {
            "–".into()
        }
    };
    for (li, link) in a.links.0.iter().enumerate() {
        let _ = writeln!(s, "## `{}`\n", link.name);
        let _ = writeln!(
            s,
            "| detector | setting | false alarms/h (99% CI) | P_A | T_D mean s | T_D p99 s | \
             undetected | ★ mean | ★ p99 |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
        for r in rows.iter().filter(|r| r.p.link == li) {
            let m = &r.s.mistake_rate_per_hour;
            let _ = writeln!(
                s,
                "| {} | {} | {:.4} ({:.4}–{:.4}) | {:.6} | {} | {} | {} | {} | {} |",
                r.p.det.name(),
                r.p.label,
                m.value,
                m.lo,
                m.hi,
                r.s.p_a.value,
                o(r.t_d_mean()),
                o(r.t_d_p99()),
                r.s.undetected,
                if r.pareto_mean { "★" } else { "" },
                if r.pareto_p99 { "★" } else { "" },
            );
        }
        let _ = writeln!(s);
    }
    s
}
