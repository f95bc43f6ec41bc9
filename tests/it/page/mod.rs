//! Issue 9: the status page at `GET /`, rendered by headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`; override the binary with `HBNODE_CHROMIUM`). The page shows a node
//! alive; the beater is killed; the page marks the node down — once across two loads, and once
//! within a single load (a proxy holds the page's second poll until the node is down, which
//! also stops Chromium's virtual clock meanwhile).
//!
//! Issue 14: `fleet.rs` loads the page against 10k live nodes; `api.rs` pins the bounded
//! `/v1/nodes?…` page and `/v1/summary` it polls.

mod api;
mod fleet;
mod witness;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use hb_tests::{Proc, TestMonitor, http_get, wait_for};

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

/// Spawns headless Chromium on `url`; it prints the DOM (or does what `extra` says instead,
/// e.g. `--screenshot=…`) once the page's timers and fetches have used
/// `--virtual-time-budget` (virtual time stands still while a fetch is pending).
fn chromium_dump(url: &str, extra: &[&str]) -> (std::process::Child, PathBuf) {
    let profile = std::env::temp_dir().join(format!(
        "hbnode-chromium-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let child = Command::new(chromium())
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
        ])
        .args(if extra.is_empty() {
            &["--dump-dom"][..]
        } else {
            extra
        })
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run chromium");
    (child, profile)
}

/// The DOM after the page's scripts ran, as Chromium serialises it.
fn dump_dom(url: &str) -> String {
    let (child, profile) = chromium_dump(url, &[]);
    finish(child, &profile)
}

/// Waits for a [`chromium_dump`] to exit (successfully, or the test fails) and removes its
/// profile; returns what it printed.
fn finish(child: std::process::Child, profile: &std::path::Path) -> String {
    let out = child.wait_with_output().expect("run chromium");
    let _ = std::fs::remove_dir_all(profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of attribute `attr` in the first tag of the body that has `marker` (e.g.
/// `data-count="down"`; the stylesheet in the head is not searched).
fn attr_after(dom: &str, marker: &str, attr: &str) -> Option<String> {
    let dom = &dom[dom.find("<body")?..];
    let at = dom.find(marker)?;
    let tag_start = dom[..=at].rfind('<')?;
    let tag = &dom[tag_start..];
    let tag = &tag[..tag.find('>')?];
    let v = tag.split(&format!(" {attr}=\"")).nth(1)?;
    Some(v[..v.find('"')?].to_owned())
}

/// The count the page shows for `state` (`total` for every node), from its `data-n`.
fn count(dom: &str, state: &str) -> Option<usize> {
    attr_after(dom, &format!("data-count=\"{state}\""), "data-n")?
        .parse()
        .ok()
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

/// A monitor with a 1 s timeout (its events in the default format: the page is what's read).
fn monitor() -> TestMonitor {
    TestMonitor::builder()
        .no_events()
        .args(&["--timeout", "1s"])
        .start()
}

#[test]
fn status_page_shows_a_killed_node_turn_down() {
    let mon = monitor();
    let (udp, http) = (mon.udp.clone(), mon.http.clone());
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
    assert_eq!(count(&dom, "total"), Some(2), "{dom}");
    assert_eq!(count(&dom, "alive"), Some(2), "{dom}");
    assert_eq!(count(&dom, "down"), Some(0), "{dom}");

    web.kill();
    wait_for("web-1 down in /v1/nodes", || {
        http_get(&http, "/v1/nodes").filter(|(_, b)| b.contains("\"state\":\"down\""))
    });
    let dom = dump_dom(&url);
    assert_eq!(row_state(&dom, "web-1").as_deref(), Some("down"), "{dom}");
    assert_eq!(row_state(&dom, "db-1").as_deref(), Some("alive"), "{dom}");
    assert_eq!(count(&dom, "down"), Some(1), "{dom}");
    assert!(
        dom.contains("1 down · hbnode status"),
        "the title says it: {dom}"
    );
    assert!(
        dom.contains("data-event=\"down\""),
        "the down event is listed: {dom}"
    );
}

/// A TCP proxy in front of the monitor's HTTP address that forwards everything, except that it
/// holds the page's `hold_at`-th `GET /v1/nodes?…` (reporting it on the returned channel) until
/// `release` is set. Returns the proxy's address.
fn holding_proxy(
    upstream: String,
    hold_at: usize,
    release: Arc<AtomicBool>,
) -> (String, mpsc::Receiver<()>) {
    let (addr, held, _) = recording_proxy(upstream, hold_at, release);
    (addr, held)
}

/// [`holding_proxy`], also recording the request line of every request it forwards (give
/// `hold_at` 0 to hold none).
fn recording_proxy(
    upstream: String,
    hold_at: usize,
    release: Arc<AtomicBool>,
) -> (String, mpsc::Receiver<()>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let addr = listener.local_addr().expect("addr").to_string();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&requests);
    let (held_tx, held_rx) = mpsc::channel();
    let polls = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c_in, mut s_out) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            let (mut s_in, mut c_out) = (server, client);
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_out.shutdown(std::net::Shutdown::Both);
            });
            let (polls, release, held_tx, log) = (
                Arc::clone(&polls),
                Arc::clone(&release),
                held_tx.clone(),
                Arc::clone(&log),
            );
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    if chunk.starts_with(b"GET ") {
                        let line = String::from_utf8_lossy(chunk);
                        let line = line.lines().next().unwrap_or_default().to_owned();
                        log.lock().expect("lock").push(line);
                    }
                    if chunk.starts_with(b"GET /v1/nodes?")
                        && polls.fetch_add(1, Ordering::SeqCst) + 1 == hold_at
                    {
                        let _ = held_tx.send(());
                        while !release.load(Ordering::SeqCst) {
                            thread::sleep(std::time::Duration::from_millis(20));
                        }
                    }
                    if s_out.write_all(chunk).is_err() {
                        break;
                    }
                }
                let _ = s_out.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (addr, held_rx, requests)
}

