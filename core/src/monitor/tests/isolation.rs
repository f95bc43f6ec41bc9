//! The isolation guard: a mass silence held as the monitor's own blindness, reported once.

use super::*;
use crate::event::{DownReason, EventKind};
use crate::monitor::Isolation;

fn fleet_monitor(isolation: Option<Isolation>) -> Monitor {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(3),
        }),
        stall_threshold: None,
        isolation,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn name(i: u64) -> String {
    format!("n{i:02}")
}

/// Nodes `0..n` beat every second from `from` to `to` (exclusive), node i at phase i·10 ms;
/// `seq` is the beat's second, so sequences stay fresh across calls. The monitor's timer is
/// driven in between, as a real driver would.
fn beats(m: &mut Monitor, nodes: impl Iterator<Item = u64> + Clone, from: u64, to: u64) {
    for sec in from..to {
        for i in nodes.clone() {
            let at = sec * S + i * 10_000;
            drive(m, at);
            beat(m, at, &name(i), 1, sec + 1);
        }
    }
}

/// Fires every timer due up to `until`, on time.
fn drive(m: &mut Monitor, until: u64) {
    while let Some(due) = m.poll_timeout().filter(|d| d.as_micros() <= until) {
        m.handle_timeout(due);
        m.check_invariants().unwrap();
    }
    m.check_invariants().unwrap();
}

fn kinds(m: &mut Monitor) -> Vec<EventKind> {
    std::iter::from_fn(|| m.poll_event())
        .map(|e| e.kind)
        .collect()
}

fn names(evs: &[EventKind]) -> Vec<&'static str> {
    evs.iter().map(EventKind::name).collect()
}

#[test]
fn a_mass_silence_is_one_isolated_event_and_no_down() {
    let mut m = fleet_monitor(Some(Isolation::default()));
    beats(&mut m, 0..20, 0, 10);
    assert_eq!(kinds(&mut m).len(), 20, "twenty joins");
    // Every node falls silent at 10 s (the monitor's uplink drops), for three timeouts.
    drive(&mut m, 19 * S);
    let evs = kinds(&mut m);
    assert_eq!(
        evs,
        [EventKind::Isolated {
            silent: 20,
            watched: 20
        }]
    );
    let e = m.isolation();
    assert_eq!((e.held, e.quiet, e.episodes), (20, 0, 1));
    assert_eq!(
        e.isolated_since,
        Some(t(12 * S)),
        "the first deadline: 9 s + 3 s"
    );
    assert_eq!(m.count(NodeState::Unreachable), 20);
    let info = m.node("n05", t(19 * S)).unwrap();
    assert_eq!((info.state, info.deadline), (NodeState::Unreachable, None));
}

#[test]
fn beats_returning_end_it_with_one_reconnected_and_no_up() {
    let mut m = fleet_monitor(Some(Isolation::default()));
    beats(&mut m, 0..20, 0, 10);
    drive(&mut m, 19 * S);
    kinds(&mut m);
    beats(&mut m, 0..20, 19, 25);
    let evs = kinds(&mut m);
    assert_eq!(names(&evs), ["reconnected"]);
    let EventKind::Reconnected {
        returned,
        still_silent,
        lasted,
    } = evs[0]
    else {
        unreachable!()
    };
    // Ten held nodes left is still half of twenty: the eleventh return ends it.
    assert_eq!((returned, still_silent), (11, 9));
    assert_eq!(lasted, Duration::from_micros(19 * S + 10 * 10_000 - 12 * S));
    assert_eq!(m.count(NodeState::Alive), 20);
    assert_eq!(m.isolation().isolated_since, None);
}

#[test]
fn crashes_after_a_reconnection_are_down_at_their_own_deadlines() {
    let mut m = fleet_monitor(Some(Isolation::default()));
    beats(&mut m, 0..20, 0, 10);
    drive(&mut m, 19 * S);
    beats(&mut m, 0..20, 19, 25);
    kinds(&mut m);
    // Three nodes die at 25 s; the rest beat on.
    beats(&mut m, 3..20, 25, 35);
    let downs: Vec<_> = std::iter::from_fn(|| m.poll_event()).collect();
    assert_eq!(downs.len(), 3, "{downs:?}");
    for (i, e) in downs.iter().enumerate() {
        let EventKind::Down {
            silence, reason, ..
        } = e.kind
        else {
            panic!("{e:?}")
        };
        assert_eq!(e.node.as_str(), name(i as u64));
        assert_eq!(
            (silence, reason),
            (Duration::from_secs(3), DownReason::Silence)
        );
        assert_eq!(e.at, t(27 * S + i as u64 * 10_000));
    }
}

