//! `cargo xtask sim fleet`: a named fleet (many nodes, several monitors, zones, correlated
//! faults) run once or `--runs R` times, measured as a pager sees it: a table per monitor (or
//! `--json`), and target/sim/fleet-<preset>.{json,log}.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hb_sim::fleet::{
    Fleet, FleetMeasure, FleetOutcome, MonitorMeasure, Seen, Topology, digest, measure, presets,
    run_many,
};
use hb_sim::{Link, Loss, Scenario, fmt_duration};
use serde_json::{Value, json};

use super::DetectorArgs;
use super::parse::{dur, prob};

/// `cargo xtask sim fleet` flags.
#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    /// The named fleet: partition, zone-outage, switch-flap, monitor-stall, crashes,
    /// shared-loss, witnesses, witnesses-shared, witnesses-lossy.
    #[arg(long)]
    preset: String,
    /// Run seed (decimal or 0x…); run r of `--runs` uses a seed mixed from (seed, r).
    #[arg(long, default_value = "1", value_parser = super::seed_arg)]
    seed: u64,
    /// Nodes (spread evenly over the zones).
    #[arg(long, default_value_t = presets::DEFAULT_SHAPE.0)]
    nodes: u32,
    /// Monitors, each watching every node.
    #[arg(long, default_value_t = presets::DEFAULT_SHAPE.1)]
    monitors: u16,
    /// Zones `z0…`.
    #[arg(long, default_value_t = presets::DEFAULT_SHAPE.2)]
    zones: u32,
    /// Every path's link (a preset and/or `KEY=VALUE;…`, as `sim run --link`); replaces the
    /// preset's `lan;loss=1%`.
    #[arg(long)]
    link: Option<String>,
    /// One zone's link, `ZONE=SPEC` (`z2=wan;loss=5%`), for its nodes' paths instead of
    /// `--link`; repeatable.
    #[arg(long, value_name = "ZONE=SPEC")]
    zone_link: Vec<String>,
    /// Bernoulli loss per path (`1%` or `0.01`); overrides the link's loss.
    #[arg(long, value_parser = prob)]
    loss: Option<f64>,
    /// Loss at each node's NIC, shared by all its paths: `none`, `loss=P` or
    /// `burst=P_GB,P_BG[,LOSS_BAD]`; replaces the preset's.
    #[arg(long)]
    shared_loss: Option<String>,
    /// The fault plan, replacing the preset's: `VERB=ARGS;…` (`partition_monitor=m0,2m,30s`),
    /// or `none`.
    #[arg(long)]
    faults: Option<String>,
    /// Virtual time per run; replaces the preset's.
    #[arg(long, value_parser = dur)]
    duration: Option<Duration>,
    #[command(flatten)]
    det: DetectorArgs,
    /// Beat period η; replaces the preset's (1 s).
    #[arg(long, value_parser = dur)]
    period: Option<Duration>,
    /// Beater period jitter, 0–0.5; replaces the preset's (0, or 0.01 for witnesses*).
    #[arg(long)]
    jitter: Option<f64>,
    /// Runs, in parallel, aggregated.
    #[arg(long, default_value_t = 1)]
    runs: u64,
    /// Check every monitor's invariants after every input (O(nodes) each: slower).
    #[arg(long)]
    invariants: bool,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

