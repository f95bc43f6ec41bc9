//! `hbnode plan`: from a link model (hb-sim's planner), or from a recording with `--trace FILE
//! --budget RATE`: each node's arrivals replayed through the core's budget detector, its
//! timeout at the end of the recording and the false alarms it would have had.

use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use hb_core::detector::{AlarmRate, Budget, DetectorConfig};
use hb_sim::trace::{TraceReader, replay_keeping};
use serde::Serialize;

use crate::cli::plan::PlanFlags;

/// Runs `hbnode plan`.
pub(crate) fn run(a: &PlanFlags) -> anyhow::Result<ExitCode> {
    match (&a.trace, a.budget) {
        (Some(path), Some(rate)) => {
            let nodes = plan_trace(path, rate, a.model.period)?;
            if a.model.json {
                for n in &nodes {
                    println!("{}", serde_json::to_string(n)?);
                }
            } else {
                print!("{}", table(&nodes, rate));
            }
        }
        _ => hb_sim::cli::run_plan(&a.model, &|| {})?,
    }
    Ok(ExitCode::SUCCESS)
}

/// One node of a recording, as the budget detector would have seen it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct TracePlan {
    /// Node id.
    pub(crate) node: String,
    /// Its recorded arrivals.
    pub(crate) arrivals: u64,
    /// Time from its first to the recording's last arrival, in seconds.
    pub(crate) observed_s: f64,
    /// The budget detector's timeout for it at the end of the recording, in ms.
    pub(crate) timeout_ms: u64,
    /// Its link estimate then: long-run loss (0–1).
    pub(crate) loss: f64,
    /// Mean run of lost beats, in beats.
    pub(crate) mean_burst: f64,
    /// 99th percentile of beat lateness, in ms.
    pub(crate) offset_p99_ms: f64,
    /// False alarms the theory predicts per day at that timeout on that link.
    pub(crate) predicted_per_day: f64,
    /// False alarms the recording would have had under the budget detector (downs ended by a
    /// beat of the same incarnation), from its first beat on (the prior's warm-up included).
    pub(crate) false_alarms: u64,
    /// Downs ended by a new incarnation (real restarts), not false alarms.
    pub(crate) restarts: u64,
}

/// Replays the recording at `path` through the budget detector for `rate`; beats that
/// advertised no period are taken to beat every `default_period`.
pub(crate) fn plan_trace(
    path: &Path,
    rate: AlarmRate,
    default_period: Duration,
) -> anyhow::Result<Vec<TracePlan>> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot open trace {shown}"))?;
    let reader = TraceReader::new(BufReader::new(file))
        .with_context(|| format!("{shown} is not a trace `hbnode monitor --record` wrote"))?;
    let detector = DetectorConfig::Budget(Budget::new(rate));
    let (replays, monitor) = replay_keeping(reader, detector, default_period)
        .with_context(|| format!("cannot replay trace {shown}"))?;
    let mut out = Vec::with_capacity(replays.len());
    for (id, r) in replays {
        let Some(view) = monitor.link_view(id.as_str()) else {
            continue;
        };
        out.push(TracePlan {
            node: id.to_string(),
            arrivals: r.arrivals,
            observed_s: r.observed_s,
            timeout_ms: u64::try_from(view.timeout.as_millis()).unwrap_or(u64::MAX),
            loss: view.link.loss,
            mean_burst: view.link.mean_burst,
            offset_p99_ms: view.link.offset_p99.as_secs_f64() * 1e3,
            predicted_per_day: view.predicted_per_second * 86_400.0,
            false_alarms: r.mistakes,
            restarts: r.restarts,
        });
    }
    Ok(out)
}

