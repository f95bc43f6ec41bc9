//! What `cargo xtask sim` shows: progress bars, tables and JSON.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use hb_core::NodeId;
use hb_sim::trace::NodeReplay;
use hb_sim::{Interval, Prediction, Report, Scenario, fmt_duration};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

fn opt(x: Option<f64>) -> Value {
    x.filter(|v| v.is_finite()).map_or(Value::Null, Value::from)
}

fn ci(i: Option<&Interval>) -> Value {
    i.map_or(Value::Null, |i| json!([i.lo, i.hi]))
}

fn predicted_json(p: &Prediction) -> Value {
    json!({
        "mistake_rate_per_hour": p.mistake_rate_per_hour,
        "t_mr_mean_s": opt(Some(p.t_mr_mean_s)),
        "t_m_mean_s": p.t_m_mean_s,
        "p_a": p.p_a,
        "p_s": p.p_s,
        "t_d_mean_s": p.t_d_mean_s,
        "t_d_max_s": p.t_d_bound_s,
    })
}

/// The `run --json` document.
pub(crate) fn run_json(sc: &Scenario, traces: u64, r: &Report) -> Value {
    let s = &r.summary;
    json!({
        "scenario": sc.to_flags(),
        "traces": traces,
        "simulated_seconds": s.simulated_seconds,
        "up_seconds": s.up_seconds,
        "beats": s.beats,
        "mistakes": s.mistakes,
        "mistake_rate_per_hour": s.mistake_rate_per_hour.value,
        "mistake_rate_per_hour_ci99": ci(Some(&s.mistake_rate_per_hour)),
        "t_mr_mean_s": opt(s.t_mr_mean_s),
        "t_m_mean_s": opt(s.t_m_mean_s.map(|i| i.value)),
        "t_m_mean_s_ci99": ci(s.t_m_mean_s.as_ref()),
        "p_a": s.p_a.value,
        "p_a_ci99": ci(Some(&s.p_a)),
        "crashes": s.crashes,
        "undetected": s.undetected,
        "t_d_mean_s": opt(s.t_d_mean_s.map(|i| i.value)),
        "t_d_mean_s_ci99": ci(s.t_d_mean_s.as_ref()),
        "t_d_p50_s": opt(s.t_d_p50_s),
        "t_d_p99_s": opt(s.t_d_p99_s),
        "t_d_max_s": opt(s.t_d_max_s),
        "max_delay_s": s.max_delay_s,
        "seed": r.seed,
        "event_log_hash": format!("{:016x}", r.hash),
        "violations": r.violations.len(),
        "predicted": r.predicted.as_ref().map_or(Value::Null, predicted_json),
    })
}

fn f(x: Option<f64>, unit: &str) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.6}{unit}"),
        Some(_) => "∞".into(),
        None => "–".into(),
    }
}

fn range(i: Option<&Interval>) -> String {
    i.map_or_else(|| "–".into(), |i| format!("{:.6} – {:.6}", i.lo, i.hi))
}

/// The `run` table.
pub(crate) fn print_run(sc: &Scenario, traces: u64, r: &Report, wall: Duration) {
    let s = &r.summary;
    let p = r.predicted.as_ref();
    println!("scenario: {}", sc.to_flags());
    println!(
        "{traces} traces × {} (seed {}), {} beats, {:.0} s simulated in {:.2} s ({:.2}M beats/s)",
        fmt_duration(sc.duration),
        r.seed,
        s.beats,
        s.simulated_seconds,
        wall.as_secs_f64(),
        s.beats as f64 / wall.as_secs_f64().max(1e-9) / 1e6
    );
    println!();
    println!(
        "{:<22} {:>16} {:>30} {:>16}",
        "metric", "measured", "99% CI", "predicted"
    );
    let row = |name: &str, m: String, c: String, pr: String| {
        println!("{name:<22} {m:>16} {c:>30} {pr:>16}");
    };
    row(
        "mistakes",
        s.mistakes.to_string(),
        String::new(),
        String::new(),
    );
    row(
        "mistake rate /h",
        f(Some(s.mistake_rate_per_hour.value), ""),
        range(Some(&s.mistake_rate_per_hour)),
        f(p.map(|p| p.mistake_rate_per_hour), ""),
    );
    row(
        "E(T_MR)",
        f(s.t_mr_mean_s, " s"),
        String::new(),
        f(p.map(|p| p.t_mr_mean_s), " s"),
    );
    row(
        "E(T_M)",
        f(s.t_m_mean_s.map(|i| i.value), " s"),
        range(s.t_m_mean_s.as_ref()),
        f(p.map(|p| p.t_m_mean_s), " s"),
    );
    row(
        "P_A",
        f(Some(s.p_a.value), ""),
        range(Some(&s.p_a)),
        f(p.map(|p| p.p_a), ""),
    );
    row(
        "crashes",
        s.crashes.to_string(),
        String::new(),
        String::new(),
    );
    row(
        "undetected",
        s.undetected.to_string(),
        String::new(),
        String::new(),
    );
    row(
        "T_D mean",
        f(s.t_d_mean_s.map(|i| i.value), " s"),
        range(s.t_d_mean_s.as_ref()),
        f(p.map(|p| p.t_d_mean_s), " s"),
    );
    row(
        "T_D p50",
        f(s.t_d_p50_s, " s"),
        String::new(),
        String::new(),
    );
    row(
        "T_D p99",
        f(s.t_d_p99_s, " s"),
        String::new(),
        String::new(),
    );
    row(
        "T_D max",
        f(s.t_d_max_s, " s"),
        "bound:".into(),
        f(p.map(|p| p.t_d_bound_s), " s"),
    );
    println!();
    println!(
        "event-log hash {:016x}; {} trace(s) failed checks",
        r.hash,
        r.violations.len()
    );
}

/// The `replay` table or JSON.
pub(crate) fn print_replay(nodes: &BTreeMap<NodeId, NodeReplay>, json: bool) -> anyhow::Result<()> {
    if json {
        let v: Vec<Value> = nodes
            .iter()
            .map(|(id, r)| {
                json!({
                    "node": id.as_str(),
                    "arrivals": r.arrivals,
                    "downs": r.downs,
                    "mistakes": r.mistakes,
                    "restarts": r.restarts,
                    "observed_s": r.observed_s,
                    "p_a": r.p_a(),
                    "t_m_mean_s": (!r.mistake_durations_s.is_empty()).then(|| {
                        r.mistake_durations_s.iter().sum::<f64>()
                            / r.mistake_durations_s.len() as f64
                    }),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<24} {:>9} {:>6} {:>9} {:>9} {:>12} {:>10}",
        "node", "arrivals", "downs", "mistakes", "restarts", "observed s", "P_A"
    );
    for (id, r) in nodes {
        println!(
            "{:<24} {:>9} {:>6} {:>9} {:>9} {:>12.1} {:>10.6}",
            id.as_str(),
            r.arrivals,
            r.downs,
            r.mistakes,
            r.restarts,
            r.observed_s,
            r.p_a()
        );
    }
    Ok(())
}

/// A progress bar on a terminal, hidden otherwise.
pub(crate) fn progress(len: u64, msg: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:28} {wide_bar} {pos}/{len} traces ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(msg.to_owned());
    pb
}
