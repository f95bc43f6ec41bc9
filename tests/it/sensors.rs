//! Issue 6, sensors and central schedules: `hbnode beat --sensor …` puts /proc and plugin
//! readings on its beats; a monitor's `--schedule` rule changes a beater's period (the beater
//! logs it) and redirects it to another monitor (it switches once that one answers, and
//! leaves the first).

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use hb_core::Keyring;
use hb_core::wire::{self, Message};
use hb_tests::{PATIENCE, Proc, TestMonitor, free_tcp_port, free_udp_port, http_get, wait_for};
use serde_json::Value;

/// MemTotal from /proc/meminfo, in bytes.
fn mem_total() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    let kib: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal");
    kib * 1024.0
}

#[test]
fn beats_carry_proc_readings_and_a_plugins_exit_code_and_perfdata() {
    let monitor = UdpSocket::bind("127.0.0.1:0").expect("bind");
    monitor
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let to = monitor.local_addr().expect("addr").to_string();
    let _beater = Proc::hbnode(&[
        "beat",
        "--to",
        &to,
        "--id",
        "sensing",
        "--period",
        "100ms",
        "--sensor",
        "load",
        "--sensor",
        "memory",
        "--sensor",
        r#"cmd:check=sh -c "echo OK\|t=5;1;2; exit 1""#,
    ]);
    let wanted = [
        "load1",
        "load15",
        "mem_used_bytes",
        "mem_free_bytes",
        "mem_used_pct",
        "check",
        "check.t",
    ];
    let mut got: BTreeMap<String, (f64, u8)> = BTreeMap::new();
    let deadline = Instant::now() + PATIENCE;
    let mut buf = [0u8; 2048];
    while !wanted.iter().all(|w| got.contains_key(*w)) {
        assert!(
            Instant::now() < deadline,
            "timed out; readings so far: {got:?}"
        );
        let Ok((n, _)) = monitor.recv_from(&mut buf) else {
            continue;
        };
        let d = wire::decode(&buf[..n], &Keyring::open()).expect("a valid datagram");
        let Message::Beat(b) = d.message else {
            continue;
        };
        assert_eq!(b.node, "sensing");
        assert!(b.readings.len() <= wire::MAX_READINGS);
        for r in b.readings.iter() {
            got.insert(r.probe.to_owned(), (r.value, r.status));
        }
    }
    assert_eq!(got["check"], (1.0, 1), "the plugin's exit code");
    assert_eq!(got["check.t"], (5.0, 1), "its perfdata, with its status");
    let (load1, status) = got["load1"];
    assert!(load1 >= 0.0 && status == 0, "load1 {load1} status {status}");
    let (used, _) = got["mem_used_bytes"];
    let (free, _) = got["mem_free_bytes"];
    assert_eq!(used + free, mem_total(), "used + available = MemTotal");
    let (pct, status) = got["mem_used_pct"];
    assert!((0.0..=100.0).contains(&pct) && status == 0);
    assert!((pct - used * 100.0 / mem_total()).abs() < 1e-6);
}

fn monitor(udp: &str, http: &str, extra: &[&str]) -> Proc {
    let id = if extra.is_empty() { "m2" } else { "m1" };
    let mut args = vec!["--timeout", "3s", "--id", id];
    args.extend_from_slice(extra);
    TestMonitor::start_on(udp, http, &args).proc
}

fn node_json(http: &str, id: &str) -> Option<Value> {
    let (status, body) = http_get(http, &format!("/v1/nodes/{id}"))?;
    (status == 200).then(|| serde_json::from_str(&body).expect("JSON"))
}

