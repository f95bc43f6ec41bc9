//! The exposition as a whole: the families a snapshot yields, and the golden files.
//!
//! Golden files (node_exporter's `e2e-output.txt` style): a fixed snapshot and fixed counters
//! rendered in both formats must equal `testdata/e2e-output.txt` (0.0.4) and
//! `testdata/e2e-output.openmetrics.txt` byte for byte. After an intended change, regenerate
//! them and review the diff:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p hb-node --bin hbnode http::metrics::tests::golden
//! git diff node/src/http/metrics/testdata/
//! ```
//!
//! `tests/it/metrics.rs` feeds the 0.0.4 file (and a live scrape) to the real `promtool check
//! metrics`, and checks the OpenMetrics file's structure.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::http::metrics::{Format, Scrape, render};
use crate::http::views::{
    IsolationSnapshot, LinkView, NodeView, ProbeView, Snapshot, WitnessPeer, WitnessSnapshot,
};
use crate::runtime::stats::Stats;

fn probe(name: &str, state: &str, value: Option<f64>) -> ProbeView {
    ProbeView {
        name: name.into(),
        state: state.into(),
        state_since: String::new(),
        value,
        last_reading: String::new(),
        warning: Some("4".into()),
        error: None,
        ..Default::default()
    }
}

/// A plugin probe with perfdata `value[unit];warning;error;min;max`, ranges from `source`.
fn perf(name: &str, value: f64, unit: &str, ranges: [&str; 2], source: &str) -> ProbeView {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    ProbeView {
        name: name.into(),
        state: "error".into(),
        value: Some(value),
        unit: some(unit),
        warning: some(ranges[0]),
        error: some(ranges[1]),
        source: some(source),
        min: Some(0.0),
        max: (unit != "ms").then_some(if unit == "%" { 100.0 } else { 5968.0 }),
        ..Default::default()
    }
}

fn node(id: &str, state: &str, last_seen_unix: f64, probes: Vec<ProbeView>) -> NodeView {
    NodeView {
        id: id.into(),
        state: state.into(),
        addr: "127.0.0.1:1".parse().unwrap(),
        incarnation: 1,
        seq: 3,
        last_seen: String::new(),
        last_seen_unix,
        silence_ms: 4000,
        state_since: String::new(),
        timeout_ms: (state == "alive").then_some(3000),
        value: Some(4.0),
        threshold: 3.0,
        period_ms: 1000,
        beats: 3,
        lost: 1,
        loss: 0.25,
        duplicates: 0,
        reordered: 0,
        labels: Default::default(),
        link: (state == "alive").then_some(LinkView {
            loss: 0.0125,
            mean_burst: 1.5,
            offset_p99_ms: 62.5,
            beats: 3,
            predicted_per_day: None,
            fleet_prior: None,
        }),
        probes,
    }
}

/// A snapshot with a node in every state, given out of id order; the down one has probes.
fn snapshot() -> Snapshot {
    Snapshot {
        nodes: vec![
            node(
                "web-2",
                "alive",
                1_700_000_003.25,
                vec![
                    probe("load1", "ok", Some(0.5)),
                    probe("disk", "unknown", None),
                    perf("disk./", 5960.0, "MB", ["5948", "5958"], "plugin"),
                    perf("used", 91.0, "%", ["@95:100", "~:90"], "rule"),
                    perf("rta", 250.0, "ms", ["", "100:"], "plugin"),
                    perf("fan", 900.0, "rpm", ["", ""], ""),
                ],
            ),
            node(
                "web-1",
                "down",
                1_700_000_000.5,
                vec![
                    probe("load1", "warning", Some(5.5)),
                    perf("disk./", 10.0, "MB", ["5948", "5958"], "plugin"),
                ],
            ),
            node("db \"1\"", "left", 1_700_000_001.0, Vec::new()),
            node("cache-1", "unreachable", 1_700_000_002.0, Vec::new()),
        ],
        beats_received: 9,
        rejections: vec![("bad_magic", 2), ("duplicate", 0)],
        states: vec![("alive", 1), ("down", 1), ("left", 1), ("unreachable", 1)],
        core_acks_dropped: 1,
        probes_refused: 7,
        readings_refused: vec![("nan", 4), ("infinite", 0)],
        stalls: (2, Duration::from_millis(1500)),
        max_nodes: 10,
        zones: vec![("rack-a".into(), false), ("rack-b".into(), true)],
        witnesses: Some(WitnessSnapshot {
            needed: 2,
            up: 2,
            fallback: false,
            held: 1,
            agreed: 3,
            unreachable_reported: 1,
            witnesses: vec![
                WitnessPeer {
                    id: "mon-b".into(),
                    addr: "10.0.0.2:43278".parse().unwrap(),
                    up: true,
                    last_heard: Some("2023-11-14T22:13:22.000Z".into()),
                    messages: 40,
                },
                WitnessPeer {
                    id: "10.0.0.3:43278".into(),
                    addr: "10.0.0.3:43278".parse().unwrap(),
                    up: false,
                    last_heard: None,
                    messages: 0,
                },
            ],
        }),
        isolation: IsolationSnapshot {
            isolated: true,
            since: Some("2023-11-14T22:13:22.000Z".into()),
            held: 1,
            quiet: 0,
            episodes: 1,
        },
    }
}

