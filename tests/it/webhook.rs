//! Issue 5: `--webhook URL` POSTs each event's JSON and retries a failed POST.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use hb_tests::{Proc, TestMonitor, http_get, metric, wait_for};
use serde_json::Value;

/// A webhook receiver on loopback that answers the first request 500 and the rest 200, and
/// keeps every body it was sent. Returns its address and the bodies.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let mut r = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let status = if i == 0 { "500 Oops" } else { "200 OK" };
            if i > 0 {
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let _ = write!(
                r.get_mut(),
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (addr, bodies)
}

#[test]
fn webhook_receives_each_event_as_json_and_a_failed_post_is_retried() {
    let (hook, bodies) = receiver();
    let url = format!("http://{hook}/events");
    let mut tm = TestMonitor::start(&["--timeout", "1s", "--webhook", &url]);
    let (udp, http) = (tm.udp.clone(), tm.http.clone());
    let mon = &mut tm.proc;
    let mut b = Proc::hbnode(&["beat", "--to", &udp, "--period", "200ms", "--id", "w"]);
    let posted = |event: &str| {
        bodies
            .lock()
            .unwrap()
            .iter()
            .filter_map(|b| serde_json::from_str::<Value>(b).ok())
            .find(|e| e["node"] == "w" && e["event"] == event)
    };
    let joined = wait_for("joined POSTed (after a retry)", || posted("joined"));
    assert!(joined["incarnation"].as_u64().is_some());
    b.kill();
    let down = wait_for("down POSTed", || posted("down"));
    assert_eq!(down["reason"], "silence");
    let m = wait_for("metrics", || http_get(&http, "/metrics")).1;
    assert!(
        metric(&m, "hbnode_webhook_posts_total{result=\"ok\"}").unwrap() >= 2.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, "hbnode_webhook_posts_total{result=\"failed\"}"),
        Some(0.0),
        "the first POST failed once and was retried"
    );
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
}
