//! The webhook action (`--webhook URL`, repeatable): every event's JSON line (the schema of
//! docs/events.md) is POSTed to every URL, with retries and backoff (see [`crate::sinks::http_post`]).

use std::sync::Arc;

use crate::runtime::stats::{PostAction, Stats};
use crate::sinks::http_post::{self, Target};
use crate::sinks::kind::SinkKind;
use crate::sinks::{DRAIN, Sink};

/// Events waiting for the webhook runtime before further ones are dropped.
const QUEUE: usize = 4096;

/// Starts the webhook runtime, consuming the sink's queue.
pub(crate) fn start(urls: &[String], stats: &Arc<Stats>) -> std::io::Result<Sink> {
    let urls = urls.to_vec();
    let st = Arc::clone(stats);
    Sink::runtime(
        SinkKind::Webhook,
        "hbnode-webhook",
        QUEUE,
        move |mut rx| async move {
            let targets: Vec<Target> = urls
                .into_iter()
                .map(|u| Target::start(u, PostAction::Webhook, Arc::clone(&st)))
                .collect();
            while let Some(r) = rx.recv().await {
                let body = r.to_json();
                for t in &targets {
                    t.offer(body.clone());
                }
            }
            http_post::drain(targets, DRAIN).await;
        },
    )
}
