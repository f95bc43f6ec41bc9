//! Issue 14: `/metrics` that lints. A live monitor with nodes alive, down (kill -9) and left
//! (SIGTERM), probes and legacy listeners: the default answer is text format 0.0.4 and the
//! real `promtool check metrics` passes it with no output; a Prometheus server's `Accept`
//! gets OpenMetrics, structurally valid; `hbnode_node_state` tells the three states apart.

mod openmetrics;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use hb_tests::{Proc, TestMonitor, http_get, metric, tool, wait_for};

/// What a Prometheus 2.42 server sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

const TEXT_004: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The golden files of `node/src/http/metrics/tests.rs`.
fn golden(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../node/src/http/metrics/testdata")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `promtool check metrics` on `text`: its exit success and everything it printed.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new(tool("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).expect("write to promtool");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool output");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

/// `GET /metrics` with `accept` (none if `None`): status, `Content-Type`, body.
fn scrape(http: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(http).expect("connect to the monitor");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {http}\r\n{accept}\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read the answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

fn beater(udp: &str, id: &str, sensor: bool) -> Proc {
    let mut args = vec!["beat", "--to", udp, "--period", "200ms", "--id", id];
    if sensor {
        args.extend(["--sensor", r#"cmd:check@200ms=sh -c "echo OK; exit 0""#]);
    }
    Proc::hbnode(&args)
}

fn state(text: &str, node: &str, state: &str) -> Option<f64> {
    metric(
        text,
        &format!("hbnode_node_state{{node=\"{node}\",state=\"{state}\"}}"),
    )
}

#[test]
fn the_golden_files_pass_promtool_and_the_openmetrics_check() {
    let (ok, printed) = promtool(&golden("e2e-output.txt"));
    assert!(
        ok && printed.is_empty(),
        "promtool on e2e-output.txt:\n{printed}"
    );
    let om = golden("e2e-output.openmetrics.txt");
    openmetrics::check(&om).unwrap_or_else(|e| panic!("e2e-output.openmetrics.txt: {e}"));
}

#[test]
fn the_openmetrics_check_refuses_what_the_format_forbids() {
    let good = "# TYPE a counter\n# HELP a A\na_total 1\n# EOF\n";
    assert_eq!(openmetrics::check(good), Ok(()));
    for bad in [
        "# TYPE a counter\na_total 1\n",
        "# TYPE a counter\na 1\n# EOF\n",
        "# TYPE a_total counter\na_total_total 1\n# EOF\n",
        "# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n",
        "# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n# EOF\n",
        "# TYPE a gauge\na 1\na 2\n# EOF\n",
        "# TYPE a gauge\na inf\n# EOF\n",
        "# TYPE a counter\na_total -1\n# EOF\n",
        "# TYPE a info\na_info{v=\"1\"} 2\n# EOF\n",
        "# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# EOF\n",
        "# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_count 2\n# EOF\n",
        "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n# EOF\n",
        "# TYPE a gauge\na{x=\"\\q\"} 1\n# EOF\n",
        "# TYPE a gauge\n\na 1\n# EOF\n",
        "# TYPE a gauge\na 1\n# HELP a late\n# EOF\n",
    ] {
        assert!(openmetrics::check(bad).is_err(), "accepted:\n{bad}");
    }
}

#[test]
fn metrics_lint_clean_in_0_0_4_negotiate_openmetrics_and_tell_node_states_apart() {
    let tm = TestMonitor::builder()
        .listen("pyhb+udp://127.0.0.1:0")
        .listen("json+tcp://127.0.0.1:0")
        .args(&["--db", "none", "--timeout", "1s"])
        .start();
    let (udp, http) = (tm.udp.clone(), tm.http.clone());

    let _alive = beater(&udp, "alive-1", true);
    let mut down = beater(&udp, "down-1", true);
    let left = beater(&udp, "left-1", false);
    wait_for("both probes reported", || {
        let (_, _, m) = scrape(&http, None);
        let v = |n: &str| {
            metric(
                &m,
                &format!("hbnode_probe_value{{node=\"{n}\",probe=\"check\"}}"),
            )
        };
        (v("alive-1").is_some()
            && v("down-1").is_some()
            && state(&m, "left-1", "alive") == Some(1.0))
        .then_some(())
    });

    down.kill(); // kill -9
    left.term();
    wait_for("down-1 down and left-1 left", || {
        let (_, _, m) = scrape(&http, None);
        (state(&m, "down-1", "down") == Some(1.0) && state(&m, "left-1", "left") == Some(1.0))
            .then_some(())
    });

    // curl: no Accept → 0.0.4, clean under promtool.
    let (status, content_type, text) = scrape(&http, None);
    assert_eq!((status, content_type.as_str()), (200, TEXT_004));
    let (ok, printed) = promtool(&text);
    assert!(
        ok && printed.is_empty(),
        "promtool check metrics:\n{printed}\non:\n{text}"
    );
    for accept in ["text/plain", "*/*", "text/plain;version=0.0.4"] {
        let (_, content_type, body) = scrape(&http, Some(accept));
        assert_eq!(content_type, TEXT_004, "Accept: {accept}");
        let (ok, printed) = promtool(&body);
        assert!(
            ok && printed.is_empty(),
            "promtool check metrics (Accept: {accept}):\n{printed}"
        );
    }

    // One series per state per node; exactly the current one is 1.
    for (node, current) in [("alive-1", "alive"), ("down-1", "down"), ("left-1", "left")] {
        for s in ["alive", "down", "left"] {
            let want = if s == current { 1.0 } else { 0.0 };
            assert_eq!(state(&text, node, s), Some(want), "{node} {s}:\n{text}");
        }
    }
    assert_eq!(metric(&text, "hbnode_node_up{node=\"left-1\"}"), Some(0.0));
    assert_eq!(metric(&text, "hbnode_ready"), Some(1.0));
    // The fixed detector's timeout is the silence after which an alive node is down; only
    // alive nodes have one, in /metrics and /v1/nodes alike.
    assert_eq!(
        metric(&text, "hbnode_node_timeout_seconds{node=\"alive-1\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "hbnode_node_timeout_seconds{node=\"down-1\"}"),
        None
    );
    let (_, nodes) = http_get(&http, "/v1/nodes").expect("GET /v1/nodes");
    let nodes: serde_json::Value = serde_json::from_str(&nodes).expect("JSON");
    let timeout = |id: &str| {
        nodes
            .as_array()
            .and_then(|a| a.iter().find(|n| n["id"] == id))
            .map(|n| n["timeout_ms"].clone())
    };
    assert_eq!(timeout("alive-1"), Some(serde_json::json!(1000)), "{nodes}");
    assert_eq!(timeout("down-1"), Some(serde_json::Value::Null), "{nodes}");
    // The killed node's probe is no longer reported as current.
    assert_eq!(
        metric(&text, "hbnode_probe_value{node=\"down-1\",probe=\"check\"}"),
        None,
        "{text}"
    );
    assert_eq!(
        metric(&text, "hbnode_probe_state{node=\"down-1\",probe=\"check\"}"),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &text,
            "hbnode_probe_value{node=\"alive-1\",probe=\"check\"}"
        ),
        Some(0.0)
    );
    // The down was declared, and its slack observed.
    assert!(
        metric(&text, "hbnode_detection_slack_seconds_count") >= Some(1.0),
        "{text}"
    );
    // Every UDP listener's kernel drops are read (Linux); the TCP listener has none.
    let drops: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("hbnode_receive_buffer_drops_total{"))
        .collect();
    assert_eq!(drops.len(), 2, "{text}");
    assert!(
        drops
            .iter()
            .any(|l| l.contains(&format!("listener=\"udp://{udp}\""))),
        "{drops:?}"
    );

    // A Prometheus server gets OpenMetrics, structurally valid, with the same states.
    for accept in [PROMETHEUS_ACCEPT, "application/openmetrics-text"] {
        let (status, content_type, om) = scrape(&http, Some(accept));
        assert_eq!(
            (status, content_type.as_str()),
            (200, OPENMETRICS),
            "Accept: {accept}"
        );
        openmetrics::check(&om).unwrap_or_else(|e| panic!("{e}\nin:\n{om}"));
        assert!(om.contains("# TYPE hbnode_build info\n"), "{om}");
        assert!(
            om.contains("# UNIT hbnode_node_last_beat_timestamp_seconds seconds\n"),
            "{om}"
        );
        assert_eq!(state(&om, "down-1", "down"), Some(1.0));
        assert_eq!(state(&om, "left-1", "left"), Some(1.0));
        assert_eq!(state(&om, "alive-1", "alive"), Some(1.0));
    }
}

/// Sends `sig` (`-STOP`, `-CONT`) to `pid` through kill(1).
fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill {sig} {pid} failed");
}

#[test]
fn datagrams_the_kernel_drops_for_a_full_receive_buffer_are_counted_per_listener() {
    // The smallest buffer the kernel grants (it doubles the ask and has a floor of a few KiB).
    let tm = TestMonitor::builder()
        .args(&["--db", "none", "--recv-buffer", "4KiB"])
        .start();
    let (udp, http) = (tm.udp.clone(), tm.http.clone());
    let listener = format!("hbnode_receive_buffer_drops_total{{listener=\"udp://{udp}\"}}");
    let (_, _, before) = scrape(&http, None);
    assert_eq!(metric(&before, &listener), Some(0.0), "{before}");

    // Stopped, the monitor reads nothing: 500 datagrams of 200 bytes overflow its buffer.
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    signal(tm.proc.pid(), "-STOP");
    for _ in 0..500 {
        let _ = sender.send_to(&[0u8; 200], &udp);
    }
    signal(tm.proc.pid(), "-CONT");
    let dropped = wait_for("the kernel's drops in /metrics", || {
        let (_, _, m) = scrape(&http, None);
        metric(&m, &listener).filter(|d| *d > 0.0)
    });
    assert!(dropped <= 500.0, "{dropped}");
}
