//! Restoring a stored registry at start.

use super::*;
use crate::id::NodeId;

fn restored(id: &str, state: NodeState, seq: u64) -> RestoredNode {
    RestoredNode {
        id: NodeId::new(id).unwrap(),
        addr: addr(),
        incarnation: 7,
        seq,
        state,
        period: Duration::from_secs(1),
        last_seen: t(0),
        state_since: t(0),
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
    // The quiet mark first (isolation guard), 1.5 periods before the 103 s deadline.
    assert_eq!(m.poll_timeout(), Some(t(101 * S + S / 2)));
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

/// Issue 13: a restart used to overwrite a down node's `last_seen` and `state_since` with the
/// restart time, so "down since" and the last-beat metric lied.
#[test]
fn restored_down_and_left_nodes_keep_their_true_last_seen_and_state_since() {
    let mut m = monitor(3);
    m.restore(
        [
            RestoredNode {
                last_seen: t(40 * S),
                state_since: t(43 * S),
                ..restored("was-down", NodeState::Down, 5)
            },
            RestoredNode {
                last_seen: t(50 * S),
                state_since: t(50 * S),
                ..restored("gone", NodeState::Left, 5)
            },
            RestoredNode {
                last_seen: t(90 * S),
                state_since: t(10 * S),
                ..restored("live", NodeState::Alive, 5)
            },
            RestoredNode {
                last_seen: t(500 * S),
                state_since: t(500 * S),
                ..restored("future", NodeState::Down, 5)
            },
        ],
        t(100 * S),
    );
    let at = |id: &str| {
        let n = m.node(id, t(100 * S)).unwrap();
        (n.last_seen, n.state_since)
    };
    assert_eq!(at("was-down"), (t(40 * S), t(43 * S)));
    assert_eq!(at("gone"), (t(50 * S), t(50 * S)));
    assert_eq!(
        at("live"),
        (t(100 * S), t(10 * S)),
        "alive: silence counts from the restart; alive since its true time"
    );
    assert_eq!(at("future"), (t(100 * S), t(100 * S)), "never after now");
    m.check_invariants().unwrap();
    beat(&mut m, 101 * S, "was-down", 7, 6);
    let up = m.poll_event().unwrap();
    assert_eq!(
        up.kind,
        crate::EventKind::Up {
            down_for: Duration::from_secs(58)
        },
        "down for its true time"
    );
}

#[test]
fn restored_down_nodes_are_forgotten_after_their_true_state_since() {
    let cfg = MonitorConfig {
        forget_after: Some(Duration::from_secs(10)),
        ..monitor(3).config().clone()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    m.restore(
        [
            RestoredNode {
                state_since: t(5 * S),
                ..restored("overdue", NodeState::Down, 1)
            },
            RestoredNode {
                state_since: t(95 * S),
                ..restored("recent", NodeState::Down, 1)
            },
        ],
        t(100 * S),
    );
    assert_eq!(
        m.poll_timeout(),
        Some(t(100 * S + 1)),
        "the overdue one at once"
    );
    m.check_invariants().unwrap();
    m.handle_timeout(t(100 * S + 1));
    assert_eq!(
        events(&mut m),
        [(100 * S + 1, "overdue".into(), "forgotten")]
    );
    assert_eq!(
        m.poll_timeout(),
        Some(t(105 * S)),
        "not 10 s after the restart"
    );
    m.handle_timeout(t(105 * S));
    assert_eq!(events(&mut m), [(105 * S, "recent".into(), "forgotten")]);
}

/// Issue 13: probe states were not stored; a probe in error came back as ok after a restart.
#[test]
fn restored_probe_states_carry_on_without_an_event() {
    use crate::probe::ProbeStatus;
    let mut m = monitor(3);
    m.restore([restored("a", NodeState::Alive, 1)], t(100 * S));
    let probe = |node: &str, name: &str| RestoredProbe {
        node: NodeId::new(node).unwrap(),
        probe: name.into(),
        status: ProbeStatus::Error,
        since: t(60 * S),
        value: 99.0,
    };
    let r = m.restore_probes(
        [
            probe("a", "disk"),
            probe("a", "disk"),
            probe("unknown", "disk"),
        ],
        t(100 * S),
    );
    assert_eq!(
        r,
        Restored {
            restored: 1,
            skipped: 2
        }
    );
    assert!(events(&mut m).is_empty(), "not announced again");
    let (name, s) = m.probes("a").next().unwrap();
    assert_eq!(
        (name, s.status, s.since, s.value),
        ("disk", ProbeStatus::Error, t(60 * S), 99.0)
    );
    // The sender's status decides (no rule): three ok readings (the default hysteresis) end
    // the error.
    let disk = [wire::Reading::new("disk", 10.0, 0)];
    for seq in 2..5 {
        let msg = Message::Beat(Beat {
            period_ms: 1000,
            readings: wire::Readings::from_slice(&disk),
            ..Beat::new("a", 7, seq)
        });
        m.handle_datagram(t(100 * S + seq), addr(), &msg_bytes(&msg, None));
    }
    let e = m.poll_event().unwrap();
    assert_eq!(
        e.kind,
        crate::EventKind::Probe {
            probe: "disk".into(),
            status: ProbeStatus::Ok,
            previous: ProbeStatus::Error,
            value: 10.0
        }
    );
}
