//! Scenario tests of the monitor with a fixed detector and hand-made beats.

use super::*;
use crate::detector::{Chen, Phi};
use crate::probe::ProbeStatus;
use crate::wire::{MAX_DATAGRAM, encode};
use crate::{Key, Keyring};

const S: u64 = 1_000_000;

fn t(us: u64) -> Timestamp {
    Timestamp::from_micros(us)
}

fn addr() -> SocketAddr {
    "127.0.0.1:4000".parse().unwrap()
}

fn monitor(timeout_s: u64) -> Monitor {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(timeout_s),
        }),
        // These scenarios jump time to mean "nothing arrived"; the stall guard has its own tests.
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn beat_bytes(node: &str, inc: u64, seq: u64, flags: u8) -> Vec<u8> {
    let msg = Message::Beat(Beat {
        period_ms: 1000,
        flags: BeatFlags(flags),
        ..Beat::new(node, inc, seq)
    });
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(&msg, None, &mut buf).unwrap();
    buf[..n].to_vec()
}

fn beat(m: &mut Monitor, at: u64, node: &str, inc: u64, seq: u64) {
    m.handle_datagram(t(at), addr(), &beat_bytes(node, inc, seq, 0));
}

fn events(m: &mut Monitor) -> Vec<(u64, String, &'static str)> {
    std::iter::from_fn(|| m.poll_event())
        .map(|e| (e.at.as_micros(), e.node.to_string(), e.kind.name()))
        .collect()
}

