//! The webhook action (`--webhook URL`, repeatable): every event's JSON line (the schema of
//! docs/events.md) is POSTed to every URL, with retries and backoff (see [`crate::sinks::http_post`]).

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::runtime::record::EventRecord;
use crate::runtime::stats::{PostAction, Stats, WEBHOOK_SINK};
use crate::sinks::Sink;
use crate::sinks::http_post::{Target, spawn_runtime};

/// Events waiting for the webhook runtime before further ones are dropped.
const QUEUE: usize = 4096;

/// Starts the webhook runtime and the sink that feeds it.
pub(crate) fn start(urls: &[String], stats: &Arc<Stats>) -> std::io::Result<Sink> {
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    let urls = urls.to_vec();
    let st = Arc::clone(stats);
    spawn_runtime("hbnode-webhook", move || async move {
        let targets: Vec<Target> = urls
            .into_iter()
            .map(|u| Target::start(u, PostAction::Webhook, Arc::clone(&st)))
            .collect();
        while let Some(body) = rx.recv().await {
            for t in &targets {
                t.offer(body.clone());
            }
        }
    })?;
    let stats = Arc::clone(stats);
    Sink::spawn(
        WEBHOOK_SINK,
        "hbnode-sink-webhook",
        Box::new(move |r: &EventRecord| {
            if tx.try_send(r.to_json()).is_err() {
                stats.sink_dropped(WEBHOOK_SINK);
            }
            Ok(())
        }),
    )
}
