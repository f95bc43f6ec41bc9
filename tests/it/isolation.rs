//! Issue 16 §1 live: the monitor tells its own blindness from node failures.
//!
//! Twenty beaters stopped at once (SIGSTOP) for three timeouts: one `isolated`, no `down`;
//! continued (SIGCONT): one `reconnected`, no `up` storm; then three killed: three `down`, each
//! with an ordinary silence. The monitor cannot tell twenty stopped beaters from its own cut
//! uplink, and that is the point: from where it sits they look the same.

use std::process::Command;
use std::thread;
use std::time::Duration;

use hb_tests::{ContinueOnDrop, Proc, TempDir, TestMonitor, beater, http_get, signal, wait_for};
use serde_json::Value;

const NODES: usize = 20;

fn names(events: &[Value], name: &str) -> usize {
    events.iter().filter(|e| e["event"] == name).count()
}

#[test]
fn twenty_stopped_beaters_are_one_isolated_and_no_down_then_three_crashes_are_three_downs() {
    let dir = TempDir::new("isolation-hook");
    let seen = dir.0.join("hooks");
    let hook = |event: &str| {
        format!(
            "{event}=echo \"$HBNODE_EVENT $HBNODE_NODE $HBNODE_NODES\" >> {}",
            seen.display()
        )
    };
    let (on_isolated, on_reconnected) = (hook("isolated"), hook("reconnected"));
    let tm = TestMonitor::start(&[
        "--timeout",
        "1s",
        "--id",
        "mon-iso",
        "--on",
        &on_isolated,
        "--on",
        &on_reconnected,
    ]);
    let mut beaters: Vec<Proc> = (0..NODES)
        .map(|i| beater(&tm.udp, "200ms", &format!("node-{i:02}")))
        .collect();
    wait_for("twenty joined", || {
        (tm.count("joined") >= NODES).then_some(())
    });
    // Let every node settle into its rhythm (the first beats are bunched).
    thread::sleep(Duration::from_secs(1));
    let before = tm.proc.json_lines().len();

    let _cont = ContinueOnDrop(beaters.iter().map(Proc::pid).collect());
    signal(&beaters, "-STOP");
    // Three timeouts of silence.
    thread::sleep(Duration::from_secs(3));
    let during: Vec<Value> = tm.proc.json_lines()[before..].to_vec();
    assert_eq!(names(&during, "isolated"), 1, "{during:#?}");
    assert_eq!(names(&during, "down"), 0, "{during:#?}");
    let iso = during.iter().find(|e| e["event"] == "isolated").unwrap();
    assert_eq!(
        iso["node"], "mon-iso",
        "a monitor-level event names the monitor"
    );
    assert_eq!(iso["nodes"], NODES as u64, "{iso}");
    assert_eq!(iso["watched"], NODES as u64, "{iso}");
    // The API, metrics and page data agree while it lasts.
    let (_, summary) = http_get(&tm.http, "/v1/summary").expect("summary");
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["isolation"]["isolated"], true, "{summary}");
    assert_eq!(summary["isolation"]["held"], NODES as u64, "{summary}");
    assert_eq!(tm.metric("hbnode_isolated"), 1.0);
    assert_eq!(
        tm.metric("hbnode_nodes{state=\"unreachable\"}"),
        NODES as f64
    );
    let status = Command::new(hb_tests::hbnode())
        .args(["status", "--http", &tm.http])
        .output()
        .expect("hbnode status");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.starts_with("ISOLATED since "), "{text}");
    assert!(text.contains("unreachable"), "{text}");

    signal(&beaters, "-CONT");
    wait_for("reconnected", || {
        (names(&tm.proc.json_lines()[before..], "reconnected") == 1).then_some(())
    });
    // Every beater gets a few periods to be heard again.
    thread::sleep(Duration::from_secs(1));
    let after: Vec<Value> = tm.proc.json_lines()[before..].to_vec();
    assert_eq!(names(&after, "up"), 0, "no up storm: {after:#?}");
    assert_eq!(names(&after, "down"), 0, "{after:#?}");
    assert_eq!(tm.metric("hbnode_isolated"), 0.0);
    assert_eq!(tm.metric("hbnode_nodes{state=\"alive\"}"), NODES as f64);
    // Each reached the exec hooks once, with the monitor as its node and the count.
    let ran = wait_for("both hooks ran", || {
        let text = std::fs::read_to_string(&seen).ok()?;
        (text.lines().count() >= 2).then_some(text)
    });
    let mut lines = ran.lines();
    assert_eq!(lines.next(), Some("isolated mon-iso 20"), "{ran}");
    let reconnected = lines.next().unwrap_or_default();
    assert!(reconnected.starts_with("reconnected mon-iso "), "{ran}");

    // Three real crashes among seventeen that beat on: three ordinary downs.
    let mark = tm.proc.json_lines().len();
    for b in &mut beaters[..3] {
        b.kill();
    }
    wait_for("three downs", || {
        (names(&tm.proc.json_lines()[mark..], "down") == 3).then_some(())
    });
    thread::sleep(Duration::from_secs(1));
    let last: Vec<Value> = tm.proc.json_lines()[mark..].to_vec();
    assert_eq!(names(&last, "down"), 3, "{last:#?}");
    assert_eq!(names(&last, "isolated"), 0, "{last:#?}");
    for e in last.iter().filter(|e| e["event"] == "down") {
        assert_eq!(e["reason"], "silence", "{e}");
        let n = e["node"].as_str().unwrap();
        assert!(["node-00", "node-01", "node-02"].contains(&n), "{e}");
    }
}
