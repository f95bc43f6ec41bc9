//! `cargo xtask bench ingest`: how much CPU a running `hbnode monitor` spends per beat, next to
//! a raw `recv_from` loop fed the same traffic in the same run, and how late it reports downs.
//!
//! For each M (distinct node ids, default 10k and 100k) a paced sender beats every id once per
//! period (default 1 s) to both a release `hbnode monitor` and a raw receiving thread. After a
//! warm-up, a measuring window compares CPU time (from /proc, Linux only) per datagram. Then the
//! sender stops, every node goes silent, and the `slack_us` of the M `down` events (report time
//! minus exact deadline) gives the detection slack percentiles. Downs during the window are false
//! downs.
//!
//! `--before PATH` also measures another `hbnode` binary (say, one built from the previous
//! commit) in the same run: for each M it runs the same measurement against that binary right
//! before this build's, prints both, and adds rows with this build's CPU µs/beat and slack
//! p50/p99 next to the other's, the ratio being after/before. Same machine, same minute, so
//! the ratio means something even on a noisy host.
//!
//! Usage: `cargo xtask bench ingest [--nodes 10000,100000] [--period 1s] [--window 10s]
//! [--before PATH]`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hb_core::wire::{self, Beat, Message, Reading, Readings};

use super::table::Row;

/// The ingest benchmark's flags.
#[derive(Debug)]
pub(crate) struct Opts {
    pub(crate) nodes: Vec<usize>,
    pub(crate) period: Duration,
    pub(crate) window: Duration,
    /// `--before PATH`: another hbnode binary measured in the same run.
    pub(crate) before: Option<PathBuf>,
}

const USAGE: &str =
    "usage: bench ingest [--nodes 10000,100000] [--period 1s] [--window 10s] [--before PATH]";

/// What the monitor stores, for `bench store`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreOpts<'a> {
    /// `--db` (None: `--db none`).
    pub(crate) db: Option<&'a Path>,
    /// Readings per beat (probes per node).
    pub(crate) probes: usize,
}

/// Probe names the load generator reports (as the built-in sensors would).
const PROBES: [&str; 8] = [
    "load1",
    "load5",
    "load15",
    "mem_used_pct",
    "swap_used_pct",
    "procs_running",
    "procs_total",
    "disk_used_pct",
];

pub(crate) fn parse(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts {
        nodes: vec![10_000, 100_000],
        period: Duration::from_secs(1),
        window: Duration::from_secs(10),
        before: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--nodes" => {
                o.nodes = val()?
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse()
                            .context("--nodes takes numbers like 10000,100000")
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--period" => o.period = humantime::parse_duration(val()?)?,
            "--window" => o.window = humantime::parse_duration(val()?)?,
            "--before" => o.before = Some(PathBuf::from(val()?)),
            other => bail!("unknown argument {other}; {USAGE}"),
        }
    }
    if o.nodes.is_empty() || o.nodes.contains(&0) || o.period.is_zero() || o.window.is_zero() {
        bail!("--nodes, --period and --window must be positive");
    }
    Ok(o)
}

