//! Issue 5, beater side: `hbnode beat --ack-timeout … --failover --on monitor_lost=CMD` beats
//! to the first healthy monitor only, runs the hook when it stops acking, fails over to the
//! next, and returns to the primary when it answers again.

use hb_tests::{Proc, TestMonitor, free_tcp_port, free_udp_port, wait_for};

fn monitor(udp: &str, http: &str) -> Proc {
    TestMonitor::start_on(udp, http, &["--timeout", "1s"]).proc
}

fn has(m: &Proc, ev: &str) -> Option<()> {
    m.json_lines()
        .into_iter()
        .any(|e| e["node"] == "n" && e["event"] == ev)
        .then_some(())
}

#[test]
fn failover_beats_the_first_healthy_monitor_runs_the_lost_hook_and_returns_to_the_primary() {
    let dir = std::env::temp_dir().join(format!("hbnode-failover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("hooks.log");
    let (udp_a, http_a) = (
        format!("127.0.0.1:{}", free_udp_port()),
        format!("127.0.0.1:{}", free_tcp_port()),
    );
    let (udp_b, http_b) = (
        format!("127.0.0.1:{}", free_udp_port()),
        format!("127.0.0.1:{}", free_tcp_port()),
    );
    let mut a = monitor(&udp_a, &http_a);
    let b = monitor(&udp_b, &http_b);
    let hook = format!(
        "monitor_lost=echo \"$HBNODE_EVENT $HBNODE_MONITOR\" >> {}",
        log.display()
    );
    let beater = Proc::hbnode(&[
        "beat",
        "--to",
        &udp_a,
        "--to",
        &udp_b,
        "--period",
        "100ms",
        "--id",
        "n",
        "--ack-timeout",
        "500ms",
        "--failover",
        "--on",
        &hook,
        "--events",
        "json",
    ]);
    let exported = |ev: &str| {
        beater
            .json_lines()
            .into_iter()
            .find(|e| e["event"] == ev && e["monitor"] == udp_a.as_str())
    };
    wait_for("n joined the primary", || has(&a, "joined"));
    assert!(
        has(&b, "joined").is_none(),
        "the backup gets no beats while the primary acks"
    );

    a.kill();
    wait_for("n joined the backup", || has(&b, "joined"));
    let lost = wait_for("the monitor_lost hook ran", || {
        std::fs::read_to_string(&log).ok().filter(|s| !s.is_empty())
    });
    assert_eq!(
        lost.lines().next(),
        Some(format!("monitor_lost {udp_a}").as_str())
    );
    let lost = wait_for("monitor_lost on the beater's stdout", || {
        exported("monitor_lost")
    });
    assert_eq!(lost["node"], "n");
    assert!(lost["silence_ms"].as_u64().unwrap() >= 500, "{lost}");

    // The primary comes back on the same address: beats return to it and leave the backup.
    let a2 = monitor(&udp_a, &http_a);
    wait_for("n back on the primary", || has(&a2, "joined"));
    wait_for("monitor_back on the beater's stdout", || {
        exported("monitor_back")
    });
    wait_for("n down on the backup (no more beats there)", || {
        has(&b, "down")
    });
    let _ = std::fs::remove_dir_all(&dir);
}
