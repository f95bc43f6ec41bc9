//! Simulated beats per second through the full Beater → bytes → link → Monitor path.
//!
//! `cargo bench -p hb-sim --bench engine`; criterion reports throughput in beats/s (one core).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hb_sim::{Link, Scenario, fixed, phi, run_trace};

fn scenario(check_invariants: bool) -> Scenario {
    Scenario {
        detector: fixed(Duration::from_secs(3)),
        link: Link::parse("loss=1%;delay=normal:20ms,5ms").expect("valid link"),
        duration: Duration::from_secs(3600),
        check_invariants,
        ..Scenario::default()
    }
}

fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    let beats = run_trace(&scenario(false), 1).stats.beats_sent;
    println!("beats per trace: {beats}");
    g.throughput(Throughput::Elements(beats));
    // Baseline, same run: encode and decode as many beats, the floor of the bytes path.
    g.bench_function("baseline_wire_round_trip", |b| {
        let keys = hb_core::Keyring::open();
        let mut buf = [0u8; hb_core::wire::MAX_DATAGRAM];
        b.iter(|| {
            let mut sum = 0u64;
            for seq in 0..beats {
                let msg = hb_core::wire::Message::Beat(hb_core::wire::Beat {
                    period_ms: 1000,
                    flags: hb_core::wire::BeatFlags::default(),
                    sent_at_us: seq * 1_000_000,
                    ..hb_core::wire::Beat::new("node-1", 1, seq)
                });
                let n = hb_core::wire::encode(&msg, None, &mut buf).unwrap();
                if let Ok(d) = hb_core::wire::decode(&buf[..n], &keys) {
                    sum += d.key_id.unwrap_or(1) as u64;
                }
            }
            black_box(sum)
        });
    });
    g.bench_function("fixed_1h_lossy", |b| {
        let sc = scenario(false);
        b.iter(|| black_box(run_trace(&sc, black_box(7)).hash));
    });
    g.bench_function("fixed_1h_lossy_invariants", |b| {
        let sc = scenario(true);
        b.iter(|| black_box(run_trace(&sc, black_box(7)).hash));
    });
    g.bench_function("phi_1h_lossy", |b| {
        let sc = Scenario {
            detector: phi(8.0),
            ..scenario(false)
        };
        b.iter(|| black_box(run_trace(&sc, black_box(7)).hash));
    });
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
