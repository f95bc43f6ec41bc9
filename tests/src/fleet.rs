//! A fleet of many nodes from one thread: every node beats to a monitor once per period over
//! loopback, evenly paced, with its probes' readings on each beat. Some nodes may stop after a
//! few beats (so the monitor declares them down). The sender stops by itself after `run_for`,
//! or when the [`Fleet`] is dropped.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hb_core::wire::{self, Beat, Message, Reading, Readings};

/// One node of a [`Fleet`].
#[derive(Clone, Debug)]
pub struct FleetNode {
    /// Its id.
    pub id: String,
    /// Beats it sends before falling silent (`None`: until the fleet stops).
    pub beats: Option<u64>,
    /// Its probes: name, value and Nagios status code (0 ok, 1 warning, 2 error, 3 unknown),
    /// the same on every beat.
    pub probes: Vec<(String, f64, u8)>,
}

/// The sending thread; stopped (and joined) on drop.
#[derive(Debug)]
pub struct Fleet {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Fleet {
    /// Starts beating every node of `nodes` to the UDP address `to`, once per `period` each,
    /// for at most `run_for`.
    pub fn start(to: &str, nodes: Vec<FleetNode>, period: Duration, run_for: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let to = to.to_owned();
        let (stop_, sent_) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = thread::spawn(move || send(&to, &nodes, period, run_for, &stop_, &sent_));
        Self {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    /// Beats sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn send(
    to: &str,
    nodes: &[FleetNode],
    period: Duration,
    run_for: Duration,
    stop: &AtomicBool,
    sent: &AtomicU64,
) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the fleet's socket");
    let period_ms = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
    let k = nodes.len().max(1) as u64;
    let rate = k as f64 / period.as_secs_f64();
    let start = Instant::now();
    let mut buf = [0u8; wire::MAX_DATAGRAM];
    // The n-th datagram goes to node n % k, as beat n / k + 1: every node once per period.
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) && start.elapsed() < run_for {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while n < due {
            let node = &nodes[(n % k) as usize];
            let seq = n / k + 1;
            n += 1;
            if node.beats.is_some_and(|b| seq > b) {
                continue;
            }
            let readings: Vec<Reading<'_>> = node
                .probes
                .iter()
                .map(|(probe, value, status)| Reading::new(probe, *value, *status))
                .collect();
            let msg = Message::Beat(Beat {
                period_ms,
                readings: Readings::from_slice(&readings),
                ..Beat::new(&node.id, 1, seq)
            });
            let len = wire::encode(&msg, None, &mut buf).expect("a fleet beat encodes");
            let _ = socket.send_to(&buf[..len], to);
            sent.fetch_add(1, Ordering::Relaxed);
        }
        thread::sleep(Duration::from_millis(1));
    }
}
