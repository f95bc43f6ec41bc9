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