impl FleetArgs {
    /// The fleet these flags describe.
    fn fleet(&self) -> anyhow::Result<Fleet> {
        let p = presets::preset(&self.preset, self.nodes, self.monitors, self.zones)?;
        let mut t = p.topology;
        if let Some(l) = &self.link {
            t.link = Link::parse(l).context("--link")?;
        }
        if let Some(p) = self.loss {
            t.link.loss = Loss::Bernoulli(p);
        }
        for zl in &self.zone_link {
            let (zone, spec) = zl
                .split_once('=')
                .with_context(|| format!("--zone-link {zl:?}: write ZONE=SPEC, like z2=wan"))?;
            let z = t.zone_index(zone.trim()).with_context(|| {
                format!(
                    "--zone-link {zl:?}: this fleet has zones z0…z{}",
                    t.zones.len() - 1
                )
            })?;
            t.zones[usize::from(z)].link =
                Some(Link::parse(spec).with_context(|| format!("--zone-link {zl:?}"))?);
        }
        if let Some(s) = &self.shared_loss {
            t.shared_loss = match s.trim() {
                "none" => None,
                s => Some(Link::parse(s).context("--shared-loss")?.loss),
            };
        }
        if let Some(d) = self.duration {
            t.duration = d;
        }
        if self.runs == 0 {
            bail!("--runs must be at least 1");
        }
        if let Some(p) = self.period {
            t.period = p;
        }
        if let Some(j) = self.jitter {
            t.jitter = j;
        }
        t.check_invariants = self.invariants;
        // The detector flags at their defaults (fixed, 3 s) keep the preset's detector.
        let det = self.det.config()?;
        if det != DetectorArgs::DEFAULT_FIXED {
            t = t.with_detector(det);
        }
        let plan = match &self.faults {
            Some(f) => hb_sim::fleet::FaultPlan::parse(f).context("--faults")?,
            None => p.plan,
        };
        Ok(Fleet::new(t, plan)?)
    }
}

/// The flags that rerun `fleet` exactly.
fn replay(a: &FleetArgs, fleet: &Fleet) -> String {
    let t = &fleet.topology;
    let det = Scenario {
        detector: t.monitors[0].detector,
        ..Scenario::default()
    }
    .to_flags();
    let det = det.split_once(" --period").map_or(det.as_str(), |d| d.0);
    let mut s = format!(
        "cargo xtask sim fleet --preset {} --seed {:#x} --nodes {} --monitors {} --zones {} \
         --link '{}' --faults '{}' --duration {} --period {} {det}",
        a.preset,
        a.seed,
        t.node_count(),
        t.monitors.len(),
        t.zones.len(),
        t.link,
        fleet.plan,
        fmt_duration(t.duration),
        fmt_duration(t.period),
    );
    let shared = t.shared_loss.map_or("none".into(), |loss| {
        Link {
            loss,
            ..Link::default()
        }
        .to_string()
    });
    let _ = write!(s, " --shared-loss '{shared}'");
    for z in &t.zones {
        if let Some(l) = &z.link {
            let _ = write!(s, " --zone-link '{}={l}'", z.name);
        }
    }
    // Always: the witness presets' own jitter is not the flag's absence.
    let _ = write!(s, " --jitter {}", t.jitter);
    if a.runs > 1 {
        let _ = write!(s, " --runs {}", a.runs);
    }
    s
}

