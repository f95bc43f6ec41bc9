//! Event sinks: each is one bounded queue in front of its consumer — a thread (stdout, log),
//! an async runtime of its own (Alertmanager, webhooks), or a pool of workers fed directly
//! (hooks) — so a slow consumer (a stdout pipe nobody reads, a dead Alertmanager) drops and
//! counts events instead of delaying the Reporter, let alone detection. Every sink is offered
//! the same shared `Arc<EventRecord>`; which sinks exist is the typed registry [`SinkKind`].
//!
//! The actions are sinks too: exec hooks (`hooks`), Alertmanager alerts (`alertmanager`) and
//! webhooks (`webhook`), the last two POSTing through `http_post`; `beat_hooks` runs the
//! beater's `--on monitor_lost=CMD`.

pub(crate) mod alertmanager;
pub(crate) mod beat_hooks;
pub(crate) mod hooks;
pub(crate) mod http_post;
pub(crate) mod kind;
pub(crate) mod stream;
pub(crate) mod webhook;

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use kind::SinkKind;

use crate::runtime::record::EventRecord;

/// Events a thread sink may have queued before further ones are dropped.
pub(crate) const SINK_QUEUE: usize = 65_536;

/// How long closing sinks waits for them to write out their queues (all sinks at once, see
/// [`close_all`]): the sinks' share of [`crate::runtime::wiring::SHUTDOWN_BUDGET`].
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How long a POSTing sink (Alertmanager, webhooks) lets its workers finish once its queue
/// closes, before counting what they still hold as failed: less than [`CLOSE_WAIT`], so the
/// counting is done before closing gives up on the thread.
pub(crate) const DRAIN: Duration = Duration::from_millis(1500);

/// Writes one event; an error ends the sink (later offers count as drops).
pub(crate) type Writer = Box<dyn FnMut(&EventRecord) -> std::io::Result<()> + Send>;

/// Takes one event on the Reporter's turn, without waiting.
pub(crate) type Direct = Box<dyn Fn(&Arc<EventRecord>) -> Offer>;

/// The queue in front of a sink's consumer.
enum Queue {
    /// A thread's.
    Thread(SyncSender<Arc<EventRecord>>),
    /// An async runtime's.
    Runtime(mpsc::Sender<Arc<EventRecord>>),
    /// The sink queues work of its own (hooks: one job per matching hook).
    Direct(Direct),
}

/// A running sink: its queue and the thread that consumes it.
pub(crate) struct Sink {
    /// Which sink this is.
    pub(crate) kind: SinkKind,
    queue: Option<Queue>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
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
    /// Starts a thread around `write`, behind a queue of [`SINK_QUEUE`] events.
    pub(crate) fn thread(kind: SinkKind, name: &str, mut write: Writer) -> std::io::Result<Self> {
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
            kind,
            queue: Some(Queue::Thread(tx)),
            thread: Some(thread),
        })
    }

    /// Starts `main` on a thread with an actix System of its own, consuming a queue of `queue`
    /// events; `main` returns when the queue closes.
    pub(crate) fn runtime<F, Fut>(
        kind: SinkKind,
        name: &str,
        queue: usize,
        main: F,
    ) -> std::io::Result<Self>
    where
        F: FnOnce(mpsc::Receiver<Arc<EventRecord>>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || actix_rt::System::new().block_on(main(rx)))?;
        Ok(Self {
            kind,
            queue: Some(Queue::Runtime(tx)),
            thread: Some(thread),
        })
    }

    /// A sink whose `offer` queues work of its own (and counts what it drops).
    pub(crate) fn direct(kind: SinkKind, offer: Direct) -> Self {
        Self {
            kind,
            queue: Some(Queue::Direct(offer)),
            thread: None,
        }
    }

    /// Offers an event without waiting.
    pub(crate) fn offer(&self, r: &Arc<EventRecord>) -> Offer {
        let queued = match &self.queue {
            Some(Queue::Thread(tx)) => tx.try_send(Arc::clone(r)).is_ok(),
            Some(Queue::Runtime(tx)) => tx.try_send(Arc::clone(r)).is_ok(),
            Some(Queue::Direct(offer)) => return offer(r),
            None => false,
        };
        if queued {
            Offer::Queued
        } else {
            Offer::Dropped
        }
    }

    /// Closes the queue and waits (at most 2 s) until everything queued has been written and
    /// flushed; a sink still stuck after that is abandoned, never waited on forever.
    pub(crate) fn close(&mut self) {
        close_all(std::slice::from_mut(self));
    }
}

/// Closes every sink's queue at once, then waits for them together: at most [`CLOSE_WAIT`] in
/// all, however many sinks there are (not [`CLOSE_WAIT`] each, one after the other); a sink
/// still stuck then is abandoned.
pub(crate) fn close_all(sinks: &mut [Sink]) {
    let deadline = Instant::now() + CLOSE_WAIT;
    // Threads and runtimes first, so they drain while a direct sink (hooks) waits for its
    // own jobs (at most `DRAIN`, inside the same deadline).
    for s in sinks.iter_mut() {
        if !matches!(s.queue, Some(Queue::Direct(_))) {
            s.queue = None;
        }
    }
    for s in sinks.iter_mut() {
        s.queue = None;
    }
    for s in sinks.iter_mut() {
        let Some(t) = s.thread.take() else { continue };
        if !join_within(t, deadline.saturating_duration_since(Instant::now())) {
            tracing::warn!(
                sink = s.kind.name(),
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

    use super::*;

    use crate::runtime::record::sample_record as record;

    #[test]
    fn stuck_sink_drops_beyond_its_queue_and_never_blocks_the_offer() {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let mut sink = Sink::thread(
            SinkKind::Stdout,
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
