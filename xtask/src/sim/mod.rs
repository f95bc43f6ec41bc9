//! `cargo xtask sim …`: run, verify, plan, sweep and replay over hb-sim.
//!
//! Parsing (clap, validation only) is kept apart from doing: each subcommand's arguments are
//! turned into hb-sim values by `scenario()`/`request()`, then a `do_*` function runs it.

mod fleet;
mod frontier;
mod output;
mod parse;
mod plot;
mod points;
mod sweep;
mod witness;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hb_sim::cli::PlanArgs;
use hb_sim::{Delay, Link, Loss, Scenario, Stalls, verify};

use output::progress;
use parse::{dur, prob};

/// Simulate heartbeat failure detection over lossy, delayed links.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask sim", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run many traces of one scenario and report QoS (and the theory, where it applies).
    Run(RunArgs),
    /// The CI gate: 14 scenarios × ≥ 1000 traces and 8 budget-detector scenarios × a quarter of that
    /// fresh master seed; theory, detection, deadlines, invariants, determinism, and for
    /// `budget` its false-alarm budget and its detection time against the oracle.
    Verify(VerifyArgs),
    /// The smallest timeout meeting a false-alarm target, by theory, confirmed by simulation.
    Plan(PlanArgs),
    /// A grid of detectors (fixed, φ, Chen, budget) × loss × jitter × knob: CSV, markdown and
    /// SVG under target/sim/.
    Sweep(sweep::SweepArgs),
    /// The QoS frontier: per link, false alarms against detection time (mean and p99) for
    /// fixed, φ, Chen and budget, Pareto points marked; and a mixed fleet, one fixed timeout
    /// against `budget`. CSV, markdown and SVG under target/sim/.
    Frontier(frontier::FrontierArgs),
    /// Rerun a recorded trace (`hbnode monitor --record FILE`) through a detector.
    Replay(ReplayArgs),
    /// Many nodes, several monitors, zones and correlated faults (a named preset): pages per
    /// incident, false downs, detection times; target/sim/fleet-<preset>.{json,log}.
    Fleet(fleet::FleetArgs),
}

/// Detector choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DetectorKind {
    /// Down after a fixed silence (`--timeout`).
    Fixed,
    /// φ accrual (`--phi-threshold`).
    Phi,
    /// Chen NFD-E (`--chen-margin`).
    Chen,
    /// Each node's timeout from its own measured link, meeting a false-alarm budget
    /// (`--budget`).
    Budget,
}

/// Detector flags shared by run, sweep and replay.
#[derive(Clone, Debug, Args)]
pub(crate) struct DetectorArgs {
    /// Failure detector.
    #[arg(long, value_enum, default_value = "fixed")]
    detector: DetectorKind,
    /// Fixed detector: silence after which a node is down.
    #[arg(long, default_value = "3s", value_parser = dur)]
    timeout: Duration,
    /// φ detector: threshold (Akka's default 8).
    #[arg(long, default_value_t = 8.0)]
    phi_threshold: f64,
    /// φ detector: floor on the inter-arrival standard deviation.
    #[arg(long, default_value = "100ms", value_parser = dur)]
    phi_min_sd: Duration,
    /// φ detector: acceptable pause added to the mean.
    #[arg(long, default_value = "0", value_parser = dur)]
    phi_pause: Duration,
    /// Chen detector: safety margin α after the expected arrival.
    #[arg(long, default_value = "500ms", value_parser = dur)]
    chen_margin: Duration,
    /// Chen detector: averaging window, in beats.
    #[arg(long, default_value_t = 32)]
    chen_window: u32,
    /// Budget detector: false alarms allowed per node, as N/hour, N/day or N/year.
    #[arg(long, default_value = "1/day", value_parser = budget_rate)]
    budget: hb_core::detector::AlarmRate,
}

pub(crate) fn budget_rate(s: &str) -> Result<hb_core::detector::AlarmRate, String> {
    hb_core::detector::AlarmRate::parse(s).map_err(|e| e.to_string())
}

impl DetectorArgs {
    /// What the flags give at their defaults: a fixed 3 s timeout.
    pub(crate) const DEFAULT_FIXED: hb_core::detector::DetectorConfig =
        hb_core::detector::DetectorConfig::Fixed(hb_core::detector::Fixed {
            timeout: Duration::from_secs(3),
        });

