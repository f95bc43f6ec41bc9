//! Witness mode: three monitors that confirm each other's verdicts, over an in-memory network.

use std::collections::BTreeSet;

use super::*;
use crate::event::{DownReason, EventKind};
use crate::monitor::Quorum;

const MS: u64 = 1_000;

fn maddr(i: usize) -> SocketAddr {
    format!("10.0.0.{}:7000", i + 1).parse().unwrap()
}

/// Three monitors, each naming the other two, 2 of 3 needed, fixed 2.2 s timeouts.
struct Trio {
    m: Vec<Monitor>,
    /// Monitors whose path from the node drops every beat.
    cut: BTreeSet<usize>,
    /// Monitors stopped (they neither run nor receive).
    stopped: BTreeSet<usize>,
    now: u64,
    /// Monitor-to-monitor messages on their way: (arrival, to, from, bytes).
    inflight: Vec<(u64, usize, SocketAddr, Vec<u8>)>,
    log: Vec<(usize, u64, String, EventKind)>,
}

impl Trio {
    fn new() -> Self {
        Self::with(None)
    }

    /// With an isolation guard of its own (default: the monitor's default guard).
    fn with(isolation: Option<Isolation>) -> Self {
        let m = (0..3)
            .map(|i| {
                let cfg = MonitorConfig {
                    isolation: isolation.or(MonitorConfig::default().isolation),
                    id: format!("m{i}"),
                    detector: DetectorConfig::Fixed(Fixed {
                        timeout: Duration::from_millis(2200),
                    }),
                    stall_threshold: None,
                    quorum: Some(Quorum {
                        witnesses: (0..3).filter(|&j| j != i).map(maddr).collect(),
                        needed: 2,
                        period: Duration::from_secs(1),
                        incarnation: 1,
                    }),
                    ..MonitorConfig::default()
                };
                Monitor::new(cfg, t(0)).unwrap()
            })
            .collect();
        Self {
            m,
            cut: BTreeSet::new(),
            stopped: BTreeSet::new(),
            now: 0,
            inflight: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Runs every monitor's timers up to `until` (1 ms steps), delivering monitor-to-monitor
    /// messages 1 ms after they are sent.
    fn run(&mut self, until: u64) {
        while self.now < until {
            self.now += MS;
            let now = self.now;
            for (at, to, from, bytes) in std::mem::take(&mut self.inflight) {
                if at <= now {
                    if !self.stopped.contains(&to) {
                        self.m[to].handle_datagram(t(at), from, &bytes);
                    }
                } else {
                    self.inflight.push((at, to, from, bytes));
                }
            }
            for i in 0..3 {
                if self.stopped.contains(&i) {
                    continue;
                }
                if self.m[i]
                    .poll_timeout()
                    .is_some_and(|d| d.as_micros() <= now)
                {
                    self.m[i].handle_timeout(t(now));
                }
                self.m[i].check_invariants().unwrap();
                let mut buf = [0; MAX_DATAGRAM];
                while let Some(tx) = self.m[i].poll_transmit(&mut buf) {
                    if let Some(to) = (0..3).find(|&j| maddr(j) == tx.to) {
                        let bytes = buf[..tx.len].to_vec();
                        self.inflight.push((now + MS, to, maddr(i), bytes));
                    }
                }
                while let Some(e) = self.m[i].poll_event() {
                    self.log
                        .push((i, e.at.as_micros(), e.node.to_string(), e.kind));
                }
            }
        }
    }

    /// Node `node` beats (seq `seq`) to every monitor whose path is not cut, then time runs on
    /// one second.
    fn beat_and_run(&mut self, node: &str, seq: u64) {
        for i in 0..3 {
            if !self.cut.contains(&i) && !self.stopped.contains(&i) {
                beat(&mut self.m[i], self.now, node, 1, seq);
            }
        }
        self.run(self.now + S);
    }

    /// Nodes `n00..n{count}` beat (seq `seq`), then time runs on one second.
    fn fleet_beat_and_run(&mut self, count: usize, seq: u64) {
        for i in 0..3 {
            if !self.cut.contains(&i) && !self.stopped.contains(&i) {
                for n in 0..count {
                    beat(&mut self.m[i], self.now, &format!("n{n:02}"), 1, seq);
                }
            }
        }
        self.run(self.now + S);
    }

    fn named_at(&self, monitor: usize, name: &str) -> Vec<u64> {
        let all = self.named(name).into_iter();
        all.filter(|&(i, _)| i == monitor)
            .map(|(_, at)| at)
            .collect()
    }

    fn named(&self, name: &str) -> Vec<(usize, u64)> {
        self.log
            .iter()
            .filter(|(_, _, _, k)| k.name() == name)
            .map(|(i, at, _, _)| (*i, *at))
            .collect()
    }
}

#[test]
fn a_crash_is_down_everywhere_when_two_of_three_agree() {
    let mut trio = Trio::new();
    for seq in 1..=10 {
        trio.beat_and_run("a", seq);
    }
    // The last beat arrived at 9 s; the node is dead from then on.
    trio.run(14 * S);
    let downs = trio.named("down");
    assert_eq!(downs.len(), 3, "{:?}", trio.log);
    for &(_, at) in &downs {
        // Deadline 11.2 s; the second monitor's suspicion arrives 1 ms later.
        assert!((11_200 * MS..=11_202 * MS).contains(&at), "{downs:?}");
    }
    assert!(trio.log.iter().all(|(_, _, _, k)| !matches!(
        k,
        EventKind::Down {
            reason: DownReason::Silence,
            ..
        }
    )));
    let agreed = trio.log.iter().filter(|(_, _, _, k)| {
        matches!(
            k,
            EventKind::Down {
                reason: DownReason::Agreed,
                ..
            }
        )
    });
    assert_eq!(agreed.count(), 3);
    assert!(trio.named("unreachable").is_empty());
    assert!(trio.named("witness_down").is_empty());
    for m in &trio.m {
        let w = m.witnesses();
        assert_eq!((w.needed, w.up, w.fallback, w.held), (2, 3, false, 0));
        assert!(w.witnesses.iter().all(|v| v.heard && v.up));
    }
}

#[test]
fn a_cut_path_is_unreachable_from_one_monitor_and_down_nowhere() {
    let mut trio = Trio::new();
    for seq in 1..=5 {
        trio.beat_and_run("a", seq);
    }
    trio.cut.insert(0);
    for seq in 6..=15 {
        trio.beat_and_run("a", seq);
    }
    assert!(trio.named("down").is_empty(), "{:?}", trio.log);
    let unreachable: Vec<_> = trio
        .log
        .iter()
        .filter_map(|(i, at, node, k)| match k {
            EventKind::Unreachable { by, .. } => Some((*i, *at, node.clone(), by.to_string())),
            _ => None,
        })
        .collect();
    // Last beat heard by m0 at 4 s: deadline 6.2 s, reported one period later.
    assert_eq!(unreachable, [(0, 7_200 * MS, "a".into(), "m0".into())]);
    assert_eq!(trio.m[0].count(NodeState::Unreachable), 1);
    assert_eq!(trio.m[0].witnesses().held, 1);
    // The path heals: reachable again, no up (it was never down).
    trio.cut.clear();
    trio.beat_and_run("a", 16);
    assert_eq!(trio.named("reachable").len(), 1);
    assert!(trio.named("up").is_empty());
    assert_eq!(trio.m[0].count(NodeState::Alive), 1);
    // Then the node dies: down everywhere.
    trio.run(trio.now + 4 * S);
    assert_eq!(trio.named("down").len(), 3, "{:?}", trio.log);
}

#[test]
fn a_crash_while_one_path_is_cut_is_down_everywhere() {
    let mut trio = Trio::new();
    for seq in 1..=5 {
        trio.beat_and_run("a", seq);
    }
    trio.cut.insert(0);
    for seq in 6..=10 {
        trio.beat_and_run("a", seq);
    }
    // m0 holds `a` unreachable; the node dies at 10 s: m1 and m2 convict at 11.2 s and m0,
    // already suspecting, agrees at once.
    trio.run(14 * S);
    let downs = trio.named("down");
    assert_eq!(downs.len(), 3, "{:?}", trio.log);
    assert!(downs.iter().all(|&(_, at)| at <= 11_202 * MS), "{downs:?}");
}

#[test]
fn without_witnesses_a_monitor_falls_back_to_its_own_verdicts() {
    let mut trio = Trio::new();
    trio.stopped.extend([1, 2]);
    for seq in 1..=10 {
        trio.beat_and_run("a", seq);
    }
    // The witnesses were never heard: down after 2.2 s (the detector's bound) from the start.
    let lost: Vec<_> = trio
        .log
        .iter()
        .filter(|(_, _, _, k)| matches!(k, EventKind::QuorumLost { up: 1, needed: 2 }))
        .map(|(i, at, _, _)| (*i, *at))
        .collect();
    assert_eq!(lost, [(0, 2_200 * MS)]);
    assert_eq!(trio.named("witness_down").len(), 2);
    assert!(trio.m[0].witnesses().fallback);
    trio.run(14 * S);
    let down: Vec<_> = trio
        .log
        .iter()
        .filter(|(_, _, _, k)| {
            matches!(
                k,
                EventKind::Down {
                    reason: DownReason::Silence,
                    ..
                }
            )
        })
        .map(|(i, at, _, _)| (*i, *at))
        .collect();
    assert_eq!(down, [(0, 11_200 * MS)]);
}

#[test]
fn a_witness_that_returns_restores_the_quorum() {
    let mut trio = Trio::new();
    trio.stopped.insert(1);
    trio.stopped.insert(2);
    trio.run(5 * S);
    assert_eq!(trio.named("quorum_lost").len(), 1);
    trio.stopped.remove(&1);
    trio.run(7 * S);
    assert_eq!(trio.named_at(0, "witness_up").len(), 1);
    assert_eq!(trio.named_at(0, "quorum_regained").len(), 1);
    assert!(trio.named_at(0, "quorum_regained")[0] <= 6_002 * MS);
    assert!(!trio.m[0].witnesses().fallback);
    let ids: Vec<_> = trio.m[0]
        .witnesses()
        .witnesses
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, ["m1", "10.0.0.3:7000"]);
}

#[test]
fn verdicts_from_strangers_and_replays_are_refused() {
    let mut m = Trio::new().m.remove(0);
    let v = Message::Verdicts(wire::Verdicts {
        monitor: "m1",
        incarnation: 1,
        seq: 1,
        period_ms: 1000,
        suspect: ["a"].into_iter().collect(),
        trust: Default::default(),
    });
    let bytes = msg_bytes(&v, None);
    m.handle_datagram(t(S), "10.0.0.9:7000".parse().unwrap(), &bytes);
    assert_eq!(m.rejections().get(Rejection::UnknownWitness), 1);
    // A dual-stack socket sees the witness 10.0.0.2 as ::ffff:10.0.0.2: the same witness.
    m.handle_datagram(t(S), "[::ffff:10.0.0.2]:7000".parse().unwrap(), &bytes);
    m.handle_datagram(t(S + 1), maddr(1), &bytes);
    assert_eq!(m.rejections().get(Rejection::Replayed), 1);
    assert_eq!(m.witnesses().witnesses[0].messages, 1);
    // A monitor without witnesses refuses verdicts too.
    let mut plain = monitor(3);
    plain.handle_datagram(t(S), maddr(1), &bytes);
    assert_eq!(plain.rejections().get(Rejection::UnknownWitness), 1);
}

#[test]
fn quorum_settings_are_bounded() {
    let q = |witnesses: Vec<SocketAddr>, needed| MonitorConfig {
        quorum: Some(Quorum {
            witnesses,
            needed,
            period: Duration::from_secs(1),
            incarnation: 1,
        }),
        ..MonitorConfig::default()
    };
    assert!(Monitor::new(q(vec![maddr(1)], 2), t(0)).is_ok());
    assert!(Monitor::new(q(vec![maddr(1)], 3), t(0)).is_err());
    assert!(Monitor::new(q(vec![maddr(1)], 0), t(0)).is_err());
    assert!(Monitor::new(q(vec![maddr(1), maddr(1)], 2), t(0)).is_err());
    assert!(Monitor::new(q(vec![], 1), t(0)).is_err());
    assert_eq!(Quorum::majority(2), 2);
    assert_eq!(Quorum::majority(3), 3);
    assert_eq!(Quorum::majority(4), 3);
}

#[test]
fn an_isolated_monitor_asks_its_witnesses_when_the_hold_ends() {
    let mut trio = Trio::with(Some(Isolation {
        hold: Duration::from_secs(5),
        ..Default::default()
    }));
    for seq in 1..=5 {
        trio.fleet_beat_and_run(12, seq);
    }
    // m0 loses all twelve nodes (its side of the network), the others still hear them.
    trio.cut.insert(0);
    for seq in 6..=15 {
        trio.fleet_beat_and_run(12, seq);
    }
    assert_eq!(trio.named_at(0, "isolated").len(), 1, "{:?}", trio.log);
    assert_eq!(trio.named_at(0, "hold_expired").len(), 1);
    // The hold passed: its nodes wait for the witnesses, who hear them: nobody is down.
    assert!(trio.named("down").is_empty(), "{:?}", trio.named("down"));
    let w = trio.m[0].witnesses();
    assert_eq!((w.held, w.fallback), (12, false));
    assert_eq!(trio.m[0].isolation().held, 0);
    // All twelve die. To m1 and m2 that is a mass silence too (isolated, held); when their
    // hold ends they ask the witnesses, and m0 has suspected all twelve all along — its
    // suspicions of twelve nodes need two datagrams per round, and both arrive: every
    // monitor reports all twelve down, agreed.
    trio.run(trio.now + 10 * S);
    assert_eq!(trio.named_at(1, "isolated").len(), 1);
    let downs = trio.log.iter().filter(|(_, _, _, k)| {
        matches!(
            k,
            EventKind::Down {
                reason: DownReason::Agreed,
                ..
            }
        )
    });
    assert_eq!(downs.count(), 36, "{:?}", trio.named("down"));
    for m in &trio.m {
        assert_eq!(m.count(NodeState::Down), 12);
    }
}

#[test]
fn a_node_that_leaves_while_held_is_no_longer_suspected() {
    let mut trio = Trio::new();
    for seq in 1..=3 {
        trio.beat_and_run("a", seq);
    }
    trio.cut.insert(0);
    for seq in 4..=8 {
        trio.beat_and_run("a", seq);
    }
    assert_eq!(trio.m[0].witnesses().held, 1);
    let bytes = beat_bytes("a", 1, 9, BeatFlags::LEAVING);
    for i in 0..3 {
        trio.m[i].handle_datagram(t(trio.now), addr(), &bytes);
    }
    trio.run(trio.now + 3 * S);
    assert_eq!(trio.m[0].witnesses().held, 0);
    assert_eq!(trio.named("left").len(), 3);
    assert!(trio.named("down").is_empty());
}

#[test]
fn with_keys_an_unsigned_verdict_is_refused_even_where_unsigned_beats_are_not() {
    let key = Key::new(1, [7; 32]);
    let cfg = MonitorConfig {
        keyring: Keyring::new(vec![key.clone()], false),
        ..Trio::new().m.remove(0).config().clone()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    let v = |seq| {
        Message::Verdicts(wire::Verdicts {
            monitor: "m1",
            incarnation: 1,
            seq,
            period_ms: 1000,
            suspect: ["a"].into_iter().collect(),
            trust: Default::default(),
        })
    };
    m.handle_datagram(t(S), maddr(1), &msg_bytes(&v(1), None));
    assert_eq!(m.rejections().get(Rejection::Unauthenticated), 1);
    assert_eq!(m.witnesses().witnesses[0].messages, 0);
    m.handle_datagram(t(S), maddr(1), &msg_bytes(&v(2), Some(&key)));
    assert_eq!(m.witnesses().witnesses[0].messages, 1);
}

#[test]
fn a_trust_is_repeated_for_two_periods() {
    let mut m = Trio::new().m.remove(0);
    let trusts = |m: &mut Monitor| {
        let mut buf = [0; MAX_DATAGRAM];
        let mut out = Vec::new();
        while let Some(tx) = m.poll_transmit(&mut buf) {
            if let Ok(d) = wire::decode(&buf[..tx.len], &Keyring::open())
                && let Message::Verdicts(v) = d.message
            {
                out.push(v.trust.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            }
        }
        out
    };
    // Witnesses that keep talking, so the quorum stays up and `a` is held, not down.
    let mut seq = 0;
    let mut witnesses_talk = |m: &mut Monitor, at: u64| {
        for w in 1..3 {
            seq += 1;
            let v = Message::Verdicts(wire::Verdicts {
                monitor: if w == 1 { "m1" } else { "m2" },
                incarnation: 1,
                seq,
                period_ms: 1000,
                suspect: Default::default(),
                trust: Default::default(),
            });
            m.handle_datagram(t(at), maddr(w), &msg_bytes(&v, None));
        }
    };
    beat(&mut m, 0, "a", 1, 1);
    for s in 1..=4 {
        witnesses_talk(&mut m, s * S);
        m.handle_timeout(t(s * S));
    }
    assert_eq!(m.witnesses().held, 1, "a convicted at 2.2 s, held");
    trusts(&mut m);
    beat(&mut m, 4 * S + 500_000, "a", 1, 2);
    assert_eq!(trusts(&mut m), [["a"], ["a"]], "at once, to both witnesses");
    let mut repeated = Vec::new();
    for s in 5..=8 {
        witnesses_talk(&mut m, s * S);
        m.handle_timeout(t(s * S));
        beat(&mut m, s * S + 1, "a", 1, s);
        repeated.push(trusts(&mut m).into_iter().filter(|t| !t.is_empty()).count());
    }
    // Repeated in the rounds at 5 s and 6 s (within two periods of 4.5 s), to both witnesses.
    assert_eq!(repeated, [2, 2, 0, 0]);
}
