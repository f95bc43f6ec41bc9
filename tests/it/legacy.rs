//! Issue 5: the lineage's own clients (Python 3 versions in tests/clients/) drive the legacy
//! listeners unchanged: PyHeartbeat, a Circus-watched process (with the watchdog's kill as an
//! exec hook) and the TCP/JSON heartbeat.

use std::net::UdpSocket;
use std::os::unix::process::ExitStatusExt as _;

use hb_tests::{Proc, TestMonitor, free_tcp_port, free_udp_port, http_get, metric, wait_for};
use serde_json::Value;

fn has(mon: &Proc, node: &str, event: &str) -> Option<Value> {
    mon.json_lines()
        .into_iter()
        .find(|e| e["node"] == node && e["event"] == event)
}

/// A monitor listening on `listen` only.
fn monitor(listen: &str, http: &str, extra: &[&str]) -> Proc {
    TestMonitor::builder()
        .no_udp()
        .listen(listen)
        .http(http)
        .args(extra)
        .start()
        .proc
}

fn legacy_rejections(http: &str) -> f64 {
    http_get(http, "/metrics")
        .and_then(|(_, m)| {
            metric(
                &m,
                "hbnode_datagrams_rejected_total{reason=\"bad_legacy_format\"}",
            )
        })
        .unwrap_or(0.0)
}

#[test]
fn pyheartbeat_client_joins_by_source_ip_goes_down_when_killed_and_junk_is_counted() {
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let mut mon = monitor(&format!("pyhb+udp://{udp}"), &http, &["--timeout", "1s"]);
    let port = udp.rsplit(':').next().unwrap();
    let mut client = Proc::python("pyheartbeat.py", &["127.0.0.1", port, "0.2"]);
    wait_for("127.0.0.1 joined", || has(&mon, "127.0.0.1", "joined"));

    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"PyHB\n", &udp).unwrap();
    s.send_to(b"hello", &udp).unwrap();
    wait_for("two legacy rejections", || {
        (legacy_rejections(&http) >= 2.0).then_some(())
    });

    client.kill();
    let down = wait_for("127.0.0.1 down", || has(&mon, "127.0.0.1", "down"));
    assert_eq!(down["reason"], "silence");
    assert!(down["silence_ms"].as_u64().unwrap() >= 1000, "{down}");
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
}

#[test]
fn circus_watchdog_kills_a_hung_process_through_a_down_hook() {
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let mut mon = monitor(
        &format!("text+udp://{udp}"),
        &http,
        &["--timeout", "1s", "--on", "down=kill -9 $HBNODE_PID"],
    );
    let port = udp.rsplit(':').next().unwrap();
    let mut proc = Proc::python(
        "circus_watchdog.py",
        &["127.0.0.1", port, "0.2", "--hang-after", "5"],
    );
    let pid = proc.pid().to_string();
    let joined = wait_for("the process joined", || has(&mon, &pid, "joined"));
    assert_eq!(joined["pid"].as_u64(), Some(u64::from(proc.pid())));
    wait_for("the process hangs", || {
        proc.lines().iter().any(|l| l == "hanging").then_some(())
    });
    let down = wait_for("the process down", || has(&mon, &pid, "down"));
    assert_eq!(down["pid"].as_u64(), Some(u64::from(proc.pid())));
    assert_eq!(
        down["pid_verified"], true,
        "it owns the socket it beats from: {down}"
    );
    let status = wait_for("the hook to kill the process", || proc.try_wait());
    assert_eq!(status.signal(), Some(9), "killed by the watchdog hook");
    wait_for("the hook counted", || {
        let (_, m) = http_get(&http, "/metrics")?;
        (metric(&m, "hbnode_hooks_total{result=\"ok\"}")? >= 1.0).then_some(())
    });
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
}

