//! Exec hooks (`--on EVENT=CMD`): run a shell command when an event happens.
//!
//! The hook runner is a Reporter sink whose one queue holds jobs: offering it an event queues
//! a job per matching hook for a pool of `--hook-concurrency` worker threads, in a bounded
//! queue of [`HOOK_QUEUE`] jobs; a full queue drops the job and counts it
//! (`hbnode_hooks_total{result="dropped"}`), so slow hooks never delay detection.
//!
//! Each job runs `sh -c CMD` in its own process group with the event in its environment
//! (`HBNODE_EVENT`, `HBNODE_NODE`, `HBNODE_ADDR`, `HBNODE_CLAIMED_PID` when a legacy node
//! claimed one and `HBNODE_PID` when that claim is verified ([`crate::legacy::owner`]),
//! `HBNODE_SILENCE_MS`
//! for `down`, `HBNODE_PROBE`, `HBNODE_READING` and `HBNODE_PREVIOUS_STATE` for `probe_*`,
//! `HBNODE_NODES` for `isolated`, `reconnected` and `hold_expired` (whose `HBNODE_NODE` is the
//! monitor's own id), `HBNODE_REASON` for `down` (`silence`, `agreed`, …), `HBNODE_LASTED_MS`
//! for `reachable`, `reconnected`, `hold_expired` and `zone_up`, `HBNODE_MONITOR` for
//! `unreachable` (this monitor) and `witness_down`/`witness_up` (the witness),
//! `HBNODE_MONITORS_UP` and `HBNODE_NEEDED` for `quorum_lost`/`quorum_regained`,
//! `HBNODE_TIME`) and the event's JSON line on stdin. Of the monitor's own environment it
//! inherits only [`INHERITED_ENV`] (PATH, HOME, USER, LOGNAME, LANG, LC_ALL, TZ). A command still running after
//! `--hook-timeout` is killed with its whole process group. Every outcome is logged and counted.

use std::io::Write as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::values::HookSpec;
use crate::runtime::record::EventRecord;
use crate::runtime::stats::{HookResult, Stats};
use crate::sinks::kind::SinkKind;
use crate::sinks::{Offer, Sink};

/// Hook runs that may wait for a free worker before further ones are dropped.
pub(crate) const HOOK_QUEUE: usize = 1024;

/// The only variables of the monitor's own environment a hook inherits (a minimal allow-list,
/// like systemd's for its services); everything else — tokens, proxies, `HBNODE_*` settings —
/// is cleared, and the event's `HBNODE_*` variables are added.
pub(crate) const INHERITED_ENV: [&str; 7] =
    ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ"];

/// `PATH` for hooks when the monitor has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How often a worker checks whether its command has finished.
const POLL: Duration = Duration::from_millis(10);

/// What the hook runner runs with.
#[derive(Clone, Debug)]
pub(crate) struct HookSettings {
    /// The hooks, in `--on` order.
    pub(crate) hooks: Vec<HookSpec>,
    /// Kill a command still running after this long.
    pub(crate) timeout: Duration,
    /// Most commands running at once.
    pub(crate) concurrency: usize,
}

