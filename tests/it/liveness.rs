//! Issue 3's scenario: a monitor with a 1 s timeout and three beaters at 200 ms; crash one,
//! restart it, stop another gracefully; the event stream, `/v1/nodes`, `/metrics` and
//! `hbnode status --json` must agree.

use std::process::Command;
use std::thread;
use std::time::Duration;

use hb_tests::{Proc, TestMonitor, event_names, hbnode, http_get, metric, wait_for};
use serde_json::Value;

fn beater(id: &str, udp: &str) -> Proc {
    Proc::hbnode(&["beat", "--to", udp, "--period", "200ms", "--id", id])
}

fn has(mon: &Proc, node: &str, event: &str) -> Option<Value> {
    mon.json_lines()
        .into_iter()
        .find(|e| e["node"] == node && e["event"] == event)
}

fn count(mon: &Proc, node: &str, event: &str) -> usize {
    event_names(&mon.json_lines())
        .iter()
        .filter(|(n, e)| n == node && e == event)
        .count()
}

#[test]
fn crash_restart_and_graceful_stop_are_reported_and_agree_across_outputs() {
    let mut tm = TestMonitor::start(&["--timeout", "1s"]);
    let (udp, http) = (tm.udp.clone(), tm.http.clone());
    let mon = &mut tm.proc;

    let mut a = beater("a", &udp);
    let b = beater("b", &udp);
    let _c = beater("c", &udp);
    for n in ["a", "b", "c"] {
        wait_for(&format!("{n} joined"), || has(mon, n, "joined"));
    }

    // kill -9 a: exactly one down, for a only.
    a.kill();
    let down = wait_for("a down", || has(mon, "a", "down"));
    assert_eq!(down["reason"], "silence");
    assert!(down["silence_ms"].as_u64().unwrap() >= 1000, "{down}");
    let first_incarnation = down["incarnation"].as_u64().unwrap();

    // Start a again: a new incarnation, reported as restarted (was down).
    let _a2 = beater("a", &udp);
    let restarted = wait_for("a restarted", || has(mon, "a", "restarted"));
    assert_eq!(
        restarted["previous_incarnation"].as_u64(),
        Some(first_incarnation)
    );
    assert_eq!(restarted["was_down"], true);
    assert!(restarted["incarnation"].as_u64().unwrap() > first_incarnation);

    // SIGTERM b: left, exit 0.
    b.term();
    wait_for("b left", || has(mon, "b", "left"));
    let mut b = b;
    assert!(
        b.wait().success(),
        "beat exits 0 on SIGTERM: {}",
        b.stderr()
    );

    // Longer than the timeout, so a wrongful down would have shown.
    thread::sleep(Duration::from_millis(2500));
    let events = event_names(&mon.json_lines());
    assert_eq!(count(mon, "a", "down"), 1, "{events:?}");
    assert_eq!(count(mon, "b", "down"), 0, "{events:?}");
    assert_eq!(count(mon, "c", "down"), 0, "{events:?}");
    let a_events: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "a")
        .map(|(_, e)| e.as_str())
        .collect();
    assert_eq!(a_events, ["joined", "down", "restarted"]);
    let b_events: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "b")
        .map(|(_, e)| e.as_str())
        .collect();
    assert_eq!(b_events, ["joined", "left"]);

    // /v1/nodes, /metrics and `hbnode status --json` agree.
    let (status, body) = http_get(&http, "/v1/nodes").expect("GET /v1/nodes");
    assert_eq!(status, 200);
    let nodes: Vec<Value> = serde_json::from_str(&body).expect("JSON");
    let state = |nodes: &[Value], id: &str| -> String {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .and_then(|n| n["state"].as_str())
            .unwrap_or("missing")
            .to_owned()
    };
    for (id, want) in [("a", "alive"), ("b", "left"), ("c", "alive")] {
        assert_eq!(state(&nodes, id), want, "/v1/nodes: {body}");
    }

    let (status, one) = http_get(&http, "/v1/nodes/c").expect("GET /v1/nodes/c");
    assert_eq!(status, 200, "{one}");
    let one: Value = serde_json::from_str(&one).expect("JSON");
    assert_eq!(one["state"], "alive");
    assert_eq!(
        http_get(&http, "/v1/nodes/nobody").map(|(s, _)| s),
        Some(404)
    );

    let (_, metrics) = http_get(&http, "/metrics").expect("GET /metrics");
    for (id, up) in [("a", 1.0), ("b", 0.0), ("c", 1.0)] {
        assert_eq!(
            metric(&metrics, &format!("hbnode_node_up{{node=\"{id}\"}}")),
            Some(up),
            "{metrics}"
        );
    }
    assert_eq!(metric(&metrics, "hbnode_nodes{state=\"alive\"}"), Some(2.0));
    assert_eq!(metric(&metrics, "hbnode_nodes{state=\"left\"}"), Some(1.0));
    assert_eq!(
        metric(&metrics, "hbnode_events_total{event=\"down\"}"),
        Some(1.0)
    );
    assert!(metric(&metrics, "hbnode_beats_received_total").unwrap() > 10.0);

    let out = Command::new(hbnode())
        .args(["status", "--json", "--http", &http])
        .output()
        .expect("run hbnode status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    for (id, want) in [("a", "alive"), ("b", "left"), ("c", "alive")] {
        assert_eq!(state(&listed, id), want);
    }
    let table = Command::new(hbnode())
        .args(["status", "--http", &http])
        .output()
        .expect("run hbnode status");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("b ") && l.contains("left")),
        "{table}"
    );

    // /v1/events?since= returns only newer events.
    let (_, recent) = http_get(&http, "/v1/events?since=3").expect("GET /v1/events");
    let recent: Value = serde_json::from_str(&recent).expect("JSON");
    let ids: Vec<u64> = recent["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_id"].as_u64().unwrap())
        .collect();
    assert!(!ids.is_empty() && ids.iter().all(|i| *i > 3), "{recent}");

    // SIGTERM the monitor: exit 0 with every event written.
    let before = mon.json_lines().len();
    mon.term();
    assert!(mon.wait().success(), "monitor exits 0: {}", mon.stderr());
    assert_eq!(mon.json_lines().len(), before);
}

