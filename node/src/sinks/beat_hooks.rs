//! `hbnode beat --on EVENT=CMD`: run a command when a monitor stops acknowledging beats
//! (`monitor_lost`) or acknowledges again (`monitor_back`), on the same bounded worker pool
//! as the monitor's hooks ([`crate::sinks::hooks::HookRunner`]); and `hbnode beat --events`: print
//! those events on stdout, from a thread of its own behind a bounded queue (a stdout nobody
//! reads drops events, never delays beats).

use std::io::Write as _;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Duration;

use hb_core::BeaterEvent;
use serde_json::json;

use crate::cli::values::EventFormat;
use crate::cli::values::HookSpec;
use crate::runtime::clock::Clock;
use crate::runtime::stats::Stats;
use crate::sinks::hooks::{HookRunner, Job};

/// Hook commands run at once by a beater.
const CONCURRENCY: usize = 2;

/// The beater's hooks.
#[derive(Debug)]
pub(crate) struct BeatHooks {
    runner: Option<HookRunner>,
    hooks: Vec<HookSpec>,
    node: String,
    stdout: Option<SyncSender<String>>,
    format: Option<EventFormat>,
    /// `--events` lines dropped because stdout was not read (the beater has no `/metrics`:
    /// drops are logged, at the 1st, 2nd, 4th, 8th … so the log stays bounded).
    lines_dropped: std::cell::Cell<u64>,
}

/// Lines the stdout printer may have queued before further ones are dropped.
const STDOUT_QUEUE: usize = 1024;

/// Starts the stdout printer thread.
fn printer() -> std::io::Result<SyncSender<String>> {
    let (tx, rx) = sync_channel::<String>(STDOUT_QUEUE);
    std::thread::Builder::new()
        .name("hbnode-beat-events".into())
        .spawn(move || {
            for line in rx {
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    return;
                }
            }
        })?;
    Ok(tx)
}

impl BeatHooks {
    /// Starts the worker pool for node `node`'s `hooks` (killed after `timeout`) and the
    /// `--events` printer; `None` if there is neither.
    pub(crate) fn start(
        node: &str,
        hooks: &[HookSpec],
        timeout: Duration,
        events: Option<EventFormat>,
    ) -> std::io::Result<Option<Self>> {
        if hooks.is_empty() && events.is_none() {
            return Ok(None);
        }
        let runner = if hooks.is_empty() {
            None
        } else {
            Some(HookRunner::start(
                timeout,
                CONCURRENCY,
                Arc::new(Stats::default()),
            )?)
        };
        let stdout = events.map(|_| printer()).transpose()?;
        Ok(Some(Self {
            runner,
            hooks: hooks.to_vec(),
            node: node.to_owned(),
            stdout,
            format: events,
            lines_dropped: std::cell::Cell::new(0),
        }))
    }

    /// Queues the hooks that match `ev`.
    pub(crate) fn on_event(&self, ev: &BeaterEvent, clock: &Clock) {
        let (event, monitor, silence) = match ev {
            BeaterEvent::MonitorLost { monitor, silence } => {
                ("monitor_lost", monitor, Some(silence))
            }
            BeaterEvent::MonitorBack { monitor } => ("monitor_back", monitor, None),
            BeaterEvent::Active { .. }
            | BeaterEvent::ScheduleAdopted { .. }
            | BeaterEvent::RedirectStarted { .. }
            | BeaterEvent::Redirected { .. }
            | BeaterEvent::UnsignedIgnored { .. }
            | BeaterEvent::RedirectFailed { .. } => return,
        };
        let time = clock.rfc3339(clock.now());
        let silence_ms = silence.map(|s| u64::try_from(s.as_millis()).unwrap_or(u64::MAX));
        let mut env = vec![
            ("HBNODE_EVENT", event.to_owned()),
            ("HBNODE_NODE", self.node.clone()),
            ("HBNODE_MONITOR", monitor.to_string()),
            ("HBNODE_ADDR", monitor.to_string()),
            ("HBNODE_TIME", time.clone()),
        ];
        if let Some(ms) = silence_ms {
            env.push(("HBNODE_SILENCE_MS", ms.to_string()));
        }
        let mut stdin = json!({
            "time": time,
            "event": event,
            "node": self.node,
            "monitor": monitor.to_string(),
        });
        if let Some(ms) = silence_ms {
            stdin["silence_ms"] = ms.into();
        }
        if let (Some(tx), Some(format)) = (&self.stdout, self.format) {
            let line = match format {
                EventFormat::Json => stdin.to_string(),
                EventFormat::Text => {
                    let after = silence_ms
                        .map_or(String::new(), |ms| format!(" after {ms} ms without an ack"));
                    format!("{time}  {event:<12}  {monitor}{after}")
                }
            };
            // A full queue (stdout not read) drops the line; the log still has the event.
            if tx.try_send(line).is_err() {
                let n = self.lines_dropped.get() + 1;
                self.lines_dropped.set(n);
                if n.is_power_of_two() {
                    tracing::warn!(
                        dropped = n,
                        "--events: stdout is not being read; event lines dropped so far"
                    );
                }
            }
        }
        let Some(runner) = &self.runner else {
            return;
        };
        let (env, stdin) = (Arc::new(env), Arc::new(stdin.to_string()));
        for h in self
            .hooks
            .iter()
            .filter(|h| h.event == "any" || h.event == event)
        {
            runner.offer(Job {
                command: h.command.clone(),
                event,
                node: self.node.clone(),
                env: Arc::clone(&env),
                stdin: Arc::clone(&stdin),
                pid: None,
            });
        }
    }
}
