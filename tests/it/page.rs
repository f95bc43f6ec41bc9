//! Issue 9: the status page at `GET /`, rendered by headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`; override the binary with `HBNODE_CHROMIUM`). The page shows a node
//! alive, the beater is killed, and the page marks the node down — without a reload of the
//! page's code path (the same JS polling renders both states).

use std::path::PathBuf;
use std::process::Command;

use hb_tests::{Proc, free_tcp_port, free_udp_port, http_get, wait_for};

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("HBNODE_CHROMIUM") {
        return p.into();
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        if let Some(p) = found.filter(|p| !p.is_empty()) {
            return p.into();
        }
    }
    panic!(
        "headless Chromium not found: this test needs it. Install Debian's `chromium` \
         (`apt-get install -y --no-install-recommends chromium`, as .ci/run does) or set \
         HBNODE_CHROMIUM to a Chromium binary"
    );
}

/// The DOM after the page's scripts ran, as Chromium serialises it.
fn dump_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!(
        "hbnode-chromium-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `data-state` of the row for `node`, if the page rendered one.
fn row_state(dom: &str, node: &str) -> Option<String> {
    let at = dom.find(&format!("data-node=\"{node}\""))?;
    let row_start = dom[..at].rfind("<tr")?;
    let row = &dom[row_start..];
    let row = &row[..row.find('>')?];
    let s = row.split("data-state=\"").nth(1)?;
    Some(s[..s.find('"')?].to_owned())
}

#[test]
fn status_page_shows_a_killed_node_turn_down() {
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let listen = format!("udp://{udp}");
    let _mon = Proc::hbnode(&[
        "monitor",
        "--listen",
        &listen,
        "--http",
        &http,
        "--timeout",
        "1s",
    ]);
    let (status, body) = wait_for("GET /", || http_get(&http, "/").filter(|(s, _)| *s == 200));
    assert_eq!(status, 200);
    assert!(body.contains("<title>hbnode status</title>"), "{body}");

    let mut web = Proc::hbnode(&["beat", "--to", &udp, "--period", "200ms", "--id", "web-1"]);
    let _db = Proc::hbnode(&["beat", "--to", &udp, "--period", "200ms", "--id", "db-1"]);
    wait_for("both nodes in /v1/nodes", || {
        http_get(&http, "/v1/nodes")
            .filter(|(_, b)| b.contains("\"web-1\"") && b.contains("\"db-1\""))
    });

    let url = format!("http://{http}/");
    let dom = dump_dom(&url);
    assert_eq!(row_state(&dom, "web-1").as_deref(), Some("alive"), "{dom}");
    assert_eq!(row_state(&dom, "db-1").as_deref(), Some("alive"), "{dom}");
    assert!(dom.contains("2 nodes: 2 alive, 0 down"), "{dom}");

    web.kill();
    wait_for("web-1 down in /v1/nodes", || {
        http_get(&http, "/v1/nodes").filter(|(_, b)| b.contains("\"state\":\"down\""))
    });
    let dom = dump_dom(&url);
    assert_eq!(row_state(&dom, "web-1").as_deref(), Some("down"), "{dom}");
    assert_eq!(row_state(&dom, "db-1").as_deref(), Some("alive"), "{dom}");
    assert!(dom.contains("1 down"), "{dom}");
    assert!(
        dom.contains("data-event=\"down\""),
        "the down event is listed: {dom}"
    );
}
