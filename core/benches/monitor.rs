//! Core benchmarks at 1M known nodes (issue: core must handle a beat and drain outputs in
//! ≤ 150 ns and hold ≤ 200 B per node).
//!
//! Every node id has the same length and every seq is a two-byte varint (128–16383), so one
//! template datagram per node is patched in place instead of encoding in the timed loop.
//! Time advances 1 µs per beat, so at 1M nodes each node beats once per virtual second, as a
//! fleet with a 1 s period would.
//!
//! Baseline, measured in the same run: decode the same datagram and update one u64 in a
//! hashbrown map keyed by the id — the least any monitor could do per beat. The budget
//! detector is measured against `fixed` too (issue 15: amortised ≤ 1.3× per beat), and `fixed`
//! against itself without the isolation guard (issue 16: the cost of the quiet marks).

// A benchmark measures real time; the sans-IO rule (core/clippy.toml) is for the library.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use hb_core::detector::{AlarmRate, Budget, DetectorConfig, Fixed, Phi};
use hb_core::wire::{self, Beat, MAX_DATAGRAM, Message};
use hb_core::{Isolation, Keyring, Monitor, MonitorConfig, Timestamp};

struct Fleet {
    nodes: usize,
    bytes: Vec<u8>,
    len: usize,
    seq_at: usize,
}

impl Fleet {
    fn new(nodes: usize) -> Self {
        let mut buf = [0u8; MAX_DATAGRAM];
        let mut bytes = Vec::new();
        let mut len = 0;
        for i in 0..nodes {
            let id = format!("node-{i:07}");
            let msg = Message::Beat(Beat {
                period_ms: 1000,
                ..Beat::new(&id, 1, 128)
            });
            len = wire::encode(&msg, None, &mut buf).unwrap();
            bytes.extend_from_slice(&buf[..len]);
        }
        // Header (5) + id length (1) + id (12) + incarnation (1) = offset of the seq byte.
        Self {
            nodes,
            bytes,
            len,
            seq_at: 5 + 1 + 12 + 1,
        }
    }

    fn datagram(&mut self, i: usize, seq: u64) -> &[u8] {
        assert!(
            (128..16384).contains(&seq),
            "benchmark ran past its template"
        );
        let d = &mut self.bytes[i * self.len..(i + 1) * self.len];
        d[self.seq_at] = (seq & 0x7f) as u8 | 0x80;
        d[self.seq_at + 1] = (seq >> 7) as u8;
        d
    }
}

fn monitor(detector: DetectorConfig, guard: bool, fleet: &mut Fleet) -> Monitor {
    let cfg = MonitorConfig {
        detector,
        hash_seed: 42,
        isolation: guard.then(Isolation::default),
        ..MonitorConfig::default()
    };
    let mut m = Monitor::with_capacity(cfg, Timestamp::ZERO, fleet.nodes).unwrap();
    let from: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    for i in 0..fleet.nodes {
        m.handle_datagram(
            Timestamp::from_micros(i as u64),
            from,
            fleet.datagram(i, 128),
        );
        while m.poll_event().is_some() {}
    }
    m
}

/// Runs `iters` beats round-robin over the fleet starting at virtual time `t0`.
fn beats(m: &mut Monitor, fleet: &mut Fleet, iters: u64, t0: &mut u64) -> Duration {
    let from: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    let mut buf = [0u8; MAX_DATAGRAM];
    let start = Instant::now();
    let n = fleet.nodes as u64;
    // Every node beats once per virtual second, whatever the fleet size.
    let step = 1_000_000 / n;
    for _ in 0..iters {
        let i = (*t0 % n) as usize;
        let seq = 129 + *t0 / n;
        *t0 += 1;
        let now = Timestamp::from_micros((n + *t0) * step);
        m.handle_datagram(now, from, fleet.datagram(i, seq));
        while let Some(e) = m.poll_event() {
            black_box(e);
        }
        while let Some(t) = m.poll_transmit(&mut buf) {
            black_box(t);
        }
        black_box(m.poll_timeout());
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    // 1M nodes: the target, memory-latency bound (every beat misses the caches).
    // 10k nodes: everything cache-resident, so the figure is the per-beat compute.
    for (label, nodes) in [("1m", 1_000_000usize), ("10k", 10_000)] {
        let mut fleet = Fleet::new(nodes);
        let mut g = c.benchmark_group(format!("monitor_{label}_nodes"));
        g.sample_size(20).measurement_time(Duration::from_secs(4));
        let fixed = DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(3),
        });
        // The isolation guard (on by default) adds a quiet mark per node to the deadline heap:
        // `fixed_guard_off` is the same detector without it (issue 16).
        let detectors = [
            ("fixed", fixed, true),
            ("fixed_guard_off", fixed, false),
            ("phi", DetectorConfig::Phi(Phi::default()), true),
            // Its link estimates live in a side table (128 B/node more than fixed); a solve
            // every 128 beats (no loss here), so the per-beat figure is the amortised cost.
            (
                "budget",
                DetectorConfig::Budget(Budget::new(AlarmRate::parse("1/day").unwrap())),
                true,
            ),
        ];
        for (name, det, guard) in detectors {
            let mut m = monitor(det, guard, &mut fleet);
            let per_node = m.heap_bytes() as f64 / nodes as f64;
            println!(
                "memory/{name}/{label}: {per_node:.1} bytes per node (registry + index + heap)"
            );
            let mut t0 = 0u64;
            g.bench_function(format!("beat_{name}"), |b| {
                b.iter_custom(|iters| beats(&mut m, &mut fleet, iters, &mut t0))
            });
            assert_eq!(
                m.count(hb_core::NodeState::Down),
                0,
                "no false downs in the benchmark"
            );
        }

        // Baseline: decode + one hash-map update per beat.
        let keys = Keyring::open();
        let mut map: hashbrown::HashMap<String, u64, foldhash::fast::FixedState> =
            hashbrown::HashMap::with_capacity_and_hasher(
                nodes,
                foldhash::fast::FixedState::with_seed(42),
            );
        for i in 0..nodes {
            map.insert(format!("node-{i:07}"), 0);
        }
        // The memory baseline: the same naive id → last-arrival map (table + id strings).
        let naive = map.allocation_size() + map.keys().map(String::capacity).sum::<usize>();
        println!(
            "memory/baseline/{label}: {:.1} bytes per node (HashMap<String, u64> of the ids)",
            naive as f64 / nodes as f64
        );
        let mut t0 = 0u64;
        g.bench_function("baseline_decode_and_map_update", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let i = (t0 % nodes as u64) as usize;
                    t0 += 1;
                    let d = wire::decode(fleet.datagram(i, 129), &keys).unwrap();
                    if let Message::Beat(b) = d.message
                        && let Some(v) = map.get_mut(b.node)
                    {
                        *v = t0;
                    }
                }
                start.elapsed()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
