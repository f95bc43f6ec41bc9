//! The monitor against a brute-force reference model (fixed detector).
//!
//! The model keeps every node's full history in plain collections and, at each input, scans
//! all nodes for silences that crossed the timeout. The real monitor must emit exactly the
//! model's events, in order, and keep its invariants after every input.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use hb_core::detector::{DetectorConfig, Fixed};
use hb_core::wire::{self, Beat, Leave, MAX_DATAGRAM, Message};
use hb_core::{EventKind, Monitor, MonitorConfig, Rejection, Timestamp};
use proptest::prelude::*;

const TIMEOUT: u64 = 3_000_000;
const WINDOW: u64 = 64;

#[derive(Clone, Debug)]
enum Op {
    Beat {
        node: u8,
        inc: u8,
        seq: u16,
        dt: u32,
    },
    Leave {
        node: u8,
        inc: u8,
        seq: u16,
        dt: u32,
    },
    Tick {
        dt: u32,
    },
    /// Wake exactly at the monitor's `poll_timeout`, as a real driver does.
    ToDeadline,
    Garbage {
        dt: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let dt = prop_oneof![
        0u32..10,
        0u32..1_500_000,
        2_500_000u32..3_500_000,
        0u32..10_000_000
    ];
    prop_oneof![
        8 => (0u8..5, 1u8..4, 0u16..120, dt.clone()).prop_map(|(node, inc, seq, dt)| Op::Beat { node, inc, seq, dt }),
        1 => (0u8..5, 1u8..4, 0u16..120, dt.clone()).prop_map(|(node, inc, seq, dt)| Op::Leave { node, inc, seq, dt }),
        2 => dt.clone().prop_map(|dt| Op::Tick { dt }),
        3 => Just(Op::ToDeadline),
        1 => dt.prop_map(|dt| Op::Garbage { dt }),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Alive,
    Down,
    Left,
}

#[derive(Debug)]
struct RefNode {
    reg: usize,
    inc: u64,
    highest: u64,
    seen: BTreeSet<u64>,
    last: u64,
    state: St,
}

#[derive(Default)]
struct Model {
    nodes: BTreeMap<u8, RefNode>,
    registered: usize,
    events: Vec<(u64, String, &'static str)>,
    now: u64,
}

impl Model {
    fn advance(&mut self, now: u64) {
        let mut due: Vec<(u64, usize, u8)> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.state == St::Alive && n.last + TIMEOUT <= now)
            .map(|(&k, n)| (n.last + TIMEOUT, n.reg, k))
            .collect();
        due.sort();
        for (_, _, k) in due {
            self.nodes.get_mut(&k).unwrap().state = St::Down;
            self.events.push((now, name(k), "down"));
        }
        self.now = now;
    }

    /// Classifies seq and records it: Some(true) fresh, Some(false) reordered, None refused.
    fn seq(n: &mut RefNode, seq: u64) -> Option<bool> {
        if seq > n.highest {
            n.seen.insert(n.highest);
            n.highest = seq;
            return Some(true);
        }
        if seq == n.highest || n.seen.contains(&seq) || n.highest - seq > WINDOW {
            return None;
        }
        n.seen.insert(seq);
        Some(false)
    }

    fn beat(&mut self, k: u8, inc: u64, seq: u64) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(&k) else {
            self.nodes.insert(
                k,
                RefNode {
                    reg: self.registered,
                    inc,
                    highest: seq,
                    seen: BTreeSet::new(),
                    last: now,
                    state: St::Alive,
                },
            );
            self.registered += 1;
            self.events.push((now, name(k), "joined"));
            return;
        };
        if inc < n.inc {
            return;
        }
        let ev = if inc > n.inc {
            let ev = if n.state == St::Left {
                "joined"
            } else {
                "restarted"
            };
            n.inc = inc;
            n.highest = seq;
            n.seen.clear();
            Some(ev)
        } else {
            match Self::seq(n, seq) {
                Some(true) => match n.state {
                    St::Alive => None,
                    St::Down => Some("up"),
                    St::Left => Some("joined"),
                },
                _ => return,
            }
        };
        n.last = now;
        n.state = St::Alive;
        if let Some(ev) = ev {
            self.events.push((now, name(k), ev));
        }
    }

    fn leave(&mut self, k: u8, inc: u64, seq: u64) {
        let Some(n) = self.nodes.get_mut(&k) else {
            return;
        };
        if inc < n.inc {
            return;
        }
        if inc == n.inc {
            if Self::seq(n, seq).is_none() {
                return;
            }
        } else {
            n.inc = inc;
            n.highest = seq;
            n.seen.clear();
        }
        if n.state != St::Left {
            n.state = St::Left;
            self.events.push((self.now, name(k), "left"));
        }
    }
}

fn name(k: u8) -> String {
    format!("node-{k}")
}

fn encode(msg: &Message<'_>) -> Vec<u8> {
    let mut buf = [0; MAX_DATAGRAM];
    let n = wire::encode(msg, None, &mut buf).unwrap();
    buf[..n].to_vec()
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_micros(TIMEOUT),
        }),
        // The model has no notion of the monitor's own stalls (see the monitor's unit tests).
        stall_threshold: None,
        // Nor of the isolation guard (it never engages below ten nodes, but its quiet marks
        // would make `ToDeadline` stop short of the deadline; its own tests are in
        // core/src/monitor/tests/isolation.rs).
        isolation: None,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, Timestamp::ZERO).unwrap();
    let mut model = Model::default();
    let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let mut now = 0u64;
    let mut got = Vec::new();
    for op in ops {
        let dt = match op {
            Op::Beat { dt, .. } | Op::Leave { dt, .. } | Op::Tick { dt } | Op::Garbage { dt } => {
                *dt
            }
            Op::ToDeadline => 0,
        };
        now += u64::from(dt);
        if let (Op::ToDeadline, Some(d)) = (op, m.poll_timeout()) {
            now = d.as_micros();
        }
        let t = Timestamp::from_micros(now);
        model.advance(now);
        match *op {
            Op::Beat { node, inc, seq, .. } => {
                let id = name(node);
                let b = Beat {
                    period_ms: 1000,
                    ..Beat::new(&id, inc.into(), seq.into())
                };
                m.handle_datagram(t, from, &encode(&Message::Beat(b)));
                model.beat(node, inc.into(), seq.into());
            }
            Op::Leave { node, inc, seq, .. } => {
                let id = name(node);
                let l = Leave {
                    node: &id,
                    incarnation: inc.into(),
                    seq: seq.into(),
                    group: 0,
                };
                m.handle_datagram(t, from, &encode(&Message::Leave(l)));
                model.leave(node, inc.into(), seq.into());
            }
            Op::Tick { .. } | Op::ToDeadline => m.handle_timeout(t),
            Op::Garbage { .. } => m.handle_datagram(t, from, b"HB\x01\x01\x00\xff\xff"),
        }
        while let Some(e) = m.poll_event() {
            prop_assert!(
                got.last()
                    .is_none_or(|(at, _, _): &(u64, String, &str)| *at <= e.at.as_micros()),
                "events out of time order"
            );
            got.push((e.at.as_micros(), e.node.to_string(), e.kind.name()));
            if let EventKind::Down { silence, .. } = e.kind {
                prop_assert!(silence >= Duration::from_micros(TIMEOUT));
            }
        }
        m.check_invariants().map_err(TestCaseError::fail)?;
        if let Some(next) = m.poll_timeout() {
            prop_assert!(next > t, "poll_timeout in the past");
        }
        prop_assert_eq!(&got, &model.events);
    }
    // Never down twice without coming back in between.
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for (_, node, ev) in &got {
        if *ev == "down" {
            prop_assert_ne!(last.get(node.as_str()).copied(), Some("down"));
        }
        last.insert(node, ev);
    }
    prop_assert_eq!(
        m.rejections().get(Rejection::Malformed),
        ops.iter()
            .filter(|o| matches!(o, Op::Garbage { .. }))
            .count() as u64
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn monitor_matches_reference_model(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops)?;
    }
}
