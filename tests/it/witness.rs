//! Issue 16 §2 live: monitors that confirm each other (`--witness`, `--quorum`).
//!
//! Three monitors on loopback, each the witness of the other two (2 of 3 must agree), one
//! beater sending to all three, to m0 through a proxy the test runs. The cut path is m0's
//! alone: it reports the node `unreachable`, naming itself, and no monitor reports `down`; once
//! healed, `reachable`. The killed beater is `down` (reason `agreed`) on all three within one
//! timeout plus one period, read from each event's own `silence_ms`. Then witnesses killed one
//! by one: `witness_down`, and with one monitor of three left `quorum_lost`, and its own
//! verdict is final (`down`, reason `silence`). Forged verdicts are refused and counted.

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

use hb_core::wire::{self, Message, Verdicts};
use hb_tests::{LossyProxy, Proc, TempDir, TestMonitor, free_udp_port, http_get, wait_for};
use serde_json::Value;

/// The monitors' fixed timeout, in ms.
pub(crate) const TIMEOUT_MS: u64 = 1000;
/// The beaters' and the witnesses' period, in ms.
pub(crate) const PERIOD_MS: u64 = 200;

pub(crate) fn named(events: &[Value], event: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

/// Monitors `m0..` on fresh loopback ports, each `--witness` of all the others, plus `extra`.
pub(crate) fn trio(n: usize, extra: &[&str]) -> Vec<TestMonitor> {
    let udp: Vec<String> = (0..n)
        .map(|_| format!("127.0.0.1:{}", free_udp_port()))
        .collect();
    let (timeout, period) = (format!("{TIMEOUT_MS}ms"), format!("{PERIOD_MS}ms"));
    (0..n)
        .map(|i| {
            let id = format!("m{i}");
            let mut args = vec![
                "--id",
                &id,
                "--timeout",
                &timeout,
                "--witness-period",
                &period,
            ];
            for (j, w) in udp.iter().enumerate() {
                if j != i {
                    args.extend(["--witness", w.as_str()]);
                }
            }
            args.extend_from_slice(extra);
            TestMonitor::builder().udp(&udp[i]).args(&args).start()
        })
        .collect()
}

/// Waits until `m` has heard each of its `n` witnesses and counts them up (`/v1/summary`).
pub(crate) fn wait_witnesses_up(m: &TestMonitor, n: usize) {
    wait_for(&format!("{n} witnesses heard at {}", m.udp), || {
        let (_, body) = http_get(&m.http, "/v1/summary")?;
        let summary: Value = serde_json::from_str(&body).ok()?;
        let w = &summary["witnesses"];
        let peers = w["witnesses"].as_array()?;
        let heard = peers
            .iter()
            .all(|p| p["up"] == true && p["last_heard"].is_string());
        (heard && peers.len() == n && w["up"] == n + 1).then_some(())
    });
    assert_eq!(m.metric("hbnode_monitors_up"), (n + 1) as f64);
}

pub(crate) fn beater_to(to: &[&str], id: &str) -> Proc {
    let period = format!("{PERIOD_MS}ms");
    let mut args = vec!["beat", "--period", &period, "--id", id];
    for t in to {
        args.extend(["--to", t]);
    }
    Proc::hbnode(&args)
}

/// Three monitors, each the witness of the other two and all heard, and node `id` beating to
/// all three — to m0 through a proxy the test can cut — joined everywhere.
pub(crate) fn three_and_a_proxied_node(
    extra: &[&str],
    id: &str,
) -> (Vec<TestMonitor>, LossyProxy, Proc) {
    let mons = trio(3, extra);
    for m in &mons {
        wait_witnesses_up(m, 2);
    }
    let proxy = LossyProxy::start(mons[0].udp.parse().expect("addr"), 0.0, 1);
    let via = proxy.addr.to_string();
    let node = beater_to(&[&via, &mons[1].udp, &mons[2].udp], id);
    wait_for(&format!("{id} joined everywhere"), || {
        mons.iter().all(|m| m.count("joined") == 1).then_some(())
    });
    (mons, proxy, node)
}

#[test]
fn a_path_cut_to_one_monitor_is_unreachable_there_and_a_crash_is_down_everywhere_agreed() {
    let (mons, proxy, mut node) = three_and_a_proxied_node(&[], "n1");

    // m0's path alone is cut, for three timeouts.
    proxy.cut(true);
    wait_for("m0 reports n1 unreachable", || {
        (mons[0].count("unreachable") == 1).then_some(())
    });
    thread::sleep(Duration::from_millis(3 * TIMEOUT_MS));
    let events = mons[0].events_for("n1");
    let unreachable = &named(&events, "unreachable")[0];
    assert_eq!(unreachable["monitor"], "m0", "{unreachable}");
    assert!(
        unreachable["silence_ms"].as_u64().expect("silence_ms") >= TIMEOUT_MS,
        "{unreachable}"
    );
    for m in &mons {
        assert_eq!(m.count("down"), 0, "{:#?}", m.proc.json_lines());
    }
    for m in &mons[1..] {
        assert_eq!(m.count("unreachable"), 0, "{:#?}", m.proc.json_lines());
    }
    // Held, not down, and the API says why.
    let (_, summary) = http_get(&mons[0].http, "/v1/summary").expect("summary");
    let summary: Value = serde_json::from_str(&summary).expect("summary JSON");
    assert_eq!(summary["witnesses"]["held"], 1, "{summary}");
    assert_eq!(summary["witnesses"]["fallback"], false, "{summary}");
    assert_eq!(mons[0].metric("hbnode_unreachable_reported_total"), 1.0);

    proxy.cut(false);
    wait_for("m0 reports n1 reachable", || {
        (mons[0].count("reachable") == 1).then_some(())
    });

    // The crash: down on all three, agreed, within a timeout plus a period (and one more
    // period for a loaded machine) of the last beat, on each monitor's own clock.
    node.kill();
    wait_for("n1 down everywhere", || {
        mons.iter().all(|m| m.count("down") == 1).then_some(())
    });
    for m in &mons {
        let events = m.events_for("n1");
        let down = &named(&events, "down")[0];
        assert_eq!(down["reason"], "agreed", "{down}");
        let silence = down["silence_ms"].as_u64().expect("silence_ms");
        assert!(
            (TIMEOUT_MS..=TIMEOUT_MS + 2 * PERIOD_MS).contains(&silence),
            "{}: down after {silence} ms of silence: {down}",
            m.udp
        );
        assert_eq!(m.metric("hbnode_downs_agreed_total"), 1.0);
    }
}

#[test]
fn witnesses_killed_one_by_one_are_witness_down_then_quorum_lost_and_own_verdicts_are_final() {
    let mut mons = trio(3, &[]);
    for m in &mons {
        wait_witnesses_up(m, 2);
    }
    let udp: Vec<&str> = mons.iter().map(|m| m.udp.as_str()).collect();
    let mut node = beater_to(&udp, "n2");
    wait_for("n2 joined everywhere", || {
        mons.iter().all(|m| m.count("joined") == 1).then_some(())
    });
    let m2 = mons.pop().expect("m2");
    drop(m2);
    for m in &mons {
        wait_for("m2 witness_down", || {
            (m.count("witness_down") == 1).then_some(())
        });
        let ev = &named(&m.proc.json_lines(), "witness_down")[0];
        assert_eq!(ev["monitor"], "m2", "{ev}");
        assert_eq!(m.count("quorum_lost"), 0, "two of three still agree");
    }
    let mut m1 = mons.pop().expect("m1");
    m1.proc.kill();
    let m0 = &mons[0];
    wait_for("m0 quorum_lost", || {
        (m0.count("quorum_lost") == 1).then_some(())
    });
    let lost = &named(&m0.proc.json_lines(), "quorum_lost")[0];
    assert_eq!(
        (lost["monitors_up"].as_u64(), lost["needed"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(lost["node"], "m0", "{lost}");
    assert_eq!(m0.metric("hbnode_quorum_fallback"), 1.0);
    node.kill();
    wait_for("n2 down at m0", || (m0.count("down") == 1).then_some(()));
    let events = m0.events_for("n2");
    let down = &named(&events, "down")[0];
    assert_eq!(down["reason"], "silence", "{down}");
    assert_eq!(m0.count("unreachable"), 0);
}

/// Writes one `hbnode keygen` key to an owner-only file in `dir`.
fn key_file(dir: &TempDir) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let out = std::process::Command::new(hb_tests::hbnode())
        .args(["keygen", "--key-id", "1"])
        .output()
        .expect("run hbnode keygen");
    assert!(out.status.success(), "{out:?}");
    let p = dir.0.join("keys");
    std::fs::write(&p, &out.stdout).expect("write keys");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    p.display().to_string()
}

/// An unsigned verdict suspecting `node`, from monitor `m9`.
fn forged(node: &str) -> Vec<u8> {
    let mut suspect = heapless::Vec::new();
    suspect.push(node).expect("room");
    let msg = Message::Verdicts(Verdicts {
        monitor: "m9",
        incarnation: 1,
        seq: 1,
        period_ms: 200,
        suspect,
        trust: heapless::Vec::new(),
    });
    let mut buf = vec![0; wire::MAX_DATAGRAM];
    let n = wire::encode(&msg, None, &mut buf).expect("encode");
    buf.truncate(n);
    buf
}

#[test]
fn forged_verdicts_are_refused_and_counted() {
    let dir = TempDir::new("witness-keys");
    let keys = key_file(&dir);
    let mons = trio(2, &["--key-file", &keys]);
    for m in &mons {
        wait_witnesses_up(m, 1);
    }
    // The pair's own verdicts are signed and counted as the witness's messages.
    let to: SocketAddr = mons[0].udp.parse().expect("addr");
    let label = format!(
        "hbnode_witness_messages_total{{witness=\"{}\"}}",
        mons[1].udp
    );
    assert!(mons[0].metric(&label) > 0.0, "{label}");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.send_to(&forged("n3"), to).expect("send");
    wait_for("the unsigned verdict counted", || {
        (mons[0].metric("hbnode_datagrams_rejected_total{reason=\"unauthenticated\"}") == 1.0)
            .then_some(())
    });
    // A monitor without keys takes unsigned verdicts, but only from its witnesses.
    let open = trio(2, &[]);
    for m in &open {
        wait_witnesses_up(m, 1);
    }
    sock.send_to(
        &forged("n3"),
        open[0].udp.parse::<SocketAddr>().expect("addr"),
    )
    .expect("send");
    wait_for("the stranger's verdict counted", || {
        (open[0].metric("hbnode_datagrams_rejected_total{reason=\"unknown_witness\"}") == 1.0)
            .then_some(())
    });
    let stderr = open[0].proc.stderr();
    assert!(stderr.contains("witness verdicts are unsigned"), "{stderr}");
    assert!(
        !mons[0]
            .proc
            .stderr()
            .contains("witness verdicts are unsigned")
    );
}
