//! The store on real SQLite files in a temp directory.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hb_core::NodeState;

use super::writer::{Row, StoreTx, StoreWriter};
use super::*;
use crate::runtime::stats::Stats;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hbnode-store-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
    }
    p
}

fn event(node: &str, name: &'static str) -> Arc<crate::runtime::record::EventRecord> {
    let ev = hb_core::Event {
        at: hb_core::Timestamp::ZERO,
        node: NodeId::new(node).unwrap(),
        addr: "10.0.0.1:4000".parse().unwrap(),
        incarnation: 1,
        kind: hb_core::EventKind::Joined,
    };
    let mut r = crate::runtime::record::EventRecord::new(&ev, 1, "fixed", &Clock::new());
    r.event = name;
    Arc::new(r)
}

fn reading(node: &str, probe: &str, value: f64) -> hb_core::probe::Sample {
    hb_core::probe::Sample {
        at: hb_core::Timestamp::ZERO,
        node: NodeId::new(node).unwrap(),
        probe: probe.into(),
        value,
        status: 1,
    }
}

fn node(id: &str, state: NodeState, seq: u64) -> NodeRow {
    NodeRow {
        id: id.into(),
        detector: 1,
        addr: "10.0.0.1:4000".parse().unwrap(),
        incarnation: u64::MAX - 1,
        seq,
        state,
        state_since_ms: 1_700_000_000_000,
        last_seen_ms: 1_700_000_001_000,
        period_ms: 1000,
        link: None,
    }
}

