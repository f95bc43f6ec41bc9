//! Helpers for the end-to-end tests: locate the `hbnode` binary, run it as child processes on
//! loopback (killed on drop), read their JSON events, and poll with deadlines.
//!
//! The binary is the one cargo built next to this test executable (`target/<profile>/hbnode`).
//! `cargo test --workspace` builds it, because hb-node has an integration test of its own; with
//! `cargo test -p hb-tests` alone, run `cargo build -p hb-node` first.

#![warn(missing_docs)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod fleet;
pub mod proxy;
pub use fleet::{Fleet, FleetNode};
pub use proxy::LossyProxy;

/// How long any wait in these tests may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The `hbnode` binary built with this test.
pub fn hbnode() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/it-<hash> → target/<profile>/hbnode
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in target/<profile>/deps");
    let bin = dir.join(format!("hbnode{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run `cargo test --workspace` (or `cargo build -p hb-node` first)",
        bin.display()
    );
    bin
}

/// An external program a test needs, from `PATH`: a missing one fails the test with the
/// Debian package to install (never a silent skip). `cargo xtask test` installs them all.
/// `program` may also be an absolute path (Nagios plugins live outside `PATH`).
pub fn tool(program: &str, package: &str) -> PathBuf {
    let found = if program.starts_with('/') {
        Some(PathBuf::from(program)).filter(|p| p.is_file())
    } else {
        which::which(program).ok()
    };
    found.unwrap_or_else(|| {
        panic!(
            "`{program}` is not installed and this test needs it: \
             `apt-get install -y --no-install-recommends {package}` \
             (or run `cargo xtask test`, which installs what the test suite needs)"
        )
    })
}

/// A temporary directory for one test (`hbnode-NAME-PID` under the system's), removed when
/// dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates it afresh (whatever an earlier run left is removed first).
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hbnode-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    s.local_addr().expect("addr").port()
}

/// A loopback TCP port that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    let s = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    s.local_addr().expect("addr").port()
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after [`PATIENCE`] with `what`.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// A child process, killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    /// Everything it wrote to stdout, line by line, as it arrives.
    pub stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `hbnode` with `args`, capturing stdout lines and stderr.
    pub fn hbnode(args: &[&str]) -> Self {
        Self::hbnode_with_env(args, &[])
    }

    /// Starts `hbnode` with `args` and extra environment variables `env`, capturing stdout
    /// lines and stderr.
    ///
    /// Monitors run without a store (`HBNODE_DB=none`) unless `args` give `--db` or `env`
    /// sets `HBNODE_DB`: tests run in parallel and must not share the default store.
    pub fn hbnode_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(
            Command::new(hbnode())
                .env("HBNODE_DB", "none")
                .args(args)
                .envs(env.iter().copied()),
        )
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (through `kill(1)`: the workspace forbids unsafe code).
    pub fn term(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -TERM {} failed", self.pid());
    }

    /// Waits for the process to exit, at most [`PATIENCE`].
    pub fn wait(&mut self) -> ExitStatus {
        wait_for("the process to exit", || {
            self.child.try_wait().ok().flatten()
        })
    }

    /// What it wrote to stderr so far (complete once it has exited; grows while it runs).
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Its stdout lines parsed as JSON objects (non-JSON lines are a test failure).
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .expect("lock")
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl Proc {
    /// Starts any command, capturing stdout lines (as they arrive) and stderr.
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::clone(&stdout);
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().expect("lock").push(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let text = Arc::clone(&stderr);
        thread::spawn(move || {
            // Chunk by chunk, so a running process's warnings can be waited for.
            let mut buf = [0u8; 4096];
            let mut pending = Vec::new();
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                let valid = match std::str::from_utf8(&pending) {
                    Ok(s) => s.len(),
                    Err(e) => e.valid_up_to(),
                };
                let s = String::from_utf8_lossy(&pending[..valid]).into_owned();
                text.lock().expect("lock").push_str(&s);
                pending.drain(..valid);
            }
        });
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Starts one of the Python 3 legacy clients in `tests/clients/` with `args`.
    pub fn python(script: &str, args: &[&str]) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("clients")
            .join(script);
        Self::spawn(Command::new("python3").arg("-u").arg(path).args(args))
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Its stdout lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.stdout.lock().expect("lock").clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET path` on `addr` (HTTP/1.0); returns the status code and body, or `None` if the
/// server is not reachable.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// The events (`event`, `node`) in a monitor's JSON output, in order.
pub fn event_names(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["node"].as_str().unwrap_or_default().to_owned(),
                e["event"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The value of the sample `name` (e.g. `hbnode_node_up{node="a"}`) in a metrics text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `hbnode monitor` on fresh loopback ports (UDP listener, HTTP API), JSON events on stdout,
/// ready once `/healthz` answers. [`TestMonitor::builder`] starts one any other way.
pub struct TestMonitor {
    /// The process.
    pub proc: Proc,
    /// Its `udp://` listen address (`127.0.0.1:PORT`); empty if built with
    /// [`MonitorBuilder::no_udp`].
    pub udp: String,
    /// What it was given as `--http`: its HTTP address, or `off`.
    pub http: String,
}