#[test]
fn silent_node_is_down_exactly_at_timeout() {
    let mut m = monitor(3);
    beat(&mut m, 0, "a", 1, 1);
    beat(&mut m, S, "a", 1, 2);
    assert_eq!(events(&mut m), [(0, "a".into(), "joined")]);
    assert_eq!(m.poll_timeout(), Some(t(4 * S)));
    m.handle_timeout(t(4 * S - 1));
    assert!(m.poll_event().is_none());
    m.handle_timeout(t(4 * S));
    let e = m.poll_event().unwrap();
    assert_eq!(e.at, t(4 * S));
    let EventKind::Down {
        silence, deadline, ..
    } = e.kind
    else {
        panic!("{e:?}")
    };
    assert_eq!(silence, Duration::from_secs(3));
    assert_eq!(deadline, t(4 * S));
    assert_eq!(m.count(NodeState::Down), 1);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn down_node_comes_back_up_with_same_incarnation() {
    let mut m = monitor(3);
    beat(&mut m, 0, "a", 1, 1);
    m.handle_timeout(t(3 * S));
    beat(&mut m, 10 * S, "a", 1, 2);
    assert_eq!(
        events(&mut m),
        [
            (0, "a".into(), "joined"),
            (3 * S, "a".into(), "down"),
            (10 * S, "a".into(), "up")
        ]
    );
}

#[test]
fn a_late_datagram_first_fires_the_deadlines_it_passed() {
    // The driver's timer fired late: the beat at 5 s must not hide the silence from 0 to 3 s.
    let mut m = monitor(3);
    beat(&mut m, 0, "a", 1, 1);
    beat(&mut m, 5 * S, "a", 1, 2);
    assert_eq!(
        events(&mut m),
        [
            (0, "a".into(), "joined"),
            (5 * S, "a".into(), "down"),
            (5 * S, "a".into(), "up")
        ]
    );
}

#[test]
fn closed_connection_is_down_at_once_and_a_new_beat_brings_it_up() {
    let mut m = monitor(3);
    beat(&mut m, 0, "a", 1, 1);
    m.handle_disconnect(t(S), "a");
    m.check_invariants().unwrap();
    let down = std::iter::from_fn(|| m.poll_event()).last().unwrap();
    assert!(matches!(
        down.kind,
        EventKind::Down {
            reason: DownReason::ConnectionClosed,
            ..
        }
    ));
    assert_eq!(down.at, t(S));
    // Closing again, or for an unknown node, changes nothing.
    m.handle_disconnect(t(2 * S), "a");
    m.handle_disconnect(t(2 * S), "nobody");
    m.handle_timeout(t(10 * S));
    assert!(
        m.poll_event().is_none(),
        "no second down at the old deadline"
    );
    beat(&mut m, 11 * S, "a", 1, 2);
    m.check_invariants().unwrap();
    assert_eq!(events(&mut m), [(11 * S, "a".into(), "up")]);
}

#[test]
fn restart_faster_than_timeout_is_caught() {
    let mut m = monitor(3);
    beat(&mut m, 0, "a", 1, 10);
    beat(&mut m, S / 2, "a", 2, 1);
    let evs: Vec<_> = std::iter::from_fn(|| m.poll_event()).collect();
    assert_eq!(evs.len(), 2);
    assert_eq!(
        evs[1].kind,
        EventKind::Restarted {
            previous: 1,
            was_down: false
        }
    );
    assert_eq!(evs[1].incarnation, 2);
    // The old incarnation is now stale: a replay of it is refused.
    beat(&mut m, S, "a", 1, 11);
    assert_eq!(m.rejections().get(Rejection::StaleIncarnation), 1);
}

#[test]
fn sequence_window_counts_loss_duplicates_reordering_and_replays() {
    let mut m = monitor(30);
    beat(&mut m, 0, "a", 1, 1);
    beat(&mut m, 1, "a", 1, 5); // 2,3,4 missing
    beat(&mut m, 2, "a", 1, 3); // late
    beat(&mut m, 3, "a", 1, 3); // duplicate
    beat(&mut m, 4, "a", 1, 5); // duplicate of highest
    beat(&mut m, 5, "a", 1, 200);
    beat(&mut m, 6, "a", 1, 100); // older than the window
    let n = m.node("a", t(6)).unwrap();
    assert_eq!(
        (n.beats, n.lost, n.reordered, n.duplicates),
        (3, 2 + 194, 1, 2)
    );
    assert_eq!(m.rejections().get(Rejection::Duplicate), 2);
    assert_eq!(m.rejections().get(Rejection::Replayed), 1);
    // The late beat did not refresh liveness.
    assert_eq!(n.last_seen, t(5));
}

#[test]
fn graceful_leave_is_not_down_and_rejoin_is_joined() {
    let mut m = monitor(3);
    beat(&mut m, 0, "a", 1, 1);
    m.handle_datagram(t(S), addr(), &beat_bytes("a", 1, 2, BeatFlags::LEAVING));
    m.handle_timeout(t(100 * S));
    beat(&mut m, 101 * S, "a", 2, 1);
    assert_eq!(
        events(&mut m),
        [
            (0, "a".into(), "joined"),
            (S, "a".into(), "left"),
            (101 * S, "a".into(), "joined")
        ]
    );
}

#[test]
fn forgotten_after_configured_time_down() {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(1),
        }),
        forget_after: Some(Duration::from_secs(10)),
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    beat(&mut m, 0, "a", 1, 1);
    m.handle_timeout(t(S));
    assert_eq!(m.poll_timeout(), Some(t(11 * S)));
    m.handle_timeout(t(11 * S));
    assert_eq!(
        events(&mut m).last().unwrap(),
        &(11 * S, "a".into(), "forgotten")
    );
    assert!(m.is_empty());
    assert_eq!(m.poll_timeout(), None);
    // It can come back as a new node.
    beat(&mut m, 12 * S, "a", 1, 2);
    assert_eq!(events(&mut m), [(12 * S, "a".into(), "joined")]);
}

#[test]
fn registry_is_bounded_and_refusals_counted() {
    let cfg = MonitorConfig {
        max_nodes: 2,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        beat(&mut m, i as u64, id, 1, 1);
    }
    assert_eq!(m.len(), 2);
    assert_eq!(m.rejections().get(Rejection::RegistryFull), 2);
    beat(&mut m, 10, "a", 1, 2);
    assert_eq!(m.node("a", t(10)).unwrap().beats, 2);
}

