//! Prometheus metrics, rendered per scrape from one Detector snapshot and the shared counters.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::http::views::Snapshot;
use crate::runtime::stats::{self, Stats};

type Labels = Vec<(&'static str, String)>;

fn counter(v: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(v);
    c
}

fn counters<'a>(
    label: &'static str,
    values: impl Iterator<Item = (&'a str, u64)>,
) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    for (name, v) in values {
        f.get_or_create(&vec![(label, name.to_owned())]).inc_by(v);
    }
    f
}

/// Renders the OpenMetrics text exposition.
pub(crate) fn render(snap: &Snapshot, stats: &Stats) -> String {
    let mut reg = Registry::with_prefix("hbnode");

    let up = Family::<Labels, Gauge>::default();
    let last = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for n in &snap.nodes {
        let labels = vec![("node", n.id.clone())];
        up.get_or_create(&labels).set(i64::from(n.state == "alive"));
        last.get_or_create(&labels).set(n.last_seen_unix);
    }
    let probe_value = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let probe_state = Family::<Labels, Gauge>::default();
    for n in &snap.nodes {
        for p in &n.probes {
            let labels = vec![("node", n.id.clone()), ("probe", p.name.clone())];
            probe_value
                .get_or_create(&labels)
                .set(p.value.unwrap_or(f64::NAN));
            let code = match p.state.as_str() {
                "ok" => 0,
                "warning" => 1,
                "error" => 2,
                _ => 3,
            };
            probe_state.get_or_create(&labels).set(code);
        }
    }
    reg.register(
        "probe_value",
        "Latest sensor reading of the node's probe",
        probe_value,
    );
    reg.register(
        "probe_state",
        "State of the node's probe: 0 ok, 1 warning, 2 error, 3 unknown (after hysteresis)",
        probe_state,
    );
    reg.register(
        "probe_readings_refused",
        "Readings of probes beyond the per-node limit of 64, not judged",
        counter(snap.probes_refused),
    );
    reg.register(
        "readings_refused",
        "Sensor readings refused on arrival, by reason (nan, infinite): not judged, not stored; their beats still count",
        counters("reason", snap.readings_refused.iter().map(|(r, n)| (*r, *n))),
    );
    reg.register(
        "node_up",
        "Whether the node is alive (1) or down or gone (0)",
        up,
    );
    reg.register(
        "node_last_beat_timestamp_seconds",
        "Wall-clock time of the node's latest fresh beat",
        last,
    );

    let states = Family::<Labels, Gauge>::default();
    for (s, n) in &snap.states {
        states
            .get_or_create(&vec![("state", (*s).to_owned())])
            .set(i64::try_from(*n).unwrap_or(i64::MAX));
    }
    reg.register("nodes", "Known nodes by state", states);

    reg.register(
        "beats_received",
        "Fresh beats accepted",
        counter(snap.beats_received),
    );
    reg.register(
        "datagrams_received",
        "Datagrams read from the listeners' sockets",
        counter(stats::get(&stats.datagrams)),
    );
    reg.register(
        "datagrams_rejected",
        "Datagrams refused, by reason",
        counters("reason", snap.rejections.iter().map(|(r, n)| (*r, *n))),
    );
    reg.register(
        "receive_errors",
        "Socket receive errors",
        counter(stats::get(&stats.recv_errors)),
    );
    reg.register(
        "acks_sent",
        "Acks sent",
        counter(stats::get(&stats.acks_sent)),
    );
    reg.register(
        "acks_dropped",
        "Acks not sent: a queue or the socket buffer was full, or the ack could not be encoded",
        counter(stats::get(&stats.acks_dropped) + snap.core_acks_dropped),
    );
    reg.register(
        "events",
        "Events reported, by kind",
        counters("event", stats.events()),
    );
    reg.register(
        "events_dropped",
        "Events a sink had no room for, by sink",
        counters("sink", stats.sink_drops()),
    );
    reg.register(
        "monitor_stalls",
        "Times the monitor itself was stalled past a deadline and re-armed alive nodes",
        counter(snap.stalls.0),
    );
    let last_stall = Gauge::<f64, AtomicU64>::default();
    last_stall.set(snap.stalls.1.as_secs_f64());
    reg.register(
        "monitor_last_stall_seconds",
        "How late the monitor ran after a deadline in its latest stall",
        last_stall,
    );
    let cap = Gauge::<i64>::default();
    cap.set(i64::try_from(snap.max_nodes).unwrap_or(i64::MAX));
    reg.register(
        "registry_max_nodes",
        "Most nodes the registry holds (--max-nodes); further new ids count as registry_full",
        cap,
    );
    let unauthenticated = Family::<Labels, Gauge>::default();
    for (url, open) in stats.listeners() {
        unauthenticated
            .get_or_create(&vec![("listener", url)])
            .set(i64::from(open));
    }
    reg.register(
        "listener_unauthenticated",
        "Whether the listener accepts beats without a MAC (1): legacy protocols always, hbnode beats without --require-auth",
        unauthenticated,
    );
    reg.register(
        "pid_claims",
        "Pids claimed by legacy beats, by outcome: verified (HBNODE_PID), unverified (HBNODE_CLAIMED_PID only), dropped (verifier queue full)",
        counters("result", stats.pid_checks()),
    );
    reg.register(
        "tcp_connections_refused",
        "TCP heartbeat connections closed at once because the listener was at --max-connections",
        counter(stats::get(&stats.tcp_refused)),
    );
    reg.register(
        "tcp_connections_idle_closed",
        "TCP heartbeat connections closed because they sent nothing for --tcp-idle-timeout (their nodes are down at once)",
        counter(stats::get(&stats.tcp_idle_closed)),
    );
    reg.register(
        "hooks",
        "Exec hook runs (--on), by result: ok, failed, timeout, dropped",
        counters("result", stats.hook_counts()),
    );
    reg.register(
        "alertmanager_posts",
        "Alert POSTs to Alertmanager, by result (after retries; failed includes dropped)",
        counters(
            "result",
            stats.posts(stats::PostAction::Alertmanager).into_iter(),
        ),
    );
    reg.register(
        "webhook_posts",
        "Event POSTs to webhooks, by result (after retries; failed includes dropped)",
        counters(
            "result",
            stats.posts(stats::PostAction::Webhook).into_iter(),
        ),
    );
    reg.register(
        "store_rows_written",
        "Rows committed to the store (--db), by table",
        counters("table", stats.store_rows()),
    );
    reg.register(
        "store_rows_dropped",
        "Rows not stored, by reason: queue_full (the disk was slower than ingest), error (their transaction failed) or invalid (a value the store cannot hold; the rest of its batch was written)",
        counters(
            "reason",
            [
                ("queue_full", stats::get(&stats.store_dropped)),
                ("error", stats::get(&stats.store_failed)),
                ("invalid", stats::get(&stats.store_invalid)),
            ]
            .into_iter(),
        ),
    );
    reg.register(
        "store_errors",
        "Failed store operations (transactions, prunes): read-only or full disk, locked file",
        counter(stats::get(&stats.store_errors)),
    );
    reg.register(
        "readings_dropped",
        "Readings the monitor had no room to queue for the store",
        counter(stats::get(&stats.samples_dropped)),
    );
    reg.register(
        "arrivals_dropped",
        "Beat arrivals --record had no room to queue (the trace file's disk was too slow)",
        counter(stats::get(&stats.arrivals_dropped)),
    );
    reg.register(
        "build",
        "Build information",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );

    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &reg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::NodeView;

    #[test]
    fn exposition_has_the_documented_families() {
        let node = NodeView {
            id: "web-1".into(),
            state: "down".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: 1,
            seq: 3,
            last_seen: String::new(),
            last_seen_unix: 1_700_000_000.5,
            silence_ms: 4000,
            state_since: String::new(),
            value: Some(4.0),
            threshold: 3.0,
            period_ms: 1000,
            beats: 3,
            lost: 0,
            loss: 0.0,
            duplicates: 0,
            reordered: 0,
            labels: Default::default(),
            probes: vec![crate::http::views::ProbeView {
                name: "load1".into(),
                state: "warning".into(),
                state_since: String::new(),
                value: Some(5.5),
                last_reading: String::new(),
                warning: Some("4".into()),
                error: None,
            }],
        };
        let snap = Snapshot {
            nodes: vec![node],
            beats_received: 3,
            rejections: vec![("bad_magic", 2), ("duplicate", 0)],
            states: vec![("alive", 0), ("down", 1), ("left", 0)],
            core_acks_dropped: 0,
            probes_refused: 7,
            readings_refused: vec![("nan", 4), ("infinite", 0)],
            stalls: (2, std::time::Duration::from_millis(1500)),
            max_nodes: 10,
        };
        let text = render(&snap, &Stats::default());
        for line in [
            "hbnode_node_up{node=\"web-1\"} 0",
            "hbnode_node_last_beat_timestamp_seconds{node=\"web-1\"} 1700000000.5",
            "hbnode_nodes{state=\"down\"} 1",
            "hbnode_beats_received_total 3",
            "hbnode_datagrams_rejected_total{reason=\"bad_magic\"} 2",
            "hbnode_events_dropped_total{sink=\"stdout\"} 0",
            "hbnode_monitor_stalls_total 2",
            "hbnode_monitor_last_stall_seconds 1.5",
            "hbnode_registry_max_nodes 10",
            "hbnode_probe_value{node=\"web-1\",probe=\"load1\"} 5.5",
            "hbnode_probe_state{node=\"web-1\",probe=\"load1\"} 1",
            "hbnode_probe_readings_refused_total 7",
            "hbnode_readings_refused_total{reason=\"nan\"} 4",
            "hbnode_readings_refused_total{reason=\"infinite\"} 0",
            "hbnode_store_rows_written_total{table=\"readings\"} 0",
            "hbnode_store_rows_dropped_total{reason=\"queue_full\"} 0",
            "hbnode_store_errors_total 0",
            "# TYPE hbnode_build info",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
        assert!(text.contains("hbnode_build_info{version=\""), "{text}");
    }
}