/// `hbnode beat --to TO --period PERIOD --id ID`.
pub fn beater(to: &str, period: &str, id: &str) -> Proc {
    Proc::hbnode(&["beat", "--to", to, "--period", period, "--id", id])
}

/// Sends `sig` (`-STOP`, `-CONT`, …) to every process in `procs` at once; panics if `kill`
/// fails.
pub fn signal(procs: &[Proc], sig: &str) {
    let mut cmd = Command::new("kill");
    cmd.arg(sig);
    for p in procs {
        cmd.arg(p.pid().to_string());
    }
    assert!(cmd.status().expect("run kill").success(), "kill {sig}");
}

/// Continues processes (by pid) when dropped: a test that stops processes holds one, so a
/// failure half-way never leaves them stopped.
pub struct ContinueOnDrop(pub Vec<u32>);

impl Drop for ContinueOnDrop {
    fn drop(&mut self) {
        let mut cmd = Command::new("kill");
        cmd.arg("-CONT");
        for p in &self.0 {
            cmd.arg(p.to_string());
        }
        let _ = cmd.status();
    }
}

impl TestMonitor {
    /// How many JSON events named `event` it printed so far.
    pub fn count(&self, event: &str) -> usize {
        self.proc
            .json_lines()
            .iter()
            .filter(|e| e["event"] == event)
            .count()
    }

    /// Starts `hbnode monitor --listen udp://… --http … --events json` plus `extra` flags.
    pub fn start(extra: &[&str]) -> Self {
        Self::builder().args(extra).start()
    }

    /// As [`TestMonitor::start`], on given addresses (to restart a monitor where it was).
    pub fn start_on(udp: &str, http: &str, extra: &[&str]) -> Self {
        Self::builder().udp(udp).http(http).args(extra).start()
    }

    /// A monitor to configure: by default as [`TestMonitor::start`] starts it.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder::default()
    }

    /// The sample `name` in `/metrics` (0 if absent).
    pub fn metric(&self, name: &str) -> f64 {
        http_get(&self.http, "/metrics")
            .and_then(|(_, m)| metric(&m, name))
            .unwrap_or(0.0)
    }

    /// The JSON events printed so far about `node`.
    pub fn events_for(&self, node: &str) -> Vec<Value> {
        self.proc
            .json_lines()
            .into_iter()
            .filter(|e| e["node"] == node)
            .collect()
    }
}

/// How to start a [`TestMonitor`]: `hbnode monitor --listen udp://… --http … --events json`
/// on fresh loopback ports, without a store (`HBNODE_DB=none`), unless told otherwise.
#[derive(Debug)]
pub struct MonitorBuilder {
    /// `--listen udp://` address: `None` for a fresh port.
    udp: Option<String>,
    /// No `--listen udp://…` of its own.
    no_udp: bool,
    /// More `--listen` URLs.
    listen: Vec<String>,
    /// `--http`: `None` for a fresh port.
    http: Option<String>,
    /// `--events json`.
    events: bool,
    /// Environment variables on top of `HBNODE_DB=none`.
    env: Vec<(String, String)>,
    /// Flags after the built ones.
    args: Vec<String>,
    /// A command line that runs `hbnode monitor …` as its last arguments.
    via: Vec<String>,
}

