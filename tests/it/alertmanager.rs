//! Issue 5: a real Alertmanager (Debian's `prometheus-alertmanager`, installed by `.ci/run`) on
//! loopback. A killed beater fires one `HbnodeNodeDown` alert even though two monitors watch
//! it (the monitor's identity is an annotation, not a label), and the alert resolves when the
//! beater returns.

use std::path::PathBuf;
use std::process::Command;

use hb_tests::{Proc, TestMonitor, free_tcp_port, http_get, wait_for};
use serde_json::Value;

/// The Alertmanager binary, from PATH.
fn alertmanager_bin() -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", "command -v prometheus-alertmanager"])
        .output()
        .expect("run sh");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        !path.is_empty(),
        "prometheus-alertmanager is not installed: `apt-get install -y --no-install-recommends \
         prometheus-alertmanager` (.ci/run does)"
    );
    PathBuf::from(path)
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hbnode-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The active alerts for `node` at Alertmanager `am`.
fn alerts_for(am: &str, node: &str) -> Option<Vec<Value>> {
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

#[test]
fn killed_beater_fires_one_alert_from_two_monitors_and_it_resolves_when_it_returns() {
    let dir = TempDir::new("alertmanager");
    let config = dir.0.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let am = format!("127.0.0.1:{}", free_tcp_port());
    let _alertmanager = Proc::spawn(Command::new(alertmanager_bin()).args([
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", dir.0.join("data").display()),
        format!("--web.listen-address={am}"),
        "--cluster.listen-address=".to_owned(),
    ]));
    wait_for("Alertmanager ready", || {
        http_get(&am, "/-/ready").filter(|(s, _)| *s == 200)
    });

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
        let (_, m) = http_get(&am, "/metrics")?;
        let received: f64 = m
            .lines()
            .filter(|l| l.starts_with("alertmanager_alerts_received_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        (received >= 2.0).then_some(())
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