#[test]
fn registry_events_and_readings_round_trip_across_reopen() {
    let path = temp("roundtrip.db");
    let stats = Arc::new(Stats::default());
    let opened = open(&path).unwrap();
    assert!(opened.nodes.is_empty());
    let w = StoreWriter::start(opened, Duration::from_secs(3600), Arc::clone(&stats)).unwrap();
    let tx = w.sender();
    let now = ms_ago(Duration::ZERO);
    tx.offer(Row::Node(node("a", NodeState::Alive, 5)));
    tx.offer(Row::Nodes(vec![
        node("b", NodeState::Down, 9),
        node("c", NodeState::Left, 1),
    ]));
    tx.offer(Row::Forget("c".into()));
    tx.offer(Row::Event {
        at_ms: now,
        record: event("b", "probe_warning"),
    });
    for (i, v) in [1.5, 2.5].into_iter().enumerate() {
        tx.offer(Row::Reading {
            at_ms: now + i as i64,
            sample: reading("a", "load1", v),
        });
    }
    drop(w); // writes out the queue and closes the file
    assert_eq!(
        stats.store_rows().collect::<Vec<_>>(),
        [("nodes", 3), ("events", 1), ("readings", 2)]
    );
    tx.offer(Row::Forget("late".into()));
    assert_eq!(
        stats.store_dropped.load(Ordering::Relaxed),
        1,
        "after close: dropped"
    );

    let reopened = open(&path).unwrap();
    assert_eq!(
        reopened.nodes,
        [
            node("a", NodeState::Alive, 5),
            node("b", NodeState::Down, 9)
        ],
        "incarnation and seq survive bit for bit; forgotten nodes are gone"
    );
    let c = open_read_only(&path).unwrap();
    let h = query::history(&c, Some("b"), now - 1).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        h[0].event, "probe_warning",
        "new event kinds need no schema change"
    );
    assert_eq!(h[0].record["event"], "probe_warning");
    assert_eq!(h[0].record["detector"], "fixed", "the whole record is kept");
    let r = query::readings(&c, "a", "load1", now - 1).unwrap();
    assert_eq!(r.iter().map(|r| r.value).collect::<Vec<_>>(), [1.5, 2.5]);
    assert!(
        query::readings(&c, "a", "load1", now + 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(query::probes(&c, "a").unwrap(), ["load1"]);
}

#[test]
fn migrations_stamp_the_file_and_reopening_is_idempotent() {
    let path = temp("migrate.db");
    drop(open(&path).unwrap());
    drop(open(&path).unwrap());
    let c = Connection::open(&path).unwrap();
    let app: i32 = c
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(
        (app, version, mode.as_str()),
        (APPLICATION_ID, MIGRATIONS.len() as i64, "wal")
    );
}

#[test]
fn newer_schema_and_foreign_databases_are_refused() {
    let path = temp("newer.db");
    drop(open(&path).unwrap());
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let e = format!("{:#}", open(&path).unwrap_err());
    assert!(e.contains("newer hbnode"), "{e}");
    let foreign = temp("foreign.db");
    {
        let c = Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE t (x)").unwrap();
    }
    let e = format!("{:#}", open(&foreign).unwrap_err());
    assert!(e.contains("another program"), "{e}");
    let e = format!("{:#}", open_read_only(&temp("missing.db")).unwrap_err());
    assert!(e.contains("no store at"), "{e}");
}

#[test]
fn full_queue_drops_and_counts_without_waiting() {
    let stats = Arc::new(Stats::default());
    let (tx, rx) = StoreTx::test_pair(2, Arc::clone(&stats));
    for _ in 0..5 {
        tx.offer(Row::Forget("x".into()));
    }
    assert_eq!(stats.store_dropped.load(Ordering::Relaxed), 3);
    assert_eq!(rx.try_iter().count(), 2);
}

#[test]
fn rows_past_the_retention_are_pruned_at_start() {
    let path = temp("prune.db");
    let stats = Arc::new(Stats::default());
    let w = StoreWriter::start(
        open(&path).unwrap(),
        Duration::from_secs(3600),
        Arc::clone(&stats),
    )
    .unwrap();
    let tx = w.sender();
    let now = ms_ago(Duration::ZERO);
    for (at_ms, node) in [(now - 7_200_000, "old"), (now, "new")] {
        tx.offer(Row::Event {
            at_ms,
            record: event(node, "joined"),
        });
        tx.offer(Row::Reading {
            at_ms,
            sample: reading(node, "p", 1.0),
        });
    }
    drop(w);
    // The writer prunes when it starts, then every 10 minutes.
    let w = StoreWriter::start(open(&path).unwrap(), Duration::from_secs(3600), stats).unwrap();
    drop(w);
    let c = open_read_only(&path).unwrap();
    let nodes: Vec<String> = query::history(&c, None, 0)
        .unwrap()
        .into_iter()
        .map(|h| h.node)
        .collect();
    assert_eq!(nodes, ["new"]);
    assert!(query::readings(&c, "old", "p", 0).unwrap().is_empty());
    assert_eq!(query::readings(&c, "new", "p", 0).unwrap().len(), 1);
}

#[test]
fn db_flag_parses_none_and_paths() {
    assert_eq!("none".parse::<DbPath>(), Ok(DbPath::Off));
    assert_eq!(
        "/var/lib/hbnode/x.db".parse::<DbPath>(),
        Ok(DbPath::File("/var/lib/hbnode/x.db".into()))
    );
    assert!("".parse::<DbPath>().is_err());
    assert_eq!(resolve(Some(&DbPath::Off)).unwrap(), None);
}

/// Issue 13 item 9: a new store file is created owner-only, not world-readable.
#[test]
fn a_new_store_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let p = temp("mode.db");
    drop(open(&p).unwrap());
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

/// Issue 13: one row the schema cannot hold (a NaN reading: `NOT NULL constraint failed`)
/// used to roll back its whole batch, other nodes' rows with it.
#[test]
fn one_bad_row_is_refused_alone_and_the_rest_of_its_batch_committed() {
    let path = temp("bad-row.db");
    let stats = Arc::new(Stats::default());
    let w = StoreWriter::start(
        open(&path).unwrap(),
        Duration::from_secs(3600),
        Arc::clone(&stats),
    )
    .unwrap();
    let tx = w.sender();
    let now = ms_ago(Duration::ZERO);
    tx.offer(Row::Node(node("a", NodeState::Alive, 1)));
    tx.offer(Row::Event {
        at_ms: now,
        record: event("a", "joined"),
    });
    tx.offer(Row::Reading {
        at_ms: now,
        sample: reading("a", "load1", 1.5),
    });
    tx.offer(Row::Reading {
        at_ms: now,
        sample: reading("evil", "temp", f64::NAN),
    });
    tx.offer(Row::Nodes(vec![
        node("b", NodeState::Down, 2),
        node("evil", NodeState::Alive, 3),
    ]));
    tx.offer(Row::Event {
        at_ms: now + 1,
        record: event("b", "down"),
    });
    tx.offer(Row::Reading {
        at_ms: now + 1,
        sample: reading("a", "load1", 2.5),
    });
    drop(w);
    assert_eq!(
        stats.store_invalid.load(Ordering::Relaxed),
        1,
        "the bad row"
    );
    assert_eq!(
        stats.store_failed.load(Ordering::Relaxed),
        0,
        "no batch lost"
    );
    assert_eq!(
        stats.store_errors.load(Ordering::Relaxed),
        0,
        "no failed operation"
    );
    assert_eq!(
        stats.store_rows().collect::<Vec<_>>(),
        [("nodes", 3), ("events", 2), ("readings", 2)]
    );
    let reopened = open(&path).unwrap();
    let ids: Vec<_> = reopened.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "evil"]);
    drop(reopened);
    let c = open_read_only(&path).unwrap();
    let events: Vec<_> = query::history(&c, None, 0)
        .unwrap()
        .into_iter()
        .map(|h| (h.node, h.event))
        .collect();
    assert_eq!(
        events,
        [("a".into(), "joined"), ("b".into(), "down")]
            .map(|(n, e): (String, &str)| (n, e.to_owned()))
    );
    let r = query::readings(&c, "a", "load1", 0).unwrap();
    assert_eq!(r.iter().map(|r| r.value).collect::<Vec<_>>(), [1.5, 2.5]);
    assert!(
        query::probes(&c, "evil").unwrap().is_empty(),
        "the bad row's new series is rolled back with it"
    );
}