    pub(crate) fn config(&self) -> anyhow::Result<hb_core::detector::DetectorConfig> {
        use hb_core::detector::{Budget, Chen, DetectorConfig, Fixed, Phi};
        let d = match self.detector {
            DetectorKind::Fixed => DetectorConfig::Fixed(Fixed {
                timeout: self.timeout,
            }),
            DetectorKind::Phi => DetectorConfig::Phi(Phi::new(
                self.phi_threshold,
                self.phi_pause,
                self.phi_min_sd,
            )),
            DetectorKind::Chen => DetectorConfig::Chen(Chen {
                margin: self.chen_margin,
                window: self.chen_window,
            }),
            DetectorKind::Budget => DetectorConfig::Budget(Budget::new(self.budget)),
        };
        d.validate().context("detector parameters")?;
        Ok(d)
    }
}

/// Link flags shared by run and sweep.
#[derive(Clone, Debug, Args)]
pub(crate) struct LinkArgs {
    /// Link preset (lan, wan, wifi_lossy, congested) and/or `KEY=VALUE;…` overrides.
    #[arg(long, default_value = "perfect")]
    link: String,
    /// Bernoulli loss probability (`1%` or `0.01`); overrides the link's loss.
    #[arg(long, value_parser = prob)]
    loss: Option<f64>,
    /// Gilbert–Elliott bursty loss `P_GB,P_BG`; overrides the link's loss.
    #[arg(long)]
    burst: Option<String>,
    /// One-way delay (`const:D`, `uniform:MIN,MAX`, `normal:MEAN,SD`, `lognormal:MEDIAN,SIGMA`,
    /// `pareto:SCALE,SHAPE`, summed with `+`); overrides the link's delay.
    #[arg(long)]
    delay: Option<String>,
}