pub(crate) fn run(a: &FleetArgs) -> anyhow::Result<()> {
    let fleet = a.fleet()?;
    let t0 = Instant::now();
    let outcomes = run_many(&fleet, a.seed, a.runs);
    let m = measure(&fleet, &outcomes);
    let wall = t0.elapsed();
    let replay = replay(a, &fleet);
    let mut doc = to_json(a, &fleet, &m, &outcomes, &replay);
    let witness = fleet
        .topology
        .monitors
        .iter()
        .any(|m| m.quorum.is_some())
        .then(|| super::witness::report(&fleet, &outcomes, a.seed, a.runs))
        .flatten();
    if let Some((_, w)) = &witness {
        doc["witnesses"] = w.clone();
    }
    let dir = crate::paths::root().join("target").join("sim");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let base = dir.join(format!("fleet-{}", a.preset));
    let json_path = base.with_extension("json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("write {}", json_path.display()))?;
    let log_path: PathBuf = base.with_extension("log");
    std::fs::write(&log_path, event_log(&fleet, &outcomes[0], &replay))
        .with_context(|| format!("write {}", log_path.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", table(&fleet, &m, digest(&outcomes), &replay, wall));
        if let Some((w, _)) = &witness {
            print!("{w}");
        }
        println!("wrote {} and {}", json_path.display(), log_path.display());
    }
    if let Some((seed, v)) = m.violations.first() {
        bail!(
            "{} run(s) failed a check; first: run seed {seed:#x} at {} µs: {}",
            m.violations.len(),
            v.at_us,
            v.what
        );
    }
    Ok(())
}

fn secs(us: u64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

fn detection(m: &MonitorMeasure) -> String {
    m.detection().map_or("–".into(), |(mean, p99, max)| {
        format!(
            "{:.3}/{:.3}/{:.3}",
            mean / 1e6,
            p99 as f64 / 1e6,
            max as f64 / 1e6
        )
    })
}

/// The readable report.
fn table(fleet: &Fleet, m: &FleetMeasure, digest: u64, replay: &str, wall: Duration) -> String {
    let t = &fleet.topology;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "fleet: {} nodes in {} zones, {} monitors, {} beats, link '{}', faults '{}', {} run(s) \
         of {} ({:.1} node-hours) in {:.2}s",
        t.node_count(),
        t.zones.len(),
        t.monitors.len(),
        fmt_duration(t.period),
        t.link,
        fleet.plan,
        m.runs,
        fmt_duration(t.duration),
        m.node_hours,
        wall.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "{:<8} {:<46} {:>12} {:>14} {:>22} {:>18} {:>6} {:>9}",
        "monitor",
        "events",
        "false down",
        "crashes",
        "T_D mean/p99/max s",
        "pages",
        "stalls",
        "quiet"
    );
    let _ = writeln!(
        s,
        "{:<8} {:<46} {:>12} {:>14} {:>22} {:>18} {:>6} {:>9}",
        "", "", "fault/noise", "det/miss/late", "", "crash/fault/noise", "", "longest"
    );
    let all = m.overall();
    for mm in m.monitors.iter().chain(core::iter::once(&all)) {
        let events: Vec<String> = mm.events.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let q = mm.counters.longest_quiet_us;
        let _ = writeln!(
            s,
            "{:<8} {:<46} {:>12} {:>14} {:>22} {:>18} {:>6} {:>9}",
            mm.name,
            events.join(", "),
            format!("{}/{}", mm.false_downs_fault, mm.false_downs_noise),
            format!("{}/{}/{}", mm.detected, mm.missed, mm.over_bound),
            detection(mm),
            format!("{}/{}/{}", mm.pages.0, mm.pages.1, mm.pages.2),
            mm.counters.stalls,
            secs(q.1 - q.0),
        );
    }
    let _ = writeln!(s, "pages per incident (summed over runs):");
    for i in &m.incidents {
        let per: Vec<String> = m
            .monitors
            .iter()
            .zip(&i.pages)
            .map(|(mm, p)| format!("{} {p}", mm.name))
            .collect();
        let _ = writeln!(
            s,
            "  {:<36} {}  (total {})",
            i.label,
            per.join(", "),
            i.pages.iter().sum::<u64>()
        );
    }
    if m.random_crashes > 0 {
        let _ = writeln!(
            s,
            "  random crashes: {}, {} pages ({:.2} per crash, at most {})",
            m.random_crashes,
            m.random_crash_pages,
            m.random_crash_pages as f64 / m.random_crashes as f64,
            m.random_crash_max_pages
        );
    }
    let noise: Vec<String> = m
        .noise_seen_by
        .iter()
        .enumerate()
        .map(|(k, n)| format!("{} by {}", n, k + 1))
        .collect();
    let _ = writeln!(
        s,
        "  noise (no fault, no crash): groups of downs seen {}",
        noise.join(", ")
    );
    let bounds: Vec<String> = m
        .monitors
        .iter()
        .map(|mm| mm.bound_us.map_or("none".into(), secs))
        .collect();
    let _ = writeln!(
        s,
        "detection bound checked (detector bound + one period): {}; digest {digest:016x}",
        bounds.join(", "),
    );
    let _ = writeln!(s, "replay: {replay}");
    s
}

fn monitor_json(mm: &MonitorMeasure) -> Value {
    let d = mm.detection();
    json!({
        "name": mm.name,
        "events": mm.events,
        "false_downs_fault": mm.false_downs_fault,
        "false_downs_noise": mm.false_downs_noise,
        "crashes_detected": mm.detected,
        "crashes_missed": mm.missed,
        "crashes_already_down": mm.already_down,
        "crashes_not_due": mm.not_due,
        "crashes_unobserved": mm.unobserved,
        "detections_over_bound": mm.over_bound,
        "bound_s": mm.bound_us.map(|b| b as f64 / 1e6),
        "t_d_mean_s": d.map(|d| d.0 / 1e6),
        "t_d_p99_s": d.map(|d| d.1 as f64 / 1e6),
        "t_d_max_s": d.map(|d| d.2 as f64 / 1e6),
        "pages": {"crash": mm.pages.0, "fault": mm.pages.1, "noise": mm.pages.2},
        "delivered": mm.counters.delivered,
        "blocked": mm.counters.blocked,
        "lost": mm.counters.lost,
        "stall_dropped": mm.counters.stall_dropped,
        "stalls": mm.counters.stalls,
        "longest_quiet_s": [
            mm.counters.longest_quiet_us.0 as f64 / 1e6,
            mm.counters.longest_quiet_us.1 as f64 / 1e6
        ],
    })
}

fn to_json(
    a: &FleetArgs,
    fleet: &Fleet,
    m: &FleetMeasure,
    outcomes: &[FleetOutcome],
    replay: &str,
) -> Value {
    let t = &fleet.topology;
    json!({
        "preset": a.preset,
        "seed": a.seed,
        "runs": m.runs,
        "nodes": t.node_count(),
        "zones": t.zones.iter().map(|z| json!({"name": z.name, "nodes": z.nodes})).collect::<Vec<_>>(),
        "monitors": m.monitors.iter().map(monitor_json).collect::<Vec<_>>(),
        "overall": monitor_json(&m.overall()),
        "link": t.link.to_string(),
        "faults": fleet.plan.to_string(),
        "duration_s": t.duration.as_secs_f64(),
        "period_s": t.period.as_secs_f64(),
        "node_hours": m.node_hours,
        "beats_sent": m.beats_sent,
        "incidents": m.incidents.iter().map(|i| json!({
            "fault": i.label,
            "pages": i.pages,
            "total": i.pages.iter().sum::<u64>(),
        })).collect::<Vec<_>>(),
        "random_crashes": {
            "count": m.random_crashes,
            "pages": m.random_crash_pages,
            "max_pages_per_crash": m.random_crash_max_pages,
        },
        "noise_groups_seen_by_k_monitors": m.noise_seen_by,
        "run_digests": outcomes.iter().map(|o| format!("{:016x}", o.hash)).collect::<Vec<_>>(),
        "digest": format!("{:016x}", digest(outcomes)),
        "violations": m.violations.iter().map(|(s, v)| json!({
            "run_seed": s, "at_us": v.at_us, "what": v.what,
        })).collect::<Vec<_>>(),
        "replay": replay,
    })
}

/// The first run's event log, one line per monitor event, with its replay command.
fn event_log(fleet: &Fleet, o: &FleetOutcome, replay: &str) -> String {
    let t = &fleet.topology;
    let mut s = format!(
        "# run seed {:#x}, digest {:016x}\n# replay: {replay}\n",
        o.seed, o.hash
    );
    for c in &o.crashes {
        let _ = writeln!(
            s,
            "# crash {} at {} restart {}",
            Topology::node_name(c.node),
            secs(c.at_us),
            c.restart_us.map_or("never".into(), secs)
        );
    }
    for e in &o.log {
        let node = e.node.map_or("-".into(), Topology::node_name);
        let _ = write!(
            s,
            "{:>12} {} {node} {} inc={}",
            secs(e.at_us),
            t.monitors[usize::from(e.monitor)].name,
            e.name,
            e.incarnation
        );
        if let Seen::Down { silence_us, .. } = e.seen {
            let _ = write!(s, " silence={}", secs(silence_us));
        }
        s.push('\n');
    }
    s
}

/// `cargo xtask sim verify`'s fleet scenarios ([`hb_sim::fleet::gate`]) on `seed`: prints a
/// line per case and its checks, returns the failed checks with how to replay them.
pub(crate) fn verify(seed: u64, runs: u64, only: Option<&str>) -> Vec<String> {
    let mut failed = Vec::new();
    for case in hb_sim::fleet::gate::suite(runs)
        .into_iter()
        .filter(|c| only.is_none_or(|o| c.name.contains(o)))
    {
        let t = Instant::now();
        let checks = hb_sim::fleet::gate::run_case(&case, seed);
        let ok = checks.iter().all(|c| c.passed);
        println!(
            "{:<26} {:>6} runs  {:<4} {:>5.1}s",
            case.name,
            case.runs,
            if ok { "ok" } else { "FAIL" },
            t.elapsed().as_secs_f64()
        );
        for c in &checks {
            println!(
                "    {:<28} {} {}",
                c.name,
                if c.passed { "ok  " } else { "FAIL" },
                c.detail
            );
            if !c.passed {
                let duration = case.duration.map_or(String::new(), |d| {
                    format!(" --duration {}", fmt_duration(d))
                });
                failed.push(format!(
                    "{} / {}: {}\n  replay: cargo xtask sim fleet --preset {} --faults '{}' \
                     --runs {}{duration} --seed {seed:#018x}",
                    case.name, c.name, c.detail, case.preset, case.faults, case.runs
                ));
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        a: FleetArgs,
    }

    fn fleet(flags: &[&str]) -> anyhow::Result<Fleet> {
        let argv = ["fleet"].iter().chain(flags).copied();
        Cli::try_parse_from(argv)?.a.fleet()
    }

    #[test]
    fn flags_override_the_preset() {
        let f = fleet(&[
            "--preset",
            "partition",
            "--nodes",
            "12",
            "--monitors",
            "2",
            "--zones",
            "2",
            "--loss",
            "0",
            "--shared-loss",
            "burst=1%,30%",
            "--timeout",
            "2s",
        ])
        .unwrap();
        assert_eq!(f.topology.node_count(), 12);
        assert_eq!(f.topology.link.loss, Loss::Bernoulli(0.0));
        assert!(matches!(
            f.topology.shared_loss,
            Some(Loss::GilbertElliott { .. })
        ));
        assert_eq!(f.plan.to_string(), "partition_monitor=m0,2m,30s");
        let f = fleet(&["--preset", "partition", "--zone-link", "z1=wan;loss=5%"]).unwrap();
        assert_eq!(f.topology.zone_link(1).loss, Loss::Bernoulli(0.05));
        assert_eq!(f.topology.zone_link(0), &f.topology.link);
        let f = fleet(&["--preset", "crashes", "--faults", "none"]).unwrap();
        assert!(f.plan.faults.is_empty());
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(fleet(&["--preset", "meteor"]).is_err());
        assert!(fleet(&["--preset", "partition", "--monitors", "0"]).is_err());
        assert!(
            fleet(&[
                "--preset",
                "partition",
                "--faults",
                "stall_monitor=m9,1s,1s"
            ])
            .is_err()
        );
        assert!(fleet(&["--preset", "partition", "--faults", "nap=1s"]).is_err());
        assert!(fleet(&["--preset", "partition", "--runs", "0"]).is_err());
        assert!(fleet(&["--preset", "partition", "--shared-loss", "loss=2"]).is_err());
        assert!(fleet(&["--preset", "partition", "--zone-link", "z7=wan"]).is_err());
        assert!(fleet(&["--preset", "partition", "--zone-link", "wan"]).is_err());
    }

    #[test]
    fn the_replay_command_rebuilds_the_same_fleet() {
        let flags = [
            "--preset",
            "zone-outage",
            "--nodes",
            "9",
            "--monitors",
            "2",
            "--zones",
            "3",
            "--shared-loss",
            "loss=1%",
            "--jitter",
            "0.1",
            "--zone-link",
            "z2=wan;loss=5%",
        ];
        let f = fleet(&flags).unwrap();
        let a = Cli::try_parse_from(["fleet"].iter().chain(&flags).copied())
            .unwrap()
            .a;
        let cmd = replay(&a, &f);
        let words = shell_words(cmd.strip_prefix("cargo xtask sim fleet ").unwrap());
        let argv: Vec<&str> = words.iter().map(String::as_str).collect();
        assert_eq!(fleet(&argv).unwrap(), f, "{cmd}");
    }

    /// Splits on spaces outside single quotes.
    fn shell_words(s: &str) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut quoted = false;
        for c in s.chars() {
            match c {
                '\'' => quoted = !quoted,
                ' ' if !quoted => out.push(String::new()),
                c => out.last_mut().unwrap().push(c),
            }
        }
        out.retain(|w| !w.is_empty());
        out
    }
}
