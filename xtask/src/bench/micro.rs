//! `bench core` and `bench sim`: the criterion benchmarks of hb-core and hb-sim, run with
//! `cargo bench` and read back from `target/criterion`.

use std::process::Command;

use anyhow::{Context, bail};

use super::table::Row;
use crate::paths::root;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Median time in ns of a criterion benchmark from its saved estimates.
fn criterion_ns(group: &str, bench: &str) -> anyhow::Result<f64> {
    let p = root()
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

pub(super) fn core_rows() -> anyhow::Result<Vec<Row>> {
    let out = Command::new(cargo())
        .current_dir(root())
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
        for det in ["fixed", "phi", "budget"] {
            let ns = criterion_ns(group, &format!("beat_{det}"))?;
            rows.push(Row {
                name: format!("core: handle one beat + drain outputs, {label}, `{det}`"),
                figure: format!("{ns:.0} ns/beat"),
                baseline: format!("decode + hash-map update: {base:.0} ns"),
                ratio: Some(ns / base),
                target: target.into(),
            });
        }
        let fixed = criterion_ns(group, "beat_fixed")?;
        let budget = criterion_ns(group, "beat_budget")?;
        rows.push(Row {
            name: format!(
                "core: `budget` vs `fixed` per beat (amortised, solves included), {label}"
            ),
            figure: format!("{budget:.0} ns/beat"),
            baseline: format!("`fixed`: {fixed:.0} ns/beat"),
            ratio: Some(budget / fixed),
            target: "≤ 1.3×".into(),
        });
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
    let budget_bytes: f64 = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("memory/budget/1m: ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .context("the core bench did not report the budget detector's memory")?;
    rows.push(Row {
        name: "core: state per node at 1M nodes, `budget` (plus its link estimates) vs `fixed`"
            .into(),
        figure: format!("{budget_bytes:.0} B/node"),
        baseline: format!("`fixed`: {bytes:.0} B/node"),
        ratio: Some(budget_bytes / bytes),
        target: "≤ 128 B more".into(),
    });
    rows.push(Row {
        name: "core: state per node at 1M nodes (registry, index, deadline heap)".into(),
        figure: format!("{bytes:.0} B/node"),
        baseline: format!("HashMap<String, u64> of the ids: {naive:.0} B/node"),
        ratio: Some(bytes / naive),
        target: "≤ 200 B".into(),
    });
    Ok(rows)
}

pub(super) fn sim_rows() -> anyhow::Result<Vec<Row>> {
    let out = Command::new(cargo())
        .current_dir(root())
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
