//! `hbnode beat --on EVENT=CMD`: run a command when a monitor stops acknowledging beats
//! (`monitor_lost`) or acknowledges again (`monitor_back`), on the same bounded worker pool
//! as the monitor's hooks ([`crate::hooks::HookRunner`]).

use std::sync::Arc;

use hb_core::BeaterEvent;
use serde_json::json;

use crate::beat::BeatSettings;
use crate::cli::HookSpec;
use crate::clock::Clock;
use crate::hooks::{HookRunner, Job};
use crate::stats::Stats;

/// Hook commands run at once by a beater.
const CONCURRENCY: usize = 2;

/// The beater's hooks.
#[derive(Debug)]
pub(crate) struct BeatHooks {
    runner: HookRunner,
    hooks: Vec<HookSpec>,
    node: String,
}

impl BeatHooks {
    /// Starts the worker pool if there are hooks.
    pub(crate) fn start(s: &BeatSettings) -> std::io::Result<Option<Self>> {
        if s.hooks.is_empty() {
            return Ok(None);
        }
        let runner = HookRunner::start(s.hook_timeout, CONCURRENCY, Arc::new(Stats::default()))?;
        Ok(Some(Self {
            runner,
            hooks: s.hooks.clone(),
            node: s.id.to_string(),
        }))
    }

    /// Queues the hooks that match `ev`.
    pub(crate) fn on_event(&self, ev: &BeaterEvent, clock: &Clock) {
        let (event, monitor, silence) = match ev {
            BeaterEvent::MonitorLost { monitor, silence } => {
                ("monitor_lost", monitor, Some(silence))
            }
            BeaterEvent::MonitorBack { monitor } => ("monitor_back", monitor, None),
            BeaterEvent::Active { .. } => return,
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
        let (env, stdin) = (Arc::new(env), Arc::new(stdin.to_string()));
        for h in self
            .hooks
            .iter()
            .filter(|h| h.event == "any" || h.event == event)
        {
            self.runner.offer(Job {
                command: h.command.clone(),
                event,
                node: self.node.clone(),
                env: Arc::clone(&env),
                stdin: Arc::clone(&stdin),
            });
        }
    }
}
