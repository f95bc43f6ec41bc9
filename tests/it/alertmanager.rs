//! Issue 5: a real Alertmanager (Debian's `prometheus-alertmanager`, installed by `.ci/run`) on
//! loopback. A killed beater fires one `HbnodeNodeDown` alert even though two monitors watch
//! it (the monitor's identity is an annotation, not a label), and the alert resolves when the
//! beater returns.

use std::path::PathBuf;
use std::process::Command;

use hb_tests::{
    ContinueOnDrop, Proc, TempDir, TestMonitor, beater, free_tcp_port, http_get, signal, wait_for,
};
use serde_json::Value;

/// The Alertmanager binary, from PATH.
fn alertmanager_bin() -> PathBuf {
    hb_tests::tool("prometheus-alertmanager", "prometheus-alertmanager")
}

/// The active alerts for `node` at Alertmanager `am`.
pub(crate) fn alerts_for(am: &str, node: &str) -> Option<Vec<Value>> {
    let (status, body) = http_get(am, "/api/v2/alerts")?;
    if status != 200 {
        return None;
    }
    let all: Vec<Value> = serde_json::from_str(&body).ok()?;
    Some(
        all.into_iter()
            .filter(|a| a["labels"]["node"] == node)
            .collect(),
    )
}

/// Alerts Alertmanager `am` has received so far (its `alertmanager_alerts_received_total`,
/// summed over its labels).
pub(crate) fn alerts_received(am: &str) -> Option<f64> {
    let (_, m) = http_get(am, "/metrics")?;
    Some(
        m.lines()
            .filter(|l| l.starts_with("alertmanager_alerts_received_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

#[test]
fn killed_beater_fires_one_alert_from_two_monitors_and_it_resolves_when_it_returns() {
    let dir = TempDir::new("alertmanager");
    let (_alertmanager, am) = start_alertmanager(&dir);

    let am_url = format!("http://{am}");
    let monitor = |id: &str| {
        let m = TestMonitor::start(&[
            "--timeout",
            "1s",
            "--id",
            id,
            "--alertmanager",
            &am_url,
            // Long resend: endsAt is 2 minutes ahead, so only an explicit resolve can end the
            // alert within the test's deadlines.
            "--alertmanager-resend",
            "30s",
            "--alertmanager-label",
            "team=infra",
        ]);
        (m.proc, m.udp)
    };
    let (mon_a, udp_a) = monitor("mon-a");
    let (mon_b, udp_b) = monitor("mon-b");
    let beater = || {
        Proc::hbnode(&[
            "beat", "--to", &udp_a, "--to", &udp_b, "--period", "200ms", "--id", "web-1",
        ])
    };
    let has = |m: &Proc, ev: &str| {
        m.json_lines()
            .into_iter()
            .any(|e| e["node"] == "web-1" && e["event"] == ev)
            .then_some(())
    };

    let mut b = beater();
    wait_for("web-1 joined both monitors", || {
        has(&mon_a, "joined").and(has(&mon_b, "joined"))
    });
    assert_eq!(alerts_for(&am, "web-1").map(|a| a.len()), Some(0));

    b.kill();
    wait_for("web-1 down on both monitors", || {
        has(&mon_a, "down").and(has(&mon_b, "down"))
    });
    let firing = wait_for("a firing alert", || {
        alerts_for(&am, "web-1").filter(|a| !a.is_empty())
    });
    // Let the second monitor's POST land too, then check there is still exactly one.
    wait_for("both monitors' alerts received", || {
        (alerts_received(&am)? >= 2.0).then_some(())
    });
    let firing_now = alerts_for(&am, "web-1").unwrap();
    assert_eq!(firing_now.len(), 1, "deduplicated: {firing_now:?}");
    let alert = &firing[0];
    assert_eq!(alert["labels"]["alertname"], "HbnodeNodeDown");
    assert_eq!(alert["labels"]["team"], "infra");
    assert_eq!(alert["status"]["state"], "active");
    assert!(alert["labels"].get("monitor").is_none());
    let monitor_annotation = alert["annotations"]["monitor"].as_str().unwrap().to_owned();
    assert!(["mon-a", "mon-b"].contains(&monitor_annotation.as_str()));

    let _b2 = beater();
    wait_for("web-1 back on both monitors", || {
        has(&mon_a, "restarted").and(has(&mon_b, "restarted"))
    });
    wait_for("the alert resolved", || {
        alerts_for(&am, "web-1").filter(Vec::is_empty)
    });
}

/// Starts Alertmanager on a fresh loopback port in `dir`; its address once ready.
pub(crate) fn start_alertmanager(dir: &TempDir) -> (Proc, String) {
    start_alertmanager_with(dir, "")
}

/// The active alerts of `node` by alertname.
fn active(am: &str, node: &str) -> Vec<String> {
    let mut names: Vec<String> = alerts_for(am, node)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["status"]["state"] == "active")
        .map(|a| {
            a["labels"]["alertname"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

/// Issue 13: restored down nodes were not sent to Alertmanager again (the firing set lived
/// in memory only) and probe states were not stored, so a monitor restart let the alerts of
/// nodes still down expire after 4 × `--alertmanager-resend`; restored nodes' last beat and
/// "down since" read as the restart time.
#[test]
fn a_monitor_restart_keeps_alerts_of_nodes_still_down_firing_and_their_true_times() {
    let dir = TempDir::new("am-restart");
    let (_alertmanager, am) = start_alertmanager(&dir);
    let db = dir.0.join("hb.db");
    let am_url = format!("http://{am}");
    let args = [
        "--timeout",
        "1s",
        "--db",
        db.to_str().unwrap(),
        "--alertmanager",
        &am_url,
        "--alertmanager-resend",
        "1s",
    ];
    let mon = TestMonitor::builder().args(&args).start();
    let (udp, http) = (mon.udp.clone(), mon.http.clone());
    let mut beater = Proc::hbnode(&[
        "beat",
        "--to",
        &udp,
        "--period",
        "200ms",
        "--id",
        "web-1",
        "--sensor",
        r#"cmd:check@200ms=sh -c "echo CRITICAL; exit 2""#,
    ]);
    wait_for("the probe in error", || {
        (active(&am, "web-1") == ["HbnodeProbe"]).then_some(())
    });
    beater.kill();
    wait_for("both alerts firing", || {
        (active(&am, "web-1") == ["HbnodeNodeDown", "HbnodeProbe"]).then_some(())
    });
    let metrics = |http: &str| {
        http_get(http, "/metrics")
            .map(|(_, m)| m)
            .unwrap_or_default()
    };
    let last_beat = "hbnode_node_last_beat_timestamp_seconds{node=\"web-1\"}";
    let before = hb_tests::metric(&metrics(&http), last_beat).expect("last beat");
    let node = |http: &str| -> Value {
        let (_, body) = http_get(http, "/v1/nodes/web-1").expect("web-1");
        serde_json::from_str(&body).expect("JSON")
    };
    let down_since = node(&http)["state_since"].clone();

    let mut mon = mon.proc;
    mon.term();
    mon.wait();
    // The last resend before the stop was at most now: its alerts end within 4 × 1 s.
    let stopped = std::time::Instant::now();
    let mon2 = TestMonitor::builder()
        .udp(&udp)
        .http(&http)
        .args(&args)
        .start();
    let after = hb_tests::metric(&metrics(&http), last_beat).expect("last beat");
    assert!(
        (after - before).abs() < 0.002,
        "the true last beat (stored to the ms), not the restart time: {before} → {after}"
    );
    let n = node(&http);
    assert_eq!(n["state"], "down");
    assert_eq!(n["state_since"], down_since, "down since its true time");
    assert_eq!(
        n["probes"][0]["state"], "error",
        "the probe state survives: {n}"
    );
    // While its node is down, /metrics says the probe is unknown rather than current.
    assert_eq!(
        hb_tests::metric(
            &metrics(&http),
            "hbnode_probe_state{node=\"web-1\",probe=\"check\"}"
        ),
        Some(3.0),
        "a down node's probe state in /metrics"
    );
    // Watch past the old alerts' expiry: they never resolve.
    while stopped.elapsed() < std::time::Duration::from_secs(6) {
        assert_eq!(
            active(&am, "web-1"),
            ["HbnodeNodeDown", "HbnodeProbe"],
            "still firing after the restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        mon2.events_for("web-1").is_empty(),
        "nothing announced again: {:?}",
        mon2.events_for("web-1")
    );
}

/// Issue 16: twelve beaters stopped at once (SIGSTOP) are the monitor's own blindness, one
/// `HbnodeMonitorIsolated` alert labelled by the monitor and no node alert; continued, the
/// alert resolves.
#[test]
fn a_mass_silence_is_one_monitor_alert_and_no_node_alert() {
    let dir = TempDir::new("am-isolated");
    let (_alertmanager, am) = start_alertmanager(&dir);
    let am_url = format!("http://{am}");
    let tm = TestMonitor::start(&[
        "--timeout",
        "1s",
        "--id",
        "mon-iso",
        "--alertmanager",
        &am_url,
        "--alertmanager-resend",
        "30s",
    ]);
    let beaters: Vec<Proc> = (0..12)
        .map(|i| beater(&tm.udp, "200ms", &format!("n{i:02}")))
        .collect();
    wait_for("twelve joined", || (tm.count("joined") >= 12).then_some(()));
    let _cont = ContinueOnDrop(beaters.iter().map(Proc::pid).collect());
    signal(&beaters, "-STOP");
    let all = |am: &str| -> Option<Vec<Value>> {
        let (status, body) = http_get(am, "/api/v2/alerts")?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    };
    let firing = wait_for("the isolation alert", || all(&am).filter(|a| !a.is_empty()));
    signal(&beaters, "-CONT");
    assert_eq!(firing.len(), 1, "{firing:#?}");
    let labels = &firing[0]["labels"];
    assert_eq!(labels["alertname"], "HbnodeMonitorIsolated");
    assert_eq!(labels["monitor"], "mon-iso");
    assert!(labels.get("node").is_none(), "{labels}");
    wait_for("reconnected", || {
        tm.proc
            .json_lines()
            .iter()
            .any(|e| e["event"] == "reconnected")
            .then_some(())
    });
    // Resolved alerts leave Alertmanager's list.
    wait_for("the isolation alert resolved", || {
        all(&am).filter(Vec::is_empty)
    });
    let events = tm.proc.json_lines();
    assert_eq!(events.iter().filter(|e| e["event"] == "down").count(), 0);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "reconnected")
            .count(),
        1
    );
    // No node alert ever reached Alertmanager: its only alert was the monitor's.
    let received = alerts_received(&am).expect("alertmanager metrics");
    assert!(
        received <= 2.0,
        "fired and resolved, nothing else: {received}"
    );
}

/// Issue 16: a zone outage pages once. Three nodes of zone `rack-b` (of six in two zones) go
/// silent: the monitor reports `zone_down`, fires `HbnodeZoneDown{zone="rack-b"}`, and the
/// three `HbnodeNodeDown` alerts, which carry `zone="rack-b"`, are muted by the shipped
/// inhibit rule (dist/alertmanager/hbnode-inhibit.yml) in a real Alertmanager.
#[test]
fn a_zone_outage_is_one_zone_alert_and_its_node_alerts_are_inhibited() {
    let dir = TempDir::new("am-zone");
    let inhibit = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/alertmanager/hbnode-inhibit.yml"),
    )
    .expect("the shipped inhibit rule");
    let (_alertmanager, am) = start_alertmanager_with(&dir, &inhibit);
    let am_url = format!("http://{am}");
    let tm = TestMonitor::start(&[
        "--timeout",
        "1s",
        "--id",
        "mon-z",
        "--zone",
        "rack-a=a-*",
        "--zone",
        "rack-b=b-*",
        "--alertmanager",
        &am_url,
        "--alertmanager-resend",
        "30s",
    ]);
    let mut beaters: Vec<(String, Proc)> = ["a-0", "a-1", "a-2", "b-0", "b-1", "b-2"]
        .iter()
        .map(|id| ((*id).to_owned(), beater(&tm.udp, "200ms", id)))
        .collect();
    wait_for("six joined", || (tm.count("joined") >= 6).then_some(()));
    for (id, p) in &mut beaters {
        if id.starts_with("b-") {
            p.kill();
        }
    }
    let alerts = wait_for("the zone alert and three node alerts", || {
        let (status, body) = http_get(&am, "/api/v2/alerts")?;
        let all: Vec<Value> = (status == 200).then(|| serde_json::from_str(&body).ok())??;
        (all.len() >= 4).then_some(all)
    });
    let zone: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "HbnodeZoneDown")
        .collect();
    assert_eq!(zone.len(), 1, "{alerts:#?}");
    assert_eq!(zone[0]["labels"]["zone"], "rack-b");
    assert!(zone[0]["labels"].get("node").is_none());
    let nodes: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "HbnodeNodeDown")
        .collect();
    assert_eq!(nodes.len(), 3, "{alerts:#?}");
    for n in &nodes {
        assert_eq!(n["labels"]["zone"], "rack-b", "{n}");
    }
    // Alertmanager evaluates inhibitions on its own schedule: wait until it has muted them.
    wait_for("the node alerts inhibited", || {
        let (_, body) = http_get(&am, "/api/v2/alerts")?;
        let all: Vec<Value> = serde_json::from_str(&body).ok()?;
        let muted = all
            .iter()
            .filter(|a| a["labels"]["alertname"] == "HbnodeNodeDown")
            .filter(|a| a["status"]["state"] == "suppressed")
            .filter(|a| {
                !a["status"]["inhibitedBy"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
            })
            .count();
        (muted == 3).then_some(())
    });
    let events = tm.proc.json_lines();
    assert_eq!(
        events.iter().filter(|e| e["event"] == "zone_down").count(),
        1
    );
    assert_eq!(
        events.iter().filter(|e| e["event"] == "isolated").count(),
        0
    );
}

/// As [`start_alertmanager`], with `extra` YAML appended to its configuration.
fn start_alertmanager_with(dir: &TempDir, extra: &str) -> (Proc, String) {
    let config = dir.0.join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n{extra}"
        ),
    )
    .unwrap();
    let am = format!("127.0.0.1:{}", free_tcp_port());
    let p = Proc::spawn(Command::new(alertmanager_bin()).args([
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", dir.0.join("data").display()),
        format!("--web.listen-address={am}"),
        "--cluster.listen-address=".to_owned(),
    ]));
    wait_for("Alertmanager ready", || {
        http_get(&am, "/-/ready").filter(|(s, _)| *s == 200)
    });
    (p, am)
}
