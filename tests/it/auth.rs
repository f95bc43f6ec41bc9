//! Issue 8: authenticated beats end to end — `hbnode keygen`, `--key-file`, `--require-auth`,
//! signed acks, and every refusal counted by reason in `/metrics`.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;

use hb_core::wire::{self, Beat, Message};
use hb_core::{Key, parse_key_file};
use hb_tests::{Proc, TestMonitor, hbnode, wait_for};

/// A new key from `hbnode keygen --key-id id`.
fn keygen(id: u32) -> String {
    let out = Command::new(hbnode())
        .args(["keygen", "--key-id", &id.to_string()])
        .output()
        .expect("run hbnode keygen");
    assert!(out.status.success(), "keygen failed: {out:?}");
    let line = String::from_utf8(out.stdout).expect("utf-8");
    let keys = parse_key_file(&line).expect("keygen prints a key line");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id(), id);
    line.trim().to_owned()
}

/// Writes `lines` to a fresh owner-only key file.
fn key_file(name: &str, lines: &[&str]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("hb-it-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, format!("# test keys\n{}\n", lines.join("\n"))).expect("write keys");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    p
}

fn monitor(extra: &[&str]) -> TestMonitor {
    let mut args = vec!["--timeout", "1s"];
    args.extend_from_slice(extra);
    TestMonitor::start(&args)
}

fn rejected(mon: &TestMonitor, reason: &str) -> f64 {
    mon.metric(&format!(
        "hbnode_datagrams_rejected_total{{reason=\"{reason}\"}}"
    ))
}

fn beater(id: &str, to: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["beat", "--to", to, "--period", "100ms", "--id", id];
    args.extend_from_slice(extra);
    Proc::hbnode(&args)
}

/// One beat datagram signed with `key` (or unsigned).
fn beat(node: &str, seq: u64, key: Option<&Key>) -> Vec<u8> {
    let msg = Message::Beat(Beat {
        period_ms: 100,
        ..Beat::new(node, 1, seq)
    });
    let mut buf = vec![0; wire::MAX_DATAGRAM];
    let n = wire::encode(&msg, key, &mut buf).expect("encode");
    buf.truncate(n);
    buf
}

#[test]
fn keyed_beater_is_accepted_and_its_acks_verify() {
    let k = keygen(1);
    let keys = key_file("good", &[&k]);
    let keys = keys.to_str().expect("utf-8 path");
    let mon = monitor(&["--key-file", keys, "--require-auth"]);
    let b = beater(
        "keyed",
        &mon.udp,
        &["--key-file", keys, "--ack-timeout", "1s"],
    );
    wait_for("keyed joined", || {
        mon.events_for("keyed")
            .into_iter()
            .find(|e| e["event"] == "joined")
    });
    wait_for("20 acks sent", || {
        (mon.metric("hbnode_acks_sent_total") >= 20.0).then_some(())
    });
    for r in ["unauthenticated", "unknown_key", "bad_mac"] {
        assert_eq!(rejected(&mon, r), 0.0, "{r}");
    }
    // 20 acks at 100 ms cover two ack timeouts: unverifiable acks would have been noticed.
    assert!(
        !b.stderr().contains("stopped acknowledging"),
        "the beater refused the monitor's signed acks:\n{}",
        b.stderr()
    );
    assert!(
        !mon.proc.stderr().contains("unauthenticated"),
        "a keyed monitor must not warn about unauthenticated beats:\n{}",
        mon.proc.stderr()
    );
}

#[test]
fn unkeyed_and_wrongly_keyed_beats_are_refused_and_counted_with_require_auth() {
    let good = keygen(1);
    let other = keygen(2);
    let same_id_other_secret = keygen(1);
    let mon_keys = key_file("mon", &[&good]);
    let mon = monitor(&["--key-file", mon_keys.to_str().expect("utf-8")]);
    let mon_strict = monitor(&[
        "--key-file",
        mon_keys.to_str().expect("utf-8"),
        "--require-auth",
    ]);
    let wrong_id = key_file("wrong-id", &[&other]);
    let wrong_secret = key_file("wrong-secret", &[&same_id_other_secret]);
    let _unkeyed = beater("unkeyed", &mon_strict.udp, &[]);
    let _unknown = beater(
        "unknown",
        &mon_strict.udp,
        &["--key-file", wrong_id.to_str().expect("utf-8")],
    );
    let _forged = beater(
        "forged",
        &mon_strict.udp,
        &["--key-file", wrong_secret.to_str().expect("utf-8")],
    );
    wait_for("each refusal counted at least 5 times", || {
        (rejected(&mon_strict, "unauthenticated") >= 5.0
            && rejected(&mon_strict, "unknown_key") >= 5.0
            && rejected(&mon_strict, "bad_mac") >= 5.0)
            .then_some(())
    });
    for n in ["unkeyed", "unknown", "forged"] {
        assert!(mon_strict.events_for(n).is_empty(), "{n} was let in");
    }
    assert_eq!(mon_strict.metric("hbnode_beats_received_total"), 0.0);

    // Without --require-auth an unsigned beat is accepted, but a wrong MAC never is.
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.send_to(&beat("plain", 1, None), &mon.udp).expect("send");
    let wrong: Key = other.parse().expect("key");
    s.send_to(&beat("spoof", 1, Some(&wrong)), &mon.udp)
        .expect("send");
    wait_for("plain joined", || {
        mon.events_for("plain")
            .into_iter()
            .find(|e| e["event"] == "joined")
    });
    wait_for("the spoofed beat counted", || {
        (rejected(&mon, "unknown_key") >= 1.0).then_some(())
    });
    assert!(mon.events_for("spoof").is_empty());
}

#[test]
fn a_beater_ignores_acks_signed_with_a_key_it_does_not_hold() {
    let a = keygen(1);
    let b = keygen(2);
    // The monitor accepts both keys but signs its acks with b; the beater only holds a.
    let mon_keys = key_file("mon-ba", &[&b, &a]);
    let beat_keys = key_file("beat-a", &[&a]);
    let mon = monitor(&[
        "--key-file",
        mon_keys.to_str().expect("utf-8"),
        "--require-auth",
    ]);
    let bt = beater(
        "rotating",
        &mon.udp,
        &[
            "--key-file",
            beat_keys.to_str().expect("utf-8"),
            "--ack-timeout",
            "500ms",
        ],
    );
    wait_for("rotating joined", || {
        mon.events_for("rotating")
            .into_iter()
            .find(|e| e["event"] == "joined")
    });
    wait_for("the beater to notice it gets no acks it can verify", || {
        bt.stderr()
            .contains("monitor stopped acknowledging beats")
            .then_some(())
    });
    assert!(mon.metric("hbnode_acks_sent_total") >= 1.0);
}

#[test]
fn an_unkeyed_monitor_warns_once_that_beats_are_unauthenticated() {
    let mon = monitor(&[]);
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for seq in 1..=3 {
        s.send_to(&beat("n", seq, None), &mon.udp).expect("send");
    }
    wait_for("n joined", || {
        mon.events_for("n")
            .into_iter()
            .find(|e| e["event"] == "joined")
    });
    let mut proc = mon.proc;
    proc.term();
    assert!(proc.wait().success());
    assert_eq!(
        proc.stderr().matches("beats are unauthenticated").count(),
        1,
        "{}",
        proc.stderr()
    );
}

/// Issue 13 item 2: `--require-auth` with a legacy listener (no MAC in its protocol) is a
/// refused start naming the listener and the explicit opt-out, not a silent hole.
#[test]
fn require_auth_refuses_a_legacy_listener_without_an_explicit_opt_out() {
    let k = keygen(1);
    let keys = key_file("legacy-refused", &[&k]);
    let keys = keys.to_str().expect("utf-8 path");
    for scheme in ["pyhb+udp", "text+udp", "json+tcp"] {
        let url = format!("{scheme}://127.0.0.1:{}", hb_tests::free_udp_port());
        let out = TestMonitor::builder()
            .listen(&url)
            .http("off")
            .args(&["--key-file", keys, "--require-auth"])
            .expect_exit();
        assert!(!out.status.success(), "{scheme} must not start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&url) && err.contains(&format!("--listener '{url} unauthenticated=yes'")),
            "{err}"
        );
    }
}

/// Issue 13 item 2: an opted-out legacy listener runs, says at start it is unauthenticated
/// and shows in /metrics; the native listener under --require-auth shows 0.
#[test]
fn an_opted_out_legacy_listener_is_logged_and_shown_in_metrics() {
    let k = keygen(1);
    let keys = key_file("legacy-opt-out", &[&k]);
    let keys = keys.to_str().expect("utf-8 path");
    let text = format!("text+udp://127.0.0.1:{}", hb_tests::free_udp_port());
    let spec = format!("{text} unauthenticated=yes");
    let mon = monitor(&["--key-file", keys, "--require-auth", "--listener", &spec]);
    wait_for("the unauthenticated warning", || {
        let e = mon.proc.stderr();
        (e.contains(&text) && e.contains("unauthenticated")).then_some(())
    });
    let gauge = |url: &str| {
        mon.metric(&format!(
            "hbnode_listener_unauthenticated{{listener=\"{url}\"}}"
        ))
    };
    assert_eq!(gauge(&text), 1.0);
    let native = format!("udp://{}", mon.udp);
    let (_, m) = hb_tests::http_get(&mon.http, "/metrics").unwrap();
    assert_eq!(
        hb_tests::metric(
            &m,
            &format!("hbnode_listener_unauthenticated{{listener=\"{native}\"}}")
        ),
        Some(0.0),
        "{m}"
    );
    // The opted-out listener still takes unsigned lines: that is what the opt-out says.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"4242;1.0\n", text.trim_start_matches("text+udp://"))
        .unwrap();
    wait_for("4242 joined", || {
        mon.events_for("4242")
            .into_iter()
            .find(|e| e["event"] == "joined")
    });
}
