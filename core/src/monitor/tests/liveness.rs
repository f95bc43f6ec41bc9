//! Down, up, restarts, the sequence window, leaves, forgetting, bounds and stalls.

use super::*;
use crate::detector::{Chen, DetectorState, Phi};
use crate::event::{DownReason, EventKind};
use crate::monitor::registry::Node;

#[test]
fn silent_node_is_down_exactly_at_timeout() {
    let mut m = monitor(3);
    beat(&mut m, 0, "a", 1, 1);
    beat(&mut m, S, "a", 1, 2);
    assert_eq!(events(&mut m), [(0, "a".into(), "joined")]);
    // First the isolation guard's quiet mark, 1.5 periods before the deadline.
    assert_eq!(m.poll_timeout(), Some(t(2 * S + S / 2)));
    m.handle_timeout(t(2 * S + S / 2));
    assert!(m.poll_event().is_none());
    assert_eq!(m.isolation().quiet, 1);
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
    // The quiet mark of the isolation guard (1.5 periods before the 7 s deadline).
    assert_eq!(m.poll_timeout(), Some(t(5 * S + S / 2)));
    // The process is stopped from 4.5 s to 20 s: the timer fires 14.5 s late.
    m.handle_timeout(t(20 * S));
    assert_eq!(events(&mut m).len(), 2, "only the two joins");
    assert_eq!(m.stalls(), (1, Duration::from_millis(14_500)));
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
    m.handle_timeout(t(S + S / 2)); // the quiet mark, on time
    m.handle_timeout(t(3 * S + 900_000));
    assert_eq!(m.stalls().0, 0);
    let evs = events(&mut m);
    assert_eq!(evs.last().unwrap(), &(3 * S + 900_000, "a".into(), "down"));
}
