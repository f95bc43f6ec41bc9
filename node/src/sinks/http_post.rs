//! Outgoing HTTP POSTs for the Alertmanager and webhook actions, with `awc` on a runtime of
//! their own (one thread per action), so a slow or dead receiver never touches detection.
//!
//! Each target URL has a worker task behind a queue of [`TARGET_QUEUE`] bodies: a full queue
//! drops the body and counts it as failed. A body is tried [`ATTEMPTS`] times with exponential
//! backoff from [`FIRST_BACKOFF`]; each try has a [`REQUEST_TIMEOUT`]. Outcomes are counted in
//! [`Stats`] per action and logged.
//!
//! At shutdown [`drain`] gives the workers a bounded time to finish what they hold; a body
//! still queued or being retried when it ends is counted as failed, and the number is logged
//! once per action.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::runtime::stats::{PostAction, Stats};

/// Bodies waiting per target before further ones are dropped.
pub(crate) const TARGET_QUEUE: usize = 256;

/// Tries per body.
pub(crate) const ATTEMPTS: u32 = 4;

/// Wait before the second try; doubled before each further one.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Time limit of one request, connection included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A POST target: a queue into its worker task. Create inside the action's runtime.
#[derive(Debug)]
pub(crate) struct Target {
    url: String,
    tx: mpsc::Sender<String>,
    action: PostAction,
    stats: Arc<Stats>,
    /// Bodies queued or in flight: taken by [`Target::offer`], given back once counted.
    pending: Arc<AtomicU64>,
    worker: actix_rt::task::JoinHandle<()>,
}

impl Target {
    /// Starts the worker that POSTs JSON bodies to `url`.
    pub(crate) fn start(url: String, action: PostAction, stats: Arc<Stats>) -> Self {
        let (tx, rx) = mpsc::channel(TARGET_QUEUE);
        let pending = Arc::new(AtomicU64::new(0));
        let worker = actix_rt::spawn(worker(
            url.clone(),
            rx,
            action,
            Arc::clone(&stats),
            Arc::clone(&pending),
        ));
        Self {
            url,
            tx,
            action,
            stats,
            pending,
            worker,
        }
    }

    /// Queues `body`; a full queue drops it and counts a failure.
    pub(crate) fn offer(&self, body: String) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(body).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            self.stats.post(self.action, false);
            tracing::warn!(url = %self.url, action = self.action.name(),
                "POST queue full; dropping (is the receiver down?)");
        }
    }
}

