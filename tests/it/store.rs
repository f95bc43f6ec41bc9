//! Issue 6: the embedded store. A monitor killed with -9 and restarted still catches a node
//! that died while it was down (and announces nothing for nodes already down); readings
//! round-trip through `hbnode readings` from the file and over HTTP; files that are not ours
//! are refused; a full disk costs rows, never detections.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hb_core::wire::{self, Beat, Message, Reading, Readings};
use hb_tests::{
    Proc, TestMonitor, free_tcp_port, free_udp_port, hbnode, http_get, metric, wait_for,
};
use serde_json::Value;

/// A fresh directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hbnode-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn monitor(db: &Path, udp: &str, http: &str) -> Proc {
    let db = db.to_str().expect("utf-8 path");
    TestMonitor::start_on(udp, http, &["--timeout", "1s", "--db", db]).proc
}

/// A monitor on `db` that must refuse to start: what it wrote and how it exited.
fn refused_monitor(db: &Path) -> Output {
    TestMonitor::builder()
        .udp("127.0.0.1:0")
        .http("off")
        .args(&["--db", db.to_str().expect("utf-8 path")])
        .expect_exit()
}

fn beater(id: &str, udp: &str) -> Proc {
    Proc::hbnode(&["beat", "--to", udp, "--period", "200ms", "--id", id])
}

fn has(mon: &Proc, node: &str, event: &str) -> bool {
    mon.json_lines()
        .iter()
        .any(|e| e["node"] == node && e["event"] == event)
}