/// Issue 14: logs written to a file or a pipe carry no ANSI colour codes.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let m = TestMonitor::start(&[]);
    let stderr = wait_for("the start-up warning on stderr", || {
        let e = m.proc.stderr();
        e.contains("unauthenticated").then_some(e)
    });
    assert!(!stderr.contains('\u{1b}'), "ANSI escape in {stderr:?}");
}

/// Issue 14: a receive buffer the kernel caps is one warning that names the fix, not one per
/// listener.
#[test]
fn a_capped_receive_buffer_warns_once_with_the_sysctl_that_fixes_it() {
    // More than the kernel allows (Linux grants at most twice net.core.rmem_max).
    let rmem_max: u64 = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .expect("/proc/sys/net/core/rmem_max")
        .trim()
        .parse()
        .expect("a number");
    let asked = (rmem_max * 4).max(1 << 30);
    assert!(
        asked <= i32::MAX as u64,
        "net.core.rmem_max {rmem_max} is too large to ask for more"
    );
    let second = format!("udp://127.0.0.1:{}", hb_tests::free_udp_port());
    let m = TestMonitor::builder()
        .listen(&second)
        .args(&["--recv-buffer", &asked.to_string()])
        .start();
    let stderr = wait_for("the start-up warning on stderr", || {
        let e = m.proc.stderr();
        e.contains("unauthenticated").then_some(e)
    });
    let warnings = stderr
        .matches("granted a smaller UDP receive buffer")
        .count();
    assert_eq!(warnings, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("sysctl -w net.core.rmem_max={asked}")),
        "{stderr}"
    );
}
