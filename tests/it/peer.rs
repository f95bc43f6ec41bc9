//! Issue 7: peer mode. Three `hbnode peer`s in one group see each other with no configuration
//! but the group name; a dead or cut-off member is reported `down` by the others (and a cut-off
//! one reports the others `down`), a returning one `up`, a stopped one `left`; `hbnode peers`
//! lists the members.
//!
//! Two settings: on this host only (`--ttl 0 --iface lo`: the datagrams never leave the host),
//! and in network namespaces the test makes (three peers on veth links to a bridge), where a
//! link can be cut.

use std::process::Command;

use hb_tests::{Proc, free_tcp_port, hbnode, http_get, metric, wait_for};
use serde_json::Value;

fn has(p: &Proc, node: &str, event: &str) -> bool {
    p.json_lines()
        .iter()
        .any(|e| e["node"] == node && e["event"] == event)
}

fn count(p: &Proc, node: &str, event: &str) -> usize {
    p.json_lines()
        .iter()
        .filter(|e| e["node"] == node && e["event"] == event)
        .count()
}

/// Runs `hbnode peers` (its own wait is bounded) with `prefix` before it (e.g. `ip netns exec
/// NS`), and returns the listed ids when its JSON lists exactly `want`.
fn listed(prefix: &[&str], args: &[&str], want: &[&str]) -> Option<Vec<String>> {
    let bin = hbnode();
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let out = cmd
        .arg("peers")
        .args(args)
        .arg("--json")
        .output()
        .expect("run hbnode peers");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    // Exit status 0 exactly when someone answered.
    assert_eq!(out.status.success(), !ids.is_empty(), "{out:?}");
    (ids == want).then_some(ids)
}

