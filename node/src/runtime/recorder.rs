//! `hbnode monitor --record FILE`: every beat's arrival (node, receive time, seq, incarnation,
//! advertised period) written in hb-sim's versioned trace format, so `cargo xtask sim replay`
//! can rerun real traffic under any detector.
//!
//! The core reports each authenticated beat's arrival (`Monitor::poll_arrival`); the Detector
//! offers them with `try_send` into a bounded queue drained by a writer thread: a slow disk
//! drops and counts records, it never delays detection.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use anyhow::Context as _;
use hb_core::BeatArrival as Arrival;
use hb_sim::trace::TraceWriter;

use crate::runtime::stats::{Stats, inc};

/// Arrivals queued before further ones are dropped.
pub(crate) const QUEUE: usize = 65_536;

/// A running recorder.
#[derive(Debug)]
pub(crate) struct TraceRecorder {
    tx: Option<SyncSender<Arrival>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
    dropped: AtomicU64,
}

impl TraceRecorder {
    /// Creates `path` (truncating it) and starts the writer thread; drops are counted in
    /// `stats.arrivals_dropped` (`hbnode_arrivals_dropped_total`).
    pub(crate) fn start(path: &Path, stats: Arc<Stats>) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("cannot create the trace file {}", path.display()))?;
        let mut writer = TraceWriter::new(BufWriter::new(file))
            .with_context(|| format!("cannot write the trace file {}", path.display()))?;
        let (tx, rx) = sync_channel::<Arrival>(QUEUE);
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("hbnode-record".into())
            .spawn(move || {
                for a in rx {
                    if let Err(e) = writer.record(&a) {
                        tracing::error!(file = %shown, error = %e, "trace recording stopped");
                        return;
                    }
                }
                if let Err(e) = writer.finish() {
                    tracing::error!(file = %shown, error = %e, "cannot finish the trace file");
                }
            })
            .context("cannot start the trace writer thread")?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            stats,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues one arrival; drops and counts it if the writer is behind.
    pub(crate) fn offer(&self, a: Arrival) {
        if let Some(tx) = &self.tx
            && tx.try_send(a).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            inc(&self.stats.arrivals_dropped);
        }
    }
}

impl Drop for TraceRecorder {
    /// Closes the queue, lets the writer flush what it holds, and reports drops.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "trace recording dropped arrivals (the disk was too slow)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use hb_core::{NodeId, Timestamp};

    use super::*;

    #[test]
    fn a_stuck_trace_file_drops_and_counts_arrivals_beyond_its_queue() {
        let dir = std::env::temp_dir().join(format!("hbnode-recorder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("trace");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "mkfifo (coreutils) is needed"
        );
        // A reader that opens the pipe, reads nothing until told, then drains it.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut f = File::open(fifo).unwrap();
                let _ = released.recv();
                let mut sink = Vec::new();
                let _ = f.read_to_end(&mut sink);
            })
        };
        let stats = Arc::new(Stats::default());
        let rec = TraceRecorder::start(&fifo, Arc::clone(&stats)).unwrap();
        let node = NodeId::new("n").unwrap();
        let offered = QUEUE + 20_000;
        for seq in 0..offered as u64 {
            rec.offer(Arrival {
                node: node.clone(),
                at: Timestamp::from_micros(seq),
                seq,
                incarnation: 1,
                period_ms: 1000,
            });
        }
        let dropped = crate::runtime::stats::get(&stats.arrivals_dropped);
        // The pipe and the writer's buffer hold far fewer than 20k arrivals.
        assert!(dropped > 0 && dropped < 20_000, "dropped {dropped}");
        assert_eq!(dropped, rec.dropped.load(Ordering::Relaxed));
        release.send(()).unwrap();
        drop(rec);
        reader.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