impl Default for MonitorBuilder {
    fn default() -> Self {
        Self {
            udp: None,
            no_udp: false,
            listen: Vec::new(),
            http: None,
            events: true,
            env: Vec::new(),
            args: Vec::new(),
            via: Vec::new(),
        }
    }
}

impl MonitorBuilder {
    /// Its `udp://` listener on `addr` (`127.0.0.1:PORT`) rather than a fresh port.
    pub fn udp(mut self, addr: impl Into<String>) -> Self {
        self.udp = Some(addr.into());
        self
    }

    /// No `udp://` listener of its own (it listens on [`MonitorBuilder::listen`] URLs, or on
    /// those of a `--config` file).
    pub fn no_udp(mut self) -> Self {
        self.no_udp = true;
        self
    }

    /// Also `--listen url` (e.g. `pyhb+udp://…`, `text+udp://…`, `json+tcp://…`).
    pub fn listen(mut self, url: impl Into<String>) -> Self {
        self.listen.push(url.into());
        self
    }

    /// `--http addr` rather than a fresh port; `off` for none (then nothing waits for
    /// `/healthz`: the monitor is started, not known to be ready).
    pub fn http(mut self, addr: impl Into<String>) -> Self {
        self.http = Some(addr.into());
        self
    }

    /// Without `--events json` (its stdout in the default format).
    pub fn no_events(mut self) -> Self {
        self.events = false;
        self
    }

    /// The environment variable `key=value` (`HBNODE_DB` too: it replaces `none`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// More flags, after the built ones.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|&a| a.to_owned()));
        self
    }

    /// Runs the monitor through `cmd` (e.g. `unshare -m sh -c SCRIPT`), which gets the
    /// `hbnode` binary and the monitor's arguments as its last arguments.
    pub fn via(mut self, cmd: &[&str]) -> Self {
        self.via = cmd.iter().map(|&a| a.to_owned()).collect();
        self
    }

    /// Starts it, and waits for `/healthz` (unless `--http off`); panics with its stderr if it
    /// exits first.
    pub fn start(self) -> TestMonitor {
        let (mut cmd, udp, http) = self.command();
        let mut proc = Proc::spawn(&mut cmd);
        if http != "off" {
            wait_for("the monitor's /healthz", || {
                if let Some(status) = proc.try_wait() {
                    panic!(
                        "the monitor exited ({status}) before serving: {cmd:?}\n{}",
                        proc.stderr()
                    );
                }
                http_get(&http, "/healthz").filter(|(s, _)| *s == 200)
            });
        }
        TestMonitor { proc, udp, http }
    }

    /// Runs it expecting it to exit on its own (a refused start) within [`PATIENCE`], and
    /// returns what it wrote and how it ended; panics (killing it) if it is still running.
    pub fn expect_exit(self) -> std::process::Output {
        let (mut cmd, _, _) = self.command();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let deadline = Instant::now() + PATIENCE;
        while child.try_wait().expect("try_wait").is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the monitor was still running after {PATIENCE:?}: {cmd:?}");
            }
            thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("monitor output")
    }

    /// The command line, its `udp://` address (empty if none) and its `--http` value.
    fn command(self) -> (Command, String, String) {
        let udp = if self.no_udp {
            String::new()
        } else {
            self.udp
                .unwrap_or_else(|| format!("127.0.0.1:{}", free_udp_port()))
        };
        let http = self
            .http
            .unwrap_or_else(|| format!("127.0.0.1:{}", free_tcp_port()));
        let mut cmd = match self.via.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(hbnode());
                c
            }
            None => Command::new(hbnode()),
        };
        cmd.env("HBNODE_DB", "none").arg("monitor");
        if !udp.is_empty() {
            cmd.arg("--listen").arg(format!("udp://{udp}"));
        }
        for url in &self.listen {
            cmd.args(["--listen", url]);
        }
        cmd.args(["--http", &http]);
        if self.events {
            cmd.args(["--events", "json"]);
        }
        cmd.args(&self.args).envs(self.env);
        (cmd, udp, http)
    }
}
