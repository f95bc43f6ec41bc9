//! `cargo xtask stop-time`: the worst-case shutdown, measured. A release `hbnode monitor` with
//! `--db` on, `--alertmanager` and `--webhook` pointing at loopback ports that accept TCP and
//! never answer, takes N nodes beating once a second (loopback only); after a warm-up a tenth
//! of them go silent so downs fire and alerts queue behind the silent receivers; then SIGTERM,
//! and the time until the process exits is printed. Each run stops by itself; nothing is
//! written but a temporary store.
//!
//! Usage: `cargo xtask stop-time [--nodes 10000] [--runs 3] [--bin PATH]` (`--bin`: measure
//! another hbnode binary, say one built from main, instead of this tree's release build).

use std::io::Read as _;
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hb_core::wire::{self, Beat, Message};

const USAGE: &str = "usage: stop-time [--nodes 10000] [--runs 3] [--bin PATH]";

/// Longest a shutdown may take before the run is abandoned (the unit's TimeoutStopSec is 10 s).
const GIVE_UP: Duration = Duration::from_secs(30);

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let (mut nodes, mut runs, mut bin) = (10_000usize, 3usize, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--nodes" => nodes = val()?.parse().context("--nodes takes a number")?,
            "--runs" => runs = val()?.parse().context("--runs takes a number")?,
            "--bin" => bin = Some(std::path::PathBuf::from(val()?)),
            other => bail!("unknown argument {other}; {USAGE}"),
        }
    }
    if nodes == 0 || runs == 0 {
        bail!("--nodes and --runs must be positive");
    }
    let bin = match bin {
        Some(b) => b,
        None => super::ingest::build_hbnode()?,
    };
    let mut took = Vec::new();
    for run in 1..=runs {
        let t = run_one(&bin, nodes, run)?;
        println!("run {run}: SIGTERM → exit {:.0} ms", t.as_secs_f64() * 1e3);
        took.push(t);
    }
    took.sort();
    println!(
        "{nodes} nodes, {runs} runs: min {:.0} ms, max {:.0} ms",
        took[0].as_secs_f64() * 1e3,
        took[took.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}

fn run_one(bin: &std::path::Path, m: usize, run: usize) -> anyhow::Result<Duration> {
    // Accepted by the kernel's backlog, never read, never answered.
    let am = TcpListener::bind("127.0.0.1:0")?;
    let hook = TcpListener::bind("127.0.0.1:0")?;
    let udp = UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
    let http = TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
    let dir = std::env::temp_dir().join(format!("hbnode-stop-time-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut child = Command::new(bin)
        .args([
            "monitor",
            "--listen",
            &format!("udp://{udp}"),
            "--http",
            &http,
        ])
        .args(["--timeout", "2s", "--recv-buffer", "64MiB", "--db"])
        .arg(dir.join("hb.db"))
        .args(["--alertmanager", &format!("http://{}", am.local_addr()?)])
        .args(["--webhook", &format!("http://{}/hook", hook.local_addr()?)])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start hbnode monitor")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let log = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    thread::sleep(Duration::from_secs(1));
    let sending = Arc::new(AtomicBool::new(true));
    let silent = Arc::new(AtomicBool::new(false));
    let sender = {
        let (sending, silent) = (Arc::clone(&sending), Arc::clone(&silent));
        thread::spawn(move || -> anyhow::Result<()> {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            let ids: Vec<String> = (0..m).map(|i| format!("stop-{i:06}")).collect();
            let mut buf = [0u8; wire::MAX_DATAGRAM];
            let start = Instant::now();
            let mut sent = 0u64;
            let k = m as u64;
            while sending.load(Ordering::Relaxed) {
                let due = (start.elapsed().as_secs_f64() * m as f64) as u64;
                while sent < due {
                    let i = (sent % k) as usize;
                    let seq = sent / k + 1;
                    sent += 1;
                    if i.is_multiple_of(10) && silent.load(Ordering::Relaxed) {
                        continue;
                    }
                    let msg = Message::Beat(Beat {
                        period_ms: 1000,
                        ..Beat::new(&ids[i], 1, seq)
                    });
                    let n = wire::encode(&msg, None, &mut buf)?;
                    let _ = s.send_to(&buf[..n], udp);
                }
                thread::sleep(Duration::from_micros(500));
            }
            Ok(())
        })
    };
    // Joins, then a tenth goes silent and is reported down: alerts queue behind the silent
    // Alertmanager, events behind the silent webhook.
    thread::sleep(Duration::from_secs(3));
    silent.store(true, Ordering::Relaxed);
    thread::sleep(Duration::from_secs(4));
    let t0 = Instant::now();
    let term_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?
        .success();
    if !ok {
        bail!("kill -TERM failed");
    }
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if t0.elapsed() > GIVE_UP {
            let _ = child.kill();
            bail!("the monitor did not stop within {GIVE_UP:?}");
        }
        thread::sleep(Duration::from_millis(1));
    };
    let took = t0.elapsed();
    sending.store(false, Ordering::Relaxed);
    sender.join().expect("sender")?;
    let log = log.join().unwrap_or_default();
    for l in log.lines().filter(|l| {
        (l.contains("shutting down") && !l.contains("signal"))
            || l.contains("final registry snapshot")
            || l.contains("dropped")
            || l.contains("stopped")
            || l.contains("budget")
            || l.contains("stuck")
    }) {
        println!("  {l}");
    }
    // What the store holds: every node, and how far the newest last-seen is from SIGTERM.
    let db = rusqlite::Connection::open(dir.join("hb.db"))?;
    let (rows, oldest, newest): (i64, i64, i64) = db.query_row(
        "SELECT count(*), min(last_seen_ms), max(last_seen_ms) FROM nodes",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let term_ms = i64::try_from(term_ms)?;
    println!(
        "  store: {rows} nodes; newest last-seen {} ms before SIGTERM, oldest {} ms (a tenth \
         went silent 4 s before)",
        term_ms - newest,
        term_ms - oldest
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    drop((am, hook));
    if !status.success() {
        bail!("the monitor exited with {status}");
    }
    Ok(took)
}