#[test]
fn acks_are_sent_when_asked_and_signed_with_the_keyring() {
    let key = Key::new(5, [9; 32]);
    let cfg = MonitorConfig {
        id: "mon-1".into(),
        keyring: Keyring::new(vec![key.clone()], false),
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    m.handle_datagram(t(0), addr(), &beat_bytes("a", 1, 7, BeatFlags::ACK_WANTED));
    beat(&mut m, 1, "a", 1, 8); // no ack wanted
    let mut buf = [0; MAX_DATAGRAM];
    let tx = m.poll_transmit(&mut buf).unwrap();
    assert_eq!(tx.to, addr());
    let ring = Keyring::new(vec![key], true);
    let d = wire::decode(&buf[..tx.len], &ring).unwrap();
    assert_eq!(d.key_id, Some(5));
    let Message::Ack(a) = d.message else { panic!() };
    assert_eq!((a.node, a.seq, a.monitor), ("a", 7, "mon-1"));
    assert!(m.poll_transmit(&mut [0; MAX_DATAGRAM]).is_none());
}

#[test]
fn garbage_is_counted_not_fatal() {
    let mut m = monitor(3);
    m.handle_datagram(t(0), addr(), b"PyHB");
    m.handle_datagram(t(0), addr(), &[]);
    m.handle_datagram(t(0), addr(), &[0x48, 0x42, 1, 1, 0, 0xff]);
    assert_eq!(m.rejections().total(), 3);
    assert!(m.is_empty());
}

#[test]
fn phi_and_chen_monitors_declare_down_once_and_recover() {
    for det in [
        DetectorConfig::Phi(Phi::default()),
        DetectorConfig::Chen(Chen::default()),
    ] {
        let cfg = MonitorConfig {
            detector: det,
            stall_threshold: None,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new(cfg, t(0)).unwrap();
        for i in 0..20 {
            beat(&mut m, i * S + (i % 3) * 10_000, "a", 1, i + 1);
        }
        m.handle_timeout(t(60 * S));
        beat(&mut m, 61 * S, "a", 1, 100);
        let names: Vec<_> = events(&mut m).into_iter().map(|e| e.2).collect();
        assert_eq!(names, ["joined", "down", "up"], "{det:?}");
    }
}

#[test]
fn node_record_is_small() {
    // Registry slot; the index adds ~5 bytes and the heap 16 per node (see the memory bench).
    assert!(
        size_of::<Node>() <= 168,
        "Node is {} bytes",
        size_of::<Node>()
    );
    assert_eq!(size_of::<DetectorState>(), 24);
}

#[test]
fn heap_holds_about_one_entry_per_node() {
    let mut m = monitor(3);
    for i in 0..1000u64 {
        for n in 0..10 {
            beat(&mut m, i * 100_000 + n, &format!("n{n}"), 1, i + 1);
        }
    }
    assert!(
        m.deadlines.len() <= 20,
        "heap has {} entries",
        m.deadlines.len()
    );
}

#[test]
fn invariants_hold_through_a_scenario() {
    let mut m = monitor(3);
    for i in 0..50u64 {
        beat(
            &mut m,
            i * 700_000,
            &format!("n{}", i % 7),
            1 + i / 40,
            i + 1,
        );
        m.check_invariants().unwrap();
        m.handle_timeout(t(i * 700_000 + 350_000));
        m.check_invariants().unwrap();
    }
}

fn guarded(timeout_s: u64) -> Monitor {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(timeout_s),
        }),
        stall_threshold: Some(Duration::from_secs(1)),
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

#[test]
fn own_stall_rearms_instead_of_convicting_everyone() {
    let mut m = guarded(3);
    for i in 0..5 {
        beat(&mut m, i * S, "a", 1, i + 1);
        beat(&mut m, i * S, "b", 1, i + 1);
    }
    assert_eq!(m.poll_timeout(), Some(t(7 * S)));
    // The process is stopped from 4.5 s to 20 s: the timer fires 13 s late.
    m.handle_timeout(t(20 * S));
    assert_eq!(events(&mut m).len(), 2, "only the two joins");
    assert_eq!(m.stalls(), (1, Duration::from_secs(13)));
    // The backlog drains: "a" beat during the stall, "b" did not (it died meanwhile).
    beat(&mut m, 20 * S + 10, "a", 1, 6);
    for i in 0..5 {
        beat(&mut m, 21 * S + i * S, "a", 1, 7 + i);
    }
    // "b" gets a full timeout from the resume instant, then is down.
    m.handle_timeout(t(23 * S));
    assert_eq!(events(&mut m), [(23 * S, "b".into(), "down")]);
    m.check_invariants().unwrap();
}

#[test]
fn timer_slightly_late_is_not_a_stall() {
    let mut m = guarded(3);
    beat(&mut m, 0, "a", 1, 1);
    m.handle_timeout(t(3 * S + 900_000));
    assert_eq!(m.stalls().0, 0);
    let evs = events(&mut m);
    assert_eq!(evs.last().unwrap(), &(3 * S + 900_000, "a".into(), "down"));
}

fn beat_with_readings(node: &str, seq: u64, readings: &[wire::Reading<'_>]) -> Vec<u8> {
    let msg = Message::Beat(Beat {
        period_ms: 1000,
        readings: wire::Readings::from_slice(readings),
        ..Beat::new(node, 1, seq)
    });
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(&msg, None, &mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn readings_of_fresh_beats_become_samples_once() {
    let mut m = monitor(3);
    let rs = [
        wire::Reading {
            probe: "load1",
            value: 0.5,
            status: 0,
        },
        wire::Reading {
            probe: "disk",
            value: 93.0,
            status: 2,
        },
    ];
    let first = beat_with_readings("a", 1, &rs);
    m.handle_datagram(t(0), addr(), &first);
    // A duplicate (or replay) carries nothing new.
    m.handle_datagram(t(10), addr(), &first);
    m.handle_datagram(t(S), addr(), &beat_with_readings("a", 2, &rs[..1]));
    let got: Vec<_> = std::iter::from_fn(|| m.poll_sample())
        .map(|s| {
            (
                s.at.as_micros(),
                s.node.to_string(),
                s.probe.to_string(),
                s.status,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "a".into(), "load1".into(), 0),
            (0, "a".into(), "disk".into(), 2),
            (S, "a".into(), "load1".into(), 0),
        ]
    );
    assert_eq!(m.samples_dropped(), 0);
}

#[test]
fn sample_queue_is_bounded_and_counts_drops() {
    let cfg = MonitorConfig {
        max_pending_samples: 1,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    let r = wire::Reading {
        probe: "p",
        value: 1.0,
        status: 0,
    };
    m.handle_datagram(t(0), addr(), &beat_with_readings("a", 1, &[r, r, r]));
    assert!(m.poll_sample().is_some());
    assert!(m.poll_sample().is_none());
    assert_eq!(m.samples_dropped(), 2);
}

fn recording(max_pending_arrivals: usize, keyring: Keyring) -> Monitor {
    let cfg = MonitorConfig {
        max_pending_arrivals,
        keyring,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn arrivals(m: &mut Monitor) -> Vec<(String, u64, u64, u64, u32)> {
    std::iter::from_fn(|| m.poll_arrival())
        .map(|a| {
            let at = a.at.as_micros();
            (a.node.to_string(), at, a.incarnation, a.seq, a.period_ms)
        })
        .collect()
}

#[test]
fn every_authenticated_beat_is_an_arrival_even_if_the_sequence_refuses_it() {
    let key = Key::new(1, [3; 32]);
    let mut m = recording(16, Keyring::new(vec![key.clone()], true));
    let signed = |node, inc, seq| {
        let b = Beat {
            period_ms: 1000,
            ..Beat::new(node, inc, seq)
        };
        msg_bytes(&Message::Beat(b), Some(&key))
    };
    m.handle_datagram(t(0), addr(), &signed("a", 1, 1));
    // A duplicate, a replay of an older incarnation and another group's beat still arrived.
    m.handle_datagram(t(10), addr(), &signed("a", 1, 1));
    m.handle_datagram(t(20), addr(), &signed("a", 0, 9));
    let other_group = Beat {
        group: 9,
        ..Beat::new("b", 1, 1)
    };
    m.handle_datagram(
        t(30),
        addr(),
        &msg_bytes(&Message::Beat(other_group), Some(&key)),
    );
    // Unauthenticated and malformed datagrams, and leaves, are not arrivals.
    m.handle_datagram(t(40), addr(), &beat_bytes("a", 1, 2, 0));
    m.handle_datagram(t(50), addr(), b"garbage");
    let leave = Message::Leave(Leave {
        node: "a",
        incarnation: 1,
        seq: 3,
        group: 0,
    });
    m.handle_datagram(t(60), addr(), &msg_bytes(&leave, Some(&key)));
    assert_eq!(
        arrivals(&mut m),
        [
            ("a".into(), 0, 1, 1, 1000),
            ("a".into(), 10, 1, 1, 1000),
            ("a".into(), 20, 0, 9, 1000),
            ("b".into(), 30, 1, 1, 0),
        ]
    );
    assert_eq!(m.rejections().get(Rejection::Duplicate), 1);
    assert_eq!(m.arrivals_dropped(), 0);
}

#[test]
fn arrival_queue_is_bounded_and_counts_drops() {
    let mut m = recording(1, Keyring::open());
    for seq in 1..=3 {
        beat(&mut m, seq * S, "a", 1, seq);
    }
    assert_eq!(arrivals(&mut m), [("a".into(), S, 1, 1, 1000)]);
    assert_eq!(m.arrivals_dropped(), 2);
    // Drained, the queue takes arrivals again.
    beat(&mut m, 4 * S, "a", 1, 4);
    assert_eq!(arrivals(&mut m).len(), 1);
}

#[test]
fn arrivals_are_off_by_default_neither_queued_nor_counted() {
    assert_eq!(MonitorConfig::default().max_pending_arrivals, 0);
    let mut m = monitor(3);
    for seq in 1..=3 {
        beat(&mut m, seq * S, "a", 1, seq);
    }
    assert!(m.poll_arrival().is_none());
    assert_eq!(m.arrivals_dropped(), 0);
    assert_eq!(m.beats_received(), 3);
}

#[test]
fn legacy_beats_handed_in_are_arrivals_unless_their_id_is_invalid() {
    let mut m = recording(16, Keyring::open());
    m.handle_beat(t(5), addr(), &Beat::new("legacy-1", 0, 1));
    m.handle_beat(t(6), addr(), &Beat::new("bad\nid", 0, 1));
    assert_eq!(arrivals(&mut m), [("legacy-1".into(), 5, 0, 1, 0)]);
    assert_eq!(m.rejections().get(Rejection::InvalidField), 1);
}

fn restored(id: &str, state: NodeState, seq: u64) -> RestoredNode {
    RestoredNode {
        id: NodeId::new(id).unwrap(),
        addr: addr(),
        incarnation: 7,
        seq,
        state,
        period: Duration::from_secs(1),
    }
}

#[test]
fn restored_alive_node_is_down_one_bound_after_restart_if_silent() {
    let mut m = monitor(3);
    let r = m.restore(
        [
            restored("dead", NodeState::Alive, 10),
            restored("live", NodeState::Alive, 10),
        ],
        t(100 * S),
    );
    assert_eq!(
        r,
        Restored {
            restored: 2,
            skipped: 0
        }
    );
    assert!(events(&mut m).is_empty(), "restoring announces nothing");
    assert_eq!(m.count(NodeState::Alive), 2);
    assert_eq!(m.poll_timeout(), Some(t(103 * S)));
    m.check_invariants().unwrap();
    // "live" beats on after the restart (same incarnation, next seq): no event.
    beat(&mut m, 101 * S, "live", 7, 11);
    beat(&mut m, 102 * S, "live", 7, 12);
    assert!(events(&mut m).is_empty());
    m.handle_timeout(t(103 * S));
    assert_eq!(events(&mut m), [(103 * S, "dead".into(), "down")]);
    m.check_invariants().unwrap();
}

#[test]
fn restored_down_and_left_nodes_are_not_announced_again() {
    let mut m = monitor(3);
    m.restore(
        [
            restored("was-down", NodeState::Down, 5),
            restored("gone", NodeState::Left, 5),
        ],
        t(0),
    );
    assert_eq!(m.poll_timeout(), None, "nothing to watch");
    m.handle_timeout(t(1000 * S));
    assert!(events(&mut m).is_empty());
    // Beating again is `up` (same incarnation) or `joined` (after leaving), as without restart.
    beat(&mut m, 1001 * S, "was-down", 7, 6);
    beat(&mut m, 1001 * S, "gone", 8, 1);
    let names: Vec<_> = events(&mut m).into_iter().map(|e| e.2).collect();
    assert_eq!(names, ["up", "joined"]);
}

#[test]
fn restored_sequence_refuses_replays_and_older_incarnations() {
    let mut m = monitor(3);
    m.restore([restored("a", NodeState::Alive, 100)], t(0));
    beat(&mut m, S, "a", 7, 100);
    beat(&mut m, S, "a", 7, 60);
    beat(&mut m, S, "a", 7, 20);
    beat(&mut m, S, "a", 6, 500);
    let r = m.rejections();
    assert_eq!(r.get(Rejection::Duplicate), 2, "inside the window: seen");
    assert_eq!(r.get(Rejection::Replayed), 1, "older than the window");
    assert_eq!(r.get(Rejection::StaleIncarnation), 1);
    assert_eq!(m.beats_received(), 0);
    beat(&mut m, S, "a", 7, 101);
    assert_eq!(m.beats_received(), 1);
}

#[test]
fn restore_skips_known_ids_and_respects_max_nodes() {
    let cfg = MonitorConfig {
        max_nodes: 2,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    beat(&mut m, 0, "a", 1, 1);
    let r = m.restore(
        [
            restored("a", NodeState::Down, 1),
            restored("b", NodeState::Alive, 1),
            restored("c", NodeState::Alive, 1),
        ],
        t(S),
    );
    assert_eq!(
        r,
        Restored {
            restored: 1,
            skipped: 2
        }
    );
    assert_eq!(m.node("a", t(S)).unwrap().state, NodeState::Alive);
    m.check_invariants().unwrap();
}

#[test]
fn thresholds_turn_readings_into_probe_events_with_hysteresis() {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(3),
        }),
        stall_threshold: None,
        forget_after: Some(Duration::from_secs(10)),
        probes: ProbeConfig {
            rules: vec!["load1 warning=4 error=8".parse().unwrap()],
            hysteresis: 2,
        },
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    let load = |v: f64| wire::Reading {
        probe: "load1",
        value: v,
        status: 0,
    };
    // No rule for `plugin`: the sender's status decides.
    let plugin = |code: u8| wire::Reading {
        probe: "plugin",
        value: f64::from(code),
        status: code,
    };
    let values = [
        (1.0, 0),
        (9.0, 2),
        (9.5, 2),
        (5.0, 0),
        (5.0, 0),
        (1.0, 0),
        (1.0, 0),
    ];
    for (i, (v, code)) in values.into_iter().enumerate() {
        let seq = i as u64 + 1;
        let at = seq * S;
        m.handle_datagram(
            t(at),
            addr(),
            &beat_with_readings("a", seq, &[load(v), plugin(code)]),
        );
    }
    let got: Vec<_> = std::iter::from_fn(|| m.poll_event())
        .filter_map(|e| match e.kind {
            EventKind::Probe {
                probe,
                status,
                previous,
                value,
            } => Some((
                e.at.as_micros() / S,
                probe.to_string(),
                previous.as_str(),
                status.as_str(),
                value,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "load1".into(), "ok", "error", 9.5),
            (3, "plugin".into(), "ok", "error", 2.0),
            (5, "load1".into(), "error", "warning", 5.0),
            (5, "plugin".into(), "error", "ok", 0.0),
            (7, "load1".into(), "warning", "ok", 1.0),
        ]
    );
    let states: Vec<_> = m
        .probes("a")
        .map(|(p, s)| (p.to_string(), s.status, s.value))
        .collect();
    assert_eq!(
        states,
        [
            ("load1".into(), ProbeStatus::Ok, 1.0),
            ("plugin".into(), ProbeStatus::Ok, 0.0)
        ]
    );
    // Forgetting the node forgets its probes.
    m.handle_timeout(t(10 * S));
    m.handle_timeout(t(20 * S));
    assert_eq!(
        events(&mut m),
        [
            (10 * S, "a".into(), "down"),
            (20 * S, "a".into(), "forgotten")
        ]
    );
    assert_eq!(m.all_probes().count(), 0);
}

#[test]
fn probes_per_node_are_bounded() {
    let mut m = monitor(3);
    let names: Vec<String> = (0..MAX_PROBES_PER_NODE + 5)
        .map(|i| format!("p{i}"))
        .collect();
    for (i, chunk) in names.chunks(wire::MAX_READINGS).enumerate() {
        let rs: Vec<_> = chunk
            .iter()
            .map(|p| wire::Reading {
                probe: p,
                value: 1.0,
                status: 0,
            })
            .collect();
        m.handle_datagram(
            t(i as u64 * S),
            addr(),
            &beat_with_readings("a", i as u64 + 1, &rs),
        );
    }
    assert_eq!(m.probes("a").count(), MAX_PROBES_PER_NODE);
    assert_eq!(m.probes_refused(), 5);
    assert_eq!(m.probes("b").count(), 0);
}

// ---- peer mode ----

fn peer_monitor(keyring: Keyring) -> Monitor {
    let cfg = MonitorConfig {
        group: 77,
        peer: Some(PeerIdentity {
            id: NodeId::new("me").unwrap(),
            incarnation: 5,
        }),
        keyring,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn msg_bytes(msg: &Message<'_>, key: Option<&Key>) -> Vec<u8> {
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(msg, key, &mut buf).unwrap();
    buf[..n].to_vec()
}

fn group_beat(node: &str, inc: u64, seq: u64) -> Vec<u8> {
    msg_bytes(
        &Message::Beat(Beat {
            period_ms: 1000,
            group: 77,
            ..Beat::new(node, inc, seq)
        }),
        None,
    )
}

#[test]
fn peer_ignores_its_own_looped_back_beats_and_counts_an_id_clash() {
    let mut m = peer_monitor(Keyring::open());
    m.handle_datagram(t(0), addr(), &group_beat("me", 5, 1));
    let own_leave = Message::Leave(Leave {
        node: "me",
        incarnation: 5,
        seq: 2,
        group: 77,
    });
    m.handle_datagram(t(1), addr(), &msg_bytes(&own_leave, None));
    assert!(m.is_empty(), "own beats make no node");
    assert_eq!(m.rejections().total(), 0, "own beats are not rejections");
    // Another process with our id (another incarnation): refused and counted.
    m.handle_datagram(t(2), addr(), &group_beat("me", 6, 1));
    assert!(m.is_empty());
    assert_eq!(m.rejections().get(Rejection::IdConflict), 1);
    // Other members are monitored as usual.
    m.handle_datagram(t(3), addr(), &group_beat("other", 1, 1));
    assert_eq!(events(&mut m), [(3, "other".into(), "joined")]);
}

#[test]
fn peer_answers_identify_with_its_identity_uptime_and_the_nonce() {
    let mut m = peer_monitor(Keyring::open());
    let asker: SocketAddr = "10.0.0.9:5555".parse().unwrap();
    let ask = |group, nonce| msg_bytes(&Message::Identify(Identify { group, nonce }), None);
    m.handle_datagram(t(2_500_000), asker, &ask(77, 42));
    let mut buf = [0; MAX_DATAGRAM];
    let tx = m.poll_transmit(&mut buf).expect("an answer");
    assert_eq!(tx.to, asker);
    let answer = wire::decode(&buf[..tx.len], &Keyring::open()).unwrap();
    assert_eq!(
        answer.message,
        Message::Member(Member {
            group: 77,
            node: "me",
            incarnation: 5,
            uptime_ms: 2_500,
            nonce: 42,
        })
    );
    drop(answer);
    assert!(m.poll_transmit(&mut buf).is_none());
    // Another group's request is refused, and a plain monitor does not answer at all.
    m.handle_datagram(t(2_600_000), asker, &ask(78, 1));
    assert!(m.poll_transmit(&mut buf).is_none());
    assert_eq!(m.rejections().get(Rejection::WrongGroup), 1);
    let mut plain = monitor(3);
    plain.handle_datagram(t(0), asker, &ask(0, 1));
    assert!(plain.poll_transmit(&mut buf).is_none());
    assert_eq!(plain.rejections().get(Rejection::UnexpectedKind), 1);
    // A member answer sent to a monitor is refused.
    let stray = Message::Member(Member {
        group: 77,
        node: "x",
        incarnation: 1,
        uptime_ms: 1,
        nonce: 1,
    });
    m.handle_datagram(t(2_700_000), asker, &msg_bytes(&stray, None));
    assert_eq!(m.rejections().get(Rejection::UnexpectedKind), 1);
}

#[test]
fn peer_with_a_key_answers_only_signed_identify_and_signs_its_answer() {
    let key = Key::new(3, [8; 32]);
    let ring = Keyring::new(vec![key.clone()], true);
    let mut m = peer_monitor(ring.clone());
    let asker: SocketAddr = "10.0.0.9:5555".parse().unwrap();
    let ask = Message::Identify(Identify {
        group: 77,
        nonce: 1,
    });
    let mut buf = [0; MAX_DATAGRAM];
    m.handle_datagram(t(0), asker, &msg_bytes(&ask, None));
    assert!(m.poll_transmit(&mut buf).is_none());
    assert_eq!(m.rejections().get(Rejection::Unauthenticated), 1);
    let forged = Key::new(3, [9; 32]);
    m.handle_datagram(t(1), asker, &msg_bytes(&ask, Some(&forged)));
    assert!(m.poll_transmit(&mut buf).is_none());
    assert_eq!(m.rejections().get(Rejection::BadMac), 1);
    m.handle_datagram(t(2), asker, &msg_bytes(&ask, Some(&key)));
    let tx = m.poll_transmit(&mut buf).expect("an answer");
    let d = wire::decode(&buf[..tx.len], &ring).expect("signed answer verifies");
    assert_eq!(d.key_id, Some(3));
}

#[test]
fn member_answers_are_bounded_by_the_transmit_queue() {
    let mut cfg = peer_monitor(Keyring::open()).config().clone();
    cfg.max_pending_acks = 2;
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    let ask = msg_bytes(
        &Message::Identify(Identify {
            group: 77,
            nonce: 1,
        }),
        None,
    );
    for i in 0..5 {
        m.handle_datagram(t(i), addr(), &ask);
    }
    let mut buf = [0; MAX_DATAGRAM];
    assert_eq!(std::iter::from_fn(|| m.poll_transmit(&mut buf)).count(), 2);
    assert_eq!(m.acks_dropped(), 3);
}

mod schedules {
    use super::*;
    use crate::NodeMatch;
    use crate::schedule::SensorInterval;

    fn rule(nodes: &str, period_ms: Option<u64>, redirect: Option<&str>) -> ScheduleRule {
        ScheduleRule {
            nodes: NodeMatch::new(nodes).unwrap(),
            period: period_ms.map(Duration::from_millis),
            sensors: Some(vec![SensorInterval {
                sensor: "load".into(),
                every: Duration::from_secs(10),
            }]),
            redirect: redirect.map(str::to_owned),
        }
    }

    fn with_rules(rules: Vec<ScheduleRule>) -> Monitor {
        let cfg = MonitorConfig {
            schedules: rules,
            stall_threshold: None,
            ..MonitorConfig::default()
        };
        Monitor::new(cfg, t(0)).unwrap()
    }

    /// An ack's schedule (version, period_ms, sensor count) and redirect.
    type AckSummary = (Option<(u32, u32, Option<usize>)>, Option<String>);

    /// Sends a beat wanting an ack that says it runs schedule `have`; returns the ack's schedule
    /// (version, period_ms, sensor count) and redirect.
    fn ack_for(m: &mut Monitor, node: &str, seq: u64, have: u32) -> AckSummary {
        let msg = Message::Beat(Beat {
            period_ms: 1000,
            flags: BeatFlags(BeatFlags::ACK_WANTED),
            schedule_version: have,
            ..Beat::new(node, 1, seq)
        });
        let mut buf = [0; MAX_DATAGRAM];
        let n = encode(&msg, None, &mut buf).unwrap();
        m.handle_datagram(t(seq * 1000), addr(), &buf[..n]);
        let tx = m.poll_transmit(&mut buf).expect("an ack");
        assert!(m.poll_transmit(&mut [0; MAX_DATAGRAM]).is_none());
        let Message::Ack(a) = wire::decode(&buf[..tx.len], &Keyring::open())
            .unwrap()
            .message
        else {
            panic!("not an ack")
        };
        (
            a.schedule
                .map(|s| (s.version, s.period_ms, s.sensors.map(|l| l.len()))),
            a.redirect.map(str::to_owned),
        )
    }

    #[test]
    fn acks_carry_the_first_matching_rule_until_the_node_runs_its_version() {
        let specific = rule("web-1", Some(500), None);
        let general = rule("web-*", Some(2000), Some("10.0.0.2:43278"));
        let (v1, v2) = (specific.version(), general.version());
        let mut m = with_rules(vec![specific, general]);
        assert_eq!(
            ack_for(&mut m, "web-1", 1, 0),
            (Some((v1, 500, Some(1))), None)
        );
        assert_eq!(ack_for(&mut m, "web-1", 2, v1), (None, None));
        let redirect = Some("10.0.0.2:43278".to_owned());
        assert_eq!(
            ack_for(&mut m, "web-2", 1, 0),
            (Some((v2, 2000, Some(1))), redirect.clone())
        );
        // Redirects ride on every ack; the schedule only while the version differs.
        assert_eq!(ack_for(&mut m, "web-2", 2, v2), (None, redirect));
    }

    #[test]
    fn a_node_no_rule_matches_is_told_to_return_to_its_own_settings() {
        let mut m = with_rules(vec![rule("web-*", Some(2000), None)]);
        assert_eq!(ack_for(&mut m, "db-1", 1, 0), (None, None));
        assert_eq!(ack_for(&mut m, "db-1", 2, 77), (Some((0, 0, None)), None));
    }

    #[test]
    fn the_version_survives_a_monitor_restart() {
        let mut a = with_rules(vec![rule("web-*", Some(2000), None)]);
        let mut b = with_rules(vec![rule("web-*", Some(2000), None)]);
        assert_eq!(
            ack_for(&mut a, "web-1", 1, 0),
            ack_for(&mut b, "web-1", 1, 0)
        );
    }

    #[test]
    fn out_of_bounds_rules_are_a_config_error() {
        let cfg = MonitorConfig {
            schedules: vec![rule("a", Some(2000), None), rule("b", Some(1), None)],
            ..MonitorConfig::default()
        };
        assert_eq!(
            Monitor::new(cfg, t(0)).unwrap_err(),
            MonitorConfigError::Schedule { rule: 1 }
        );
    }
}
