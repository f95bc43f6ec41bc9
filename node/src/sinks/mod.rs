//! Event sinks: each runs on its own thread behind a bounded queue, so a slow consumer (a
//! stdout pipe nobody reads, a blocked log file) drops and counts events instead of delaying
//! the Reporter, let alone detection.
//!
//! The actions are sinks too: exec hooks (`hooks`), Alertmanager alerts (`alertmanager`) and
//! webhooks (`webhook`), the last two POSTing through `http_post`; `beat_hooks` runs the
//! beater's `--on monitor_lost=CMD`.

pub(crate) mod alertmanager;
pub(crate) mod beat_hooks;
pub(crate) mod hooks;
pub(crate) mod http_post;
pub(crate) mod webhook;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cli::values::EventFormat;
use crate::runtime::record::EventRecord;

/// Events a sink may have queued before further ones are dropped.
pub(crate) const SINK_QUEUE: usize = 65_536;

/// How long closing a sink waits for it to write out its queue.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Where a sink writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SinkKind {
    /// Events on stdout, one line each, flushed per event.
    Stdout(EventFormat),
    /// Events as `tracing` records at info level, target `hbnode::event` (shown with
    /// `RUST_LOG=hbnode::event=info`).
    Log,
}

/// Writes one event; an error ends the sink (later offers count as drops).
type Writer = Box<dyn FnMut(&EventRecord) -> std::io::Result<()> + Send>;

/// A running sink: its queue and its thread.
#[derive(Debug)]
pub(crate) struct Sink {
    /// Index into [`crate::runtime::stats::SINK_NAMES`].
    pub(crate) index: usize,
    tx: Option<SyncSender<Arc<EventRecord>>>,
    thread: Option<JoinHandle<()>>,
}

/// The result of offering an event to a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued.
    Queued,
    /// The queue was full (or the sink gone): dropped.
    Dropped,
}

impl Sink {
    /// Starts one of the built-in sinks.
    pub(crate) fn start(kind: SinkKind) -> std::io::Result<Self> {
        match kind {
            SinkKind::Stdout(format) => Self::spawn(
                0,
                "hbnode-sink-stdout",
                Box::new(move |r| {
                    let mut out = std::io::stdout().lock();
                    match format {
                        EventFormat::Json => writeln!(out, "{}", r.to_json())?,
                        EventFormat::Text => writeln!(out, "{r}")?,
                    }
                    out.flush()
                }),
            ),
            SinkKind::Log => Self::spawn(
                1,
                "hbnode-sink-log",
                Box::new(|r| {
                    tracing::info!(target: "hbnode::event", event = r.event, node = %r.node,
                        addr = %r.addr, incarnation = r.incarnation, silence_ms = r.silence_ms,
                        value = r.value, "{r}");
                    Ok(())
                }),
            ),
        }
    }

    /// Starts a sink thread around `write`, with a queue of [`SINK_QUEUE`] events.
    pub(crate) fn spawn(index: usize, name: &str, mut write: Writer) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Arc<EventRecord>>(SINK_QUEUE);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for r in rx {
                    if write(&r).is_err() {
                        // The output is gone: stop; further offers count as drops.
                        return;
                    }
                }
            })?;
        Ok(Self {
            index,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Offers an event without waiting.
    pub(crate) fn offer(&self, r: &Arc<EventRecord>) -> Offer {
        match self.tx.as_ref().map(|tx| tx.try_send(Arc::clone(r))) {
            Some(Ok(())) => Offer::Queued,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => {
                Offer::Dropped
            }
        }
    }

    /// Closes the queue and waits (at most 2 s) until everything queued has been written and
    /// flushed; a sink still stuck after that is abandoned, never waited on forever.
    pub(crate) fn close(&mut self) {
        self.tx = None;
        let Some(t) = self.thread.take() else {
            return;
        };
        if !join_within(t, CLOSE_WAIT) {
            tracing::warn!(
                sink = self.index,
                "an event sink is stuck; exiting without it"
            );
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.close();
    }
}

/// Joins `t` if it finishes within `wait`; a thread still running then is abandoned (never
/// waited on forever). Returns whether it finished.
pub(crate) fn join_within(t: JoinHandle<()>, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    while !t.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = t.is_finished();
    if done {
        let _ = t.join();
    }
    done
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use hb_core::{Event, EventKind, NodeId, Timestamp};

    use super::*;
    use crate::runtime::clock::Clock;

    fn record() -> Arc<EventRecord> {
        let ev = Event {
            at: Timestamp::ZERO,
            node: NodeId::new("a").unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: 1,
            kind: EventKind::Joined,
        };
        Arc::new(EventRecord::new(&ev, 1, "fixed", &Clock::new()))
    }

    #[test]
    fn stuck_sink_drops_beyond_its_queue_and_never_blocks_the_offer() {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let mut sink = Sink::spawn(
            0,
            "test-sink",
            Box::new(move |_| {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
                Ok(())
            }),
        )
        .unwrap();
        let r = record();
        assert_eq!(sink.offer(&r), Offer::Queued);
        started.recv().unwrap(); // the writer holds the first event and is stuck
        let offers: Vec<Offer> = (0..SINK_QUEUE + 10).map(|_| sink.offer(&r)).collect();
        let dropped = offers.iter().filter(|o| **o == Offer::Dropped).count();
        assert_eq!(dropped, 10);
        drop(release);
        sink.close();
        assert_eq!(sink.offer(&r), Offer::Dropped, "a closed sink drops");
    }
}
