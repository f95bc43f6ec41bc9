//! Outgoing HTTP POSTs for the Alertmanager and webhook actions, with `awc` on a runtime of
//! their own (one thread per action), so a slow or dead receiver never touches detection.
//!
//! Each target URL has a worker task behind a queue of [`TARGET_QUEUE`] bodies: a full queue
//! drops the body and counts it as failed. A body is tried [`ATTEMPTS`] times with exponential
//! backoff from [`FIRST_BACKOFF`]; each try has a [`REQUEST_TIMEOUT`]. Outcomes are counted in
//! [`Stats`] per action and logged.

use std::sync::Arc;
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
}

impl Target {
    /// Starts the worker that POSTs JSON bodies to `url`.
    pub(crate) fn start(url: String, action: PostAction, stats: Arc<Stats>) -> Self {
        let (tx, rx) = mpsc::channel(TARGET_QUEUE);
        actix_rt::spawn(worker(url.clone(), rx, action, Arc::clone(&stats)));
        Self {
            url,
            tx,
            action,
            stats,
        }
    }

    /// Queues `body`; a full queue drops it and counts a failure.
    pub(crate) fn offer(&self, body: String) {
        if self.tx.try_send(body).is_err() {
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
        stats.post(action, ok);
        if !ok {
            tracing::warn!(%url, action = action.name(), error = %last_error,
                "POST failed after {ATTEMPTS} tries; giving up on this one");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::values::validate_http_url;

    #[test]
    fn only_plain_http_urls_with_a_host_are_accepted() {
        assert!(validate_http_url("http://127.0.0.1:9093").is_ok());
        assert!(validate_http_url("http://am.example:9093/").is_ok());
        assert!(validate_http_url("https://am.example").is_err());
        assert!(validate_http_url("127.0.0.1:9093").is_err());
        assert!(validate_http_url("http://").is_err());
    }
}