/// Issue 13: probe states were not stored, so a probe in error came back ok after a restart.
#[test]
fn probe_states_round_trip_and_go_with_their_forgotten_node() {
    use hb_core::probe::ProbeStatus;
    let path = temp("probes.db");
    let stats = Arc::new(Stats::default());
    let w = StoreWriter::start(open(&path).unwrap(), Duration::from_secs(3600), stats).unwrap();
    let tx = w.sender();
    let probe = |node: &str, name: &str, status, value| ProbeRow {
        node: node.into(),
        probe: name.into(),
        status,
        since_ms: 1_700_000_000_000,
        value,
    };
    tx.offer(Row::Probe(probe(
        "a",
        "disk",
        ProbeStatus::Error,
        Some(99.5),
    )));
    tx.offer(Row::Probe(probe("a", "load1", ProbeStatus::Warning, None)));
    tx.offer(Row::Probe(probe(
        "a",
        "disk",
        ProbeStatus::Warning,
        Some(80.0),
    )));
    tx.offer(Row::Probe(probe(
        "gone",
        "disk",
        ProbeStatus::Error,
        Some(1.0),
    )));
    tx.offer(Row::Forget("gone".into()));
    drop(w);
    assert_eq!(
        open(&path).unwrap().probes,
        [
            probe("a", "disk", ProbeStatus::Warning, Some(80.0)),
            probe("a", "load1", ProbeStatus::Warning, None),
        ]
    );
}

#[test]
fn reach_back_covers_the_oldest_stored_time() {
    let mut old = node("a", NodeState::Down, 1);
    old.last_seen_ms = 1_000;
    old.state_since_ms = 5_000;
    assert_eq!(
        reach_back(&[old, node("b", NodeState::Alive, 1)], &[], 61_000),
        Duration::from_secs(61)
    );
    assert_eq!(reach_back(&[], &[], 61_000), Duration::from_secs(1));
}

/// A link estimate that has seen `beats` beats every second, one in five lost.
fn link_estimate(beats: u64) -> LinkEstimate {
    let mut e = LinkEstimate::default();
    let mut prev = None;
    for i in 0..beats {
        let at = i * 1_000_000 + (i * 37) % 20_000;
        e.observe(
            &hb_core::detector::Arrival {
                at: hb_core::Timestamp::from_micros(at),
                prev: prev.map(hb_core::Timestamp::from_micros),
                seq_advance: if i % 5 == 0 { 2 } else { 1 },
                period: Duration::from_secs(1),
                resumed: false,
            },
            8192,
        );
        prev = Some(at);
    }
    e
}

/// Issue 15: the budget detector's link estimates survive a restart; a schema 2 store (before
/// they were kept) gains the column with every node kept, and unreadable bytes are ignored.
#[test]
fn link_estimates_round_trip_and_a_schema_2_store_gains_them() {
    let path = temp("links.db");
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        c.execute_batch(&MIGRATIONS[..2].join("\n")).unwrap();
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute(
            "INSERT INTO nodes VALUES ('old', 0, '10.0.0.1:1', 1, 5, 'alive', 0, 0, 1000)",
            [],
        )
        .unwrap();
    }
    let opened = open(&path).unwrap();
    assert_eq!(opened.nodes.len(), 1, "the schema 2 registry is kept");
    assert_eq!(opened.nodes[0].link, None);
    let est = link_estimate(300);
    assert!(est.summary(Duration::from_secs(1)).loss > 0.1);
    let stats = Arc::new(Stats::default());
    let w = StoreWriter::start(opened, Duration::from_secs(3600), stats).unwrap();
    let tx = w.sender();
    tx.offer(Row::Node(NodeRow {
        link: Some(Box::new(est)),
        ..node("wifi", NodeState::Alive, 300)
    }));
    tx.offer(Row::Node(node("lan", NodeState::Alive, 300)));
    drop(w);
    let nodes = open(&path).unwrap().nodes;
    let links: Vec<_> = nodes
        .iter()
        .map(|n| (n.id.as_str(), n.link.clone()))
        .collect();
    assert_eq!(
        links,
        [("lan", None), ("old", None), ("wifi", Some(Box::new(est)))],
        "bit for bit"
    );
    let c = Connection::open(&path).unwrap();
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    c.execute("UPDATE nodes SET link = x'ff00ff' WHERE id = 'wifi'", [])
        .unwrap();
    drop(c);
    let nodes = open(&path).unwrap().nodes;
    let wifi = nodes.iter().find(|n| n.id == "wifi").expect("node kept");
    assert_eq!(
        wifi.link, None,
        "bytes that are not an estimate are ignored"
    );
    assert_eq!(decode_link(&encode_link(&est).unwrap()), Some(est));
    assert_eq!(decode_link(&[]), None);
}
