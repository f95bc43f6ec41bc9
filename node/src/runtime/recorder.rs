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

/// Arrivals queued before further ones are dropped.
pub(crate) const QUEUE: usize = 65_536;

/// A running recorder.
#[derive(Debug)]
pub(crate) struct TraceRecorder {
    tx: Option<SyncSender<Arrival>>,
    thread: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

impl TraceRecorder {
    /// Creates `path` (truncating it) and starts the writer thread.
    pub(crate) fn start(path: &Path) -> anyhow::Result<Self> {
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
            dropped: Arc::default(),
        })
    }

    /// Queues one arrival; drops and counts it if the writer is behind.
    pub(crate) fn offer(&self, a: Arrival) {
        if let Some(tx) = &self.tx
            && tx.try_send(a).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
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