impl LinkArgs {
    pub(crate) fn link(&self) -> anyhow::Result<Link> {
        let mut link = Link::parse(&self.link).context("--link")?;
        if let Some(p) = self.loss {
            link.loss = Loss::Bernoulli(p);
        }
        if let Some(b) = &self.burst {
            link.set("burst", b).context("--burst")?;
        }
        if let Some(d) = &self.delay {
            link.delay = Delay::parse(d).context("--delay")?;
        }
        Ok(link)
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    det: DetectorArgs,
    #[command(flatten)]
    link: LinkArgs,
    /// Beat period η.
    #[arg(long, default_value = "1s", value_parser = dur)]
    period: Duration,
    /// Beater period jitter, 0–0.5.
    #[arg(long, default_value_t = 0.0)]
    jitter: f64,
    /// Traces to run.
    #[arg(long, default_value_t = 100)]
    traces: u64,
    /// Virtual time per trace.
    #[arg(long, default_value = "1h", value_parser = dur)]
    duration: Duration,
    /// Mean up-time between crashes (exponential); none by default.
    #[arg(long, value_parser = dur)]
    crash_every: Option<Duration>,
    /// Down-time after a crash before the node restarts with a new incarnation.
    #[arg(long, default_value = "60s", value_parser = dur)]
    restart_after: Duration,
    /// Sender clock drift, ppm.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    drift_ppm: f64,
    /// Sender stalls `EVERY,LENGTH` (mean interval, pause length).
    #[arg(long)]
    stall: Option<String>,
    /// Master seed (decimal or 0x…); trace i uses a seed mixed from (seed, i). The env var
    /// SIM_SEED instead replays exactly one trace with that trace seed.
    #[arg(long, default_value = "1", value_parser = seed_arg)]
    seed: u64,
    /// Skip `Monitor::check_invariants` after each step (faster).
    #[arg(long)]
    no_invariants: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl RunArgs {
    fn scenario(&self) -> anyhow::Result<Scenario> {
        if !(0.0..=0.5).contains(&self.jitter) {
            bail!("--jitter must be between 0 and 0.5");
        }
        let stalls = self.stall.as_deref().map(parse_stalls).transpose()?;
        Ok(Scenario {
            detector: self.det.config()?,
            period: self.period,
            jitter: self.jitter,
            link: self.link.link()?,
            duration: self.duration,
            crash_every: self.crash_every,
            restart_after: self.restart_after,
            drift_ppm: self.drift_ppm,
            stalls,
            check_invariants: !self.no_invariants,
        })
    }
}

fn parse_stalls(s: &str) -> anyhow::Result<Stalls> {
    let (every, length) = s
        .split_once(',')
        .context("--stall takes EVERY,LENGTH, e.g. 10m,2s")?;
    Ok(Stalls {
        every: hb_sim::parse_duration(every)?,
        length: hb_sim::parse_duration(length)?,
    })
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Traces per scenario (the CI gate needs ≥ 1000).
    #[arg(long, default_value_t = 1000)]
    traces: u64,
    /// Master seed (decimal or 0x…) to reproduce an earlier run; fresh each run by default.
    #[arg(long, value_parser = seed_arg)]
    seed: Option<u64>,
    /// Run only the scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Runs per fleet scenario (`fleet/…`: 60 nodes, 3 monitors, correlated faults).
    #[arg(long, default_value_t = 40)]
    fleet_runs: u64,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// A trace written by `hbnode monitor --record`.
    file: std::path::PathBuf,
    #[command(flatten)]
    det: DetectorArgs,
    /// Period assumed for beats that advertised none.
    #[arg(long, default_value = "1s", value_parser = dur)]
    period: Duration,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let argv = std::iter::once("cargo xtask sim".to_owned()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            e.print()?;
            return Ok(());
        }
        Err(e) => bail!("{e}"),
    };
    match cli.cmd {
        Cmd::Run(a) => do_run(&a),
        Cmd::Verify(a) => do_verify(&a),
        Cmd::Plan(a) => do_plan(&a),
        Cmd::Sweep(a) => sweep::run(&a),
        Cmd::Frontier(a) => frontier::run(&a),
        Cmd::Replay(a) => do_replay(&a),
        Cmd::Fleet(a) => fleet::run(&a),
    }
}

fn do_run(a: &RunArgs) -> anyhow::Result<()> {
    let sc = a.scenario()?;
    if let Some(s) = std::env::var("SIM_SEED")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        let seed = parse_seed(&s).context("SIM_SEED")?;
        let o = hb_sim::run_trace(&sc, seed);
        println!("SIM_SEED={seed} event-log hash {:016x}", o.hash);
        println!("{:#?}", o.stats);
        return match o.violation {
            Some(v) => bail!("trace failed at {} µs: {}", v.at_us, v.what),
            None => {
                println!("all checks passed");
                Ok(())
            }
        };
    }
    let pb = progress(a.traces, "simulating");
    let t0 = Instant::now();
    let rep = hb_sim::run(&sc, a.traces, a.seed, &|| pb.inc(1));
    pb.finish_and_clear();
    let wall = t0.elapsed();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output::run_json(&sc, a.traces, &rep))?
        );
    } else {
        output::print_run(&sc, a.traces, &rep, wall);
    }
    if let Some((i, seed, v)) = rep.violations.first() {
        eprintln!("trace {i} failed: {} (at {} µs)", v.what, v.at_us);
        eprintln!(
            "replay: SIM_SEED={seed} cargo xtask sim run {}",
            sc.to_flags()
        );
        bail!("{} trace(s) failed their checks", rep.violations.len());
    }
    Ok(())
}

pub(crate) fn seed_arg(s: &str) -> Result<u64, String> {
    parse_seed(s).map_err(|e| format!("{e:#}"))
}

/// A master seed nobody chose: the OS-seeded std hasher over the wall clock and the pid.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(now);
    h.write_u32(std::process::id());
    h.finish()
}

fn parse_seed(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    Ok(match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16)?,
        None => s.parse()?,
    })
}

