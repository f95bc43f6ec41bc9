//! Issue 6: readings judged against `--threshold` ranges with hysteresis — probe events,
//! `/v1/nodes/{id}` probes, Prometheus gauges, and `hbnode check` as Nagios runs it.

use std::net::UdpSocket;
use std::process::Command;

use hb_core::wire::{self, Beat, Message, Reading, Readings};
use hb_tests::{TestMonitor, hbnode, http_get, wait_for};

/// Sends beat `seq` of `node` carrying one `load1` reading.
fn send(sock: &UdpSocket, to: &str, node: &str, seq: u64, load: f64) {
    let readings = [
        Reading::new("load1", load, 0),
        Reading::new("plugin", 0.0, 0),
    ];
    let msg = Message::Beat(Beat {
        period_ms: 1000,
        readings: Readings::from_slice(&readings),
        ..Beat::new(node, 1, seq)
    });
    let mut buf = vec![0; wire::MAX_DATAGRAM];
    let n = wire::encode(&msg, None, &mut buf).expect("encode");
    sock.send_to(&buf[..n], to).expect("send");
}

/// `hbnode check` against `http`: (exit code, first line, whole output).
fn check(http: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(hbnode())
        .args(["check", "--http", http, "--timeout", "5s"])
        .args(args)
        .output()
        .expect("run hbnode check");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let first = text.lines().next().unwrap_or_default().to_owned();
    (out.status.code().expect("exit code"), first, text)
}

#[test]
fn thresholds_drive_probe_events_metrics_and_nagios_checks() {
    let mon = TestMonitor::start(&[
        "--timeout",
        "30s",
        "--threshold",
        "load1 warning=4 error=8",
        "--threshold",
        "load1 error=100 nodes=db-*",
        "--probe-hysteresis",
        "2",
    ]);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    // web-1: ok, then two readings in error → one probe_error; db-1: same values, its own rule.
    for (seq, load) in [(1, 1.0), (2, 9.0), (3, 9.5)] {
        send(&sock, &mon.udp, "web-1", seq, load);
        send(&sock, &mon.udp, "db-1", seq, load);
    }
    let ev = wait_for("web-1 probe_error", || {
        mon.events_for("web-1")
            .into_iter()
            .find(|e| e["event"] == "probe_error")
    });
    assert_eq!(ev["probe"], "load1");
    assert_eq!(ev["reading"], 9.5);
    assert_eq!(ev["previous_state"], "ok");
    wait_for("the gauges", || {
        (mon.metric("hbnode_probe_value{node=\"web-1\",probe=\"load1\"}") == 9.5
            && mon.metric("hbnode_probe_state{node=\"web-1\",probe=\"load1\"}") == 2.0)
            .then_some(())
    });
    assert_eq!(
        mon.metric("hbnode_probe_state{node=\"db-1\",probe=\"load1\"}"),
        0.0
    );
    assert!(
        mon.events_for("db-1")
            .iter()
            .all(|e| e["event"] != "probe_error"),
        "db-* override"
    );

    let (_, body) = http_get(&mon.http, "/v1/nodes/web-1").expect("node");
    let node: serde_json::Value = serde_json::from_str(&body).expect("json");
    let load = &node["probes"][0];
    assert_eq!(load["name"], "load1");
    assert_eq!(load["state"], "error");
    assert_eq!(load["warning"], "4");
    assert_eq!(load["error"], "8");

    let (code, line, text) = check(&mon.http, &["--node", "web-1"]);
    assert_eq!(code, 2, "{text}");
    assert!(line.starts_with("HBNODE CRITICAL - web-1 alive"), "{line}");
    assert!(line.contains("| silence="), "{line}");
    assert!(line.contains(" load1=9.5;4;8"), "{line}");
    let (code, line, _) = check(&mon.http, &["--node", "web-1", "--probe", "plugin"]);
    assert_eq!(
        (code, line.starts_with("HBNODE OK - web-1 plugin=0 is ok")),
        (0, true),
        "{line}"
    );
    let (code, _, _) = check(&mon.http, &["--node", "db-1"]);
    assert_eq!(code, 0);
    let (code, line, _) = check(&mon.http, &["--node", "web-1", "--probe", "nope"]);
    assert_eq!(code, 3, "{line}");
    let out = Command::new(hbnode())
        .args(["status", "--http", &mon.http])
        .output()
        .expect("run hbnode status");
    let table = String::from_utf8(out.stdout).expect("utf-8");
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        table.lines().next().unwrap_or_default().ends_with("PROBES"),
        "{table}"
    );
    assert!(row("web-1").ends_with("load1 error"), "{table}");
    assert!(row("db-1").ends_with("2 ok"), "{table}");
    let (code, line, _) = check(&mon.http, &["--node", "nobody"]);
    assert_eq!(code, 3);
    assert!(line.contains("not known"), "{line}");

    // Back under the warning line: error → warning needs two readings, then ok needs two.
    for (seq, load) in [(4, 5.0), (5, 5.0), (6, 1.0), (7, 1.0)] {
        send(&sock, &mon.udp, "web-1", seq, load);
    }
    wait_for("web-1 probe_ok", || {
        mon.events_for("web-1")
            .into_iter()
            .find(|e| e["event"] == "probe_ok")
    });
    let names: Vec<String> = mon
        .events_for("web-1")
        .iter()
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        names,
        ["joined", "probe_error", "probe_warning", "probe_ok"]
    );
    let (code, line, _) = check(&mon.http, &["--node", "web-1"]);
    assert_eq!(code, 0, "{line}");
}

#[test]
fn check_without_a_monitor_is_unknown() {
    let port = hb_tests::free_tcp_port();
    let (code, line, _) = check(&format!("127.0.0.1:{port}"), &["--node", "web-1"]);
    assert_eq!(code, 3);
    assert!(
        line.starts_with("HBNODE UNKNOWN - cannot connect"),
        "{line}"
    );
}

#[test]
fn a_bad_threshold_is_a_clear_error() {
    let out = TestMonitor::builder()
        .args(&["--threshold", "load1 warning=8:4"])
        .expect_exit();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("range start 8 is above its end 4"), "{err}");
}
