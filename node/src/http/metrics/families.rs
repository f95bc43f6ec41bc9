//! hbnode's metric families: what each is called, says and holds, built per scrape from one
//! merged Detector snapshot (if every Detector answered) and the process-wide counters.

use hb_core::NodeState;

use crate::http::metrics::model::{Family, Unit, Value};
use crate::http::metrics::probes::ProbeFamilies;
use crate::http::views::{LinkView, Snapshot};
use crate::runtime::stats::{self, SLACK_BOUNDS_US, Stats};

/// Everything one scrape shows.
#[derive(Debug)]
pub(crate) struct Scrape<'a> {
    /// Every Detector's snapshot, merged; `None` if one did not answer in time (then
    /// `hbnode_ready` is 0 and only the process-wide families are written).
    pub(crate) snapshot: Option<&'a Snapshot>,
    /// The process-wide counters.
    pub(crate) stats: &'a Stats,
    /// Each UDP listener's kernel receive-buffer drops; `None` where they cannot be read.
    pub(crate) kernel_drops: Option<Vec<(String, u64)>>,
    /// `hbnode_build_info{version}`.
    pub(crate) version: &'a str,
}

fn count(n: usize) -> Value {
    Value::Int(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Every family of one scrape, in exposition order, series sorted by their labels.
pub(crate) fn families(s: &Scrape<'_>) -> Vec<Family> {
    let mut out = vec![
        Family::gauge(
            "ready",
            "Whether every Detector answered this scrape (1); 0: the Detector-derived families are absent from this scrape",
        )
        .value(Value::Int(u64::from(s.snapshot.is_some()))),
        Family::info(
            "build",
            "Build information",
            vec![("version", s.version.to_owned())],
        ),
    ];
    if let Some(snap) = s.snapshot {
        out.extend(detector_families(snap, s.stats));
    }
    out.extend(process_families(s));
    out.into_iter().map(Family::sorted).collect()
}

/// The budget detector's link estimates, one series per node that has one.
struct LinkFamilies {
    loss: Family,
    burst: Family,
    offset: Family,
}

impl LinkFamilies {
    fn new() -> Self {
        Self {
            loss: Family::gauge(
                "node_link_loss_ratio",
                "The budget detector's fitted long-run fraction of the node's beats lost (Gilbert-Elliott fit of sequence gaps), 0 to 1",
            )
            .unit(Unit::Ratio),
            burst: Family::gauge(
                "node_link_mean_burst_beats",
                "The budget detector's mean length of a run of lost beats on the node's link, in beats (1: independent loss)",
            ),
            offset: Family::gauge(
                "node_link_offset_p99_seconds",
                "The budget detector's 99th percentile of the node's beat lateness above its earliest recent beat",
            )
            .unit(Unit::Seconds),
        }
    }

    fn push(&mut self, id: &str, l: &LinkView) {
        let node = || vec![("node", id.to_owned())];
        self.loss.push(node(), Value::Float(l.loss));
        self.burst.push(node(), Value::Float(l.mean_burst));
        self.offset
            .push(node(), Value::Float(l.offset_p99_ms / 1000.0));
    }

    fn into_families(self) -> [Family; 3] {
        [self.loss, self.burst, self.offset]
    }
}

/// What the Detectors' snapshot shows: nodes, probes and the core's counters.
fn detector_families(snap: &Snapshot, stats: &Stats) -> Vec<Family> {
    let mut state = Family::gauge(
        "node_state",
        "Whether the node is in this state (1) or not (0), one series per known state: alert on hbnode_node_state{state=\"down\"} == 1",
    );
    let mut up = Family::gauge(
        "node_up",
        "Whether the node is alive (1) or not (0): down and left nodes are both 0, so alert on hbnode_node_state{state=\"down\"} instead",
    );
    let mut last = Family::gauge(
        "node_last_beat_timestamp_seconds",
        "Wall-clock time of the node's latest fresh beat, in seconds since the Unix epoch",
    )
    .unit(Unit::Seconds);
    let mut loss = Family::gauge(
        "node_beat_loss_ratio",
        "Estimated fraction of the node's beats lost on the way (sequence gaps), 0 to 1",
    )
    .unit(Unit::Ratio);
    let mut timeout = Family::gauge(
        "node_timeout_seconds",
        "Silence after which the detector would declare the alive node down right now (its deadline minus its latest beat): fixed, the timeout; phi and chen, what their estimates of the node's link give",
    )
    .unit(Unit::Seconds);
    let mut link = LinkFamilies::new();
    let mut probes = ProbeFamilies::new();
    for n in &snap.nodes {
        let node = || vec![("node", n.id.clone())];
        for s in NodeState::ALL {
            let labels = vec![("node", n.id.clone()), ("state", s.as_str().to_owned())];
            state.push(labels, Value::Int(u64::from(n.state == s.as_str())));
        }
        let alive = n.state == NodeState::Alive.as_str();
        up.push(node(), Value::Int(u64::from(alive)));
        last.push(node(), Value::Float(n.last_seen_unix));
        loss.push(node(), Value::Float(n.loss));
        if let Some(ms) = n.timeout_ms {
            timeout.push(node(), Value::Float(ms as f64 / 1000.0));
        }
        if let Some(l) = &n.link {
            link.push(&n.id, l);
        }
        for p in &n.probes {
            probes.push(&n.id, alive, p);
        }
    }
    let mut out = vec![state, up, last, loss, timeout];
    out.extend(link.into_families());
    out.extend([Family::gauge("nodes", "Known nodes by state").by(
        "state",
        snap.states
            .iter()
            .map(|(s, n)| (*s, u64::try_from(*n).unwrap_or(u64::MAX))),
    )]);
    out.extend(probes.into_families());
    out.extend([
        Family::counter(
            "probe_readings_refused",
            "Readings of probes beyond the per-node limit of 64, not judged",
        )
        .value(Value::Int(snap.probes_refused)),
        Family::counter(
            "readings_refused",
            "Sensor readings refused on arrival, by reason (nan, infinite): not judged, not stored; their beats still count",
        )
        .by("reason", snap.readings_refused.iter().map(|(r, n)| (*r, *n))),
        Family::counter("beats_received", "Fresh beats accepted")
            .value(Value::Int(snap.beats_received)),
        Family::counter("datagrams_rejected", "Datagrams refused, by reason")
            .by("reason", snap.rejections.iter().map(|(r, n)| (*r, *n))),
        Family::counter(
            "acks_dropped",
            "Acks and witness verdicts not sent: a queue or the socket buffer was full, or the datagram could not be encoded",
        )
        .value(Value::Int(
            stats::get(&stats.acks_dropped).saturating_add(snap.core_acks_dropped),
        )),
        Family::counter(
            "monitor_stalls",
            "Times the monitor itself was stalled past a deadline and re-armed alive nodes",
        )
        .value(Value::Int(snap.stalls.0)),
        Family::gauge(
            "monitor_last_stall_seconds",
            "How late the monitor ran after a deadline in its latest stall",
        )
        .unit(Unit::Seconds)
        .value(Value::Float(snap.stalls.1.as_secs_f64())),
        Family::gauge(
            "isolated",
            "Whether the monitor thinks it is cut off from its nodes (1): far more fell silent together than independent failures explain; they are held unreachable, not down",
        )
        .value(Value::Int(u64::from(snap.isolation.isolated))),
        Family::counter(
            "isolation_episodes",
            "Times the monitor found itself cut off from its nodes (isolated events)",
        )
        .value(Value::Int(snap.isolation.episodes)),
        Family::gauge(
            "zone_out",
            "Whether the zone (--zone) is reported out (1): most of its nodes went silent together while the rest of the fleet is fine",
        )
        .by(
            "zone",
            snap.zones
                .iter()
                .map(|(z, out)| (z.as_str(), u64::from(*out))),
        ),
        Family::gauge(
            "nodes_quiet",
            "Alive nodes unusually silent: past their quiet mark, 1.5 periods before their deadline (what the isolation guard counts)",
        )
        .value(count(snap.isolation.quiet)),
        Family::gauge(
            "registry_max_nodes",
            "Most nodes the registry holds (--max-nodes); further new ids count as registry_full",
        )
        .value(count(snap.max_nodes)),
    ]);
    out.extend(super::witness::families(snap.witnesses.as_ref()));
    out
}

/// What the process counts itself, shown even when a Detector does not answer.
fn process_families(s: &Scrape<'_>) -> Vec<Family> {
    let stats = s.stats;
    let (slack, slack_sum_us) = stats.slack.read();
    let bounds = SLACK_BOUNDS_US.map(|us| us as f64 / 1e6);
    let mut unauthenticated = Family::gauge(
        "listener_unauthenticated",
        "Whether the listener accepts beats without a MAC (1): legacy protocols always, hbnode beats without --require-auth",
    );
    for (url, open) in stats.listeners() {
        unauthenticated.push(vec![("listener", url)], Value::Int(u64::from(open)));
    }
    let mut out = vec![
        Family::counter(
            "datagrams_received",
            "Datagrams read from the listeners' sockets",
        )
        .value(Value::Int(stats::get(&stats.datagrams))),
        Family::counter("receive_errors", "Socket receive errors")
            .value(Value::Int(stats::get(&stats.recv_errors))),
        Family::counter("acks_sent", "Acks and witness verdicts sent").value(Value::Int(stats::get(&stats.acks_sent))),
        Family::counter("events", "Events reported, by kind").by("event", stats.events()),
        Family::counter("events_dropped", "Events a sink had no room for, by sink")
            .by("sink", stats.sink_drops()),
        Family::histogram(
            "detection_slack_seconds",
            "How late past the detector's exact deadline each down was declared (the monitor's own scheduling delay)",
            &bounds,
            &slack,
            slack_sum_us as f64 / 1e6,
        )
        .unit(Unit::Seconds),
        unauthenticated,
        Family::counter(
            "pid_claims",
            "Pids claimed by legacy beats, by outcome: verified (HBNODE_PID), unverified (HBNODE_CLAIMED_PID only), dropped (verifier queue full)",
        )
        .by("result", stats.pid_checks()),
        Family::counter(
            "tcp_connections_refused",
            "TCP heartbeat connections closed at once because the listener was at --max-connections",
        )
        .value(Value::Int(stats::get(&stats.tcp_refused))),
        Family::counter(
            "tcp_connections_idle_closed",
            "TCP heartbeat connections closed because they sent nothing for --tcp-idle-timeout (their nodes are down at once)",
        )
        .value(Value::Int(stats::get(&stats.tcp_idle_closed))),
        Family::counter(
            "hooks",
            "Exec hook runs (--on), by result: ok, failed, timeout, dropped",
        )
        .by("result", stats.hook_counts()),
        Family::counter(
            "alertmanager_posts",
            "Alert POSTs to Alertmanager, by result (after retries; failed includes dropped)",
        )
        .by("result", stats.posts(stats::PostAction::Alertmanager)),
        Family::counter(
            "webhook_posts",
            "Event POSTs to webhooks, by result (after retries; failed includes dropped)",
        )
        .by("result", stats.posts(stats::PostAction::Webhook)),
        Family::counter(
            "store_rows_written",
            "Rows committed to the store (--db), by table",
        )
        .by("table", stats.store_rows()),
        Family::counter(
            "store_rows_dropped",
            "Rows not stored, by reason: queue_full (the disk was slower than ingest), error (their transaction failed) or invalid (a value the store cannot hold; the rest of its batch was written)",
        )
        .by(
            "reason",
            [
                ("queue_full", stats::get(&stats.store_dropped)),
                ("error", stats::get(&stats.store_failed)),
                ("invalid", stats::get(&stats.store_invalid)),
            ],
        ),
        Family::counter(
            "store_errors",
            "Failed store operations (transactions, prunes): read-only or full disk, locked file",
        )
        .value(Value::Int(stats::get(&stats.store_errors))),
        Family::counter(
            "readings_dropped",
            "Readings the monitor had no room to queue for the store",
        )
        .value(Value::Int(stats::get(&stats.samples_dropped))),
        Family::counter(
            "arrivals_dropped",
            "Beat arrivals --record had no room to queue (the trace file's disk was too slow)",
        )
        .value(Value::Int(stats::get(&stats.arrivals_dropped))),
    ];
    if let Some(drops) = &s.kernel_drops {
        out.push(
            Family::counter(
                "receive_buffer_drops",
                "Datagrams the kernel dropped for the UDP listener because its socket's receive buffer was full (raise --recv-buffer and net.core.rmem_max)",
            )
            .by("listener", drops.iter().map(|(l, n)| (l.as_str(), *n))),
        );
    }
    out
}
