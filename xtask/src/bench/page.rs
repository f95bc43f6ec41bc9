//! `cargo xtask bench page`: what one refresh of the status page costs at 10k nodes — bytes
//! downloaded and render time in Chromium — next to the page as it was before issue 14
//! (`page_baseline.html`: every node from `/v1/nodes` each second, every row rebuilt), both
//! measured in the same run against the same monitor.
//!
//! A release `hbnode monitor` (`--db none`) gets N nodes (default 10k) beating once a second
//! from [`hb_tests::Fleet`], three probes each, 1 in 500 falling silent (down). A small HTTP
//! server on loopback serves the new page (fetched from the monitor's `/`) at `/new` and the
//! baseline at `/old`, and forwards every `/v1/…` request to the monitor, counting the bytes of
//! each answer. Headless Chromium loads each page in real time (no virtual time: the page
//! measures itself with `performance.now()`); the server holds back the document's last bytes
//! for `--window`, so the page keeps refreshing until then, and `--dump-dom` prints it once the
//! document completes. Each page records the render time of its last 60 refreshes (responses'
//! text → parsed → DOM updated → laid out) in `<body data-render-ms>`.
//!
//! Reported: the median bytes per refresh (the node request plus the events request, the first
//! refresh excluded: both pages then fetch the whole events ring) and the median and p90 render
//! time (the first render excluded: it builds the page from nothing). No figure is asserted.
//!
//! Usage: `cargo xtask bench page [--nodes 10000] [--window 15s]`.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hb_tests::{Fleet, FleetNode};

use super::ingest::{Guard, build_hbnode};
use super::table::Row;

/// The page before issue 14, instrumented as the new one is.
const BASELINE: &str = include_str!("page_baseline.html");

const USAGE: &str = "usage: bench page [--nodes 10000] [--window 15s]";

struct Opts {
    nodes: usize,
    window: Duration,
}

fn parse(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts {
        nodes: 10_000,
        window: Duration::from_secs(15),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--nodes" => o.nodes = val()?.parse().context("--nodes takes a number")?,
            "--window" => o.window = humantime::parse_duration(val()?)?,
            other => bail!("unknown argument {other}; {USAGE}"),
        }
    }
    if o.nodes == 0 || o.window < Duration::from_secs(3) {
        bail!("--nodes must be positive and --window at least 3s; {USAGE}");
    }
    Ok(o)
}

/// `GET path` on `addr` (HTTP/1.0): the whole response, head and body.
fn fetch(addr: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

fn split_body(raw: &[u8]) -> Option<&[u8]> {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(&raw[at + 4..])
}

/// The size of each `/v1/…` answer the bench server forwarded, by request path (query
/// included), in order.
type Log = Arc<Mutex<Vec<(String, usize)>>>;

/// Serves one connection: a page (its tail held until `until`), or a forwarded API call.
fn serve(
    mut c: TcpStream,
    monitor: &str,
    pages: &[(&str, Vec<u8>)],
    until: Instant,
    log: &Log,
) -> anyhow::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        let n = c.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    if path.starts_with("/v1/") {
        let raw = fetch(monitor, &path)?;
        log.lock()
            .map_err(|_| anyhow::anyhow!("log poisoned"))?
            .push((path, split_body(&raw).map_or(0, <[u8]>::len)));
        c.write_all(&raw)?;
    } else if let Some((_, page)) = pages.iter().find(|(p, _)| *p == path) {
        // Everything but the closing tags now; those once the window is over, so the
        // document (and Chromium's --dump-dom) completes then.
        let cut = page
            .windows(7)
            .rposition(|w| w == b"</body>")
            .unwrap_or(page.len());
        write!(
            c,
            "HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\r\n"
        )?;
        c.write_all(&page[..cut])?;
        c.flush()?;
        thread::sleep(until.saturating_duration_since(Instant::now()));
        c.write_all(&page[cut..])?;
    } else {
        c.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
    }
    let _ = c.shutdown(Shutdown::Both);
    Ok(())
}