#[test]
fn invalid_message_regex_is_a_startup_error() {
    let out = TestMonitor::builder()
        .no_udp()
        .listen("text+udp://127.0.0.1:0")
        .http("off")
        .args(&["--msg-regex", "(?P<pid>unclosed"])
        .expect_exit();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--msg-regex") && err.contains("unclosed"),
        "{err}"
    );
}

#[test]
fn tcp_json_clients_are_greeted_and_a_closed_or_junk_connection_is_down_at_once() {
    let port = free_tcp_port();
    let http = format!("127.0.0.1:{}", free_tcp_port());
    // A minute's timeout: only the closed connection can make these nodes down in time.
    let mut mon = monitor(
        &format!("json+tcp://127.0.0.1:{port}"),
        &http,
        &["--timeout", "60s", "--greeting", "hello from hbnode"],
    );
    let port = port.to_string();
    let args = |extra: &[&'static str]| {
        let mut a = vec!["127.0.0.1", port.as_str(), "0.2"];
        a.extend_from_slice(extra);
        a
    };
    let mut a = Proc::python("tcp_json.py", &args(&[]));
    let b = Proc::python("tcp_json.py", &args(&["--newline", "--id", "b"]));
    let a_id = format!("127.0.0.1/{}", a.pid());
    wait_for("a joined", || has(&mon, &a_id, "joined"));
    let joined = wait_for("b joined", || has(&mon, "b", "joined"));
    assert_eq!(joined["pid"].as_u64(), Some(u64::from(b.pid())));
    assert_eq!(
        a.lines().first().map(String::as_str),
        Some("hello from hbnode")
    );

    a.kill();
    let down = wait_for("a down", || has(&mon, &a_id, "down"));
    assert_eq!(down["reason"], "connection closed");

    let c = Proc::python("tcp_json.py", &args(&["--junk", "3", "--id", "c"]));
    wait_for("c closed by the server", || {
        c.lines()
            .iter()
            .any(|l| l == "closed by server")
            .then_some(())
    });
    let down = wait_for("c down", || has(&mon, "c", "down"));
    assert_eq!(down["reason"], "connection closed");
    assert!(legacy_rejections(&http) >= 1.0);
    assert!(has(&mon, "b", "down").is_none(), "b is unaffected");
    let (status, body) = wait_for("/v1/nodes/b", || http_get(&http, "/v1/nodes/b"));
    assert_eq!(status, 200, "{body}");
    let b_node: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(b_node["state"], "alive", "{b_node}");
    assert_eq!(b_node["labels"]["status"], "ok", "{b_node}");
    drop(b);
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
}