/// A fresh owner-only key file (from `hbnode keygen`) for monitor and beater to share:
/// beaters follow schedules only from acks signed with their keys.
fn shared_keys(name: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let out = std::process::Command::new(hb_tests::hbnode())
        .arg("keygen")
        .output()
        .expect("run hbnode keygen");
    assert!(out.status.success(), "{out:?}");
    let dir = std::env::temp_dir().join(format!("hb-it-sensors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, &out.stdout).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.display().to_string()
}

fn addrs() -> (String, String) {
    (
        format!("127.0.0.1:{}", free_udp_port()),
        format!("127.0.0.1:{}", free_tcp_port()),
    )
}

#[test]
fn a_schedule_rule_sets_the_beaters_period_and_the_beater_logs_it() {
    let (udp, http) = addrs();
    let keys = shared_keys("schedule");
    let _m = monitor(
        &udp,
        &http,
        &[
            "--key-file",
            &keys,
            "--schedule",
            "db-* period=5s",
            "--schedule",
            "sched-* period=300ms sensors=load@1s",
        ],
    );
    let beater = Proc::hbnode_with_env(
        &[
            "beat",
            "--to",
            &udp,
            "--id",
            "sched-1",
            "--period",
            "100ms",
            "--ack-timeout",
            "2s",
            "--key-file",
            &keys,
        ],
        &[("RUST_LOG", "info")],
    );
    wait_for("the beater to log the adopted schedule", || {
        let log = beater.stderr();
        log.lines()
            .find(|l| l.contains("schedule v") && l.contains("from monitor m1"))
            .map(str::to_owned)
    });
    let log = beater.stderr();
    assert!(
        log.contains("period 100ms → 300ms; load every 1s"),
        "the log says what changed:\n{log}"
    );
    assert_eq!(log.matches("schedule v").count(), 1, "adopted once:\n{log}");
    wait_for("the monitor to see the new period", || {
        node_json(&http, "sched-1").filter(|n| n["period_ms"] == 300)
    });
}

#[test]
fn a_redirected_node_moves_to_the_second_monitor_and_leaves_the_first() {
    let (udp_a, http_a) = addrs();
    let (udp_b, http_b) = addrs();
    let b = monitor(&udp_b, &http_b, &[]);
    let rule = format!("mover redirect={udp_b}");
    let a = monitor(&udp_a, &http_a, &["--schedule", &rule]);
    let beater = Proc::hbnode_with_env(
        &[
            "beat",
            "--to",
            &udp_a,
            "--id",
            "mover",
            "--period",
            "100ms",
            "--ack-timeout",
            "2s",
            // Without keys: the documented opt-in for closed networks.
            "--trust-unsigned-acks",
        ],
        &[("RUST_LOG", "info")],
    );
    let has = |m: &Proc, ev: &str| {
        m.json_lines()
            .iter()
            .any(|e| e["node"] == "mover" && e["event"] == ev)
            .then_some(())
    };
    wait_for("mover joined the second monitor", || has(&b, "joined"));
    wait_for("mover left the first monitor", || has(&a, "left"));
    assert!(has(&a, "joined").is_some());
    assert!(has(&a, "down").is_none(), "left, not down");
    wait_for("the beater to log the switch", || {
        beater.stderr().contains("redirected").then_some(())
    });
    assert_eq!(node_json(&http_a, "mover").expect("known")["state"], "left");
    wait_for("beats keep flowing to the second monitor", || {
        node_json(&http_b, "mover")
            .filter(|n| n["state"] == "alive" && n["beats"].as_u64() > Some(10))
    });
}

/// Issue 13 item 4: without keys (and without --trust-unsigned-acks) a beater ignores the
/// schedule in its monitor's unsigned acks — anyone spoofing the monitor's address could send
/// one — says so once, and warns at start that its acks are unauthenticated.
#[test]
fn a_beater_without_keys_ignores_an_unsigned_schedule_and_says_so_once() {
    let (udp, http) = addrs();
    let _m = monitor(&udp, &http, &["--schedule", "plain-* period=300ms"]);
    let beater = Proc::hbnode_with_env(
        &[
            "beat",
            "--to",
            &udp,
            "--id",
            "plain-1",
            "--period",
            "100ms",
            "--ack-timeout",
            "2s",
        ],
        &[("RUST_LOG", "info")],
    );
    wait_for("the beater to say it ignores the unsigned schedule", || {
        beater
            .stderr()
            .contains("ignoring the schedule or redirect of an unsigned ack")
            .then_some(())
    });
    wait_for("a few more acks", || {
        node_json(&http, "plain-1").filter(|n| n["beats"].as_u64() > Some(20))
    });
    let log = beater.stderr();
    assert!(log.contains("acks are unauthenticated"), "{log}");
    assert_eq!(
        log.matches("ignoring the schedule").count(),
        1,
        "once:\n{log}"
    );
    assert!(!log.contains("schedule v"), "not adopted:\n{log}");
    assert_eq!(node_json(&http, "plain-1").unwrap()["period_ms"], 100);
}

/// Runs `hbnode ARGS…` to completion: (exit code, stdout).
fn run_hbnode(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(hb_tests::hbnode())
        .args(args)
        .output()
        .expect("run hbnode");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    (out.status.code().expect("exit code"), text)
}

/// A probe of `node` in the monitor at `http`, once it is in `state`.
fn probe_in_state(http: &str, node: &str, probe: &str, state: &str) -> Value {
    wait_for(&format!("{node} {probe} {state} at {http}"), || {
        node_json(http, node)?["probes"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == probe && p["state"] == state)
            .cloned()
    })
}

/// Issue 14: a real script plugin printing check_load- and check_disk-style perfdata through a
/// real `hbnode beat --sensor cmd:…` to two monitors. Its own ranges judge its probes where no
/// `--threshold` covers them (a load past its crit is `error` although the plugin exited 0);
/// a monitor `--threshold` overrides them; `/v1/nodes/{id}`, `hbnode status` and `hbnode check`
/// show unit, warn, crit (and where they come from), min and max, and `hbnode check` writes
/// them back as `label=value[UOM];warn;crit;min;max`.
#[test]
fn plugin_perfdata_keeps_its_ranges_unit_min_and_max_end_to_end() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("hb-it-perfdata-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plugin = dir.join("check_fake");
    std::fs::write(
        &plugin,
        "#!/bin/sh\n\
         echo 'LOAD OK - load average: 12.50 | load1=12.500;5.000;10.000;0; /=2643MB;5948;5958;0;5968'\n\
         exit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plain = TestMonitor::start(&["--timeout", "30s"]);
    let ruled = TestMonitor::start(&[
        "--timeout",
        "30s",
        "--threshold",
        "nload.load1 warning=20 error=30",
    ]);
    let spec = format!("cmd:nload@200ms={}", plugin.display());
    let _beater = Proc::hbnode(&[
        "beat", "--to", &plain.udp, "--to", &ruled.udp, "--id", "perf-1", "--period", "100ms",
        "--sensor", &spec,
    ]);

    // No rule: the plugin's ranges judge (crit 10 < 12.5), not its exit code (0).
    let load = probe_in_state(&plain.http, "perf-1", "nload.load1", "error");
    assert_eq!(load["source"], "plugin", "{load}");
    assert_eq!(
        (&load["warning"], &load["error"]),
        (&"5".into(), &"10".into())
    );
    assert_eq!((&load["min"], &load["max"]), (&0.0.into(), &Value::Null));
    assert_eq!(load["unit"], Value::Null);
    assert_eq!(load["value"], 12.5);
    let disk = probe_in_state(&plain.http, "perf-1", "nload./", "ok");
    assert_eq!(disk["unit"], "MB", "{disk}");
    assert_eq!(
        (&disk["warning"], &disk["error"]),
        (&"5948".into(), &"5958".into())
    );
    assert_eq!((&disk["min"], &disk["max"]), (&0.0.into(), &5968.0.into()));
    assert_eq!(disk["source"], "plugin");
    let exit_code = probe_in_state(&plain.http, "perf-1", "nload", "ok");
    assert_eq!(
        exit_code["source"],
        Value::Null,
        "the exit code judges itself"
    );
    assert!(
        plain
            .events_for("perf-1")
            .iter()
            .any(|e| e["event"] == "probe_error" && e["probe"] == "nload.load1")
    );

    // A monitor rule overrides the plugin's ranges whole.
    let ruled_load = probe_in_state(&ruled.http, "perf-1", "nload.load1", "ok");
    assert_eq!(ruled_load["source"], "rule", "{ruled_load}");
    assert_eq!(
        (&ruled_load["warning"], &ruled_load["error"]),
        (&"20".into(), &"30".into())
    );
    assert_eq!(ruled_load["min"], 0.0, "min and max stay the plugin's");
    assert!(
        ruled
            .events_for("perf-1")
            .iter()
            .all(|e| e["event"] != "probe_error"),
        "{:?}",
        ruled.events_for("perf-1")
    );

    // hbnode check writes the perfdata back.
    let (code, text) = run_hbnode(&["check", "--http", &plain.http, "--node", "perf-1"]);
    assert_eq!(code, 2, "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains(" nload.load1=12.5;5;10;0"), "{first}");
    assert!(
        first.contains(" nload./=2643MB;5948;5958;0;5968"),
        "{first}"
    );
    let (code, text) = run_hbnode(&[
        "check",
        "--http",
        &ruled.http,
        "--node",
        "perf-1",
        "--probe",
        "nload.load1",
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(" nload.load1=12.5;20;30;0"), "{text}");

    // hbnode status lists the probe in error with its ranges and where they come from.
    let (code, table) = run_hbnode(&["status", "--http", &plain.http]);
    assert_eq!(code, 0, "{table}");
    let row: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("NODE "))
        .find(|l| l.starts_with("perf-1"))
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            "perf-1",
            "nload.load1",
            "error",
            "12.5",
            "5",
            "10",
            "plugin",
            "0",
            "-"
        ],
        "{table}"
    );

    // /metrics: MB converted to bytes (1024²), the plugin's thresholds, min and max with it.
    let mib = 1_048_576.0;
    let series =
        |labels: &str| format!("{{node=\"perf-1\",probe=\"nload./\"{labels}unit=\"bytes\"}}");
    assert_eq!(
        plain.metric(&format!("hbnode_probe_value{}", series(","))),
        2643.0 * mib
    );
    assert_eq!(
        plain.metric(&format!("hbnode_probe_max{}", series(","))),
        5968.0 * mib
    );
    assert_eq!(
        plain.metric(&format!(
            "hbnode_probe_threshold{}",
            series(",level=\"error\",bound=\"high\",alerts=\"outside\",source=\"plugin\",")
        )),
        5958.0 * mib
    );
    assert_eq!(
        ruled.metric(
            "hbnode_probe_threshold{node=\"perf-1\",probe=\"nload.load1\",level=\"error\",\
             bound=\"high\",alerts=\"outside\",source=\"rule\"}"
        ),
        30.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 14 with the plugins operators really run (Debian's `monitoring-plugins-basic`):
/// check_load's `load1=0.740;5.000;10.000;0;` keeps its ranges and min, check_disk's `B` unit
/// reaches `/v1/nodes/{id}` and `/metrics` (in bytes), and `hbnode check` writes both back.
#[test]
fn real_nagios_plugins_keep_their_thresholds_and_units() {
    let check_load = hb_tests::tool(
        "/usr/lib/nagios/plugins/check_load",
        "monitoring-plugins-basic",
    );
    let check_disk = hb_tests::tool(
        "/usr/lib/nagios/plugins/check_disk",
        "monitoring-plugins-basic",
    );
    let mon = TestMonitor::start(&["--timeout", "30s"]);
    // Thresholds no test machine reaches: the probes are ok, judged by the plugins' ranges.
    let load = format!(
        "cmd:nload@200ms={} -w 1000,1000,1000 -c 2000,2000,2000",
        check_load.display()
    );
    let disk = format!("cmd:ndisk@200ms={} -w 1% -c 1% -p /", check_disk.display());
    let _beater = Proc::hbnode(&[
        "beat", "--to", &mon.udp, "--id", "real-1", "--period", "100ms", "--sensor", &load,
        "--sensor", &disk,
    ]);

    let load1 = probe_in_state(&mon.http, "real-1", "nload.load1", "ok");
    assert_eq!(load1["source"], "plugin", "{load1}");
    assert_eq!(
        (
            &load1["warning"],
            &load1["error"],
            &load1["min"],
            &load1["max"]
        ),
        (&"1000".into(), &"2000".into(), &0.0.into(), &Value::Null),
        "{load1}"
    );
    let root = probe_in_state(&mon.http, "real-1", "ndisk./", "ok");
    assert_eq!(
        (&root["unit"], &root["source"]),
        (&"B".into(), &"plugin".into()),
        "{root}"
    );
    let used = root["value"].as_f64().expect("a value");
    let size = root["max"]
        .as_f64()
        .expect("check_disk gives the size as max");
    assert!(used > 0.0 && used < size, "{root}");
    assert_eq!(root["min"], 0.0);
    let (warn, crit) = (
        root["warning"].as_str().expect("warning range"),
        root["error"].as_str().expect("error range"),
    );

    // /metrics in bytes: B is the base unit already.
    assert_eq!(
        mon.metric("hbnode_probe_value{node=\"real-1\",probe=\"ndisk./\",unit=\"bytes\"}"),
        used
    );

    // hbnode check writes the perfdata back as the plugins printed it (numbers normalised).
    let (code, text) = run_hbnode(&["check", "--http", &mon.http, "--node", "real-1"]);
    assert_eq!(code, 0, "{text}");
    let first = text.lines().next().unwrap_or_default();
    let item = |label: &str| {
        first
            .split(' ')
            .find(|i| i.starts_with(&format!("{label}=")))
            .unwrap_or_else(|| panic!("no {label} in {first}"))
            .to_owned()
    };
    assert!(item("nload.load1").ends_with(";1000;2000;0"), "{first}");
    assert_eq!(
        item("ndisk./"),
        format!("ndisk./={used}B;{warn};{crit};0;{size}"),
        "{first}"
    );
}