fn stats() -> Stats {
    let s = Stats::default();
    s.datagrams.store(12, Ordering::Relaxed);
    s.acks_sent.store(9, Ordering::Relaxed);
    s.listener("udp://127.0.0.1:43278".into(), false);
    s.listener("pyhb+udp://127.0.0.1:43279".into(), true);
    for us in [120, 800, 2_000_000, 60_000_000] {
        s.slack.observe(us);
    }
    s
}

fn scrape<'a>(snap: Option<&'a Snapshot>, stats: &'a Stats) -> Scrape<'a> {
    Scrape {
        snapshot: snap,
        stats,
        kernel_drops: Some(vec![
            ("udp://127.0.0.1:43278".into(), 5),
            ("pyhb+udp://127.0.0.1:43279".into(), 0),
        ]),
        version: "0.0.0-golden",
    }
}

fn has(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn exposition_has_the_documented_families() {
    let (snap, stats) = (snapshot(), stats());
    let text = render(&scrape(Some(&snap), &stats), Format::Text004);
    for line in [
        "hbnode_ready 1",
        "hbnode_build_info{version=\"0.0.0-golden\"} 1",
        "hbnode_node_state{node=\"web-1\",state=\"alive\"} 0",
        "hbnode_node_state{node=\"web-1\",state=\"down\"} 1",
        "hbnode_node_state{node=\"web-1\",state=\"left\"} 0",
        "hbnode_node_state{node=\"db \\\"1\\\"\",state=\"left\"} 1",
        "hbnode_node_up{node=\"web-1\"} 0",
        "hbnode_node_up{node=\"web-2\"} 1",
        "hbnode_node_last_beat_timestamp_seconds{node=\"web-1\"} 1700000000.5",
        "hbnode_node_beat_loss_ratio{node=\"web-1\"} 0.25",
        "hbnode_nodes{state=\"down\"} 1",
        "hbnode_beats_received_total 9",
        "hbnode_datagrams_received_total 12",
        "hbnode_datagrams_rejected_total{reason=\"bad_magic\"} 2",
        "hbnode_acks_dropped_total 1",
        "hbnode_events_dropped_total{sink=\"stdout\"} 0",
        "hbnode_monitor_stalls_total 2",
        "hbnode_monitor_last_stall_seconds 1.5",
        "hbnode_registry_max_nodes 10",
        "hbnode_witness_up{witness=\"10.0.0.2:43278\"} 1",
        "hbnode_witness_up{witness=\"10.0.0.3:43278\"} 0",
        "hbnode_witness_messages_total{witness=\"10.0.0.2:43278\"} 40",
        "hbnode_quorum_needed 2",
        "hbnode_monitors_up 2",
        "hbnode_quorum_fallback 0",
        "hbnode_downs_agreed_total 3",
        "hbnode_unreachable_reported_total 1",
        "hbnode_probe_value{node=\"web-2\",probe=\"load1\"} 0.5",
        "hbnode_probe_value{node=\"web-2\",probe=\"disk\"} NaN",
        "hbnode_probe_state{node=\"web-2\",probe=\"load1\"} 0",
        "hbnode_probe_state{node=\"web-2\",probe=\"disk\"} 3",
        // A down node's probe is unknown, not its last state.
        "hbnode_probe_state{node=\"web-1\",probe=\"load1\"} 3",
        "hbnode_probe_readings_refused_total 7",
        "hbnode_readings_refused_total{reason=\"nan\"} 4",
        "hbnode_readings_refused_total{reason=\"infinite\"} 0",
        "hbnode_store_rows_written_total{table=\"readings\"} 0",
        "hbnode_store_rows_dropped_total{reason=\"queue_full\"} 0",
        "hbnode_store_errors_total 0",
        "hbnode_receive_buffer_drops_total{listener=\"udp://127.0.0.1:43278\"} 5",
        "hbnode_detection_slack_seconds_bucket{le=\"0.0005\"} 1",
        "hbnode_detection_slack_seconds_bucket{le=\"0.001\"} 2",
        "hbnode_detection_slack_seconds_bucket{le=\"2.5\"} 3",
        "hbnode_detection_slack_seconds_bucket{le=\"10.0\"} 3",
        "hbnode_detection_slack_seconds_bucket{le=\"+Inf\"} 4",
        "hbnode_detection_slack_seconds_count 4",
        "hbnode_detection_slack_seconds_sum 62.00092",
        "# TYPE hbnode_build_info gauge",
    ] {
        assert!(has(&text, line), "missing `{line}` in:\n{text}");
    }
    // A down node exports no probe value as if it were current.
    assert!(
        !text.contains("hbnode_probe_value{node=\"web-1\""),
        "{text}"
    );
}

/// Issue 14: plugin perfdata's value, thresholds in force, min and max, in base units with a
/// `unit` label: MB are 1024² bytes, % a ratio, ms seconds; an unknown unit passes through.
#[test]
fn probe_values_thresholds_min_and_max_are_in_base_units() {
    let (snap, stats) = (snapshot(), stats());
    let text = render(&scrape(Some(&snap), &stats), Format::Text004);
    let mib = 1_048_576.0;
    let disk = |family: &str, extra: &str, v: f64| {
        format!("hbnode_{family}{{node=\"web-2\",probe=\"disk./\"{extra},unit=\"bytes\"}} {v}")
    };
    let threshold = |probe: &str,
                     level: &str,
                     bound: &str,
                     alerts: &str,
                     source: &str,
                     unit: &str,
                     v: f64| {
        format!(
            "hbnode_probe_threshold{{node=\"web-2\",probe=\"{probe}\",level=\"{level}\",bound=\"{bound}\",alerts=\"{alerts}\",source=\"{source}\",unit=\"{unit}\"}} {v}"
        )
    };
    for line in [
        disk("probe_value", "", 5960.0 * mib),
        disk("probe_min", "", 0.0),
        disk("probe_max", "", 5968.0 * mib),
        threshold(
            "disk./", "warning", "low", "outside", "plugin", "bytes", 0.0,
        ),
        threshold(
            "disk./",
            "warning",
            "high",
            "outside",
            "plugin",
            "bytes",
            5948.0 * mib,
        ),
        threshold(
            "disk./",
            "error",
            "high",
            "outside",
            "plugin",
            "bytes",
            5958.0 * mib,
        ),
        "hbnode_probe_value{node=\"web-2\",probe=\"used\",unit=\"ratio\"} 0.91".into(),
        "hbnode_probe_max{node=\"web-2\",probe=\"used\",unit=\"ratio\"} 1".into(),
        threshold("used", "warning", "low", "inside", "rule", "ratio", 0.95),
        threshold("used", "warning", "high", "inside", "rule", "ratio", 1.0),
        threshold("used", "error", "high", "outside", "rule", "ratio", 0.9),
        "hbnode_probe_value{node=\"web-2\",probe=\"rta\",unit=\"seconds\"} 0.25".into(),
        threshold("rta", "error", "low", "outside", "plugin", "seconds", 0.1),
        "hbnode_probe_value{node=\"web-2\",probe=\"fan\",unit=\"rpm\"} 900".into(),
        "hbnode_probe_value{node=\"web-2\",probe=\"load1\"} 0.5".into(),
    ] {
        assert!(has(&text, &line), "missing `{line}` in:\n{text}");
    }
    // Open ends have no series: `~:90` has no low bound, `100:` no high one.
    for absent in [
        "probe=\"used\",level=\"error\",bound=\"low\"",
        "probe=\"rta\",level=\"error\",bound=\"high\"",
        "probe=\"fan\",level=",
        "probe=\"load1\",level=",
    ] {
        assert!(!text.contains(absent), "{absent} in:\n{text}");
    }
    // A down node's thresholds, min and max end with its value.
    for family in ["probe_threshold", "probe_min", "probe_max"] {
        let prefix = format!("hbnode_{family}{{node=\"web-1\"");
        assert!(!text.contains(&prefix), "{prefix} in:\n{text}");
    }
}

#[test]
fn node_state_has_one_series_per_known_state_of_each_node() {
    let (snap, stats) = (snapshot(), stats());
    let text = render(&scrape(Some(&snap), &stats), Format::Text004);
    for n in &snap.nodes {
        let mut ones = 0;
        for s in hb_core::NodeState::ALL {
            let label = n.id.replace('"', "\\\"");
            let prefix = format!(
                "hbnode_node_state{{node=\"{label}\",state=\"{}\"}} ",
                s.as_str()
            );
            let line = text.lines().find(|l| l.starts_with(&prefix));
            let v = line.unwrap_or_else(|| panic!("no `{prefix}` in:\n{text}"));
            ones += usize::from(v.ends_with(" 1"));
        }
        assert_eq!(ones, 1, "node {} is in exactly one state", n.id);
    }
}

#[test]
fn a_detector_that_does_not_answer_gives_ready_0_and_the_process_counters_only() {
    let stats = stats();
    let text = render(&scrape(None, &stats), Format::Text004);
    assert!(has(&text, "hbnode_ready 0"), "{text}");
    assert!(has(&text, "hbnode_datagrams_received_total 12"), "{text}");
    assert!(
        has(&text, "hbnode_events_dropped_total{sink=\"stdout\"} 0"),
        "{text}"
    );
    for absent in [
        "hbnode_node_",
        "hbnode_nodes",
        "hbnode_probe_",
        "hbnode_beats_received",
    ] {
        assert!(!text.contains(absent), "{absent} in:\n{text}");
    }
}

#[test]
fn the_kernel_drops_family_is_absent_where_they_cannot_be_read() {
    let (snap, stats) = (snapshot(), stats());
    let mut s = scrape(Some(&snap), &stats);
    s.kernel_drops = None;
    let text = render(&s, Format::OpenMetrics);
    assert!(!text.contains("receive_buffer_drops"), "{text}");
}

#[test]
fn every_family_is_documented_in_docs_metrics_md() {
    let (snap, stats) = (snapshot(), stats());
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let docs = std::fs::read_to_string(&docs).expect("docs/metrics.md");
    let text = render(&scrape(Some(&snap), &stats), Format::Text004);
    for name in text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
    {
        assert!(
            docs.contains(&format!("`{name}")),
            "docs/metrics.md does not document `{name}`"
        );
    }
}

/// Compares `got` with the golden file `name`, or rewrites it under `UPDATE_GOLDEN=1`.
fn golden(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/http/metrics/testdata")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if want == got {
        return;
    }
    let mut diff = String::new();
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            diff.push_str(&format!(
                "line {}:\n  - {}\n  + {}\n",
                i + 1,
                a.unwrap_or(&"(none)"),
                b.unwrap_or(&"(none)")
            ));
        }
    }
    panic!(
        "{} differs from the rendered exposition (- file, + rendered):\n{diff}\n\
         If the change is intended: UPDATE_GOLDEN=1 cargo test -p hb-node --bin hbnode \
         http::metrics::tests::golden, then review `git diff`.",
        path.display()
    );
}

#[test]
fn golden_text_004() {
    let (snap, stats) = (snapshot(), stats());
    golden(
        "e2e-output.txt",
        &render(&scrape(Some(&snap), &stats), Format::Text004),
    );
}

#[test]
fn golden_openmetrics() {
    let (snap, stats) = (snapshot(), stats());
    golden(
        "e2e-output.openmetrics.txt",
        &render(&scrape(Some(&snap), &stats), Format::OpenMetrics),
    );
}