/// The text report.
fn table(nodes: &[TracePlan], rate: AlarmRate) -> String {
    let header = [
        "NODE",
        "ARRIVALS",
        "OBSERVED",
        "TIMEOUT",
        "LOSS",
        "MEAN BURST",
        "OFFSET P99",
        "PREDICTED/DAY",
        "FALSE ALARMS",
    ];
    let rows: Vec<[String; 9]> = nodes
        .iter()
        .map(|n| {
            [
                n.node.clone(),
                n.arrivals.to_string(),
                hb_sim::fmt_duration(Duration::from_secs_f64(n.observed_s.max(0.0))),
                format!("{:.3}s", n.timeout_ms as f64 / 1000.0),
                format!("{:.2}%", n.loss * 100.0),
                format!("{:.2}", n.mean_burst),
                format!("{:.0}ms", n.offset_p99_ms),
                format!("{:.3}", n.predicted_per_day),
                n.false_alarms.to_string(),
            ]
        })
        .collect();
    format!(
        "budget {:.4}/day per node; each node's timeout at the end of the recording, and the \
         false alarms the recording would have had under --detector budget:\n{}",
        rate.as_per_hour() * 24.0,
        crate::commands::table::render(&header, &rows, "(no nodes in the trace)")
    )
}

#[cfg(test)]
mod tests {
    use hb_core::{BeatArrival, NodeId, Timestamp};
    use hb_sim::trace::TraceWriter;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// A recording of two nodes beating every 100 ms for 10 min: `lan` loses nothing, `wifi`
    /// loses 20 % of its beats (seeded) and one stretch of 12 in a row (a false alarm under
    /// any timeout the budget allows).
    fn record(path: &Path) {
        let mut w = TraceWriter::new(std::fs::File::create(path).unwrap()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(15);
        for i in 0..6000u64 {
            for (k, node) in ["lan", "wifi"].into_iter().enumerate() {
                let lost = node == "wifi" && (rng.random_bool(0.2) || (3000..3012).contains(&i));
                if lost {
                    continue;
                }
                let jitter = rng.random_range(0..3000u64);
                w.record(&BeatArrival {
                    node: NodeId::new(node).unwrap(),
                    at: Timestamp::from_micros(i * 100_000 + jitter + k as u64),
                    seq: i + 1,
                    incarnation: 7,
                    period_ms: 100,
                })
                .unwrap();
            }
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_recorded_trace_gives_each_node_its_budget_timeout_and_false_alarms() {
        let dir = std::env::temp_dir().join(format!("hbnode-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("two.hbtrace");
        record(&path);
        let rate = AlarmRate::parse("1/day").unwrap();
        let nodes = plan_trace(&path, rate, Duration::from_secs(1)).unwrap();
        let [lan, wifi] = &nodes[..] else {
            panic!("{nodes:?}")
        };
        assert_eq!((lan.node.as_str(), wifi.node.as_str()), ("lan", "wifi"));
        assert_eq!(lan.arrivals, 6000);
        assert!(wifi.arrivals < 5000, "{wifi:?}");
        assert!(wifi.timeout_ms > lan.timeout_ms, "{nodes:#?}");
        assert!((0.15..0.26).contains(&wifi.loss), "{wifi:?}");
        assert!(lan.loss < 0.02, "{lan:?}");
        assert!(lan.predicted_per_day <= 1.0 && wifi.predicted_per_day <= 1.0);
        assert!(wifi.false_alarms >= 1, "12 lost in a row: {wifi:?}");
        assert_eq!(lan.false_alarms, 0, "{lan:?}");
        let text = table(&nodes, rate);
        assert!(text.lines().nth(2).unwrap().starts_with("lan "), "{text}");

        let bad = dir.join("not.hbtrace");
        std::fs::write(&bad, b"hello").unwrap();
        let e = format!(
            "{:#}",
            plan_trace(&bad, rate, Duration::from_secs(1)).unwrap_err()
        );
        assert!(e.contains("is not a trace"), "{e}");
        let e = format!(
            "{:#}",
            plan_trace(&dir.join("missing"), rate, Duration::from_secs(1)).unwrap_err()
        );
        assert!(e.contains("cannot open trace"), "{e}");
    }
}
