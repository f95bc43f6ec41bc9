//! Issue 14: the status page against a live monitor with 10k nodes (`--db none`), in headless
//! Chromium. Ids are `web-1`…`web-5000` and `db-1`…`db-5000`; 23 of them stop after two beats
//! and go down. Every node reports three probes whose states follow its number (`…1`: load1
//! warning, `…2`: disk error, `…3`: mem unknown). The page must count by state exactly, list
//! the down nodes first, narrow the list by `?q=` and `?state=`, show probes as badges and put
//! the downs in its timeline chart. A screenshot of the page is taken too (written to
//! `$HBNODE_PAGE_SCREENSHOT` when set: that is how docs/status-page.png is made).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hb_tests::{Fleet, FleetNode, TestMonitor, http_get, wait_for};
use serde_json::Value;

use super::{attr_after, chromium_dump, count, dump_dom, finish, recording_proxy, row_state};

const PER_KIND: u64 = 5000;

/// Whether node number `i` of its kind stops after two beats.
fn goes_down(web: bool, i: u64) -> bool {
    if web { i % 400 == 7 } else { i % 500 == 3 }
}

fn fleet_nodes() -> Vec<FleetNode> {
    let mut nodes = Vec::new();
    for (kind, web) in [("web", true), ("db", false)] {
        for i in 1..=PER_KIND {
            let status = |digit: u64, code: u8| if i % 10 == digit { code } else { 0 };
            nodes.push(FleetNode {
                id: format!("{kind}-{i}"),
                beats: goes_down(web, i).then_some(2),
                probes: vec![
                    ("load1".into(), 0.5, status(1, 1)),
                    ("disk".into(), 40.0, status(2, 2)),
                    ("mem".into(), 30.0, status(3, 3)),
                ],
            });
        }
    }
    nodes
}

/// The rows of the node table in order: (id, state).
fn rows(dom: &str) -> Vec<(String, String)> {
    dom.split("<tr data-node=\"")
        .skip(1)
        .filter_map(|r| {
            let id = &r[..r.find('"')?];
            Some((id.to_owned(), row_state(dom, id)?))
        })
        .collect()
}

/// The text of `node`'s cell in column `col` (its `data-col`).
fn cell(dom: &str, node: &str, col: &str) -> Option<String> {
    let at = dom.find(&format!("<tr data-node=\"{node}\""))?;
    let row = &dom[at..];
    let row = &row[..row.find("</tr>").unwrap_or(row.len())];
    let td = row.split(&format!("data-col=\"{col}\"")).nth(1)?;
    let text = &td[td.find('>')? + 1..];
    Some(text[..text.find('<')?].to_owned())
}

/// The badge states of `node`'s row: (probe, state).
fn badges(dom: &str, node: &str) -> Vec<(String, String)> {
    let Some(at) = dom.find(&format!("<tr data-node=\"{node}\"")) else {
        return Vec::new();
    };
    let row = &dom[at..];
    let row = &row[..row.find("</tr>").unwrap_or(row.len())];
    row.split("class=\"badge\"")
        .skip(1)
        .filter_map(|b| {
            let b = &b[..b.find('>')?];
            let get = |a: &str| {
                let v = b.split(&format!("{a}=\"")).nth(1)?;
                Some(v[..v.find('"')?].to_owned())
            };
            Some((get("data-probe")?, get("data-probe-state")?))
        })
        .collect()
}

