//! Issue 14: the bounded `/v1/nodes?…` page and `/v1/summary` the status page polls, against a
//! live monitor: totals, limits, order, and a clear 400 for every bad parameter. Without
//! parameters `/v1/nodes` stays the plain array `hbnode status` reads.

use std::time::Duration;

use hb_tests::{Fleet, FleetNode, TestMonitor, http_get, wait_for};
use serde_json::Value;

fn get_json(http: &str, path: &str) -> (u16, Value) {
    let (status, body) = http_get(http, path).unwrap_or_else(|| panic!("GET {path}"));
    let v =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
    (status, v)
}

fn ids(page: &Value) -> Vec<String> {
    page["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn node_pages_are_bounded_filtered_down_first_and_refuse_bad_parameters() {
    let mon = TestMonitor::builder()
        .no_events()
        .args(&["--timeout", "2s"])
        .start();
    // 30 nodes; n-5 and n-17 stop after two beats. One reports a probe in error.
    let nodes = (0..30)
        .map(|i| FleetNode {
            id: format!("n-{i}"),
            beats: [5, 17].contains(&i).then_some(2),
            probes: vec![("disk".into(), 99.0, if i == 3 { 2 } else { 0 })],
        })
        .collect();
    let _fleet = Fleet::start(
        &mon.udp,
        nodes,
        Duration::from_millis(200),
        Duration::from_secs(120),
    );
    let http = mon.http.clone();
    wait_for("30 nodes, 2 down, one probe in error", || {
        let (_, s) = get_json(&http, "/v1/summary");
        let ok = s["nodes"] == 30
            && s["states"][0] == serde_json::json!({"state": "down", "count": 2})
            && s["probes"]
                .as_array()?
                .iter()
                .any(|c| c["state"] == "error" && c["count"] == 1);
        ok.then_some(())
    });

    let (status, s) = get_json(&http, "/v1/summary");
    assert_eq!(status, 200);
    assert_eq!(
        s["states"],
        serde_json::json!([{"state": "down", "count": 2}, {"state": "unreachable", "count": 0},
            {"state": "alive", "count": 28}, {"state": "left", "count": 0}])
    );
    assert_eq!(
        s["probes"][0],
        serde_json::json!({"state": "ok", "count": 29})
    );

    // Backwards compatible: no parameters, every node as a plain array.
    let (_, all) = get_json(&http, "/v1/nodes");
    assert_eq!(all.as_array().map(Vec::len), Some(30), "{all}");

    let (status, p) = get_json(&http, "/v1/nodes?limit=5");
    assert_eq!(status, 200);
    assert_eq!(
        (p["matching"].as_u64(), p["limit"].as_u64()),
        (Some(30), Some(5))
    );
    assert_eq!(
        ids(&p),
        ["n-17", "n-5", "n-0", "n-1", "n-10"],
        "down first, then by id"
    );
    assert_eq!(p["summary"]["nodes"], 30);
    let (_, p) = get_json(&http, "/v1/nodes?limit=5&offset=28");
    assert_eq!(ids(&p), ["n-8", "n-9"]);
    let (_, p) = get_json(&http, "/v1/nodes?match=n-1&sort=id&limit=1000");
    assert_eq!(p["matching"], 11, "n-1 and n-10…19");
    assert_eq!(ids(&p)[..3], ["n-1", "n-10", "n-11"]);
    let (_, p) = get_json(&http, "/v1/nodes?match=n-%3F&state=alive");
    assert_eq!(p["matching"], 9, "n-0…9 but the down n-5: {p}");
    let (_, p) = get_json(&http, "/v1/nodes?state=down,left");
    assert_eq!(ids(&p), ["n-17", "n-5"]);
    assert_eq!(
        p["nodes"][0]["probes"][0]["name"], "disk",
        "rows carry their probes"
    );

    for (query, says) in [
        ("limit=0", "limit: 0 is out of range; give 1–1000"),
        ("limit=100000", "limit: 100000 is out of range"),
        ("offset=x", "offset: `x` is not a whole number"),
        (
            "state=gone",
            "state: `gone` is not one of alive, down, left",
        ),
        ("sort=silence", "sort: `silence` is not `state` or `id`"),
        ("match=%20*", "match: a node pattern is 1–64 bytes"),
        ("size=3", "unknown parameter `size`"),
        ("limit=1&limit=2", "parameter `limit` given twice"),
    ] {
        let (status, body) = get_json(&http, &format!("/v1/nodes?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        let err = body["error"].as_str().unwrap_or_default();
        assert!(err.starts_with(says), "{query}: {err}");
    }
}
