//! A two-node network in one process: a Beater and a Monitor joined by a seeded lossy link,
//! stepped through virtual time (quinn's `Pair` idea).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

use hb_core::detector::{DetectorConfig, Fixed};
use hb_core::wire::MAX_DATAGRAM;
use hb_core::{
    Beater, BeaterConfig, BeaterEvent, Event, EventKind, Keyring, Monitor, MonitorConfig, NodeId,
    Timestamp,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BEATER: &str = "10.0.0.1:1000";
const MONITOR: &str = "10.0.0.2:43278";

/// A datagram in flight: (arrival, send order, to the monitor?, bytes).
type InFlight = Reverse<(Timestamp, u64, bool, Vec<u8>)>;

struct Pair {
    beater: Beater,
    monitor: Monitor,
    now: Timestamp,
    wire: BinaryHeap<InFlight>,
    sent: u64,
    rng: ChaCha8Rng,
    loss: f64,
    latency: Duration,
    /// Crashed beaters send nothing and get no timer.
    crashed: bool,
    /// Acks from the monitor are dropped (one-way partition).
    acks_cut: bool,
    events: Vec<Event>,
    beater_events: Vec<(Timestamp, BeaterEvent)>,
}

impl Pair {
    fn new(seed: u64, loss: f64, timeout: Duration, ack_timeout: Option<Duration>) -> Self {
        let now = Timestamp::ZERO;
        let beater = Beater::new(
            BeaterConfig {
                id: NodeId::new("a").unwrap(),
                incarnation: 1,
                period: Duration::from_secs(1),
                jitter: 0.1,
                seed,
                monitors: vec![MONITOR.parse().unwrap()],
                failover: false,
                ack_timeout,
                schedule_poll: None,
                keyring: Keyring::open(),
                group: 0,
                unix_offset_us: 0,
            },
            now,
        )
        .unwrap();
        let monitor = Monitor::new(
            MonitorConfig {
                detector: DetectorConfig::Fixed(Fixed { timeout }),
                ..MonitorConfig::default()
            },
            now,
        )
        .unwrap();
        Self {
            beater,
            monitor,
            now,
            wire: BinaryHeap::new(),
            sent: 0,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed),
            loss,
            latency: Duration::from_millis(5),
            crashed: false,
            acks_cut: false,
            events: Vec::new(),
            beater_events: Vec::new(),
        }
    }

    fn send(&mut self, to_monitor: bool, bytes: &[u8]) {
        if self.rng.random::<f64>() < self.loss || (!to_monitor && self.acks_cut) {
            return;
        }
        let jitter = Duration::from_micros(self.rng.random_range(0..2_000));
        self.sent += 1;
        self.wire.push(Reverse((
            self.now + self.latency + jitter,
            self.sent,
            to_monitor,
            bytes.to_vec(),
        )));
    }

    fn drain(&mut self) {
        let mut buf = [0u8; MAX_DATAGRAM];
        while let Some(tx) = self.beater.poll_transmit(&mut buf) {
            if !self.crashed {
                self.send(true, &buf[..tx.len]);
            }
        }
        while let Some(tx) = self.monitor.poll_transmit(&mut buf) {
            self.send(false, &buf[..tx.len]);
        }
        while let Some(e) = self.monitor.poll_event() {
            self.events.push(e);
        }
        while let Some(e) = self.beater.poll_event() {
            self.beater_events.push((self.now, e));
        }
    }

    /// Jumps to the next thing that happens (a delivery or a timer) and handles it.
    fn step(&mut self) -> bool {
        let beater_t = if self.crashed {
            None
        } else {
            self.beater.poll_timeout()
        };
        let next = [
            beater_t,
            self.monitor.poll_timeout(),
            self.wire.peek().map(|r| r.0.0),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = next;
        if let Some(Reverse((at, ..))) = self.wire.peek()
            && *at == next
        {
            let Reverse((_, _, to_monitor, bytes)) = self.wire.pop().unwrap();
            let beater_addr: SocketAddr = BEATER.parse().unwrap();
            if to_monitor {
                self.monitor.handle_datagram(next, beater_addr, &bytes);
            } else if !self.crashed {
                self.beater
                    .handle_datagram(next, MONITOR.parse().unwrap(), &bytes);
            }
        }
        if !self.crashed && beater_t == Some(next) {
            self.beater.handle_timeout(next);
        }
        if self.monitor.poll_timeout().is_some_and(|t| t <= next) {
            self.monitor.handle_timeout(next);
        }
        self.drain();
        self.monitor.check_invariants().unwrap();
        true
    }

    fn run_until(&mut self, t: Timestamp) {
        while self.now < t && self.step() {}
    }

    fn names(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.kind.name()).collect()
    }
}

fn secs(s: u64) -> Timestamp {
    Timestamp::from_micros(s * 1_000_000)
}

#[test]
fn clean_link_gives_no_false_downs() {
    let mut p = Pair::new(1, 0.0, Duration::from_secs(3), Some(Duration::from_secs(3)));
    p.run_until(secs(3600));
    assert_eq!(p.names(), ["joined"]);
    assert!(p.beater_events.is_empty());
    let n = p.monitor.node("a", p.now).unwrap();
    assert!(n.beats > 3200, "{} beats", n.beats);
    assert_eq!(n.lost, 0);
}

#[test]
fn crash_is_detected_within_timeout_plus_delay() {
    for seed in 0..20 {
        let mut p = Pair::new(seed, 0.05, Duration::from_secs(3), None);
        p.run_until(secs(60));
        p.crashed = true;
        let crash = p.now;
        p.run_until(secs(120));
        let downs: Vec<_> = p
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Down { .. }))
            .collect();
        let last = downs.last().expect("crash detected");
        let td = last.at - crash;
        // Last beat sent ≤ 1.1 s (jittered period) before the crash, arrives ≤ 7 ms later.
        assert!(
            td <= Duration::from_millis(3_000 + 7),
            "seed {seed}: detection took {td:?}"
        );
        assert!(last.at > crash);
    }
}

#[test]
fn heavy_loss_causes_false_downs_that_recover() {
    let mut p = Pair::new(7, 0.5, Duration::from_millis(1500), None);
    p.run_until(secs(600));
    let n = p.names();
    let downs = n.iter().filter(|e| **e == "down").count();
    let ups = n.iter().filter(|e| **e == "up").count();
    assert!(downs > 10, "{downs} downs");
    assert!(downs - ups <= 1);
    let info = p.monitor.node("a", p.now).unwrap();
    let loss = info.loss_ratio();
    assert!((0.4..0.6).contains(&loss), "estimated loss {loss}");
}

#[test]
fn beater_notices_a_monitor_that_stops_acking() {
    let mut p = Pair::new(3, 0.0, Duration::from_secs(3), Some(Duration::from_secs(3)));
    p.run_until(secs(10));
    p.acks_cut = true;
    p.run_until(secs(20));
    p.acks_cut = false;
    p.run_until(secs(30));
    let evs: Vec<_> = p
        .beater_events
        .iter()
        .map(|(t, e)| (t.as_micros() / 1_000_000, e.clone()))
        .collect();
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert!(matches!(evs[0].1, BeaterEvent::MonitorLost { .. }));
    assert!((12..=14).contains(&evs[0].0));
    assert!(matches!(evs[1].1, BeaterEvent::MonitorBack { .. }));
    // The monitor itself never saw a problem.
    assert_eq!(p.names(), ["joined"]);
}
