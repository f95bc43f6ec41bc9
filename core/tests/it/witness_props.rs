//! Witness mode under arbitrary interleavings: three monitors, four nodes, beats to any subset
//! of the monitors, verdicts delivered late, duplicated, reordered or lost.
//!
//! After every input each monitor keeps its invariants, and every down agreed by the witnesses
//! is backed by a real suspicion: when monitor `i` reports node `n` down (reason `agreed`),
//! some other monitor `j` held `n` unreachable or down at some instant within the vote's
//! lifetime (1.5 witness periods) plus the network's largest delay before.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use hb_core::detector::{DetectorConfig, Fixed};
use hb_core::wire::{self, Beat, MAX_DATAGRAM, Message};
use hb_core::{DownReason, EventKind, Monitor, MonitorConfig, NodeState, Quorum, Timestamp};
use proptest::prelude::*;

const MONITORS: usize = 3;
const NODES: u8 = 4;
/// Verdicts older than this are lost: the network's largest delay.
const MAX_DELAY: u64 = 500_000;
/// A vote's lifetime: 1.5 periods of 1 s.
const VOTE_TTL: u64 = 1_500_000;

#[derive(Clone, Debug)]
enum Op {
    /// Node `node` beats to the monitors in `to` (a bit mask), `dt` µs later.
    Beat { node: u8, to: u8, dt: u32 },
    /// Every monitor's timer runs, `dt` µs later.
    Tick { dt: u32 },
    /// One verdict in flight arrives (and stays in flight if `again`: a duplicate later).
    Deliver { pick: u16, again: bool },
    /// One verdict in flight is lost.
    Lose { pick: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    let dt = prop_oneof![0u32..50_000, 0u32..1_200_000, 2_000_000u32..3_000_000];
    prop_oneof![
        6 => (0..NODES, 1u8..8, dt.clone()).prop_map(|(node, to, dt)| Op::Beat { node, to, dt }),
        3 => dt.prop_map(|dt| Op::Tick { dt }),
        6 => (any::<u16>(), any::<bool>()).prop_map(|(pick, again)| Op::Deliver { pick, again }),
        1 => any::<u16>().prop_map(|pick| Op::Lose { pick }),
    ]
}

fn maddr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 10 + i as u8], 7000))
}

fn monitor(i: usize) -> Monitor {
    let cfg = MonitorConfig {
        id: format!("m{i}"),
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_millis(2200),
        }),
        stall_threshold: None,
        quorum: Some(Quorum {
            witnesses: (0..MONITORS).filter(|&j| j != i).map(maddr).collect(),
            needed: 2,
            period: Duration::from_secs(1),
            incarnation: 1,
        }),
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, Timestamp::ZERO).unwrap()
}

struct Flight {
    sent: u64,
    to: usize,
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// The three monitors and what is in flight between them.
struct Net {
    m: Vec<Monitor>,
    flights: Vec<Flight>,
    /// (monitor, node) → the latest instant it held the node unreachable or down.
    suspected: BTreeMap<(usize, String), u64>,
}

impl Net {
    /// After an input: collect verdicts sent, check agreed downs and invariants, note who
    /// suspects whom.
    fn settle(&mut self, now: u64) -> Result<(), TestCaseError> {
        for (i, mon) in self.m.iter_mut().enumerate() {
            let mut buf = [0; MAX_DATAGRAM];
            while let Some(tx) = mon.poll_transmit(&mut buf) {
                if let Some(to) = (0..MONITORS).find(|&j| maddr(j) == tx.to) {
                    let bytes = buf[..tx.len].to_vec();
                    self.flights.push(Flight {
                        sent: now,
                        to,
                        from: maddr(i),
                        bytes,
                    });
                }
            }
            while let Some(e) = mon.poll_event() {
                if let EventKind::Down {
                    reason: DownReason::Agreed,
                    ..
                } = e.kind
                {
                    let at = e.at.as_micros();
                    let backed = (0..MONITORS).filter(|&j| j != i).any(|j| {
                        self.suspected
                            .get(&(j, e.node.to_string()))
                            .is_some_and(|&s| s + VOTE_TTL + MAX_DELAY >= at)
                    });
                    prop_assert!(
                        backed,
                        "m{i} agreed {} down at {at} with no suspicion",
                        e.node
                    );
                }
            }
            mon.check_invariants().map_err(TestCaseError::fail)?;
            let w = mon.witnesses();
            prop_assert!(w.held <= usize::from(NODES));
            prop_assert_eq!(w.needed, 2);
        }
        for (i, mon) in self.m.iter().enumerate() {
            for n in mon.nodes(Timestamp::from_micros(now)) {
                if matches!(n.state, NodeState::Unreachable | NodeState::Down) {
                    self.suspected.insert((i, n.id.to_string()), now);
                }
            }
        }
        Ok(())
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut net = Net {
        m: (0..MONITORS).map(monitor).collect(),
        flights: Vec::new(),
        suspected: BTreeMap::new(),
    };
    let node_addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let mut seqs = [0u64; NODES as usize];
    let mut now = 0u64;
    for op in ops {
        let dt = match *op {
            Op::Beat { dt, .. } | Op::Tick { dt } => dt,
            Op::Deliver { .. } | Op::Lose { .. } => 0,
        };
        now += u64::from(dt);
        let t = Timestamp::from_micros(now);
        // Timers first, on time, as a driver runs them; then the op's own input.
        for mon in &mut net.m {
            if mon.poll_timeout().is_some_and(|d| d <= t) {
                mon.handle_timeout(t);
            }
        }
        net.settle(now)?;
        match *op {
            Op::Beat { node, to, .. } => {
                seqs[node as usize] += 1;
                let id = format!("n{node}");
                let beat = Message::Beat(Beat {
                    period_ms: 1000,
                    ..Beat::new(&id, 1, seqs[node as usize])
                });
                let mut buf = [0; MAX_DATAGRAM];
                let len = wire::encode(&beat, None, &mut buf).unwrap();
                for (i, mon) in net.m.iter_mut().enumerate() {
                    if to & (1 << i) != 0 {
                        mon.handle_datagram(t, node_addr, &buf[..len]);
                    }
                }
            }
            Op::Tick { .. } => {}
            Op::Deliver { pick, again } => {
                net.flights.retain(|f| f.sent + MAX_DELAY >= now);
                if !net.flights.is_empty() {
                    let k = pick as usize % net.flights.len();
                    let f = &net.flights[k];
                    net.m[f.to].handle_datagram(t, f.from, &f.bytes);
                    if !again {
                        net.flights.remove(k);
                    }
                }
            }
            Op::Lose { pick } => {
                if !net.flights.is_empty() {
                    let k = pick as usize % net.flights.len();
                    net.flights.remove(k);
                }
            }
        }
        net.settle(now)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn agreed_downs_are_backed_and_invariants_hold(ops in prop::collection::vec(op(), 1..200)) {
        run(&ops)?;
    }
}