impl Default for HookSettings {
    fn default() -> Self {
        Self {
            hooks: Vec::new(),
            timeout: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

/// One command to run for one event.
#[derive(Debug)]
pub(crate) struct Job {
    /// The shell command.
    pub(crate) command: String,
    /// The event's name (for logs).
    pub(crate) event: &'static str,
    /// The node it is about (for logs).
    pub(crate) node: String,
    /// Its environment (`HBNODE_*`).
    pub(crate) env: Arc<Vec<(&'static str, String)>>,
    /// Its stdin: the event's JSON line.
    pub(crate) stdin: Arc<String>,
    /// A verified pid and its start time: `HBNODE_PID` if, when the job runs, that process
    /// still runs (the pid was not reused since).
    pub(crate) pid: Option<(u32, u64)>,
}

/// A pool of hook workers behind a bounded queue. Dropping it (at shutdown) gives the jobs it
/// holds, queued or running, [`crate::sinks::DRAIN`] to finish; those still held then are
/// abandoned and counted as dropped (`hbnode_hooks_total{result="dropped"}`).
#[derive(Debug)]
pub(crate) struct HookRunner {
    tx: Option<SyncSender<Job>>,
    stats: Arc<Stats>,
    held: Arc<Mutex<Held>>,
}

/// The jobs a runner holds (queued or running), and whether it has given up on them.
#[derive(Debug, Default)]
struct Held {
    jobs: u64,
    abandoned: bool,
}

impl HookRunner {
    /// Starts `concurrency` workers that kill commands after `timeout`, counting in `stats`.
    pub(crate) fn start(
        timeout: Duration,
        concurrency: usize,
        stats: Arc<Stats>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(HOOK_QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let held = Arc::new(Mutex::new(Held::default()));
        for i in 0..concurrency.max(1) {
            let rx = Arc::clone(&rx);
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name(format!("hbnode-hook-{i}"))
                .spawn({
                    let held = Arc::clone(&held);
                    move || worker(&rx, timeout, &stats, &held)
                })?;
        }
        Ok(Self {
            tx: Some(tx),
            stats,
            held,
        })
    }

    /// Queues `job` without waiting; a full queue drops it, counted and logged.
    pub(crate) fn offer(&self, job: Job) {
        let Some(tx) = &self.tx else { return };
        lock(&self.held).jobs += 1;
        if let Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) = tx.try_send(job) {
            lock(&self.held).jobs -= 1;
            self.stats.hook(HookResult::Dropped);
            tracing::warn!(event = j.event, node = %j.node, command = %j.command,
                "hook queue full; not running this hook (raise --hook-concurrency)");
        }
    }
}

impl Drop for HookRunner {
    fn drop(&mut self) {
        self.tx = None;
        let deadline = Instant::now() + crate::sinks::DRAIN;
        while lock(&self.held).jobs > 0 && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let mut held = lock(&self.held);
        held.abandoned = true;
        let left = std::mem::take(&mut held.jobs);
        drop(held);
        if left > 0 {
            for _ in 0..left {
                self.stats.hook(HookResult::Dropped);
            }
            tracing::warn!(
                hooks = left,
                "shutting down with hook runs still queued or running; not waiting for them"
            );
        }
    }
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the worker pool; the sink queues each event's matching hooks straight into it.
pub(crate) fn start(s: &HookSettings, stats: &Arc<Stats>) -> std::io::Result<Sink> {
    let runner = HookRunner::start(s.timeout, s.concurrency, Arc::clone(stats))?;
    let hooks = s.hooks.clone();
    Ok(Sink::direct(
        SinkKind::Hooks,
        Box::new(move |r| {
            dispatch(&hooks, &runner, r);
            Offer::Queued
        }),
    ))
}

/// Queues every hook that matches `r`.
fn dispatch(hooks: &[HookSpec], runner: &HookRunner, r: &EventRecord) {
    let env = Arc::new(env(r));
    let stdin = Arc::new(r.to_json());
    for h in hooks
        .iter()
        .filter(|h| h.event == "any" || h.event == r.event)
    {
        runner.offer(Job {
            command: h.command.clone(),
            event: r.event,
            node: r.node.clone(),
            env: Arc::clone(&env),
            stdin: Arc::clone(&stdin),
            pid: r.pid.zip(r.pid_start),
        });
    }
}

/// Runs jobs until the queue closes.
fn worker(rx: &Mutex<Receiver<Job>>, timeout: Duration, stats: &Stats, held: &Mutex<Held>) {
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        if lock(held).abandoned {
            return;
        }
        let result = run(&job, timeout);
        let mut h = lock(held);
        if h.abandoned {
            // Counted as dropped at shutdown.
            return;
        }
        h.jobs -= 1;
        drop(h);
        let (event, node, command) = (job.event, &job.node, &job.command);
        match &result {
            Ok(Some(status)) if status.success() => {
                stats.hook(HookResult::Ok);
                tracing::info!(event, %node, %command, "hook succeeded");
            }
            Ok(Some(status)) => {
                stats.hook(HookResult::Failed);
                tracing::warn!(event, %node, %command, %status, "hook failed");
            }
            Ok(None) => {
                stats.hook(HookResult::TimedOut);
                tracing::warn!(event, %node, %command, timeout = ?timeout,
                    "hook timed out and was killed");
            }
            Err(e) => {
                stats.hook(HookResult::Failed);
                tracing::warn!(event, %node, %command, error = %e, "cannot run hook");
            }
        }
    }
}

/// The environment a hook sees for `r`.
pub(crate) fn env(r: &EventRecord) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("HBNODE_EVENT", r.event.to_owned()),
        ("HBNODE_NODE", r.node.clone()),
        ("HBNODE_ADDR", r.addr.to_string()),
        ("HBNODE_TIME", r.time.clone()),
    ];
    if let Some(pid) = r.pid {
        env.push(("HBNODE_CLAIMED_PID", pid.to_string()));
    }
    if let Some(ms) = r.silence_ms {
        env.push(("HBNODE_SILENCE_MS", ms.to_string()));
    }
    if let Some(n) = r.nodes {
        env.push(("HBNODE_NODES", n.to_string()));
    }
    if let Some(reason) = r.reason {
        env.push(("HBNODE_REASON", reason.to_owned()));
    }
    if let Some(ms) = r.lasted_ms {
        env.push(("HBNODE_LASTED_MS", ms.to_string()));
    }
    if let Some(m) = &r.monitor {
        env.push(("HBNODE_MONITOR", m.clone()));
    }
    if let (Some(up), Some(needed)) = (r.monitors_up, r.needed) {
        env.push(("HBNODE_MONITORS_UP", up.to_string()));
        env.push(("HBNODE_NEEDED", needed.to_string()));
    }
    if let Some(probe) = &r.probe {
        env.push(("HBNODE_PROBE", probe.clone()));
        let reading = r
            .reading
            .map_or_else(|| "NaN".to_owned(), |v| v.to_string());
        env.push(("HBNODE_READING", reading));
        env.push((
            "HBNODE_PREVIOUS_STATE",
            r.previous_state.unwrap_or("ok").to_owned(),
        ));
    }
    env
}

/// Runs one job: `Some(status)` when it finished, `None` when it timed out and was killed.
fn run(job: &Job, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    use std::os::unix::process::CommandExt as _;
    let verified = job
        .pid
        .filter(|&(pid, start)| crate::legacy::owner::still_running(pid, start))
        .map(|(pid, _)| ("HBNODE_PID", pid.to_string()));
    let inherited = INHERITED_ENV
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (*k, v)));
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&job.command)
        .env_clear()
        .envs(inherited)
        .env("PATH", path)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .envs(verified.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin may close it: not an error.
        let _ = writeln!(stdin, "{}", job.stdin);
    }
    wait(&mut child, timeout)
}

