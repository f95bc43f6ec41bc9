//! Issue 16 §2 with a real Alertmanager: three monitors as witnesses of each other, all sending
//! to one Alertmanager. A path cut to one monitor (`unreachable` there) fires no alert; the
//! node's crash is `down` (agreed) on all three and one `HbnodeNodeDown` alert; with two
//! monitors killed the last one's `quorum_lost` is `HbnodeQuorumLost{monitor}`, and the
//! survivors' `witness_down`s are `HbnodeWitnessDown{monitor,witness}`.

use std::thread;
use std::time::Duration;

use hb_tests::{TempDir, http_get, wait_for};
use serde_json::Value;

use crate::alertmanager::{alerts_for, alerts_received, start_alertmanager};
use crate::witness::{TIMEOUT_MS, three_and_a_proxied_node};

/// The active alerts named `alertname` at Alertmanager `am`.
fn alerts_named(am: &str, alertname: &str) -> Vec<Value> {
    let Some((200, body)) = http_get(am, "/api/v2/alerts") else {
        return Vec::new();
    };
    let all: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
    all.into_iter()
        .filter(|a| a["labels"]["alertname"] == alertname && a["status"]["state"] == "active")
        .collect()
}

#[test]
fn three_witnessing_monitors_page_once_for_a_crash_and_never_for_one_cut_path() {
    let dir = TempDir::new("witness-alerts");
    let (_alertmanager, am) = start_alertmanager(&dir);
    let am_url = format!("http://{am}");
    let (mut mons, proxy, mut node) = three_and_a_proxied_node(
        &[
            "--alertmanager",
            &am_url,
            "--alertmanager-resend",
            "30s",
            "--alertmanager-label",
            "team=infra",
        ],
        "web-1",
    );

    proxy.cut(true);
    wait_for("m0 reports web-1 unreachable", || {
        (mons[0].count("unreachable") == 1).then_some(())
    });
    // Two more timeouts for any alert to arrive: none may.
    thread::sleep(Duration::from_millis(2 * TIMEOUT_MS));
    assert_eq!(alerts_for(&am, "web-1").map(|a| a.len()), Some(0));
    proxy.cut(false);
    wait_for("m0 reports web-1 reachable", || {
        (mons[0].count("reachable") == 1).then_some(())
    });

    node.kill();
    wait_for("web-1 down everywhere", || {
        mons.iter().all(|m| m.count("down") == 1).then_some(())
    });
    wait_for("the three monitors' alerts received", || {
        (alerts_received(&am)? >= 3.0).then_some(())
    });
    let firing = alerts_for(&am, "web-1").expect("alerts");
    assert_eq!(firing.len(), 1, "one alert from three monitors: {firing:?}");
    assert_eq!(firing[0]["labels"]["alertname"], "HbnodeNodeDown");
    assert!(firing[0]["labels"].get("monitor").is_none(), "{firing:?}");
    assert_eq!(firing[0]["annotations"]["reason"], "agreed");

    // Two monitors killed: the survivor is alone, below its quorum of 2.
    mons.truncate(1);
    let m0 = &mons[0];
    wait_for("m0 quorum_lost", || {
        (m0.count("quorum_lost") == 1).then_some(())
    });
    let lost = wait_for("HbnodeQuorumLost", || {
        let a = alerts_named(&am, "HbnodeQuorumLost");
        (!a.is_empty()).then_some(a)
    });
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["labels"]["monitor"], "m0");
    assert_eq!(lost[0]["labels"]["severity"], "warning");
    let witnesses = wait_for("two HbnodeWitnessDown", || {
        let a = alerts_named(&am, "HbnodeWitnessDown");
        (a.len() == 2).then_some(a)
    });
    let mut named: Vec<&str> = witnesses
        .iter()
        .map(|a| a["labels"]["witness"].as_str().unwrap_or_default())
        .collect();
    named.sort_unstable();
    assert_eq!(named, ["m1", "m2"], "{witnesses:?}");
    assert!(witnesses.iter().all(|a| a["labels"]["monitor"] == "m0"));
}