#[test]
fn peers_on_one_host_see_each_other_and_report_a_killed_one_down_and_a_stopped_one_left() {
    let group = format!("hb-e2e-host-{}", std::process::id());
    let peer = |id: &str, http: &str| {
        Proc::hbnode(&[
            "peer",
            "--group",
            &group,
            "--id",
            id,
            "--period",
            "200ms",
            "--timeout",
            "1s",
            "--ttl",
            "0",
            "--iface",
            "lo",
            "--http",
            http,
            "--events",
            "json",
        ])
    };
    let http = format!("127.0.0.1:{}", free_tcp_port());
    let mut a = peer("a", "off");
    let b = peer("b", &http);
    let c = peer("c", "off");
    for (p, others) in [(&a, ["b", "c"]), (&b, ["a", "c"]), (&c, ["a", "b"])] {
        for o in others {
            wait_for(&format!("{o} joined"), || has(p, o, "joined").then_some(()));
        }
    }
    let ids = wait_for("peers lists a, b and c", || {
        listed(
            &[],
            &[
                "--group", &group, "--ttl", "0", "--iface", "lo", "--wait", "300ms",
            ],
            &["a", "b", "c"],
        )
    });
    assert_eq!(ids, ["a", "b", "c"]);
    // b's HTTP API is the monitor's: the other two members, not b itself.
    let (status, body) = http_get(&http, "/v1/nodes").expect("b's HTTP API");
    assert_eq!(status, 200);
    let nodes: Value = serde_json::from_str(&body).expect("JSON");
    let mut in_api: Vec<&str> = nodes
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    in_api.sort_unstable();
    assert_eq!(in_api, ["a", "c"], "{body}");
    let (_, metrics) = http_get(&http, "/metrics").expect("metrics");
    for reason in ["id_conflict", "wrong_group", "unexpected_kind"] {
        let name = format!("hbnode_datagrams_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&metrics, &name), Some(0.0), "{name}");
    }
    // Another group's name on the same host finds nobody, and says so with exit status 1.
    let other = format!("{group}-other");
    assert_eq!(
        listed(
            &[],
            &[
                "--group", &other, "--ttl", "0", "--iface", "lo", "--wait", "200ms"
            ],
            &[]
        ),
        Some(vec![])
    );

    a.kill();
    for p in [&b, &c] {
        wait_for("a down", || has(p, "a", "down").then_some(()));
    }
    c.term();
    wait_for("c left", || has(&b, "c", "left").then_some(()));
    let mut c = c;
    assert!(c.wait().success(), "{}", c.stderr());
    assert_eq!(
        count(&b, "c", "down"),
        0,
        "a graceful stop is not a failure"
    );
    // No peer ever reported itself.
    for (p, me) in [(&b, "b"), (&c, "c")] {
        assert!(p.json_lines().iter().all(|e| e["node"] != me), "{me}");
    }
    assert!(b.stderr().contains(&format!("group {group} at 239.255.")));
}

/// Network namespaces, veth pairs and a bridge, deleted on drop (also when the test panics).
struct Net {
    prefix: String,
    namespaces: Vec<String>,
}

fn ip(args: &[&str]) {
    let out = Command::new(hb_tests::tool("ip", "iproute2"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {args:?} failed (root is needed for network namespaces): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Net {
    /// A bridge in its own namespace and `n` peer namespaces, each with a veth link to it,
    /// address 10.77.0.(i+1)/24 and a multicast route.
    fn new(n: usize) -> Self {
        // Short: interface names have at most 15 bytes.
        let prefix = format!("hb{}", std::process::id() % 100_000);
        let mut net = Self {
            prefix: prefix.clone(),
            namespaces: Vec::new(),
        };
        let br = net.ns("br");
        ip(&[
            "-n",
            &br,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &br, "link", "set", "br0", "up"]);
        for i in 0..n {
            let ns = net.ns(&format!("n{i}"));
            let (inner, outer) = (net.veth(i), net.port(i));
            ip(&[
                "link", "add", &inner, "type", "veth", "peer", "name", &outer,
            ]);
            ip(&["link", "set", &inner, "netns", &ns]);
            ip(&["link", "set", &outer, "netns", &br]);
            ip(&["-n", &br, "link", "set", &outer, "master", "br0"]);
            ip(&["-n", &br, "link", "set", &outer, "up"]);
            let addr = format!("10.77.0.{}/24", i + 1);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inner]);
            ip(&["-n", &ns, "link", "set", &inner, "up"]);
            ip(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", &inner]);
        }
        net
    }

    fn ns(&mut self, name: &str) -> String {
        let ns = format!("{}{name}", self.prefix);
        // A namespace left over by a killed earlier run with the same pid.
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        ip(&["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        ns
    }

    fn name(&self, i: usize) -> String {
        format!("{}n{i}", self.prefix)
    }

    /// The peer's end of its link.
    fn veth(&self, i: usize) -> String {
        format!("{}v{i}", self.prefix)
    }

    /// The bridge's end of peer `i`'s link.
    fn port(&self, i: usize) -> String {
        format!("{}b{i}", self.prefix)
    }

    /// Cuts (`false`) or restores (`true`) peer `i`'s link at the bridge.
    fn link(&self, i: usize, up: bool) {
        let br = format!("{}br", self.prefix);
        ip(&[
            "-n",
            &br,
            "link",
            "set",
            &self.port(i),
            if up { "up" } else { "down" },
        ]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it, and so their peers.
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        for i in 0..self.namespaces.len() {
            let _ = Command::new("ip")
                .args(["link", "del", &self.veth(i)])
                .output();
        }
    }
}

#[test]
fn peers_in_namespaces_report_a_cut_link_down_both_ways_and_up_when_restored() {
    let net = Net::new(3);
    let group = format!("hb-e2e-netns-{}", std::process::id());
    let bin = hbnode();
    let bin = bin.to_str().expect("utf-8 path");
    let ids = ["n0", "n1", "n2"];
    let peers: Vec<Proc> = (0..3)
        .map(|i| {
            let ns = net.name(i);
            let mut args = vec![
                "netns",
                "exec",
                &ns,
                bin,
                "peer",
                "--group",
                &group,
                "--id",
                ids[i],
                "--period",
                "200ms",
                "--timeout",
                "1s",
                "--http",
                "off",
                "--events",
                "json",
            ];
            // One peer names its interface; the others follow the multicast route.
            let veth = net.veth(i);
            if i == 2 {
                args.extend(["--iface", &veth]);
            }
            Proc::spawn(Command::new("ip").args(&args))
        })
        .collect();
    for (i, p) in peers.iter().enumerate() {
        for o in ids.iter().filter(|o| **o != ids[i]) {
            wait_for(&format!("{} sees {o} join", ids[i]), || {
                has(p, o, "joined").then_some(())
            });
        }
    }
    let ns0 = net.name(0);
    let listed_ids = wait_for("peers (in n0) lists all three", || {
        listed(
            &["ip", "netns", "exec", &ns0],
            &["--group", &group, "--wait", "300ms"],
            &ids,
        )
    });
    assert_eq!(listed_ids, ids);

    // Cut n2's link: n0 and n1 report n2 down, and n2 reports both of them down.
    net.link(2, false);
    for p in &peers[..2] {
        wait_for("n2 down", || has(p, "n2", "down").then_some(()));
    }
    for o in ["n0", "n1"] {
        wait_for(&format!("n2 reports {o} down"), || {
            has(&peers[2], o, "down").then_some(())
        });
    }
    assert_eq!(
        count(&peers[0], "n1", "down"),
        0,
        "n0 and n1 still see each other"
    );

    // Restore it: every one of them is back up, everywhere.
    net.link(2, true);
    for p in &peers[..2] {
        wait_for("n2 up", || has(p, "n2", "up").then_some(()));
    }
    for o in ["n0", "n1"] {
        wait_for(&format!("n2 reports {o} up"), || {
            has(&peers[2], o, "up").then_some(())
        });
    }
    drop(peers);
    drop(net);
}