#[test]
fn status_page_at_10k_nodes_counts_filters_and_lists_down_first() {
    let nodes = fleet_nodes();
    let total = nodes.len();
    let down: Vec<String> = nodes
        .iter()
        .filter(|n| n.beats.is_some())
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(down.len(), 23);
    // A generous timeout: a debug build on a shared host must not call a live node down.
    let mon = TestMonitor::builder()
        .no_events()
        .args(&["--timeout", "6s"])
        .start();
    let _fleet = Fleet::start(
        &mon.udp,
        nodes,
        Duration::from_secs(1),
        Duration::from_secs(180),
    );
    let summary: Value = wait_for("10k nodes, 23 down, probes judged", || {
        let (_, body) = http_get(&mon.http, "/v1/summary")?;
        let s: Value = serde_json::from_str(&body).ok()?;
        // The count of `name` in the summary's list `of` (`states` or `probes`).
        let n = |of: &str, name: &str| {
            s[of].as_array()?.iter().find(|c| c["state"] == name)?["count"].as_u64()
        };
        let state = |name| n("states", name);
        let probe = |name| n("probes", name);
        // Three agreeing readings change a probe's state (the default hysteresis): the down
        // nodes' two beats leave their probes ok, so 10 of the 1000 `…3` nodes stay ok.
        let judged = probe("warning")? == 1000 && probe("error")? == 1000;
        (s["nodes"] == total && state("down")? == 23 && judged && probe("unknown")? == 990)
            .then_some(s)
    });
    let http = &mon.http;

    // The whole fleet: counts, down first, badges, the timeline; through a proxy that records
    // what the page asks for.
    let (proxy, _, requests) = recording_proxy(http.clone(), 0, Arc::new(AtomicBool::new(true)));
    let dom = dump_dom(&format!("http://{proxy}/"));
    assert_eq!(count(&dom, "total"), Some(total), "{dom}");
    assert_eq!(count(&dom, "down"), Some(23), "{dom}");
    assert_eq!(count(&dom, "alive"), Some(total - 23), "{dom}");
    assert_eq!(count(&dom, "left"), Some(0), "{dom}");
    let probe_counts = summary["probes"]
        .as_array()
        .expect("probe counts")
        .iter()
        .filter(|c| c["count"] != 0)
        .map(|c| format!("{} {}", c["count"], c["state"].as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        dom.contains(&format!("probes: {probe_counts}")),
        "{probe_counts}: {dom}"
    );
    let listed = rows(&dom);
    assert_eq!(listed.len(), 100, "one bounded page: {listed:?}");
    let mut want_down = down.clone();
    want_down.sort();
    let first: Vec<String> = listed[..23].iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(first, want_down, "down nodes first, by id: {listed:?}");
    assert!(listed[..23].iter().all(|(_, s)| s == "down"), "{listed:?}");
    assert!(listed[23..].iter().all(|(_, s)| s == "alive"), "{listed:?}");
    assert_eq!(
        attr_after(&dom, "id=\"range\"", "data-matching").as_deref(),
        Some("10000")
    );
    assert_eq!(
        attr_after(&dom, "<li data-kind=\"down\"", "data-n").as_deref(),
        Some("23"),
        "the timeline's legend counts the downs: {dom}"
    );
    assert!(
        dom.contains("<rect") && dom.contains("data-kind=\"down\" data-count="),
        "the timeline draws down bars: {dom}"
    );
    assert!(dom.contains("23 down · hbnode status"), "{dom}");
    // Every refresh asked for one bounded page, never the whole fleet.
    let polls: Vec<String> = requests
        .lock()
        .expect("lock")
        .iter()
        .filter(|l| l.starts_with("GET /v1/nodes"))
        .cloned()
        .collect();
    assert!(polls.len() >= 2, "the page refreshed: {polls:?}");
    assert!(polls.iter().all(|l| l.contains("limit=100")), "{polls:?}");
    let size = |path: &str| http_get(http, path).map_or(0, |(_, b)| b.len());
    let (page, all) = (size("/v1/nodes?sort=state&limit=100"), size("/v1/nodes"));
    assert!(
        page > 0 && page * 50 < all,
        "a page ({page} B) is a small part of the fleet ({all} B)"
    );

    // The filter box, driven by the URL: a substring, down first within it, probes as badges.
    let dom = dump_dom(&format!("http://{http}/?q=web-40"));
    assert_eq!(
        attr_after(&dom, "id=\"range\"", "data-matching").as_deref(),
        Some("111"),
        "web-40, web-400…409, web-4000…4099: {dom}"
    );
    let listed = rows(&dom);
    assert_eq!(listed.len(), 100);
    assert!(
        listed.iter().all(|(id, _)| id.contains("web-40")),
        "{listed:?}"
    );
    let two_down = [
        ("web-4007".to_owned(), "down".to_owned()),
        ("web-407".to_owned(), "down".to_owned()),
    ];
    assert_eq!(listed[..2], two_down, "{listed:?}");
    assert!(listed[2..].iter().all(|(_, s)| s == "alive"), "{listed:?}");
    // The detector's timeout per node: the 6 s of --timeout for an alive node (more only if
    // the monitor itself stalled and re-armed it), none for a down one.
    assert_eq!(
        cell(&dom, "web-4007", "timeout").as_deref(),
        Some("–"),
        "{dom}"
    );
    let alive_timeout = cell(&dom, "web-400", "timeout").expect("timeout cell");
    let secs: f64 = alive_timeout
        .strip_suffix(" s")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("timeout cell {alive_timeout:?}"));
    assert!(secs >= 6.0, "{alive_timeout}");
    // Badges in the API's order: by probe name.
    let expect = |l: &str, d: &str, m: &str| {
        vec![
            ("disk".to_owned(), d.to_owned()),
            ("load1".to_owned(), l.to_owned()),
            ("mem".to_owned(), m.to_owned()),
        ]
    };
    assert_eq!(badges(&dom, "web-400"), expect("ok", "ok", "ok"), "{dom}");
    assert_eq!(badges(&dom, "web-401"), expect("warning", "ok", "ok"));
    assert_eq!(badges(&dom, "web-402"), expect("ok", "error", "ok"));
    assert_eq!(badges(&dom, "web-403"), expect("ok", "ok", "unknown"));
    assert!(
        dom.contains(">load1 warning</span>"),
        "state in text: {dom}"
    );

    // A glob and a state: the down db nodes only.
    let dom = dump_dom(&format!("http://{http}/?q=db-*&state=down"));
    let listed = rows(&dom);
    let want: Vec<String> = want_down
        .iter()
        .filter(|id| id.starts_with("db-"))
        .cloned()
        .collect();
    assert_eq!(
        listed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        want
    );
    assert!(listed.iter().all(|(_, s)| s == "down"), "{listed:?}");
    assert_eq!(
        attr_after(&dom, "id=\"range\"", "data-matching").as_deref(),
        Some("10")
    );

    // The screenshot docs/status-page.png is made from.
    let shot = std::env::var_os("HBNODE_PAGE_SCREENSHOT").map_or_else(
        || std::env::temp_dir().join(format!("hbnode-page-{}.png", std::process::id())),
        Into::into,
    );
    let arg = format!("--screenshot={}", shot.display());
    let (child, profile) = chromium_dump(
        &format!("http://{http}/?q=web-40"),
        &[&arg, "--window-size=1400,1000", "--hide-scrollbars"],
    );
    finish(child, &profile);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "a PNG"
    );
    if std::env::var_os("HBNODE_PAGE_SCREENSHOT").is_none() {
        let _ = std::fs::remove_file(&shot);
    }
}