async fn worker(
    url: String,
    mut rx: mpsc::Receiver<String>,
    action: PostAction,
    stats: Arc<Stats>,
    pending: Arc<AtomicU64>,
) {
    let client = awc::Client::builder().timeout(REQUEST_TIMEOUT).finish();
    while let Some(body) = rx.recv().await {
        let mut backoff = FIRST_BACKOFF;
        let mut last_error = String::new();
        let mut ok = false;
        for attempt in 1..=ATTEMPTS {
            match client
                .post(&url)
                .content_type("application/json")
                .send_body(body.clone())
                .await
            {
                Ok(res) if res.status().is_success() => {
                    ok = true;
                    break;
                }
                Ok(mut res) => {
                    let text = res.body().limit(4096).await.unwrap_or_default();
                    last_error = format!(
                        "answered {}: {}",
                        res.status(),
                        String::from_utf8_lossy(&text).trim()
                    );
                }
                Err(e) => last_error = e.to_string(),
            }
            tracing::debug!(%url, attempt, error = %last_error, "POST failed");
            if attempt < ATTEMPTS {
                actix_rt::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        // Counted and given back in one step (no await between): a worker cancelled by
        // [`drain`] has counted every body it does not still hold.
        stats.post(action, ok);
        pending.fetch_sub(1, Ordering::Relaxed);
        if !ok {
            tracing::warn!(%url, action = action.name(), error = %last_error,
                "POST failed after {ATTEMPTS} tries; giving up on this one");
        }
    }
}

/// Shutdown: closes every target's queue and lets the workers finish what they hold for at
/// most `within`; then cancels those still busy and counts every body they still held (queued,
/// in flight or waiting to be retried) as failed, logged once per action with the number.
/// Returns how many were dropped so.
pub(crate) async fn drain(targets: Vec<Target>, within: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + within;
    let mut busy = Vec::with_capacity(targets.len());
    for t in targets {
        let Target {
            tx,
            action,
            stats,
            pending,
            mut worker,
            ..
        } = t;
        drop(tx);
        if tokio::time::timeout_at(deadline, &mut worker)
            .await
            .is_err()
        {
            worker.abort();
            // Cancelled at its next await: after this it counts nothing more.
            let _ = worker.await;
        }
        busy.push((action, stats, pending.load(Ordering::Relaxed)));
    }
    let mut total = 0;
    for action in [PostAction::Alertmanager, PostAction::Webhook] {
        let mut dropped = 0;
        for (_, stats, n) in busy.iter().filter(|(a, _, _)| *a == action) {
            stats.posts_failed(action, *n);
            dropped += n;
        }
        if dropped > 0 {
            tracing::warn!(action = action.name(), dropped, within = ?within,
                "shutting down: POSTs still queued or being retried were dropped (counted as failed)");
        }
        total += dropped;
    }
    total
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use hb_core::{Event, EventKind, NodeId, Timestamp};

    use super::*;
    use crate::cli::values::validate_http_url;
    use crate::runtime::clock::Clock;
    use crate::runtime::record::EventRecord;
    use crate::sinks::Offer;

    use crate::runtime::record::sample_record as record;

    /// A receiver that accepts connections (the kernel's backlog does) and never answers.
    fn silent_receiver() -> (TcpListener, String) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        (l, url)
    }

    #[test]
    fn webhook_posts_still_held_at_shutdown_are_counted_as_failed() {
        let (_listener, url) = silent_receiver();
        let stats = Arc::new(Stats::default());
        let mut sink = crate::sinks::webhook::start(&[url], &stats).unwrap();
        let r = record();
        for _ in 0..3 {
            assert_eq!(sink.offer(&r), Offer::Queued);
        }
        sink.close();
        assert_eq!(
            stats.posts(PostAction::Webhook),
            [("ok", 0), ("failed", 3)],
            "every POST the receiver never answered is counted"
        );
    }

    #[test]
    fn alertmanager_posts_still_held_at_shutdown_are_counted_as_failed() {
        let (_listener, url) = silent_receiver();
        let stats = Arc::new(Stats::default());
        let settings = crate::sinks::alertmanager::AlertmanagerSettings {
            urls: vec![url.trim_end_matches("/hook").to_string()],
            resend: Duration::from_secs(60),
            ..Default::default()
        };
        let mut sink = crate::sinks::alertmanager::start(&settings, &stats, Vec::new()).unwrap();
        let ev = Event {
            at: Timestamp::ZERO,
            node: NodeId::new("a").unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: 1,
            kind: EventKind::Down {
                silence: Duration::from_secs(3),
                value: 3.0,
                deadline: Timestamp::ZERO,
                reason: hb_core::DownReason::Silence,
            },
        };
        let down = Arc::new(EventRecord::new(&ev, 1, "fixed", &Clock::new()));
        assert_eq!(sink.offer(&down), Offer::Queued);
        sink.close();
        let [(_, ok), (_, failed)] = stats.posts(PostAction::Alertmanager);
        assert_eq!(ok, 0);
        assert!(
            failed >= 1,
            "the unanswered alert POST is counted, got {failed}"
        );
    }

    #[test]
    fn only_plain_http_urls_with_a_host_are_accepted() {
        assert!(validate_http_url("http://127.0.0.1:9093").is_ok());
        assert!(validate_http_url("http://am.example:9093/").is_ok());
        assert!(validate_http_url("https://am.example").is_err());
        assert!(validate_http_url("127.0.0.1:9093").is_err());
        assert!(validate_http_url("http://").is_err());
    }
}