/// Runs the ingest benchmark with the arguments after `bench ingest`, prints its detailed
/// table and returns the rows for BENCHMARKS.md.
pub(crate) fn rows(args: &[String]) -> anyhow::Result<Vec<Row>> {
    let opts = parse(args)?;
    if !cfg!(target_os = "linux") {
        bail!("bench ingest reads CPU times from /proc: Linux only");
    }
    let bin = build_hbnode()?;
    if let Some(before) = &opts.before
        && !before.is_file()
    {
        bail!("--before {}: no such hbnode binary", before.display());
    }
    println!(
        "| nodes | sent/s | raw received/s | monitor beats/s | monitor CPU µs/beat | raw recv_from CPU µs/datagram | ratio | false downs | downs seen | slack p50 | slack p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    // (M, before, after) for the `--before` summary.
    let mut compared = Vec::new();
    for &m in &opts.nodes {
        let no_store = StoreOpts {
            db: None,
            probes: 0,
        };
        let before = match &opts.before {
            Some(path) => {
                let b = run_one(path, m, &opts, no_store)?;
                print_row(&format!("{m} (before)"), m, &b);
                Some(b)
            }
            None => None,
        };
        let r = run_one(&bin, m, &opts, no_store)?;
        let (sleep_p50_us, sleep_p99_us) = sleep_lateness();
        let ratio = r.monitor_us_per_beat / r.raw_us_per_datagram.max(1e-9);
        print_row(&m.to_string(), m, &r);
        rows.push(Row {
            name: format!(
                "ingest: `hbnode monitor` CPU per beat on loopback, {m} nodes ({:.0} beats/s, {} false downs)",
                r.beats_per_s, r.false_downs
            ),
            figure: format!("{:.2} µs/beat", r.monitor_us_per_beat),
            baseline: format!("raw recv_from loop: {:.2} µs/datagram", r.raw_us_per_datagram),
            ratio: Some(ratio),
            target: "≤ 1.3×".into(),
        });
        rows.push(Row {
            name: format!("ingest: detection slack (report − deadline), {m} nodes, p50 / p99"),
            figure: format!(
                "{:.2} / {:.2} ms",
                r.slack_p50_us as f64 / 1e3,
                r.slack_p99_us as f64 / 1e3
            ),
            baseline: format!(
                "OS timer lateness (1 ms sleeps), p50 / p99: {:.2} / {:.2} ms",
                sleep_p50_us as f64 / 1e3,
                sleep_p99_us as f64 / 1e3
            ),
            ratio: Some(r.slack_p99_us as f64 / (sleep_p99_us as f64).max(1.0)),
            target: if m >= 100_000 {
                "p99 ≤ 5 ms".into()
            } else {
                "—".into()
            },
        });
        if let Some(b) = before {
            rows.extend(before_after_rows(m, &b, &r));
            compared.push((m, b, r));
        }
    }
    if let Some(before) = &opts.before {
        print_before_after(before, &bin, &compared);
    }
    Ok(rows)
}

/// One line of the detailed table.
fn print_row(label: &str, m: usize, r: &Outcome) {
    println!(
        "| {label} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {}/{m} | {:.2} ms | {:.2} ms |",
        r.sent_per_s,
        r.raw_per_s,
        r.beats_per_s,
        r.monitor_us_per_beat,
        r.raw_us_per_datagram,
        r.monitor_us_per_beat / r.raw_us_per_datagram.max(1e-9),
        r.false_downs,
        r.downs,
        r.slack_p50_us as f64 / 1e3,
        r.slack_p99_us as f64 / 1e3,
    );
}

/// The `--before` rows for M nodes: this build's CPU per beat and slack next to the other
/// binary's, ratio after/before.
fn before_after_rows(m: usize, before: &Outcome, after: &Outcome) -> [Row; 2] {
    let ms = |us: u64| us as f64 / 1e3;
    [
        Row {
            name: format!("ingest: CPU per beat, this build vs `--before`, {m} nodes"),
            figure: format!("{:.2} µs/beat", after.monitor_us_per_beat),
            baseline: format!("before: {:.2} µs/beat", before.monitor_us_per_beat),
            ratio: Some(after.monitor_us_per_beat / before.monitor_us_per_beat.max(1e-9)),
            target: "≤ 1.0×".into(),
        },
        Row {
            name: format!(
                "ingest: detection slack p50 / p99, this build vs `--before`, {m} nodes (ratio: p99)"
            ),
            figure: format!(
                "{:.2} / {:.2} ms",
                ms(after.slack_p50_us),
                ms(after.slack_p99_us)
            ),
            baseline: format!(
                "before: {:.2} / {:.2} ms",
                ms(before.slack_p50_us),
                ms(before.slack_p99_us)
            ),
            ratio: Some(after.slack_p99_us as f64 / (before.slack_p99_us as f64).max(1.0)),
            target: "≤ 1.0×".into(),
        },
    ]
}

/// The before/after summary printed after the detailed table.
fn print_before_after(before: &Path, after: &Path, compared: &[(usize, Outcome, Outcome)]) {
    println!(
        "\nbefore: {}\nafter:  {}\n",
        before.display(),
        after.display()
    );
    println!(
        "| nodes | CPU µs/beat before | after | after/before | slack p50 / p99 before | after | p99 after/before |"
    );
    println!("|---|---|---|---|---|---|---|");
    let ms = |us: u64| us as f64 / 1e3;
    for (m, b, a) in compared {
        println!(
            "| {m} | {:.2} | {:.2} | {:.2}× | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.2}× |",
            b.monitor_us_per_beat,
            a.monitor_us_per_beat,
            a.monitor_us_per_beat / b.monitor_us_per_beat.max(1e-9),
            ms(b.slack_p50_us),
            ms(b.slack_p99_us),
            ms(a.slack_p50_us),
            ms(a.slack_p99_us),
            a.slack_p99_us as f64 / (b.slack_p99_us as f64).max(1.0),
        );
    }
}

pub(crate) fn build_hbnode() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "hb-node"])
        .status()
        .context("cannot run cargo")?
        .success();
    if !ok {
        bail!("cargo build --release -p hb-node failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    Ok(target.join("release/hbnode"))
}

pub(crate) struct Outcome {
    pub(crate) sent_per_s: f64,
    pub(crate) raw_per_s: f64,
    pub(crate) beats_per_s: f64,
    pub(crate) monitor_us_per_beat: f64,
    pub(crate) raw_us_per_datagram: f64,
    pub(crate) false_downs: usize,
    pub(crate) downs: usize,
    pub(crate) slack_p50_us: u64,
    pub(crate) slack_p99_us: u64,
    /// Readings the store committed (`hbnode_store_rows_written_total{table="readings"}`).
    pub(crate) readings_stored: f64,
    /// Readings lost to a full store queue or failed writes.
    pub(crate) store_dropped: f64,
}

/// Kills the child on drop.
pub(crate) struct Guard(pub(crate) Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime in seconds from a /proc `stat` file.
fn cpu_secs(stat_path: &str, tck: f64) -> anyhow::Result<f64> {
    let s = std::fs::read_to_string(stat_path).with_context(|| format!("reading {stat_path}"))?;
    let rest = s.rsplit_once(')').context("bad stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    Ok(ticks / tck)
}

fn metric(addr: &str, name: &str) -> anyhow::Result<f64> {
    let mut s = TcpStream::connect(addr)?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .with_context(|| format!("no {name} in /metrics"))
}

pub(crate) fn run_one(
    bin: &PathBuf,
    m: usize,
    o: &Opts,
    store: StoreOpts<'_>,
) -> anyhow::Result<Outcome> {
    let tck = clk_tck();
    let udp = UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
    let http = TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
    let timeout = o.period * 3;
    let mut child = Command::new(bin)
        .args([
            "monitor",
            "--listen",
            &format!("udp://{udp}"),
            "--http",
            &http,
        ])
        .args([
            "--timeout",
            &humantime::format_duration(timeout).to_string(),
        ])
        .args(["--events", "json", "--recv-buffer", "64MiB", "--db"])
        .arg(
            store
                .db
                .map_or_else(|| "none".into(), |p| p.as_os_str().to_owned()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start hbnode monitor")?;
    let out = child.stdout.take().context("stdout")?;
    let monitor = Guard(child);
    let pid = monitor.0.id();
    // (event, slack_us) in arrival order.
    let events: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let ev = Arc::clone(&events);
    thread::spawn(move || {
        // Only `down` events matter here; a cheap scan keeps this reader from becoming the
        // slow sink.
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if !line.contains("\"event\":\"down\"") {
                continue;
            }
            let slack = line
                .split_once("\"slack_us\":")
                .and_then(|(_, r)| r.trim_end_matches('}').split(',').next()?.parse().ok())
                .unwrap_or(0);
            ev.lock().unwrap().push(("down".to_owned(), slack));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&http, "hbnode_beats_received_total").is_err() {
        if Instant::now() > deadline {
            bail!("the monitor did not start");
        }
        thread::sleep(Duration::from_millis(50));
    }

    // The raw receiver: a plain recv_from loop on its own thread.
    let raw = UdpSocket::bind("127.0.0.1:0")?;
    let raw_addr = raw.local_addr()?;
    raw.set_read_timeout(Some(Duration::from_millis(100)))?;
    let raw_count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    {
        let (count, stop) = (Arc::clone(&raw_count), Arc::clone(&stop));
        thread::spawn(move || {
            let _ = tid_tx.send(std::fs::read_link("/proc/thread-self").ok());
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if raw.recv_from(&mut buf).is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let tid = tid_rx
        .recv()?
        .context("cannot find the raw receiver's thread id")?;
    let raw_stat = format!("/proc/{}/stat", tid.display());

    // The senders: every id once per period, evenly paced, to both receivers; ids are split
    // over a few threads so the sender is never the bottleneck.
    let sending = Arc::new(AtomicBool::new(true));
    let threads = thread::available_parallelism().map_or(2, |n| (n.get() / 4).clamp(1, 4));
    let sent_total = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..threads)
        .map(|t| {
            let sending = Arc::clone(&sending);
            let sent_total = Arc::clone(&sent_total);
            let ids: Vec<String> = (0..m)
                .filter(|i| i % threads == t)
                .map(|i| format!("bench-{i:06}"))
                .collect();
            let rate = ids.len() as f64 / o.period.as_secs_f64();
            let period_ms = u32::try_from(o.period.as_millis()).unwrap_or(u32::MAX);
            let probes = store.probes.min(PROBES.len());
            thread::spawn(move || -> anyhow::Result<()> {
                let s = UdpSocket::bind("127.0.0.1:0")?;
                let k = ids.len().max(1) as u64;
                let mut buf = [0u8; wire::MAX_DATAGRAM];
                let start = Instant::now();
                let mut sent = 0u64;
                while sending.load(Ordering::Relaxed) {
                    let due = (start.elapsed().as_secs_f64() * rate) as u64;
                    while sent < due {
                        let seq = sent / k + 1;
                        let readings: Vec<Reading<'_>> = PROBES
                            .iter()
                            .take(probes)
                            .enumerate()
                            .map(|(i, p)| Reading::new(p, (seq * 7 + i as u64) as f64 / 10.0, 0))
                            .collect();
                        let msg = Message::Beat(Beat {
                            period_ms,
                            readings: Readings::from_slice(&readings),
                            ..Beat::new(&ids[(sent % k) as usize], 1, seq)
                        });
                        let n = wire::encode(&msg, None, &mut buf)?;
                        let _ = s.send_to(&buf[..n], udp);
                        let _ = s.send_to(&buf[..n], raw_addr);
                        sent += 1;
                        sent_total.fetch_add(1, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_micros(200));
                }
                Ok(())
            })
        })
        .collect();

    // Warm-up: two periods (joins), then the measuring window.
    thread::sleep(o.period * 2 + Duration::from_millis(500));
    let mon_cpu0 = cpu_secs(&format!("/proc/{pid}/stat"), tck)?;
    let raw_cpu0 = cpu_secs(&raw_stat, tck)?;
    let beats0 = metric(&http, "hbnode_beats_received_total")?;
    let raw0 = raw_count.load(Ordering::Relaxed);
    let sent0 = sent_total.load(Ordering::Relaxed);
    let t0 = Instant::now();
    thread::sleep(o.window);
    let mon_cpu1 = cpu_secs(&format!("/proc/{pid}/stat"), tck)?;
    let raw_cpu1 = cpu_secs(&raw_stat, tck)?;
    let beats1 = metric(&http, "hbnode_beats_received_total")?;
    let raw1 = raw_count.load(Ordering::Relaxed);
    let sent1 = sent_total.load(Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let false_downs = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| e == "down")
        .count();

    // Silence: every node goes down once; collect the slack of each report.
    sending.store(false, Ordering::Relaxed);
    for s in senders {
        s.join().map_err(|_| anyhow::anyhow!("sender panicked"))??;
    }
    let deadline = Instant::now() + timeout + o.period + Duration::from_secs(20);
    loop {
        let downs = events
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| e == "down")
            .count();
        if downs >= m + false_downs || Instant::now() > deadline {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let mut slack: Vec<u64> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| e == "down")
        .skip(false_downs)
        .map(|(_, s)| *s)
        .collect();
    slack.sort_unstable();
    let pct = |p: f64| -> u64 {
        if slack.is_empty() {
            return 0;
        }
        slack[((slack.len() - 1) as f64 * p).round() as usize]
    };
    let target_rate = m as f64 / o.period.as_secs_f64();
    if ((sent1 - sent0) as f64 / secs) < 0.95 * target_rate {
        println!(
            "(the sender fell behind its {target_rate:.0}/s pace on this machine: downs during the \
             window then come from the sender, not the monitor)"
        );
    }
    let dropped = metric(&http, "hbnode_events_dropped_total{sink=\"stdout\"}")?;
    if dropped > 0.0 {
        println!(
            "(the monitor's stdout sink dropped {dropped} events: the slack sample is partial)"
        );
    }
    let beats = (beats1 - beats0).max(1.0);
    let datagrams = (raw1 - raw0).max(1) as f64;
    let readings_stored =
        metric(&http, "hbnode_store_rows_written_total{table=\"readings\"}").unwrap_or(0.0);
    let store_dropped = metric(
        &http,
        "hbnode_store_rows_dropped_total{reason=\"queue_full\"}",
    )
    .unwrap_or(0.0)
        + metric(&http, "hbnode_store_rows_dropped_total{reason=\"error\"}").unwrap_or(0.0)
        + metric(&http, "hbnode_store_rows_dropped_total{reason=\"invalid\"}").unwrap_or(0.0);
    // SIGTERM: a clean shutdown checkpoints the store's write-ahead log into the file.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut monitor = monitor;
    while monitor.0.try_wait()?.is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    drop(monitor);
    Ok(Outcome {
        sent_per_s: (sent1 - sent0) as f64 / secs,
        raw_per_s: datagrams / secs,
        beats_per_s: beats / secs,
        monitor_us_per_beat: (mon_cpu1 - mon_cpu0) * 1e6 / beats,
        raw_us_per_datagram: (raw_cpu1 - raw_cpu0) * 1e6 / datagrams,
        false_downs,
        downs: slack.len(),
        slack_p50_us: pct(0.5),
        slack_p99_us: pct(0.99),
        readings_stored,
        store_dropped,
    })
}

/// How late a plain 1 ms `thread::sleep` wakes on this machine right now, p50 and p99 in µs
/// over 1000 sleeps: the floor any timer-driven detector's slack sits on (the baseline of the
/// slack row, measured in the same run).
pub(crate) fn sleep_lateness() -> (u64, u64) {
    let mut late: Vec<u64> = (0..1000)
        .map(|_| {
            let asked = Duration::from_millis(1);
            let t0 = Instant::now();
            thread::sleep(asked);
            let over = t0.elapsed().saturating_sub(asked);
            u64::try_from(over.as_micros()).unwrap_or(u64::MAX)
        })
        .collect();
    late.sort_unstable();
    let pct = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize];
    (pct(0.5), pct(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn before_takes_the_other_binarys_path_and_is_off_by_default() {
        assert_eq!(parse(&[]).unwrap().before, None);
        let o = parse(&args(&["--nodes", "200", "--before", "/tmp/old/hbnode"])).unwrap();
        assert_eq!(o.before, Some(PathBuf::from("/tmp/old/hbnode")));
        assert_eq!(o.nodes, [200]);
        let e = parse(&args(&["--before"])).unwrap_err().to_string();
        assert!(e.contains("--before needs a value"), "{e}");
        let e = parse(&args(&["--after", "x"])).unwrap_err().to_string();
        assert!(e.contains("[--before PATH]"), "{e}");
    }
}
