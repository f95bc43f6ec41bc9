//! A UDP proxy on loopback the tests run between a beater and a monitor: it drops a seeded
//! share of datagrams (a lossy path), or everything while cut (a broken path).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The longest a proxy runs.
const LIFE: Duration = Duration::from_secs(120);

/// A UDP proxy on loopback that forwards datagrams to `to`, dropping each with probability
/// `drop` (seeded), and sends the replies back to the latest sender; while
/// [cut](LossyProxy::cut) it drops every datagram both ways. Stops when dropped; runs at most
/// two minutes.
pub struct LossyProxy {
    /// Where senders send to.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    cut: Arc<AtomicBool>,
    /// Datagrams dropped so far (either way).
    pub dropped: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl LossyProxy {
    /// A proxy to `to` dropping a `drop` share of datagrams, its RNG seeded with `seed`.
    pub fn start(to: SocketAddr, drop: f64, seed: u64) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind proxy");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let addr = sock.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let (s, c, d) = (Arc::clone(&stop), Arc::clone(&cut), Arc::clone(&dropped));
        let thread = thread::spawn(move || {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut client = None;
            let mut buf = [0u8; 2048];
            let end = Instant::now() + LIFE;
            while !s.load(Ordering::Relaxed) && Instant::now() < end {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if c.load(Ordering::Relaxed) {
                    d.fetch_add(1, Ordering::Relaxed);
                } else if from == to {
                    if let Some(c) = client {
                        let _ = sock.send_to(&buf[..n], c);
                    }
                } else {
                    client = Some(from);
                    if rng.random_bool(drop) {
                        d.fetch_add(1, Ordering::Relaxed);
                    } else {
                        let _ = sock.send_to(&buf[..n], to);
                    }
                }
            }
        });
        Self {
            addr,
            stop,
            cut,
            dropped,
            thread: Some(thread),
        }
    }

    /// Cuts the path (`true`: every datagram dropped, both ways) or heals it.
    pub fn cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::Relaxed);
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