/// What one page load measured.
struct Measured {
    refreshes: usize,
    /// Render times after the first, ms.
    render_ms: Vec<f64>,
    /// Bytes of the node request of each refresh.
    nodes_bytes: Vec<usize>,
    /// Bytes of the events request of each refresh after the first.
    events_bytes: Vec<usize>,
}

fn chromium() -> anyhow::Result<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(name.to_owned());
        }
    }
    bail!("bench page needs headless Chromium: apt-get install -y --no-install-recommends chromium")
}

/// The value of `attr` on the `<body>` tag of `dom`.
fn body_attr<'a>(dom: &'a str, attr: &str) -> Option<&'a str> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let v = body.split(&format!("{attr}=\"")).nth(1)?;
    Some(&v[..v.find('"')?])
}

/// Loads `path` from the bench server in Chromium for `window`, and reads what it measured.
fn load(
    server: &str,
    path: &str,
    window: Duration,
    log: &Log,
    profile: &Path,
) -> anyhow::Result<Measured> {
    log.lock()
        .map_err(|_| anyhow::anyhow!("log poisoned"))?
        .clear();
    let out = Command::new(chromium()?)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", profile.display()),
            &format!(
                "--timeout={}",
                (window + Duration::from_secs(30)).as_millis()
            ),
            "--dump-dom",
            &format!("http://{server}{path}"),
        ])
        .stdin(Stdio::null())
        .output()
        .context("cannot run chromium")?;
    if !out.status.success() {
        bail!("chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let dom = String::from_utf8_lossy(&out.stdout);
    let refreshes: usize = body_attr(&dom, "data-refreshes")
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("{path}: the page recorded no refresh"))?;
    let render_ms: Vec<f64> = body_attr(&dom, "data-render-ms")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // The page keeps its last 60: the first render is among them only for short windows.
    let skip = usize::from(refreshes <= 60);
    let log = log.lock().map_err(|_| anyhow::anyhow!("log poisoned"))?;
    let nodes_bytes = log
        .iter()
        .filter(|(p, _)| p.starts_with("/v1/nodes"))
        .map(|(_, n)| *n)
        .collect();
    let events_bytes = log
        .iter()
        .filter(|(p, _)| p.starts_with("/v1/events"))
        .skip(1)
        .map(|(_, n)| *n)
        .collect();
    Ok(Measured {
        refreshes,
        render_ms: render_ms.into_iter().skip(skip).collect(),
        nodes_bytes,
        events_bytes,
    })
}

fn quantile<T: Copy + PartialOrd>(xs: &[T], q: f64) -> Option<T> {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied()
}

fn fleet(n: usize) -> Vec<FleetNode> {
    (0..n)
        .map(|i| FleetNode {
            id: format!("node-{i:05}"),
            beats: (i % 500 == 7).then_some(2),
            probes: vec![
                ("load1".into(), 0.5, u8::from(i % 10 == 1)),
                ("disk".into(), 40.0, if i % 10 == 2 { 2 } else { 0 }),
                ("mem".into(), 30.0, 0),
            ],
        })
        .collect()
}