fn do_verify(a: &VerifyArgs) -> anyhow::Result<()> {
    if a.traces < 1000 {
        eprintln!(
            "note: the CI gate runs ≥ 1000 traces per scenario; this run uses {}",
            a.traces
        );
    }
    let seed = a.seed.unwrap_or_else(fresh_seed);
    println!("verify: master seed {seed:#018x}, reproduce with --seed {seed:#018x}");
    let cases: Vec<_> = verify::suite(a.traces)
        .into_iter()
        .filter(|c| a.only.as_deref().is_none_or(|o| c.name.contains(o)))
        .collect();
    let fleet_cases = hb_sim::fleet::gate::suite(a.fleet_runs)
        .into_iter()
        .filter(|c| a.only.as_deref().is_none_or(|o| c.name.contains(o)))
        .count();
    if cases.is_empty() && fleet_cases == 0 {
        bail!("no scenario matches --only");
    }
    let total: u64 = cases.iter().map(verify::runs).sum();
    let pb = progress(total, "verify");
    let t0 = Instant::now();
    let mut failed = Vec::new();
    const CHECKS: [&str; 7] = [
        "theory",
        "detection",
        "deadlines",
        "invariants",
        "determinism",
        "budget",
        "oracle",
    ];
    println!(
        "{:<26} {:>6} {:>10} {:>9}  {:<6} {:<6} {:<6} {:<6} {:<6} {:<6} {:<6} {:>6}",
        "scenario",
        "traces",
        "beats",
        "mistakes",
        "theory",
        "detect",
        "deadl",
        "invar",
        "determ",
        "budget",
        "oracle",
        "wall"
    );
    for case in &cases {
        pb.set_message(case.name);
        let t = Instant::now();
        let r = verify::run_case(case, seed, &|| pb.inc(1));
        let verdict = |name| {
            r.checks
                .iter()
                .find(|c| c.name == name)
                .map_or("n/a", |c| if c.ok { "ok" } else { "FAIL" })
        };
        let v = CHECKS.map(verdict);
        pb.suspend(|| {
            println!(
                "{:<26} {:>6} {:>10} {:>9}  {:<6} {:<6} {:<6} {:<6} {:<6} {:<6} {:<6} {:>5.1}s",
                case.name,
                case.traces,
                r.report.summary.beats,
                r.report.summary.mistakes,
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                t.elapsed().as_secs_f64()
            );
            for c in &r.checks {
                println!("    {:<12} {}", c.name, c.detail);
            }
        });
        if !r.ok() {
            failed.push(r);
        }
    }
    pb.finish_and_clear();
    let fleet_failed = fleet::verify(seed, a.fleet_runs, a.only.as_deref());
    let traces: u64 = cases.iter().map(|c| c.traces).sum();
    println!(
        "{} scenarios, {traces} traces (each run twice; budget cases' oracles once more) and \
         {fleet_cases} fleet scenarios in {:.1}s",
        cases.len(),
        t0.elapsed().as_secs_f64()
    );
    for f in &fleet_failed {
        eprintln!("FAILED {f}");
    }
    if failed.is_empty() && fleet_failed.is_empty() {
        println!("verify: all checks passed (master seed {seed:#018x})");
        return Ok(());
    }
    for r in &failed {
        for c in r.checks.iter().filter(|c| !c.ok) {
            eprintln!("FAILED {} / {}: {}", r.case.name, c.name, c.detail);
            match c.seed {
                Some(s) => eprintln!(
                    "  replay: SIM_SEED={s} cargo xtask sim run {}",
                    r.case.scenario.to_flags()
                ),
                None => eprintln!(
                    "  replay (the check spans all traces): cargo xtask sim run {} --traces {} \
                     --seed {seed:#018x}",
                    r.case.scenario.to_flags(),
                    r.case.traces,
                ),
            }
        }
    }
    eprintln!(
        "reproduce the whole run: cargo xtask sim verify --seed {seed:#018x} --traces {}",
        a.traces
    );
    bail!(
        "verify failed: {} scenario(s), {} fleet check(s)",
        failed.len(),
        fleet_failed.len()
    )
}

fn do_plan(a: &PlanArgs) -> anyhow::Result<()> {
    let pb = progress(2 * a.traces, "confirming");
    let r = hb_sim::cli::run_plan(a, &|| pb.inc(1));
    pb.finish_and_clear();
    r
}

fn do_replay(a: &ReplayArgs) -> anyhow::Result<()> {
    let f = std::fs::File::open(&a.file).with_context(|| format!("open {}", a.file.display()))?;
    let reader = hb_sim::trace::TraceReader::new(std::io::BufReader::new(f))
        .with_context(|| format!("read {}", a.file.display()))?;
    let nodes = hb_sim::trace::replay(reader, a.det.config()?, a.period)?;
    output::print_replay(&nodes, a.json)
}

#[cfg(test)]
mod tests {
    use hb_core::detector::DetectorConfig;

    use super::*;

    fn run_args(flags: &[&str]) -> anyhow::Result<Scenario> {
        let argv = ["sim", "run"].iter().chain(flags).copied();
        match Cli::try_parse_from(argv)?.cmd {
            Cmd::Run(a) => a.scenario(),
            other => bail!("parsed as {other:?}"),
        }
    }

