//! `cargo xtask bench [core|ingest|sim|store]…` runs benchmarks and writes BENCHMARKS.md.
//!
//! Every row compares a figure with a baseline measured in the same run on the same machine, so
//! the ratio means something even on a noisy shared host; absolute figures are for context.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// One line of the table.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) figure: String,
    pub(crate) baseline: String,
    pub(crate) ratio: Option<f64>,
    pub(crate) target: String,
}

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let all = ["core", "sim", "ingest", "store"];
    // Names first, then flags for the ingest benchmark (`bench ingest --nodes 10000`).
    let split = args
        .iter()
        .position(|a| a.starts_with("--"))
        .unwrap_or(args.len());
    let (names, flags) = args.split_at(split);
    let which: Vec<&str> = if names.is_empty() {
        all.to_vec()
    } else {
        names.iter().map(String::as_str).collect()
    };
    let mut rows = Vec::new();
    for w in &which {
        match *w {
            "core" => rows.extend(core()?),
            "sim" => rows.extend(sim()?),
            "ingest" => rows.extend(crate::bench_ingest::rows(flags)?),
            "store" => rows.extend(crate::bench_store::rows(flags)?),
            other => bail!("unknown benchmark {other:?}; known: {}", all.join(", ")),
        }
    }
    let md = render(&rows);
    let path = crate::root().join("BENCHMARKS.md");
    let merged = merge(&path, &which, &md)?;
    std::fs::write(&path, merged)?;
    print!("{md}");
    println!("written to {}", path.display());
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Median time in ns of a criterion benchmark from its saved estimates.
fn criterion_ns(group: &str, bench: &str) -> anyhow::Result<f64> {
    let p = crate::root()
        .join("target/criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    v["median"]["point_estimate"]
        .as_f64()
        .context("no median in criterion estimates")
}

fn core() -> anyhow::Result<Vec<Row>> {
    let out = Command::new(cargo())
        .current_dir(crate::root())
        .args([
            "bench", "-p", "hb-core", "--bench", "monitor", "--", "--noplot",
        ])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        bail!("cargo bench -p hb-core failed");
    }
    let mut rows = Vec::new();
    for (group, label, target) in [
        ("monitor_1m_nodes", "1M nodes", "≤ 150 ns"),
        ("monitor_10k_nodes", "10k nodes (cache-resident)", "—"),
    ] {
        let base = criterion_ns(group, "baseline_decode_and_map_update")?;
        for det in ["fixed", "phi"] {
            let ns = criterion_ns(group, &format!("beat_{det}"))?;
            rows.push(Row {
                name: format!("core: handle one beat + drain outputs, {label}, `{det}`"),
                figure: format!("{ns:.0} ns/beat"),
                baseline: format!("decode + hash-map update: {base:.0} ns"),
                ratio: Some(ns / base),
                target: target.into(),
            });
        }
    }
    // The bench prints "memory/fixed/1m: 187.3 bytes per node …".
    let bytes: f64 = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("memory/fixed/1m: ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .context("the core bench did not report memory")?;
    let naive: f64 = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("memory/baseline/1m: ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .context("the core bench did not report its memory baseline")?;
    rows.push(Row {
        name: "core: state per node at 1M nodes (registry, index, deadline heap)".into(),
        figure: format!("{bytes:.0} B/node"),
        baseline: format!("HashMap<String, u64> of the ids: {naive:.0} B/node"),
        ratio: Some(bytes / naive),
        target: "≤ 200 B".into(),
    });
    Ok(rows)
}

fn sim() -> anyhow::Result<Vec<Row>> {
    let out = Command::new(cargo())
        .current_dir(crate::root())
        .args([
            "bench", "-p", "hb-sim", "--bench", "engine", "--", "--noplot",
        ])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        bail!("cargo bench -p hb-sim failed");
    }
    let beats: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("beats per trace: ")?.trim().parse().ok())
        .context("the sim bench did not report its beats per trace")?;
    let base = criterion_ns("engine", "baseline_wire_round_trip")?;
    let per_s = |ns: f64| beats / (ns / 1e9);
    let mut rows = Vec::new();
    for (bench, what) in [
        ("fixed_1h_lossy", "fixed detector"),
        (
            "fixed_1h_lossy_invariants",
            "fixed, check_invariants after every input",
        ),
        ("phi_1h_lossy", "phi detector"),
    ] {
        let ns = criterion_ns("engine", bench)?;
        rows.push(Row {
            name: format!(
                "sim: simulated beats/s, one core, Beater → bytes → lossy link → Monitor, {what}"
            ),
            figure: format!("{:.2}M beats/s", per_s(ns) / 1e6),
            baseline: format!("encode + decode only: {:.2}M beats/s", per_s(base) / 1e6),
            ratio: Some(ns / base),
            target: "≥ 10M beats/s".into(),
        });
    }
    Ok(rows)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split(':')
                    .nth(1)
                    .map(|s| s.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

fn render(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| benchmark | figure | baseline (same run) | ratio | target |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in rows {
        let ratio = r.ratio.map_or("—".into(), |x| format!("{x:.2}×"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {ratio} | {} |",
            r.name, r.figure, r.baseline, r.target
        );
    }
    let _ = writeln!(s, "\nMachine: {}.", machine());
    s
}

/// Replaces the sections of BENCHMARKS.md for the benchmarks just run, keeping the others.
fn merge(path: &Path, which: &[&str], table: &str) -> anyhow::Result<String> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let key = which.join("+");
    let begin = format!("<!-- bench:{key} -->");
    let end = format!("<!-- /bench:{key} -->");
    let section = format!("{begin}\n{table}{end}\n");
    if let (Some(a), Some(b)) = (old.find(&begin), old.find(&end)) {
        return Ok(format!(
            "{}{section}{}",
            &old[..a],
            &old[b + end.len()..].trim_start_matches('\n')
        ));
    }
    let head = if old.is_empty() {
        "# Benchmarks\n\nWritten by `cargo xtask bench`. Every figure is compared with a baseline \
         measured in the same run; ratios are what to compare across machines.\n\n"
            .to_string()
    } else {
        format!("{}\n", old.trim_end())
    };
    Ok(format!("{head}## {key}\n\n{section}"))
}