/// Runs the page benchmark with the arguments after `bench page`, prints its detailed table
/// and returns the rows for BENCHMARKS.md.
pub(crate) fn rows(args: &[String]) -> anyhow::Result<Vec<Row>> {
    let o = parse(args)?;
    chromium()?;
    let bin = build_hbnode()?;
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
    let http = TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
    let monitor = Guard(
        Command::new(&bin)
            .args([
                "monitor",
                "--listen",
                &format!("udp://{udp}"),
                "--http",
                &http,
            ])
            .args(["--timeout", "3s", "--db", "none", "--recv-buffer", "16MiB"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start hbnode monitor")?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while fetch(&http, "/healthz").is_err() {
        if Instant::now() > deadline {
            bail!("the monitor did not start");
        }
        thread::sleep(Duration::from_millis(50));
    }
    let nodes = fleet(o.nodes);
    let downs = nodes.iter().filter(|n| n.beats.is_some()).count();
    let run_for = o.window * 2 + Duration::from_secs(120);
    let _fleet = Fleet::start(&udp.to_string(), nodes, Duration::from_secs(1), run_for);
    // Every node joined and the silent ones down (3 s timeout after their 2 beats).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let raw = fetch(&http, "/v1/summary")?;
        let s: serde_json::Value = serde_json::from_slice(split_body(&raw).unwrap_or_default())?;
        let down = s["states"][0]["count"].as_u64().unwrap_or(0);
        if s["nodes"].as_u64() == Some(o.nodes as u64) && down == downs as u64 {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the monitor did not see {} nodes, {downs} down: {s}",
                o.nodes
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
    // The monitor's side of a refresh: how long its node request takes to answer.
    let answer = |path: &str| -> anyhow::Result<f64> {
        let times = (0..ANSWERS)
            .map(|_| {
                let t = Instant::now();
                fetch(&http, path).map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        quantile(&times, 0.5).context("no answer")
    };
    let answers = (
        answer("/v1/nodes")?,
        answer("/v1/nodes?sort=state&limit=100")?,
    );
    let new_page = split_body(&fetch(&http, "/")?)
        .context("no page at /")?
        .to_vec();

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let server = listener.local_addr()?.to_string();
    let log: Log = Arc::default();
    let until = Arc::new(Mutex::new(Instant::now()));
    {
        let (log, until, http) = (Arc::clone(&log), Arc::clone(&until), http.clone());
        let pages = Arc::new(vec![
            ("/new", new_page),
            ("/old", BASELINE.as_bytes().to_vec()),
        ]);
        thread::spawn(move || {
            for c in listener.incoming().map_while(Result::ok) {
                let (log, pages, http) = (Arc::clone(&log), Arc::clone(&pages), http.clone());
                let until = until.lock().map_or_else(|_| Instant::now(), |u| *u);
                thread::spawn(move || {
                    // Chromium drops connections it no longer needs when it exits: not an error.
                    let quiet = |e: &anyhow::Error| {
                        e.downcast_ref::<std::io::Error>().is_some_and(|e| {
                            matches!(
                                e.kind(),
                                std::io::ErrorKind::ConnectionReset
                                    | std::io::ErrorKind::BrokenPipe
                            )
                        })
                    };
                    if let Err(e) = serve(c, &http, &pages, until, &log)
                        && !quiet(&e)
                    {
                        eprintln!("bench page server: {e:#}");
                    }
                });
            }
        });
    }
    let profile = std::env::temp_dir().join(format!("hbnode-bench-page-{}", std::process::id()));
    let mut measured = Vec::new();
    for path in ["/old", "/new"] {
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile)?;
        *until.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Instant::now() + o.window;
        measured.push(load(&server, path, o.window, &log, &profile)?);
    }
    let _ = std::fs::remove_dir_all(&profile);
    drop(monitor);
    let (old, new) = (&measured[0], &measured[1]);
    report(o.nodes, downs, old, new, answers)
}

/// Requests timed for the monitor's side of a refresh.
const ANSWERS: usize = 20;

fn report(
    nodes: usize,
    downs: usize,
    old: &Measured,
    new: &Measured,
    (all_ms, page_ms): (f64, f64),
) -> anyhow::Result<Vec<Row>> {
    let bytes = |m: &Measured| -> anyhow::Result<usize> {
        let n = quantile(&m.nodes_bytes, 0.5).context("no node request was made")?;
        Ok(n + quantile(&m.events_bytes, 0.5).unwrap_or(0))
    };
    let ms = |m: &Measured, q| quantile(&m.render_ms, q).context("no render time was recorded");
    let (b_old, b_new) = (bytes(old)?, bytes(new)?);
    let (r_old, r_new) = (
        (ms(old, 0.5)?, ms(old, 0.9)?),
        (ms(new, 0.5)?, ms(new, 0.9)?),
    );
    println!("| page | refreshes | bytes/refresh (median) | render ms p50 | render ms p90 |");
    println!("|---|---|---|---|---|");
    for (name, m, b, r) in [
        ("before (every node)", old, b_old, r_old),
        ("this build (one page)", new, b_new, r_new),
    ] {
        println!(
            "| {name} | {} | {b} | {:.2} | {:.2} |",
            m.refreshes, r.0, r.1
        );
    }
    let kb = |b: usize| format!("{:.1} KB", b as f64 / 1000.0);
    Ok(vec![
        Row {
            name: format!(
                "page: bytes per refresh, {nodes} nodes ({downs} down, 3 probes each), median"
            ),
            figure: format!("{} (100-row page + counts + new events)", kb(b_new)),
            baseline: format!("old page, all of /v1/nodes: {}", kb(b_old)),
            ratio: Some(b_new as f64 / b_old as f64),
            target: "bounded by the page size, not the fleet".into(),
        },
        Row {
            name: format!(
                "page: render time per refresh in headless Chromium, {nodes} nodes, p50 / p90"
            ),
            figure: format!("{:.2} / {:.2} ms", r_new.0, r_new.1),
            baseline: format!(
                "old page (rebuild every row): {:.2} / {:.2} ms",
                r_old.0, r_old.1
            ),
            ratio: Some(r_new.0 / r_old.0),
            target: "—".into(),
        },
        Row {
            name: format!(
                "page: the monitor's answer to a refresh's node request, {nodes} nodes, median of {ANSWERS} (wall time on loopback)"
            ),
            figure: format!("{page_ms:.2} ms (`/v1/nodes?sort=state&limit=100`)"),
            baseline: format!("all of `/v1/nodes`: {all_ms:.2} ms"),
            ratio: Some(page_ms / all_ms),
            target: "—".into(),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_default_to_10k_nodes_and_refuse_nonsense() {
        let o = parse(&[]).expect("defaults");
        assert_eq!((o.nodes, o.window), (10_000, Duration::from_secs(15)));
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = parse(&args(&["--nodes", "500", "--window", "5s"])).expect("flags");
        assert_eq!((o.nodes, o.window), (500, Duration::from_secs(5)));
        assert!(parse(&args(&["--nodes", "0"])).is_err());
        assert!(parse(&args(&["--window", "1s"])).is_err());
        assert!(parse(&args(&["--before", "x"])).is_err());
    }

    #[test]
    fn reads_what_the_page_recorded_on_its_body() {
        let dom = "<html><head><style>body{}</style></head>\
                   <body data-refreshes=\"14\" data-render-ms=\"9.10 8.40\"><p>x</p></body></html>";
        assert_eq!(body_attr(dom, "data-refreshes"), Some("14"));
        assert_eq!(body_attr(dom, "data-render-ms"), Some("9.10 8.40"));
        assert_eq!(body_attr(dom, "data-nothing"), None);
    }

    #[test]
    fn quantiles_are_order_statistics() {
        let xs = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&xs, 0.5), Some(3.0));
        assert_eq!(quantile(&xs, 0.9), Some(5.0));
        assert_eq!(quantile::<f64>(&[], 0.5), None);
    }

    #[test]
    fn the_page_is_served_without_its_closing_tags_until_the_window_ends() {
        // The cut `serve` makes: everything before the last `</body>`.
        let page = BASELINE.as_bytes();
        let cut = page.windows(7).rposition(|w| w == b"</body>");
        assert!(
            cut.is_some_and(|c| c > page.len() / 2),
            "the baseline ends with </body>"
        );
        assert!(BASELINE.contains("dataset.renderMs") && BASELINE.contains("v1/nodes\""));
    }
}
