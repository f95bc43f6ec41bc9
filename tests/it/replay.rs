//! Issue 8: a captured beat re-sent after its node died does not keep it alive.
//!
//! A capturing relay sits between a keyed beater and a `--require-auth` monitor and keeps a
//! copy of every (validly signed) datagram, as an attacker on the path could. After the beater
//! is killed, replaying the captures must not bring the node back, and the refusals must be
//! counted (`duplicate` within the sequence window, `replayed` before it, `stale_incarnation`
//! once the node has restarted).

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hb_core::wire::{self, Message};
use hb_core::{Keyring, parse_key_file};
use hb_tests::{Proc, TestMonitor, http_get, metric, wait_for};
use serde_json::Value;

/// Forwards datagrams from beaters to `to`, keeping a copy of each, until `stop` is set.
fn relay(to: String, captured: Arc<Mutex<Vec<Vec<u8>>>>, stop: Arc<AtomicBool>) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind relay");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let addr = sock.local_addr().expect("addr").to_string();
    let to_addr: std::net::SocketAddr = to.parse().expect("monitor addr");
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if from == to_addr {
                continue; // an ack: not needed
            }
            captured.lock().expect("lock").push(buf[..n].to_vec());
            let _ = sock.send_to(&buf[..n], to_addr);
        }
    });
    addr
}

#[test]
fn replayed_captured_beats_do_not_revive_a_dead_node_and_are_counted() {
    use std::os::unix::fs::PermissionsExt as _;
    let out = std::process::Command::new(hb_tests::hbnode())
        .arg("keygen")
        .output()
        .expect("keygen");
    let key_line = String::from_utf8(out.stdout).expect("utf-8");
    let keyring = Keyring::new(parse_key_file(&key_line).expect("key"), true);
    let dir = std::env::temp_dir().join(format!("hb-it-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let keys = dir.join("keys");
    std::fs::write(&keys, &key_line).expect("write");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let keys = keys.to_str().expect("utf-8");

    let mut tm = TestMonitor::start(&["--timeout", "1s", "--key-file", keys, "--require-auth"]);
    let (udp, http) = (tm.udp.clone(), tm.http.clone());
    let mon = &mut tm.proc;
    let rejected = |r: &str| {
        http_get(&http, "/metrics")
            .and_then(|(_, m)| {
                metric(
                    &m,
                    &format!("hbnode_datagrams_rejected_total{{reason=\"{r}\"}}"),
                )
            })
            .unwrap_or(0.0)
    };
    let events = || -> Vec<String> {
        mon.json_lines()
            .iter()
            .filter(|e: &&Value| e["node"] == "victim")
            .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    let captured = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let via = relay(udp.clone(), Arc::clone(&captured), Arc::clone(&stop));
    let mut victim = Proc::hbnode(&[
        "beat",
        "--to",
        &via,
        "--period",
        "50ms",
        "--id",
        "victim",
        "--key-file",
        keys,
    ]);
    // More than the 64-beat sequence window, so the oldest captures fall behind it.
    wait_for("100 beats captured", || {
        (captured.lock().expect("lock").len() >= 100).then_some(())
    });
    victim.kill();
    stop.store(true, Ordering::Relaxed);
    wait_for("victim down", || {
        events().last().is_some_and(|e| e == "down").then_some(())
    });
    let captured = captured.lock().expect("lock").clone();
    // The captures are genuine: they verify under the shared key.
    for d in &captured {
        let dg = wire::decode(d, &keyring).expect("a captured datagram verifies");
        assert!(matches!(dg.message, Message::Beat(_)));
    }

    // Replay every capture for longer than the timeout, as an attacker keeping it "alive".
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..6 {
        for d in &captured {
            s.send_to(d, &udp).expect("send");
        }
        thread::sleep(Duration::from_millis(250));
    }
    wait_for("replays counted", || {
        (rejected("duplicate") + rejected("replayed") >= captured.len() as f64).then_some(())
    });
    assert!(
        rejected("replayed") >= 1.0,
        "the oldest captures are behind the window"
    );
    assert!(
        rejected("duplicate") >= 1.0,
        "the newest captures are within the window"
    );
    assert_eq!(
        events().last().map(String::as_str),
        Some("down"),
        "replays revived the node: {:?}",
        events()
    );
    assert!(!events().iter().any(|e| e == "up" || e == "restarted"));

    // The node restarts (a new incarnation); the old incarnation's captures are now stale.
    let _victim2 = Proc::hbnode(&[
        "beat",
        "--to",
        &udp,
        "--period",
        "50ms",
        "--id",
        "victim",
        "--key-file",
        keys,
    ]);
    wait_for("victim restarted", || {
        events().iter().any(|e| e == "restarted").then_some(())
    });
    for d in &captured {
        s.send_to(d, &udp).expect("send");
    }
    wait_for("stale incarnations counted", || {
        (rejected("stale_incarnation") >= 1.0).then_some(())
    });
}