/// `hbnode ARGS`, expecting success; its stdout.
fn run_ok(args: &[&str]) -> String {
    let out = Command::new(hbnode())
        .args(args)
        .output()
        .expect("run hbnode");
    assert!(
        out.status.success(),
        "hbnode {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `hbnode history --db DB --json` as (node, event) pairs.
fn history(db: &Path) -> Vec<(String, String)> {
    run_ok(&["history", "--db", db.to_str().unwrap(), "--json"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            (
                v["node"].as_str().unwrap().to_owned(),
                v["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn stored(db: &Path, node: &str, event: &str) -> bool {
    history(db).iter().any(|(n, e)| n == node && e == event)
}

#[test]
fn node_killed_while_the_monitor_was_down_is_reported_down_after_restart() {
    let dir = temp_dir("restart");
    let db = dir.join("hb.db");
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let mut mon = monitor(&db, &udp, &http);
    let _live = beater("live", &udp);
    let mut dies = beater("dies", &udp);
    let mut gone = beater("gone", &udp);
    for n in ["live", "dies", "gone"] {
        wait_for(&format!("{n} joined"), || {
            has(&mon, n, "joined").then_some(())
        });
    }
    // "gone" goes down before the restart; wait until the store has it.
    gone.kill();
    wait_for("gone down in the store", || {
        stored(&db, "gone", "down").then_some(())
    });
    wait_for("live and dies joined in the store", || {
        (stored(&db, "live", "joined") && stored(&db, "dies", "joined")).then_some(())
    });

    // kill -9 the monitor, then kill "dies" while no monitor runs.
    mon.kill();
    dies.kill();

    let mon = monitor(&db, &udp, &http);
    wait_for("dies reported down after the restart", || {
        has(&mon, "dies", "down").then_some(())
    });
    // "live" beat on through the restart: by the time "dies" (restored with the same deadline)
    // is down, "live" has beaten again, so it is alive and was never reported.
    let (_, body) = http_get(&http, "/v1/nodes").expect("nodes");
    let nodes: Vec<Value> = serde_json::from_str(&body).expect("JSON");
    let state = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["state"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(state("live").as_deref(), Some("alive"), "{body}");
    assert_eq!(state("dies").as_deref(), Some("down"), "{body}");
    assert_eq!(
        state("gone").as_deref(),
        Some("down"),
        "restored as down: {body}"
    );
    let events = mon.json_lines();
    assert!(
        events
            .iter()
            .all(|e| e["node"] != "live" && e["node"] != "gone"),
        "no event for the live node nor for the one already down: {events:?}"
    );
    // The history spans both runs.
    wait_for("the second run's down in the store", || {
        (history(&db)
            .iter()
            .filter(|(n, e)| n == "dies" && e == "down")
            .count()
            == 1)
            .then_some(())
    });
}

/// Sends `count` beats of `node` carrying `load1` = seq and `disk` = 100 − seq.
fn send_readings(to: &str, node: &str, first_seq: u64, count: u64) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut buf = [0u8; wire::MAX_DATAGRAM];
    for seq in first_seq..first_seq + count {
        let readings = [
            Reading::new("load1", seq as f64 / 4.0, 0),
            Reading::new("disk", 100.0 - seq as f64, if seq % 2 == 0 { 1 } else { 2 }),
        ];
        let msg = Message::Beat(Beat {
            period_ms: 200,
            readings: Readings::from_slice(&readings),
            ..Beat::new(node, 1, seq)
        });
        let n = wire::encode(&msg, None, &mut buf).expect("encode");
        s.send_to(&buf[..n], to).expect("send");
        // Distinct receive milliseconds, so each reading is its own row.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn readings_round_trip_through_the_file_and_http_as_json_table_and_chart() {
    let dir = temp_dir("readings");
    let db = dir.join("hb.db");
    let dbs = db.to_str().unwrap();
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let mon = monitor(&db, &udp, &http);
    send_readings(&udp, "sensor-1", 1, 8);
    let read = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec![
            "readings", "--node", "sensor-1", "--probe", "load1", "--json",
        ];
        args.extend_from_slice(extra);
        run_ok(&args)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    let rows = wait_for("8 load1 readings in the store", || {
        Some(read(&["--db", dbs])).filter(|r| r.len() == 8)
    });
    let values: Vec<f64> = rows.iter().map(|r| r["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]);
    assert!(
        rows.iter()
            .all(|r| r["status"] == 0 && r["node"] == "sensor-1")
    );
    assert_eq!(
        read(&["--http", &http]),
        rows,
        "the HTTP API answers the same"
    );

    let table = run_ok(&[
        "readings", "--db", dbs, "--node", "sensor-1", "--probe", "disk",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("TIME (UTC)"), "{table}");
    assert_eq!(lines.len(), 9, "{table}");
    assert!(
        lines[1].contains("99") && lines[1].ends_with("critical"),
        "{table}"
    );
    assert!(
        lines[2].contains("98") && lines[2].ends_with("warning"),
        "{table}"
    );

    let svg = dir.join("disk.svg");
    run_ok(&[
        "readings",
        "--db",
        dbs,
        "--node",
        "sensor-1",
        "--probe",
        "disk",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).expect("the chart");
    assert!(
        text.starts_with("<svg") && text.contains("time (UTC)"),
        "{text}"
    );
    assert_eq!(text.matches("<circle").count(), 8, "one point per reading");

    // The history of the same run, from the file and over HTTP.
    let (status, body) = http_get(&http, "/v1/history?node=sensor-1&since=1h").expect("history");
    assert_eq!(status, 200, "{body}");
    let events: Vec<Value> = serde_json::from_str(&body).expect("JSON");
    assert_eq!(events[0]["event"], "joined", "{body}");
    assert_eq!(events[0]["record"]["node"], "sensor-1", "{body}");
    let metrics = http_get(&http, "/metrics").expect("metrics").1;
    assert!(
        metric(
            &metrics,
            "hbnode_store_rows_written_total{table=\"readings\"}"
        ) >= Some(16.0),
        "{metrics}"
    );
    drop(mon);
}

#[test]
fn corrupt_or_foreign_file_is_refused_with_a_clear_error_and_left_untouched() {
    let dir = temp_dir("foreign");
    let garbage = dir.join("garbage.db");
    let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&garbage, &junk).unwrap();
    let foreign = dir.join("foreign.db");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
            .unwrap();
    }
    let foreign_bytes = std::fs::read(&foreign).unwrap();
    for (file, says) in [
        (&garbage, "not an SQLite database or it is damaged"),
        (&foreign, "another program"),
    ] {
        let out = refused_monitor(file);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(says) && err.contains("untouched"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let q = Command::new(hbnode())
            .args(["history", "--db", file.to_str().unwrap()])
            .output()
            .expect("run hbnode");
        assert_eq!(q.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&q.stderr).contains(says));
    }
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        junk,
        "garbage left as it was"
    );
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        foreign_bytes,
        "foreign db left as it was"
    );
}

#[test]
fn second_monitor_on_the_same_store_is_refused() {
    let dir = temp_dir("lock");
    let db = dir.join("hb.db");
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let _first = monitor(&db, &udp, &http);
    let out = refused_monitor(&db);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("in use by another hbnode monitor"), "{err}");
}

/// A full disk: the monitor runs in a private mount namespace (`unshare -m`, we are root) on a
/// 1 MiB tmpfs that a filler file leaves ~256 KiB of. The store starts, then its write-ahead
/// log runs out of space under a stream of readings: SQLite answers SQLITE_FULL, the writer
/// counts and logs it, and detection is untouched — the silent node is still reported down.
/// (A tmpfs rather than `PRAGMA max_page_count` so the failure is the kernel's ENOSPC, as on a
/// real full disk; rather than a read-only remount, which the kernel refuses while the
/// monitor holds the file open for writing.)
#[test]
fn full_disk_costs_rows_not_detections() {
    let dir = temp_dir("full");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let script = r#"mount -t tmpfs -o size=1m tmpfs "$1" || exit 97
dd if=/dev/zero of="$1/filler" bs=64k count=12 2>/dev/null
shift
exec "$@""#;
    let mnt = mnt.to_str().expect("utf-8 path");
    let db = format!("{mnt}/hb.db");
    // unshare and mount need root: if they fail, start() panics with the script's stderr.
    let tm = TestMonitor::builder()
        .via(&[
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            mnt,
        ])
        .env("RUST_LOG", "error")
        .args(&["--timeout", "1s", "--db", &db])
        .start();
    let (udp, http) = (tm.udp.clone(), tm.http.clone());
    let mut mon = tm.proc;
    // Readings until the disk is full and the store says so (bounded: 200 rounds).
    let mut seq = 1;
    let errors = wait_for("store errors in /metrics", || {
        send_readings(&udp, "filler-node", seq, 50);
        seq += 50;
        let m = http_get(&http, "/metrics")?.1;
        metric(&m, "hbnode_store_errors_total").filter(|e| *e > 0.0)
    });
    assert!(errors >= 1.0);
    // The node stops beating: detection carries on and the event is printed.
    wait_for("filler-node down despite the full disk", || {
        has(&mon, "filler-node", "down").then_some(())
    });
    let m = http_get(&http, "/metrics").expect("metrics").1;
    assert!(
        metric(&m, "hbnode_store_rows_dropped_total{reason=\"error\"}") > Some(0.0),
        "{m}"
    );
    wait_for("the error logged", || {
        mon.stderr()
            .contains("the store cannot write")
            .then_some(())
    });
    mon.kill();
}

/// One beat `node` seq 1 carrying `readings`, unauthenticated, to `to`.
fn send_beat(s: &UdpSocket, to: &str, node: &str, seq: u64, readings: &[Reading<'_>]) {
    let mut buf = [0u8; wire::MAX_DATAGRAM];
    let msg = Message::Beat(Beat {
        period_ms: 200,
        readings: Readings::from_slice(readings),
        ..Beat::new(node, 1, seq)
    });
    let n = wire::encode(&msg, None, &mut buf).expect("encode");
    s.send_to(&buf[..n], to).expect("send");
}

/// Issue 13: one unauthenticated beat carrying a NaN reading used to fail the store's whole
/// batch (`NOT NULL constraint failed: readings.value`), other nodes' history with it. The
/// reading is refused where it enters and counted; the beat, its other readings and every
/// other node's rows are stored.
#[test]
fn a_nan_reading_is_refused_and_counted_and_other_nodes_history_is_intact() {
    let dir = temp_dir("nan");
    let db = dir.join("hb.db");
    let dbs = db.to_str().unwrap();
    let mon = TestMonitor::builder()
        .args(&["--timeout", "30s", "--db", dbs])
        .start();
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let load = |value| Reading::new("load1", value, 0);
    send_beat(&s, &mon.udp, "good-1", 1, &[load(0.5)]);
    send_beat(
        &s,
        &mon.udp,
        "evil",
        1,
        &[
            load(f64::NAN),
            load(f64::INFINITY),
            Reading::new("disk", 42.0, 0),
        ],
    );
    send_beat(&s, &mon.udp, "good-2", 1, &[load(1.5)]);
    wait_for("both refusals counted", || {
        let m = http_get(&mon.http, "/metrics")?.1;
        (metric(&m, "hbnode_readings_refused_total{reason=\"nan\"}")? == 1.0
            && metric(&m, "hbnode_readings_refused_total{reason=\"infinite\"}")? == 1.0)
            .then_some(())
    });
    let joined = wait_for("three joins in the store", || {
        let h = history(&db);
        (h.iter().filter(|(_, e)| e == "joined").count() == 3).then_some(h)
    });
    for node in ["good-1", "evil", "good-2"] {
        assert!(
            joined.contains(&(node.into(), "joined".into())),
            "{joined:?}"
        );
    }
    let values = |node: &str, probe: &str| -> Vec<f64> {
        run_ok(&[
            "readings", "--db", dbs, "--node", node, "--probe", probe, "--json",
        ])
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON line")["value"]
                .as_f64()
                .unwrap()
        })
        .collect()
    };
    assert_eq!(values("good-1", "load1"), [0.5]);
    assert_eq!(values("good-2", "load1"), [1.5]);
    assert_eq!(
        values("evil", "disk"),
        [42.0],
        "the beat's finite reading is kept"
    );
    assert!(values("evil", "load1").is_empty());
    let m = http_get(&mon.http, "/metrics").expect("metrics").1;
    assert_eq!(metric(&m, "hbnode_beats_received_total"), Some(3.0));
    for reason in ["invalid", "error"] {
        assert_eq!(
            metric(
                &m,
                &format!("hbnode_store_rows_dropped_total{{reason=\"{reason}\"}}")
            ),
            Some(0.0),
            "{m}"
        );
    }
    assert_eq!(
        metric(&m, "hbnode_node_up{node=\"evil\"}"),
        Some(1.0),
        "its beat counts"
    );
}

/// Issue 13 item 6: seq and last-seen move with every beat but reach the store only with the
/// periodic registry snapshot (a chunk every 5 s), so a clean stop used to leave them as old
/// as the last chunk (here: the join's seq 1). SIGTERM now commits every Detector's whole
/// registry — the main one's and a `--listener` group's — before the store closes.
#[test]
fn sigterm_commits_every_detectors_whole_registry_as_of_the_last_beat() {
    let dir = temp_dir("final-snapshot");
    let db = dir.join("hb.db");
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let extra = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let spec = format!("udp://{extra} timeout=30s");
    let db_arg = db.to_str().expect("utf-8 path");
    let mut mon = TestMonitor::start_on(
        &udp,
        &http,
        &["--timeout", "30s", "--db", db_arg, "--listener", &spec],
    )
    .proc;
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    const LAST: u64 = 40;
    #[allow(clippy::cast_possible_wrap)]
    const STORED: i64 = LAST as i64;
    let taken = |seq: u64| {
        for node in ["main-1", "extra-1"] {
            wait_for("the beat to be taken", || {
                let (code, body) = http_get(&http, &format!("/v1/nodes/{node}"))?;
                let v: Value = serde_json::from_str(&body).ok()?;
                (code == 200 && v["seq"] == seq).then_some(())
            });
        }
    };
    // The join writes the row with seq 1; the later beats change nothing but seq/last-seen.
    send_beat(&s, &udp, "main-1", 1, &[]);
    send_beat(&s, &extra, "extra-1", 1, &[]);
    taken(1);
    for seq in 2..=LAST {
        send_beat(&s, &udp, "main-1", seq, &[]);
        send_beat(&s, &extra, "extra-1", seq, &[]);
    }
    taken(LAST);
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the store");
    let rows: Vec<(String, u32, i64)> = c
        .prepare("SELECT id, detector, seq FROM nodes ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            ("extra-1".to_owned(), 1, STORED),
            ("main-1".to_owned(), 0, STORED)
        ],
        "{}",
        mon.stderr()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
