//! `hbnode demo`: a monitor and N beaters on loopback in one process, broken on a schedule so
//! joined, down, up, restarted and left happen live; ends by itself with a summary.
//!
//! Schedule (fixed detector, 1 s timeout, beats every 200 ms), node numbers permitting:
//!
//! | at     | what                                        | expect               |
//! |--------|---------------------------------------------|----------------------|
//! | 0 s    | every node starts                           | `joined` each        |
//! | 2.5 s  | node-1 crashes (no goodbye)                 | `down` ≈ 1 s later   |
//! | 4.5 s  | node-2's network is cut                     | `down` ≈ 1 s later   |
//! | 7 s    | node-2's network is restored                | `up`                 |
//! | 8 s    | node-1 starts again (new incarnation)       | `restarted` (was down) |
//! | 10 s   | node-3 restarts faster than the timeout     | `restarted`          |
//! | 12 s   | node-4 stops gracefully                     | `left`, no `down`    |
//! | 14 s   | end: summary                                |                      |

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use anyhow::Context as _;
use hb_core::detector::{DetectorConfig, Fixed};
use hb_core::{Beater, NodeId, Timestamp};

use crate::cli::values::EventFormat;
use crate::commands::beat::BeatSettings;
use crate::net::transport::{Udp, bind_udp};
use crate::process::signals::shutdown_signal;
use crate::runtime::beater::{BeaterActor, Crash, Cut, Leave};
use crate::runtime::clock::Clock;
use crate::runtime::record::EventRecord;
use crate::runtime::reporter::Collector;
use crate::runtime::wiring::{self, MonitorSettings};

const TIMEOUT: Duration = Duration::from_secs(1);
const PERIOD: Duration = Duration::from_millis(200);
const END: Duration = Duration::from_secs(14);

/// A fault the demo injected, and when.
#[derive(Debug)]
struct Fault {
    node: String,
    what: &'static str,
    at: Timestamp,
    /// Whether a `down` is the expected outcome.
    expect_down: bool,
}

struct Demo {
    clock: Clock,
    /// The monitor's clock: it reaches back for its store, so event times are offset from the
    /// demo's by that much (see [`Demo::event_time`]).
    monitor_clock: Clock,
    monitor: SocketAddr,
    nodes: Vec<Option<Addr<BeaterActor<Udp>>>>,
    faults: Vec<Fault>,
}

fn unix_now_us() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn name(i: usize) -> String {
    format!("node-{}", i + 1)
}

impl Demo {
    fn say(&self, msg: &str) {
        let t = self.clock.now().as_secs_f64();
        println!("-- {t:>6.3}s  {msg}");
    }

    fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        let settings = BeatSettings {
            jitter: 0.05,
            ..BeatSettings::new(NodeId::new(&name(i))?, vec![self.monitor], PERIOD)
        };
        let mut cfg = settings.beater_config(&self.clock);
        cfg.incarnation = unix_now_us();
        let beater = Beater::new(cfg, self.clock.now())?;
        let socket = bind_udp(SocketAddr::from(([127, 0, 0, 1], 0)), 0)?.socket;
        self.nodes[i] = Some(BeaterActor::new(beater, socket, self.clock).start());
        Ok(())
    }

    fn fault(&mut self, i: usize, what: &'static str, expect_down: bool) {
        self.faults.push(Fault {
            node: name(i),
            what,
            at: self.clock.now(),
            expect_down,
        });
    }

    async fn at(&self, t: Duration) {
        actix_rt::time::sleep_until(self.clock.instant(Timestamp::ZERO + t)).await;
    }

    async fn script(&mut self) -> anyhow::Result<()> {
        let n = self.nodes.len();
        self.say(&format!(
            "starting {n} nodes beating every {} to a monitor with a {} fixed timeout",
            humantime::format_duration(PERIOD),
            humantime::format_duration(TIMEOUT)
        ));
        for i in 0..n {
            self.start_node(i)?;
        }
        if n > 0 {
            self.at(Duration::from_millis(2500)).await;
            self.say("node-1 crashes: killed, no goodbye");
            if let Some(a) = self.nodes[0].take() {
                a.do_send(Crash);
            }
            self.fault(0, "crash", true);
        }
        if n > 1 {
            self.at(Duration::from_millis(4500)).await;
            self.say("node-2's network is cut: its beats are lost");
            if let Some(a) = &self.nodes[1] {
                a.do_send(Cut(true));
            }
            self.fault(1, "network cut", true);
            self.at(Duration::from_secs(7)).await;
            self.say("node-2's network is restored");
            if let Some(a) = &self.nodes[1] {
                a.do_send(Cut(false));
            }
        }
        if n > 0 {
            self.at(Duration::from_secs(8)).await;
            self.say("node-1 starts again, with a new incarnation");
            self.start_node(0)?;
        }
        if n > 2 {
            self.at(Duration::from_secs(10)).await;
            self.say("node-3 restarts faster than the timeout");
            if let Some(a) = self.nodes[2].take() {
                a.do_send(Crash);
            }
            self.fault(2, "fast restart", false);
            self.start_node(2)?;
        }
        if n > 3 {
            self.at(Duration::from_secs(12)).await;
            self.say("node-4 stops gracefully (as on SIGTERM)");
            if let Some(a) = self.nodes[3].take() {
                let _ = a.send(Leave).await;
            }
            self.fault(3, "graceful stop", false);
        }
        self.at(END).await;
        Ok(())
    }

    /// An event's time on the demo's clock (the faults' clock).
    fn event_time(&self, e: &EventRecord) -> Timestamp {
        self.clock
            .at(self.monitor_clock.instant(Timestamp::from_micros(e.at_us)))
    }

    fn summary(&self, events: &[Arc<EventRecord>]) {
        println!();
        println!(
            "summary: {} nodes, {:.1}s, fixed detector with a {} timeout, beats every {}",
            self.nodes.len(),
            self.clock.now().as_secs_f64(),
            humantime::format_duration(TIMEOUT),
            humantime::format_duration(PERIOD),
        );
        // The liveness kinds always; probe kinds only if some occurred (the demo has no sensors).
        let counts: Vec<String> = crate::runtime::stats::EVENT_NAMES
            .iter()
            .map(|k| (k, events.iter().filter(|e| e.event == *k).count()))
            .filter(|(k, n)| *n > 0 || !k.starts_with("probe_"))
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("  events: {}", counts.join(", "));
        println!("  detections (delay from the fault; the bound is timeout + one period):");
        for f in &self.faults {
            let down = events
                .iter()
                .find(|e| e.event == "down" && e.node == f.node && self.event_time(e) >= f.at);
            match (down, f.expect_down) {
                (Some(d), _) => println!(
                    "    {:<8} {:<14} at {:>6.3}s  down at {:>6.3}s  delay {:.3}s  (silence {:.3}s, {}µs after the deadline)",
                    f.node,
                    f.what,
                    f.at.as_secs_f64(),
                    self.event_time(d).as_secs_f64(),
                    (self.event_time(d) - f.at).as_secs_f64(),
                    d.silence_ms.unwrap_or(0) as f64 / 1e3,
                    d.slack_us.unwrap_or(0),
                ),
                (None, true) => println!(
                    "    {:<8} {:<14} at {:>6.3}s  NOT detected",
                    f.node,
                    f.what,
                    f.at.as_secs_f64()
                ),
                (None, false) => println!(
                    "    {:<8} {:<14} at {:>6.3}s  no down, as it should be",
                    f.node,
                    f.what,
                    f.at.as_secs_f64()
                ),
            }
        }
        let broken: Vec<&str> = self
            .faults
            .iter()
            .filter(|f| f.expect_down)
            .map(|f| f.node.as_str())
            .collect();
        let false_downs = events
            .iter()
            .filter(|e| e.event == "down" && !broken.contains(&e.node.as_str()))
            .count();
        println!("  false downs (down for a node the demo did not break): {false_downs}");
    }
}

/// Runs the demo with `nodes` beaters, on a temporary store it reads back at the end.
pub(crate) fn run(nodes: u16) -> anyhow::Result<ExitCode> {
    // The embedded store, in a temporary file deleted at the end.
    let db = std::env::temp_dir().join(format!("hbnode-demo-{}.db", std::process::id()));
    let result = System::new().block_on(demo(nodes, db.clone()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    result
}

/// Most history rows the demo prints at the end.
const HISTORY_ROWS: usize = 20;

/// Prints the newest events of the demo's store, read back from the file.
fn print_history(db: &std::path::Path) -> anyhow::Result<()> {
    let rows = crate::store::query::with_db(db, |c| crate::store::query::history(c, None, 0))?;
    println!();
    println!(
        "history, read back from the demo's embedded store ({} events{}; the store is a \
         temporary file, removed when the demo ends); a monitor's own: hbnode history --db PATH",
        rows.len(),
        if rows.len() > HISTORY_ROWS {
            format!(", the last {HISTORY_ROWS} shown")
        } else {
            String::new()
        }
    );
    let tail = &rows[rows.len().saturating_sub(HISTORY_ROWS)..];
    print!("{}", crate::commands::history::history_table(tail));
    Ok(())
}

async fn demo(nodes: u16, db: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    {
        let clock = Clock::new();
        let settings = MonitorSettings {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            http: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            events: Some(EventFormat::Text),
            db: Some(db.clone()),
            retention: Duration::from_secs(3600),
            ..MonitorSettings::new(
                "demo".into(),
                DetectorConfig::Fixed(Fixed { timeout: TIMEOUT }),
            )
        };
        let events = Rc::new(RefCell::new(Vec::new()));
        let collector = Collector::new(Rc::clone(&events)).start();
        let running = wiring::start(&settings, clock, Some(collector.recipient()))?;
        let addr = *running
            .listening
            .first()
            .context("the monitor is not listening")?;
        if let Some((_, http)) = &running.http {
            println!("-- monitor on udp://{addr}; while it runs, try: hbnode status --http {http}");
        }
        let mut demo = Demo {
            clock,
            monitor_clock: running.clock,
            monitor: addr,
            nodes: vec![None; usize::from(nodes)],
            faults: Vec::new(),
        };
        let interrupted = tokio::select! {
            r = demo.script() => { r?; false }
            r = shutdown_signal() => { r?; true }
        };
        if interrupted {
            demo.say("interrupted");
        }
        running.shutdown().await;
        demo.summary(&events.borrow());
        print_history(&db)?;
        Ok(ExitCode::SUCCESS)
    }
}
