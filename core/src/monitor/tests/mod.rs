//! Scenario tests of the monitor with a fixed detector and hand-made beats.
//!
//! One file per concept: liveness (down, up, restarts, sequence, leaves, forgetting, stalls),
//! readings (samples and probe states), arrivals, restore, peer mode, acks and schedules, and
//! the budget detector (`budget.rs`).

mod acks;
mod arrivals;
mod budget;
mod isolation;
mod liveness;
mod peer;
mod readings;
mod restore;
mod witness;
mod zones;

use core::net::SocketAddr;
use core::time::Duration;

use super::*;
use crate::detector::{DetectorConfig, Fixed};
use crate::reject::Rejection;
use crate::time::Timestamp;
use crate::wire::{self, Beat, BeatFlags, Leave, MAX_DATAGRAM, Message, encode};
use crate::{Key, Keyring};

const S: u64 = 1_000_000;

fn t(us: u64) -> Timestamp {
    Timestamp::from_micros(us)
}

fn addr() -> SocketAddr {
    "127.0.0.1:4000".parse().unwrap()
}

fn monitor(timeout_s: u64) -> Monitor {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(timeout_s),
        }),
        // These scenarios jump time to mean "nothing arrived"; the stall guard has its own tests.
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn beat_bytes(node: &str, inc: u64, seq: u64, flags: u8) -> Vec<u8> {
    let msg = Message::Beat(Beat {
        period_ms: 1000,
        flags: BeatFlags(flags),
        ..Beat::new(node, inc, seq)
    });
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(&msg, None, &mut buf).unwrap();
    buf[..n].to_vec()
}

fn beat(m: &mut Monitor, at: u64, node: &str, inc: u64, seq: u64) {
    m.handle_datagram(t(at), addr(), &beat_bytes(node, inc, seq, 0));
}

fn events(m: &mut Monitor) -> Vec<(u64, String, &'static str)> {
    std::iter::from_fn(|| m.poll_event())
        .map(|e| (e.at.as_micros(), e.node.to_string(), e.kind.name()))
        .collect()
}

fn msg_bytes(msg: &Message<'_>, key: Option<&Key>) -> Vec<u8> {
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(msg, key, &mut buf).unwrap();
    buf[..n].to_vec()
}