/// Sets the flag when dropped.
struct ReleaseOnDrop(Arc<AtomicBool>);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// One page load, no reload: the page has rendered the node alive (its first poll was
/// answered) before the beater is killed, and the same page then shows it down.
#[test]
fn status_page_updates_live_when_a_node_dies() {
    let mon = monitor();
    let (udp, http) = (mon.udp.clone(), mon.http.clone());
    wait_for("GET /", || http_get(&http, "/").filter(|(s, _)| *s == 200));
    let mut web = Proc::hbnode(&["beat", "--to", &udp, "--period", "200ms", "--id", "web-1"]);
    wait_for("web-1 in /v1/nodes", || {
        http_get(&http, "/v1/nodes").filter(|(_, b)| b.contains("\"alive\""))
    });

    let release = Arc::new(AtomicBool::new(false));
    // If an assertion fails while a poll is held, let Chromium finish and exit on its own.
    let _release_on_drop = ReleaseOnDrop(Arc::clone(&release));
    let (proxy, held) = holding_proxy(http.clone(), 2, Arc::clone(&release));
    let (child, profile) = chromium_dump(&format!("http://{proxy}/"), &[]);
    // The page's second poll is held: its first was answered while web-1 was alive.
    held.recv_timeout(hb_tests::PATIENCE)
        .expect("the page polls /v1/nodes a second time");
    web.kill();
    wait_for("web-1 down in /v1/nodes", || {
        http_get(&http, "/v1/nodes").filter(|(_, b)| b.contains("\"state\":\"down\""))
    });
    release.store(true, Ordering::SeqCst);
    let dom = finish(child, &profile);
    assert_eq!(row_state(&dom, "web-1").as_deref(), Some("down"), "{dom}");
    assert!(dom.contains("data-event=\"down\""), "{dom}");
}