#[test]
fn listeners_from_the_config_file_keep_their_own_detector_settings() {
    let native = format!("127.0.0.1:{}", free_udp_port());
    let pyhb = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let dir = std::env::temp_dir().join(format!("hbnode-listeners-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("hbnode.toml");
    // The monitor's own detector waits a minute; the PyHeartbeat listener's waits 1 s.
    std::fs::write(
        &config,
        format!(
            "[monitor]\nlisten = [\"udp://{native}\"]\ntimeout = \"60s\"\n\n\
             [[monitor.listener]]\nurl = \"pyhb+udp://{pyhb}\"\ntimeout = \"1s\"\n"
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let mut mon = TestMonitor::builder()
        .no_udp()
        .http(&http)
        .args(&["--config", &config])
        .start()
        .proc;
    let mut beater = Proc::hbnode(&["beat", "--to", &native, "--period", "200ms", "--id", "x"]);
    let port = pyhb.rsplit(':').next().unwrap();
    let mut client = Proc::python("pyheartbeat.py", &["127.0.0.1", port, "0.2"]);
    wait_for("x joined", || has(&mon, "x", "joined"));
    wait_for("127.0.0.1 joined", || has(&mon, "127.0.0.1", "joined"));
    let (_, nodes) = wait_for("/v1/nodes", || http_get(&http, "/v1/nodes"));
    assert!(
        nodes.contains("\"x\"") && nodes.contains("127.0.0.1"),
        "{nodes}"
    );

    client.kill();
    beater.kill();
    let down = wait_for("127.0.0.1 down after 1 s", || {
        has(&mon, "127.0.0.1", "down")
    });
    assert!(down["silence_ms"].as_u64().unwrap() < 60_000, "{down}");
    assert!(has(&mon, "x", "down").is_none(), "x has a minute");
    let ids: Vec<u64> = mon
        .json_lines()
        .iter()
        .filter_map(|e| e["event_id"].as_u64())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "event ids unique and increasing: {ids:?}"
    );
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tcp_connections_beyond_the_limit_are_closed_at_once_and_counted() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::net::TcpStream;

    let port = free_tcp_port();
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let addr = format!("127.0.0.1:{port}");
    let mut mon = monitor(
        &format!("json+tcp://{addr}"),
        &http,
        &["--max-connections", "1"],
    );
    let first = TcpStream::connect(&addr).unwrap();
    let mut greeting = String::new();
    BufReader::new(&first).read_line(&mut greeting).unwrap();
    assert_eq!(greeting, "Welcome to the server!\n");
    let mut second = TcpStream::connect(&addr).unwrap();
    second.set_read_timeout(Some(hb_tests::PATIENCE)).unwrap();
    let mut rest = Vec::new();
    let _ = second.read_to_end(&mut rest);
    assert!(rest.is_empty(), "no greeting for the refused connection");
    let (_, m) = http_get(&http, "/metrics").unwrap();
    assert_eq!(
        metric(&m, "hbnode_tcp_connections_refused_total"),
        Some(1.0)
    );
    drop(first);
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
}

/// Issue 13 item 3: one spoofed Circus line naming another live process's pid must not get
/// that process killed by the documented watchdog hook: the claim is not verified (the test
/// process, not the victim, owns the sending socket), so the hook sees HBNODE_CLAIMED_PID
/// only and `kill -9 $HBNODE_PID` kills nothing.
#[test]
fn a_spoofed_circus_line_naming_another_process_gets_no_hbnode_pid_and_it_survives() {
    let udp = format!("127.0.0.1:{}", free_udp_port());
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let dir = std::env::temp_dir().join(format!("hbnode-spoof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seen = dir.join("env");
    let record = format!(
        "down=echo \"pid=${{HBNODE_PID:-none}} claimed=$HBNODE_CLAIMED_PID\" >> {}",
        seen.display()
    );
    let mut mon = monitor(
        &format!("text+udp://{udp}"),
        &http,
        &[
            "--timeout",
            "1s",
            "--on",
            &record,
            "--on",
            "down=kill -9 $HBNODE_PID",
        ],
    );
    let mut victim = Proc::spawn(std::process::Command::new("sleep").arg("600"));
    let pid = victim.pid().to_string();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(format!("{pid};1.0\n").as_bytes(), &udp).unwrap();
    let joined = wait_for("the spoofed node joined", || has(&mon, &pid, "joined"));
    assert_eq!(joined["pid"].as_u64(), Some(u64::from(victim.pid())));
    let down = wait_for("the spoofed node down", || has(&mon, &pid, "down"));
    assert_eq!(down["pid_verified"], false, "{down}");
    let (_, m) = wait_for("both hooks ran", || {
        let (s, m) = http_get(&http, "/metrics")?;
        let ran = metric(&m, "hbnode_hooks_total{result=\"ok\"}").unwrap_or(0.0)
            + metric(&m, "hbnode_hooks_total{result=\"failed\"}").unwrap_or(0.0);
        (ran >= 2.0).then_some((s, m))
    });
    assert_eq!(
        metric(&m, "hbnode_pid_claims_total{result=\"unverified\"}"),
        Some(1.0),
        "{m}"
    );
    let env = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(env.trim(), format!("pid=none claimed={pid}"));
    assert!(victim.try_wait().is_none(), "the victim is still running");
    victim.kill();
    mon.term();
    assert!(mon.wait().success(), "{}", mon.stderr());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connects to a `json+tcp://` listener and reads its greeting line; `None` if the connection
/// was closed (or failed) before a whole line came.
fn greeted(addr: &str) -> Option<std::net::TcpStream> {
    use std::io::{BufRead as _, BufReader};
    let s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(hb_tests::PATIENCE)).ok()?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).ok()?;
    line.ends_with('\n').then_some(s)
}

/// Issue 13 item 9: a connection that sends nothing for `--tcp-idle-timeout` is closed by the
/// monitor and counted, and the node it carried is down at once.
#[test]
fn an_idle_tcp_connection_is_closed_counted_and_its_node_is_down() {
    use std::io::{Read as _, Write as _};

    let port = free_tcp_port();
    let addr = format!("127.0.0.1:{port}");
    // A minute's timeout: only the idle close can make the node down in time.
    let mut mon = TestMonitor::builder()
        .no_udp()
        .listen(format!("json+tcp://{addr}"))
        .args(&["--timeout", "60s", "--tcp-idle-timeout", "500ms"])
        .start();
    let mut silent = greeted(&addr).expect("greeted");
    let mut rest = [0u8; 64];
    assert_eq!(
        silent
            .read(&mut rest)
            .expect("closed, not reset or timed out"),
        0,
        "the monitor closes a connection that sends nothing"
    );
    assert_eq!(mon.metric("hbnode_tcp_connections_idle_closed_total"), 1.0);

    let mut quiet = greeted(&addr).expect("greeted");
    quiet
        .write_all(br#"{"ip": "127.0.0.1", "status": "ok", "pid": 1, "id": "quiet"}"#)
        .unwrap();
    let down = wait_for("quiet down", || has(&mon.proc, "quiet", "down"));
    assert_eq!(down["reason"], "connection closed");
    assert_eq!(quiet.read(&mut rest).expect("closed"), 0);
    assert_eq!(mon.metric("hbnode_tcp_connections_idle_closed_total"), 2.0);
    mon.proc.term();
    assert!(mon.proc.wait().success(), "{}", mon.proc.stderr());
}

/// Issue 13 item 9: `--max-connections` idle sockets hold their slots only until the idle
/// timeout, so a real client gets in (before, it was refused for as long as they stayed).
#[test]
fn idle_sockets_at_max_connections_no_longer_lock_a_real_client_out() {
    use std::io::Write as _;

    let port = free_tcp_port();
    let addr = format!("127.0.0.1:{port}");
    let mut mon = TestMonitor::builder()
        .no_udp()
        .listen(format!("json+tcp://{addr}"))
        .args(&["--max-connections", "2", "--tcp-idle-timeout", "500ms"])
        .start();
    // Held open (never read from again, never written to) until the end of the test.
    let idle: Vec<_> = (0..2).map(|_| greeted(&addr).expect("greeted")).collect();
    let mut client = wait_for("a real client greeted", || greeted(&addr));
    client
        .write_all(br#"{"ip": "127.0.0.1", "status": "ok", "pid": 1, "id": "real"}"#)
        .unwrap();
    wait_for("real joined", || has(&mon.proc, "real", "joined"));
    let closed = mon.metric("hbnode_tcp_connections_idle_closed_total");
    let refused = mon.metric("hbnode_tcp_connections_refused_total");
    assert!(
        closed >= 1.0 && refused >= 1.0,
        "{closed} idle, {refused} refused"
    );
    drop(idle);
    mon.proc.term();
    assert!(mon.proc.wait().success(), "{}", mon.proc.stderr());
    // Refused and idle connections share one rate-limited warning: the first is logged, the
    // rest (well within 10 s) are counted for a later summary line.
    let stderr = mon.proc.stderr();
    let warnings = stderr
        .lines()
        .filter(|l| {
            l.contains("too many TCP heartbeat connections")
                || l.contains("sent nothing for --tcp-idle-timeout")
        })
        .count();
    assert_eq!(warnings, 1, "{stderr}");
}
