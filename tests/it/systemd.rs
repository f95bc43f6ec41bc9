//! Issue 9: `hbnode monitor` under systemd's `Type=notify` protocol, against a fake
//! `NOTIFY_SOCKET` (a Unix datagram socket this test binds) with `WATCHDOG_USEC` set.

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hb_tests::{Proc, TestMonitor, wait_for};

/// Collects every datagram the socket receives, on a thread.
fn collect(sock: UnixDatagram) -> Arc<Mutex<Vec<String>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => g
                    .lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
            if Arc::strong_count(&g) == 1 {
                return;
            }
        }
    });
    got
}

fn lines(got: &Mutex<Vec<String>>) -> Vec<String> {
    got.lock()
        .expect("lock")
        .iter()
        .flat_map(|m| m.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[test]
fn monitor_notifies_ready_status_watchdog_and_stopping() {
    let dir = std::env::temp_dir().join(format!("hbnode-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("notify.sock");
    let got = collect(UnixDatagram::bind(&path).expect("bind NOTIFY_SOCKET"));

    let tm = TestMonitor::builder()
        .no_events()
        .env("NOTIFY_SOCKET", path.to_str().expect("utf-8 path"))
        // 400 ms: a ping every 200 ms.
        .env("WATCHDOG_USEC", "400000")
        .start();
    let mut mon = tm.proc;
    let _beater = Proc::hbnode(&["beat", "--to", &tm.udp, "--period", "200ms", "--id", "n1"]);

    wait_for("READY=1", || {
        lines(&got).contains(&"READY=1".into()).then_some(())
    });
    wait_for("three WATCHDOG=1 pings", || {
        (lines(&got).iter().filter(|l| *l == "WATCHDOG=1").count() >= 3).then_some(())
    });
    wait_for("a STATUS= line counting the beater", || {
        lines(&got)
            .iter()
            .any(|l| l == "STATUS=1 nodes: 1 alive, 0 down, 0 left")
            .then_some(())
    });

    mon.term();
    assert!(mon.wait().success(), "monitor exits 0: {}", mon.stderr());
    let all = lines(&got);
    assert!(all.contains(&"STOPPING=1".into()), "{all:?}");
    let ready = all.iter().position(|l| l == "READY=1");
    let stopping = all.iter().position(|l| l == "STOPPING=1");
    assert!(ready < stopping, "READY before STOPPING: {all:?}");
    drop(got);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn monitor_without_watchdog_sends_no_pings() {
    let dir = std::env::temp_dir().join(format!("hbnode-notify-nowd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("notify.sock");
    let got = collect(UnixDatagram::bind(&path).expect("bind NOTIFY_SOCKET"));
    let mon = TestMonitor::builder()
        .no_events()
        .env("NOTIFY_SOCKET", path.to_str().expect("utf-8 path"))
        .start();
    wait_for("READY=1", || {
        lines(&got).contains(&"READY=1".into()).then_some(())
    });
    thread::sleep(Duration::from_secs(1));
    let all = lines(&got);
    assert!(!all.iter().any(|l| l == "WATCHDOG=1"), "{all:?}");
    assert!(all.iter().any(|l| l.starts_with("STATUS=")), "{all:?}");
    drop(mon);
    drop(got);
    let _ = std::fs::remove_dir_all(&dir);
}