#[test]
fn an_ordinary_crash_costs_no_detection_time() {
    let mut with = fleet_monitor(Some(Isolation::default()));
    let mut without = fleet_monitor(None);
    for m in [&mut with, &mut without] {
        beats(m, 0..20, 0, 10);
        // Node 7 dies at 10 s; node 3 misses a beat and recovers.
        beats(m, (0..20).filter(|&i| i != 7 && i != 3), 10, 11);
        beats(m, (0..20).filter(|&i| i != 7), 11, 20);
        drive(m, 20 * S);
    }
    let a: Vec<_> = std::iter::from_fn(|| with.poll_event()).collect();
    let b: Vec<_> = std::iter::from_fn(|| without.poll_event()).collect();
    assert_eq!(a, b);
    assert_eq!(a.iter().filter(|e| e.kind.name() == "down").count(), 1);
    assert_eq!(with.isolation().episodes, 0);
}

#[test]
fn still_silent_after_the_hold_they_are_down_together() {
    let iso = Isolation {
        hold: Duration::from_secs(30),
        ..Isolation::default()
    };
    let mut m = fleet_monitor(Some(iso));
    beats(&mut m, 0..20, 0, 10);
    kinds(&mut m);
    drive(&mut m, 60 * S);
    let evs: Vec<_> = std::iter::from_fn(|| m.poll_event()).collect();
    assert_eq!(evs.len(), 22, "isolated, hold_expired, 20 downs");
    assert_eq!(evs[0].kind.name(), "isolated");
    assert_eq!(
        evs[1].kind,
        EventKind::IsolationExpired {
            down: 20,
            lasted: Duration::from_secs(30)
        }
    );
    for e in &evs[2..] {
        assert_eq!(e.at, t(42 * S), "one instant");
        assert!(
            matches!(
                e.kind,
                EventKind::Down {
                    reason: DownReason::Isolation,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    assert_eq!(m.count(NodeState::Down), 20);
    assert_eq!(m.isolation().isolated_since, None);
    // When they come back, each is up: each was reported down.
    beats(&mut m, 0..20, 60, 61);
    assert_eq!(names(&kinds(&mut m)), ["up"; 20]);
}

#[test]
fn fewer_than_min_nodes_or_a_minority_go_down_one_by_one() {
    // Nine of nine: below ten.
    let mut m = fleet_monitor(Some(Isolation::default()));
    beats(&mut m, 0..9, 0, 10);
    kinds(&mut m);
    drive(&mut m, 20 * S);
    assert_eq!(names(&kinds(&mut m)), ["down"; 9]);
    // Twelve of thirty: 40 %.
    let mut m = fleet_monitor(Some(Isolation::default()));
    beats(&mut m, 0..30, 0, 10);
    beats(&mut m, 12..30, 10, 20);
    assert_eq!(names(&kinds(&mut m))[30..], ["down"; 12]);
    assert_eq!(m.isolation().episodes, 0);
    // Sixteen of thirty: more than half.
    let mut m = fleet_monitor(Some(Isolation::default()));
    beats(&mut m, 0..30, 0, 10);
    beats(&mut m, 16..30, 10, 20);
    assert_eq!(
        kinds(&mut m)[30..],
        [EventKind::Isolated {
            silent: 16,
            watched: 30
        }]
    );
}

#[test]
fn recent_downs_count_towards_the_mass() {
    // 8 nodes beat every second, 16 every 200 ms, 20 every second beat on. The first 8 and
    // the 16 fall silent together; with a 3 s timeout the 1 s nodes are quiet from 1.5 s of
    // silence, the 200 ms ones only from 2.7 s. So when the first deadline passes only 8 of
    // 44 are quiet (not even half the rule, so no deferral): they go down. When the fast
    // nodes' deadlines pass, 16 are quiet of 36 alive, not half (deferred a period, then down,
    // were it not for the recent downs); with the 8 downs of the last timeout it is 24 of 44:
    // held.
    let mut m = fleet_monitor(Some(Isolation::default()));
    let fast = |i: u64| (8..24).contains(&i);
    let send = |m: &mut Monitor, at: u64, i: u64, seq: u64| {
        let id = name(i);
        let msg = Message::Beat(Beat {
            period_ms: if fast(i) { 200 } else { 1000 },
            ..Beat::new(&id, 1, seq)
        });
        m.handle_datagram(t(at), addr(), &msg_bytes(&msg, None));
    };
    for tick in 0..100u64 {
        for i in 0..44 {
            let silent = tick >= 50 && i < 24;
            if (fast(i) || tick % 5 == 0) && !silent {
                let at = tick * 200_000 + i * 1_000;
                drive(&mut m, at);
                send(&mut m, at, i, tick + 1);
            }
        }
    }
    drive(&mut m, 20 * S);
    let evs: Vec<_> = kinds(&mut m).into_iter().skip(44).collect();
    assert_eq!(names(&evs), [vec!["down"; 8], vec!["isolated"]].concat());
    assert_eq!(
        evs[8],
        EventKind::Isolated {
            silent: 24,
            watched: 44
        }
    );
    assert_eq!(m.count(NodeState::Unreachable), 16);
}

#[test]
fn a_node_that_lost_a_beat_just_before_a_cut_is_held_with_the_rest() {
    // Node 0 beats at the top of each second, the others between 0.3 s and 0.9 s past it.
    // Node 0's last beat before the cut is lost: its deadline comes a period before the
    // others', when only 7 of them are quiet (8 of 20 with it: not the rule, but half of it).
    // So its verdict waits one period; by then all are quiet: one isolated, no down.
    let phase = |i: u64| {
        if i == 0 {
            0
        } else {
            300_000 + (i - 1) * 33_333
        }
    };
    let mut m = fleet_monitor(Some(Isolation::default()));
    for sec in 0..10 {
        for i in 0..20u64 {
            let at = sec * S + phase(i);
            drive(&mut m, at);
            if !(sec == 9 && i == 0) {
                beat(&mut m, at, &name(i), 1, sec + 1);
            }
        }
    }
    kinds(&mut m);
    drive(&mut m, 20 * S);
    let evs = kinds(&mut m);
    assert_eq!(names(&evs), ["isolated"], "{evs:?}");
    assert_eq!(m.isolation().deferrals, 1);
    // The same start with the guard off: every node down, node 0 first.
    let mut off = fleet_monitor(None);
    for sec in 0..10 {
        for i in 0..20u64 {
            let at = sec * S + phase(i);
            drive(&mut off, at);
            if !(sec == 9 && i == 0) {
                beat(&mut off, at, &name(i), 1, sec + 1);
            }
        }
    }
    drive(&mut off, 20 * S);
    let downs: Vec<_> = std::iter::from_fn(|| off.poll_event())
        .filter(|e| e.kind.name() == "down")
        .collect();
    assert_eq!(downs.len(), 20);
    assert_eq!(downs[0].node.as_str(), "n00");
}

#[test]
fn the_guard_can_be_turned_off_and_refuses_bad_bounds() {
    let mut m = fleet_monitor(None);
    beats(&mut m, 0..20, 0, 10);
    kinds(&mut m);
    drive(&mut m, 20 * S);
    assert_eq!(names(&kinds(&mut m)), ["down"; 20]);
    assert_eq!(m.poll_timeout(), None);
    for bad in [
        Isolation {
            min_nodes: 0,
            ..Isolation::default()
        },
        Isolation {
            min_share: 0.0,
            ..Isolation::default()
        },
        Isolation {
            min_share: f64::NAN,
            ..Isolation::default()
        },
        Isolation {
            hold: Duration::ZERO,
            ..Isolation::default()
        },
    ] {
        let cfg = MonitorConfig {
            isolation: Some(bad),
            ..MonitorConfig::default()
        };
        assert_eq!(
            Monitor::new(cfg, t(0)).err(),
            Some(MonitorConfigError::Isolation),
            "{bad:?}"
        );
    }
}

#[test]
fn held_nodes_that_leave_or_restart_are_handled() {
    let mut m = fleet_monitor(Some(Isolation::default()));
    beats(&mut m, 0..20, 0, 10);
    drive(&mut m, 19 * S);
    kinds(&mut m);
    // A held node restarts: it is back (restarted), and counts as returned.
    beat(&mut m, 19 * S, "n00", 2, 1);
    assert_eq!(names(&kinds(&mut m)), ["restarted"]);
    // Ten held nodes leave: nine left held of nine alive-or-held… below ten: reconnected.
    for i in 1..11 {
        let leave = Message::Leave(Leave {
            node: &name(i),
            incarnation: 1,
            seq: 100,
            group: 0,
        });
        m.handle_datagram(t(19 * S + i), addr(), &msg_bytes(&leave, None));
    }
    let evs = names(&kinds(&mut m));
    assert_eq!(evs.last(), Some(&"reconnected"), "{evs:?}");
    assert_eq!(evs.iter().filter(|&&e| e == "left").count(), 10);
    m.check_invariants().unwrap();
}
