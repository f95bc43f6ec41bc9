//! Issue 15: the budget detector live. A monitor with `--detector budget --budget 1/day`, one
//! beater direct and one through a lossy UDP proxy on loopback (20 % of datagrams dropped by a
//! seeded RNG): after warm-up the lossy node's `timeout_ms` is the larger; each killed beater is
//! reported down within its own `timeout_ms` plus one period (read from the down event's
//! `silence_ms` less its `slack_us`, the monitor's own clock, not from a wall-clock measurement
//! here); and the link
//! estimates come back, bit for bit, after the monitor restarts on its store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use hb_tests::{LossyProxy, Proc, TestMonitor, http_get, wait_for};
use serde_json::Value;

/// The beaters' period.
const PERIOD: &str = "50ms";

fn beater(id: &str, to: &str) -> Proc {
    Proc::hbnode(&["beat", "--to", to, "--period", PERIOD, "--id", id])
}

/// `/v1/nodes/{id}` as JSON.
fn node(mon: &TestMonitor, id: &str) -> Option<Value> {
    let (status, body) = http_get(&mon.http, &format!("/v1/nodes/{id}"))?;
    (status == 200).then(|| serde_json::from_str(&body).expect("node JSON"))
}

fn ms(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// Kills `beat` and returns (its node's timeout_ms just before, the down event's silence_ms,
/// its slack_us: how late the monitor's timer fired after the detector's deadline, the
/// event's value: silence over the timeout in force).
fn kill_and_wait_down(mon: &TestMonitor, beat: &mut Proc, id: &str) -> (u64, u64, u64, f64) {
    // Alive with a timeout (a noisy host may have made it flap before), and the downs so far.
    let before = wait_for(&format!("{id} alive"), || {
        node(mon, id).filter(|v| v["timeout_ms"].is_u64())
    });
    let downs = |m: &TestMonitor| {
        m.events_for(id)
            .into_iter()
            .filter(|e| e["event"] == "down")
            .collect::<Vec<_>>()
    };
    let earlier = downs(mon).len();
    beat.kill();
    let ev = wait_for(&format!("{id} down"), || {
        downs(mon).into_iter().nth(earlier)
    });
    assert_eq!(ev["detector"], "budget", "{ev}");
    assert_eq!(ev["reason"], "silence", "{ev}");
    (
        ms(&before, "timeout_ms"),
        ms(&ev, "silence_ms"),
        ms(&ev, "slack_us"),
        ev["value"].as_f64().expect("value"),
    )
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hbnode-budget-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("hbnode.db")
}

#[test]
fn lossy_link_gets_a_longer_timeout_down_within_it_and_estimates_survive_a_restart() {
    let db = temp_db("live");
    let db = db.to_str().expect("utf-8 path");
    let trace = std::path::Path::new(db).with_file_name("beats.hbtrace");
    let trace = trace.to_str().expect("utf-8 path");
    let budget = ["--detector", "budget", "--budget", "1/day"];
    let mon = TestMonitor::builder()
        .env("HBNODE_DB", db)
        .args(&budget)
        .args(&["--record", trace])
        .start();
    let to: SocketAddr = mon.udp.parse().expect("udp addr");
    let proxy = LossyProxy::start(to, 0.2, 15);
    let mut clean = beater("clean", &mon.udp);
    let mut lossy = beater("lossy", &proxy.addr.to_string());

    // Warm-up (50 beats) and a few solves after it, for both.
    let (c, l) = wait_for("both links past warm-up", || {
        let (c, l) = (node(&mon, "clean")?, node(&mon, "lossy")?);
        let beats = |v: &Value| v["link"]["beats"].as_u64().unwrap_or(0);
        (beats(&c) >= 150 && beats(&l) >= 150).then_some((c, l))
    });
    assert!(
        proxy.dropped.load(Ordering::Relaxed) > 20,
        "the proxy drops"
    );
    let loss = |v: &Value| v["link"]["loss"].as_f64().expect("link.loss");
    assert!(loss(&l) > 0.1 && loss(&c) < 0.05, "clean {c}\nlossy {l}");
    let (tc, tl) = (ms(&c, "timeout_ms"), ms(&l, "timeout_ms"));
    assert!(
        tl > tc,
        "the lossy link needs the longer timeout: clean {tc} ms, lossy {tl} ms"
    );
    eprintln!(
        "clean: timeout {tc} ms, link {}\nlossy: timeout {tl} ms, link {}",
        c["link"], l["link"]
    );
    // Two young nodes and none settled: no fleet prior yet.
    assert_eq!(l["link"]["fleet_prior"], Value::Bool(false), "{l}");
    let per_day = l["link"]["predicted_per_day"].as_f64().expect("predicted");
    assert!(
        per_day <= 1.0,
        "the chosen timeout meets the budget: {per_day}"
    );
    // Also in /v1/nodes and on /metrics.
    let (_, all) = http_get(&mon.http, "/v1/nodes").expect("/v1/nodes");
    assert!(all.contains("\"mean_burst\""), "{all}");
    let status = std::process::Command::new(hb_tests::hbnode())
        .args(["status", "--http", &mon.http])
        .output()
        .expect("run hbnode status");
    let status = String::from_utf8(status.stdout).expect("utf-8");
    let row = status
        .lines()
        .skip_while(|l| !l.starts_with("NODE "))
        .find(|l| l.starts_with("lossy "))
        .unwrap_or_else(|| panic!("no link row for lossy:\n{status}"));
    assert!(row.contains('%'), "{status}");
    let (_, metrics) = http_get(&mon.http, "/metrics").expect("/metrics");
    assert!(
        metrics.contains("hbnode_node_link_loss_ratio{node=\"lossy\"}"),
        "{metrics}"
    );

    let period = 50;
    for (id, beat) in [("clean", &mut clean), ("lossy", &mut lossy)] {
        let (timeout, silence, slack_us, value) = kill_and_wait_down(&mon, beat, id);
        eprintln!(
            "{id}: timeout {timeout} ms, down after {silence} ms (slack {slack_us} µs, value {value})"
        );
        assert!(value >= 1.0, "{id}: down at its threshold: {value}");
        // The detector's decision, on the monitor's clock: the silence at its deadline (the
        // event's silence less the timer's own lateness on a loaded host, which is `slack_us`).
        let decided = silence.saturating_sub(slack_us / 1000);
        assert!(
            decided <= timeout + period,
            "{id}: down after {silence} ms of silence ({slack_us} µs late), its timeout was \
             {timeout} ms"
        );
    }

    // Both silent now: their estimates no longer move. A restart on the same store brings
    // them back exactly (not the prior's empty estimate).
    let link = |id: &str, m: &TestMonitor| node(m, id).expect("node")["link"].clone();
    let before = [link("clean", &mon), link("lossy", &mon)];
    drop(proxy);
    let (udp, http) = (mon.udp.clone(), mon.http.clone());
    let mut proc = mon.proc;
    proc.term();
    assert!(proc.wait().success(), "{}", proc.stderr());
    let mon = TestMonitor::builder()
        .udp(&udp)
        .http(&http)
        .env("HBNODE_DB", db)
        .args(&budget)
        .start();
    let after = [link("clean", &mon), link("lossy", &mon)];
    assert_eq!(after, before, "link estimates after the restart");
    assert!(ms(&after[1], "beats") >= 150, "{}", after[1]);

    // The first run's recording, planned offline: the same ordering of timeouts.
    let out = std::process::Command::new(hb_tests::hbnode())
        .args(["plan", "--trace", trace, "--budget", "1/day", "--json"])
        .output()
        .expect("run hbnode plan");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plans: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let planned = |id: &str| {
        plans
            .iter()
            .find(|p| p["node"] == id)
            .unwrap_or_else(|| panic!("{id} not in {plans:?}"))
            .clone()
    };
    let (pc, pl) = (planned("clean"), planned("lossy"));
    eprintln!("plan: clean {pc}\nplan: lossy {pl}");
    assert!(ms(&pl, "timeout_ms") > ms(&pc, "timeout_ms"), "{pc}\n{pl}");
    assert!(pl["loss"].as_f64().expect("loss") > 0.1, "{pl}");
}