    #[test]
    fn run_flags_build_the_scenario() {
        let sc = run_args(&[
            "--detector",
            "fixed",
            "--period",
            "500ms",
            "--timeout",
            "2s",
            "--link",
            "wan",
            "--loss",
            "2%",
            "--delay",
            "const:5ms",
            "--duration",
            "10m",
            "--crash-every",
            "1m",
            "--drift-ppm",
            "-50",
            "--stall",
            "10m,2s",
        ])
        .unwrap();
        assert_eq!(sc.period, Duration::from_millis(500));
        assert_eq!(sc.fixed_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(sc.link.loss, Loss::Bernoulli(0.02));
        assert_eq!(sc.link.delay.to_string(), "const:5ms");
        assert_eq!(sc.duration, Duration::from_secs(600));
        assert_eq!(sc.crash_every, Some(Duration::from_secs(60)));
        assert_eq!(sc.drift_ppm, -50.0);
        assert_eq!(sc.stalls.unwrap().length, Duration::from_secs(2));
        assert!(
            !sc.theory_applies(),
            "stalls and drift are outside the theory"
        );
    }

    #[test]
    fn detector_flags_select_phi_and_chen() {
        let sc = run_args(&["--detector", "phi", "--phi-threshold", "12"]).unwrap();
        assert!(matches!(sc.detector, DetectorConfig::Phi(p) if p.threshold_phi() == 12.0));
        let sc = run_args(&["--detector", "budget", "--budget", "2/day"]).unwrap();
        assert!(
            matches!(sc.detector, DetectorConfig::Budget(b) if b.rate.as_per_hour() == 2.0 / 24.0)
        );
        assert!(run_args(&["--detector", "budget", "--budget", "0/day"]).is_err());
        assert!(run_args(&["--detector", "budget", "--budget", "NaN/hour"]).is_err());
        assert!(run_args(&["--detector", "budget", "--budget", "1/week"]).is_err());
        let sc = run_args(&["--detector", "chen", "--chen-margin", "200ms"]).unwrap();
        assert!(
            matches!(sc.detector, DetectorConfig::Chen(c) if c.margin == Duration::from_millis(200))
        );
        let sc = run_args(&["--burst", "2%,30%"]).unwrap();
        assert!((sc.link.loss.mean() - 0.02 / 0.32).abs() < 1e-12);
    }

    #[test]
    fn bad_flags_are_errors_not_panics() {
        assert!(run_args(&["--jitter", "0.9"]).is_err());
        assert!(run_args(&["--loss", "150%"]).is_err());
        assert!(run_args(&["--delay", "gauss:1ms"]).is_err());
        assert!(run_args(&["--stall", "10m"]).is_err());
        assert!(run_args(&["--timeout", "0"]).is_err());
        assert!(run_args(&["--detector", "oracle"]).is_err());
    }

    #[test]
    fn replay_commands_parse_back_to_the_same_scenario() {
        for case in verify::suite(1) {
            let flags = case.scenario.to_flags().replace('\'', "");
            let mut argv: Vec<&str> = Vec::new();
            let mut parts = flags.split(' ');
            while let Some(p) = parts.next() {
                argv.push(p);
                if p == "--link" {
                    argv.push(parts.next().unwrap());
                }
            }
            let sc = run_args(&argv).unwrap();
            assert_eq!(sc.to_flags(), case.scenario.to_flags(), "{}", case.name);
        }
    }

    #[test]
    fn sim_seeds_parse_in_decimal_and_hex() {
        assert_eq!(parse_seed("42").unwrap(), 42);
        assert_eq!(parse_seed("0x2a").unwrap(), 42);
        assert!(parse_seed("forty-two").is_err());
    }

    #[test]
    fn verify_takes_a_hex_seed_and_defaults_to_a_fresh_one() {
        let parse = |flags: &[&str]| match Cli::try_parse_from(
            ["sim", "verify"].iter().chain(flags).copied(),
        )
        .unwrap()
        .cmd
        {
            Cmd::Verify(a) => a.seed,
            other => panic!("parsed as {other:?}"),
        };
        assert_eq!(parse(&["--seed", "0x00000000000007e8"]), Some(2024));
        assert_eq!(parse(&[]), None);
        assert_ne!(fresh_seed(), fresh_seed());
    }
}