/// Waits at most `timeout`, then kills the child's process group.
fn wait(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            // The group id is the child's pid (process_group(0)); kill(1) avoids unsafe code.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use hb_core::{DownReason, Event, EventKind, NodeId, Timestamp};

    use super::*;
    use crate::runtime::clock::Clock;

    fn down() -> EventRecord {
        let ev = Event {
            at: Timestamp::from_micros(5_000_000),
            node: NodeId::new("web-1").unwrap(),
            addr: "127.0.0.1:9".parse().unwrap(),
            incarnation: 3,
            kind: EventKind::Down {
                silence: Duration::from_millis(1500),
                value: 1.5,
                deadline: Timestamp::from_micros(5_000_000),
                reason: DownReason::Silence,
            },
        };
        let mut r = EventRecord::new(&ev, 1, "fixed", &Clock::new());
        r.pid = Some(4242);
        r
    }

    fn job(command: &str) -> Job {
        job_of(&down(), command)
    }

    fn job_of(r: &EventRecord, command: &str) -> Job {
        Job {
            command: command.into(),
            event: r.event,
            node: r.node.clone(),
            env: Arc::new(env(r)),
            stdin: Arc::new(r.to_json()),
            pid: r.pid.zip(r.pid_start),
        }
    }

    /// Issue 13 item 3: a claimed pid is HBNODE_CLAIMED_PID only; HBNODE_PID is a verified
    /// pid whose process (same start time) still runs when the hook does.
    #[test]
    fn only_a_verified_pid_still_running_is_hbnode_pid() {
        let dir = std::env::temp_dir().join(format!("hbnode-hook-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let cmd = format!(
            "printf '%s/%s\\n' \"${{HBNODE_PID:-none}}\" \"$HBNODE_CLAIMED_PID\" >> {}",
            out.display()
        );
        let me = std::process::id();
        let start = crate::legacy::owner::start_time(me).unwrap();
        let mut r = down();
        r.pid = Some(me);
        for pid_start in [None, Some(start), Some(start + 1)] {
            r.pid_start = pid_start;
            let status = run(&job_of(&r, &cmd), Duration::from_secs(20))
                .unwrap()
                .unwrap();
            assert!(status.success());
        }
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                format!("none/{me}"),
                format!("{me}/{me}"),
                format!("none/{me}")
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hook_gets_the_event_in_its_environment_and_on_stdin() {
        let dir = std::env::temp_dir().join(format!("hbnode-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let cmd = format!(
            "printf '%s %s %s %s %s\\n' \"$HBNODE_EVENT\" \"$HBNODE_NODE\" \"$HBNODE_ADDR\" \
             \"$HBNODE_PID\" \"$HBNODE_SILENCE_MS\" > {0}; cat >> {0}",
            out.display()
        );
        let status = run(&job(&cmd), Duration::from_secs(20)).unwrap().unwrap();
        assert!(status.success());
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("down web-1 127.0.0.1:9  1500"),
            "4242 is unverified"
        );
        let json: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(json["node"], "web-1");
        assert_eq!(json["pid"], 4242);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 13 item 9: a hook inherits only the allow-listed variables, not the monitor's
    /// whole environment.
    #[test]
    fn hooks_get_an_allow_listed_environment_only() {
        assert!(
            std::env::var_os("CARGO_MANIFEST_DIR").is_some(),
            "cargo sets it for tests"
        );
        let dir = std::env::temp_dir().join(format!("hbnode-hook-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("env");
        let cmd = format!(
            "printf '%s %s %s\\n' \"${{CARGO_MANIFEST_DIR:-cleared}}\" \"$HBNODE_EVENT\" \"${{PATH:+path}}\" > {}",
            out.display()
        );
        assert!(
            run(&job(&cmd), Duration::from_secs(20))
                .unwrap()
                .unwrap()
                .success()
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "cleared down path\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failing_hook_reports_its_status_and_a_slow_one_is_killed() {
        let status = run(&job("exit 3"), Duration::from_secs(20))
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(3));
        let started = Instant::now();
        assert_eq!(
            run(&job("sleep 30; true"), Duration::from_millis(200)).unwrap(),
            None
        );
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn only_matching_hooks_are_queued_and_a_full_queue_counts_drops() {
        let hooks = vec![
            crate::cli::values::parse_hook("down=true").unwrap(),
            crate::cli::values::parse_hook("up=true").unwrap(),
            crate::cli::values::parse_hook("any=true").unwrap(),
        ];
        let (tx, rx) = sync_channel(1);
        let stats = Arc::new(Stats::default());
        let runner = HookRunner {
            tx: Some(tx),
            stats: Arc::clone(&stats),
            held: Arc::default(),
        };
        dispatch(&hooks, &runner, &down());
        assert_eq!(rx.try_recv().unwrap().command, "true");
        assert!(
            rx.try_recv().is_err(),
            "second match was dropped: queue of 1"
        );
        let dropped = stats.hook_counts().find(|(n, _)| *n == "dropped");
        assert_eq!(dropped.unwrap().1, 1);
    }

    #[test]
    fn hooks_still_held_at_shutdown_are_counted_as_dropped() {
        let stats = Arc::new(Stats::default());
        // One worker, a hook that outlasts the drain: one runs, two wait in the queue.
        let runner = HookRunner::start(Duration::from_secs(30), 1, Arc::clone(&stats)).unwrap();
        let hooks = vec![crate::cli::values::parse_hook("down=sleep 5").unwrap()];
        for _ in 0..3 {
            dispatch(&hooks, &runner, &down());
        }
        drop(runner);
        let count = |name| {
            stats
                .hook_counts()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, c)| c)
        };
        assert_eq!(
            count("dropped"),
            3,
            "{:?}",
            stats.hook_counts().collect::<Vec<_>>()
        );
        assert_eq!(count("ok"), 0);
    }

    #[test]
    fn hook_flag_needs_a_known_event_and_a_command() {
        assert!(crate::cli::values::parse_hook("down=kill -9 $HBNODE_PID").is_ok());
        assert!(crate::cli::values::parse_hook("any=echo").is_ok());
        assert!(crate::cli::values::parse_hook("dwn=echo").is_err());
        assert!(crate::cli::values::parse_hook("down=").is_err());
        assert!(crate::cli::values::parse_hook("down").is_err());
        // The beater's hooks take the beater's events only.
        assert!(crate::cli::beat::parse_beat_hook("monitor_lost=logger lost").is_ok());
        let e = crate::cli::beat::parse_beat_hook("down=echo").unwrap_err();
        assert!(
            e.contains("not a beater event") && e.contains("monitor_back"),
            "{e}"
        );
        let e = crate::cli::values::parse_hook("monitor_lost=echo").unwrap_err();
        assert!(e.contains("not an event"), "{e}");
    }
}
