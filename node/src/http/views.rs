//! What the HTTP API, `/metrics`, `hbnode status` and `hbnode check` show of the monitor: a
//! node (`NodeView`, with its probes), and a snapshot of every node and counter, projected
//! from `hb_core::Monitor` on the Detector's turn.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use hb_core::detector::Detector as _;
use hb_core::{Monitor, NodeInfo, NodeState};
use serde::{Deserialize, Serialize};

use crate::legacy::state::LegacyState;
use crate::runtime::clock::{Clock, unix_secs};

/// One node as the HTTP API and `hbnode status` show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct NodeView {
    /// Node id.
    pub(crate) id: String,
    /// `alive`, `down` or `left`.
    pub(crate) state: String,
    /// Last known address.
    pub(crate) addr: SocketAddr,
    /// Current incarnation.
    pub(crate) incarnation: u64,
    /// Highest beat sequence number seen in this incarnation.
    pub(crate) seq: u64,
    /// Wall-clock time of the latest fresh beat (RFC 3339).
    pub(crate) last_seen: String,
    /// The same, in seconds since the Unix epoch.
    pub(crate) last_seen_unix: f64,
    /// Silence since then, in ms.
    pub(crate) silence_ms: u64,
    /// When the node entered its state (RFC 3339).
    pub(crate) state_since: String,
    /// The silence after which the detector would declare this node down right now, in ms
    /// (its deadline minus its latest beat; null unless alive). Fixed: the timeout; phi and
    /// chen: what their estimates of this node's link give now.
    #[serde(default)]
    pub(crate) timeout_ms: Option<u64>,
    /// Detector value now (see docs/events.md).
    pub(crate) value: Option<f64>,
    /// Detector value at which the node is down.
    pub(crate) threshold: f64,
    /// Advertised beat period, in ms.
    pub(crate) period_ms: u64,
    /// Fresh beats received.
    pub(crate) beats: u64,
    /// Beats missing from the sequence.
    pub(crate) lost: u32,
    /// Estimated loss, 0–1.
    pub(crate) loss: f64,
    /// Duplicate beats refused.
    pub(crate) duplicates: u32,
    /// Beats that arrived after a later one.
    pub(crate) reordered: u32,
    /// Legacy nodes: `status` and the other fields of their latest TCP/JSON beat (bounded).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) labels: BTreeMap<String, String>,
    /// Sensor probes, by name (see `--threshold`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) probes: Vec<ProbeView>,
    /// The budget detector's estimate of this node's link (absent for other detectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) link: Option<LinkView>,
}

/// What the budget detector has measured of one node's link, from which it chose the node's
/// `timeout_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LinkView {
    /// Long-run fraction of beats lost, as fitted (0–1; never exactly 0).
    pub(crate) loss: f64,
    /// Mean length of a run of lost beats, in beats (1 for independent loss).
    pub(crate) mean_burst: f64,
    /// 99th percentile of the beats' lateness above the earliest recent one, in ms.
    pub(crate) offset_p99_ms: f64,
    /// Fresh beats the estimate has seen (the prior is used below the warm-up).
    pub(crate) beats: u32,
    /// False alarms per day the theory predicts at `timeout_ms` on this link (only in
    /// `/v1/nodes/{id}`: it costs a solve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) predicted_per_day: Option<f64>,
    /// Whether the node is young (under 4096 beats) and its timeout also covers the link
    /// classes of the monitor's settled nodes (only in `/v1/nodes/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fleet_prior: Option<bool>,
}

impl LinkView {
    /// The view of a core summary.
    fn of(s: &hb_core::detector::LinkSummary) -> Self {
        Self {
            loss: s.loss,
            mean_burst: s.mean_burst,
            offset_p99_ms: s.offset_p99.as_secs_f64() * 1e3,
            beats: s.beats,
            predicted_per_day: None,
            fleet_prior: None,
        }
    }
}

/// One sensor probe of one node, as the HTTP API, `/metrics` and `hbnode check` show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProbeView {
    /// Probe name.
    pub(crate) name: String,
    /// `ok`, `warning`, `error` or `unknown` (after hysteresis).
    pub(crate) state: String,
    /// When it entered that state (RFC 3339).
    pub(crate) state_since: String,
    /// Latest value (null if it was NaN).
    pub(crate) value: Option<f64>,
    /// Wall-clock time of the latest reading (RFC 3339).
    pub(crate) last_reading: String,
    /// The warning range in force (Nagios syntax), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) warning: Option<String>,
    /// The error range in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// Where `warning` and `error` come from: `rule` (a monitor `--threshold`) or `plugin`
    /// (the latest reading's perfdata warn/crit); absent when neither gives ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) source: Option<String>,
    /// The latest reading's unit of measure, as the plugin wrote it (`s`, `%`, `MB`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unit: Option<String>,
    /// The latest reading's minimum, in its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) min: Option<f64>,
    /// The latest reading's maximum, in its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max: Option<f64>,
}

/// Where a node in `state` sorts on the status page and in `/v1/nodes?sort=state`: the states
/// that need a person first (`down`), then `unreachable` (held while the monitor seems cut
/// off), then `alive`, then `left`. The match is exhaustive, so a new state cannot be added
/// without deciding where it sorts.
pub(crate) fn state_rank(state: NodeState) -> u8 {
    match state {
        NodeState::Down => 0,
        NodeState::Unreachable => 1,
        NodeState::Alive => 2,
        NodeState::Left => 3,
    }
}

impl NodeView {
    /// Its state as the core's type (`None` only for a name no state has).
    pub(crate) fn node_state(&self) -> Option<NodeState> {
        NodeState::ALL
            .into_iter()
            .find(|s| s.as_str() == self.state)
    }
}

/// Everything the metrics endpoint needs, taken in one Detector turn.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Every node.
    pub(crate) nodes: Vec<NodeView>,
    /// Fresh beats accepted.
    pub(crate) beats_received: u64,
    /// Rejected datagrams by reason (every reason, zeros included).
    pub(crate) rejections: Vec<(&'static str, u64)>,
    /// Nodes by state.
    pub(crate) states: Vec<(&'static str, usize)>,
    /// Acks the core dropped because its queue was full.
    pub(crate) core_acks_dropped: u64,
    /// Readings of probes beyond the per-node limit.
    pub(crate) probes_refused: u64,
    /// Readings refused by reason (every reason, zeros included): not finite.
    pub(crate) readings_refused: Vec<(&'static str, u64)>,
    /// Stalls of the monitor itself detected, and the length of the latest.
    pub(crate) stalls: (u64, Duration),
    /// The registry's capacity (`--max-nodes`).
    pub(crate) max_nodes: usize,
    /// The isolation guard: whether an episode is open (since when, wall-clock RFC 3339),
    /// episodes begun, alive nodes past their quiet mark.
    pub(crate) isolation: IsolationSnapshot,
    /// Every `--zone` by name, and whether it is reported out.
    pub(crate) zones: Vec<(String, bool)>,
    /// Witness mode (`--witness`), if on (the main Detector's).
    pub(crate) witnesses: Option<WitnessSnapshot>,
}

/// Witness mode, as the API shows it (`/v1/summary`'s `witnesses`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct WitnessSnapshot {
    /// Monitors, this one included, that must suspect a node for it to be down.
    pub(crate) needed: usize,
    /// Monitors up: this one and the witnesses it hears.
    pub(crate) up: usize,
    /// Whether fewer than `needed` are up, so this monitor's own verdicts are final.
    pub(crate) fallback: bool,
    /// Nodes held unreachable, waiting for the witnesses' agreement.
    pub(crate) held: usize,
    /// Downs the witnesses agreed to.
    pub(crate) agreed: u64,
    /// Nodes reported `unreachable` (convicted here alone).
    pub(crate) unreachable_reported: u64,
    /// Each witness, in `--witness` order.
    pub(crate) witnesses: Vec<WitnessPeer>,
}

/// One witness as this monitor sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct WitnessPeer {
    /// Its id (its address until first heard).
    pub(crate) id: String,
    /// Its address, as `--witness` resolved it.
    pub(crate) addr: SocketAddr,
    /// Whether it is heard within the detector's bound.
    pub(crate) up: bool,
    /// When its latest message arrived (RFC 3339); `None` before the first.
    pub(crate) last_heard: Option<String>,
    /// Messages accepted from it.
    pub(crate) messages: u64,
}

impl WitnessSnapshot {
    /// Witness mode of `monitor` (`None`: off).
    fn of(monitor: &Monitor, clock: &Clock) -> Option<Self> {
        monitor.config().quorum.as_ref()?;
        let w = monitor.witnesses();
        Some(Self {
            needed: w.needed,
            up: w.up,
            fallback: w.fallback,
            held: w.held,
            agreed: w.agreed,
            unreachable_reported: w.unreachable_reported,
            witnesses: w
                .witnesses
                .iter()
                .map(|p| WitnessPeer {
                    id: p.id.to_string(),
                    addr: p.addr,
                    up: p.up,
                    last_heard: p.heard.then(|| clock.rfc3339(p.last)),
                    messages: p.messages,
                })
                .collect(),
        })
    }
}

/// The isolation guard, as the API shows it (`/v1/summary`'s `isolation`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct IsolationSnapshot {
    /// Whether the monitor thinks it is cut off from its nodes right now.
    pub(crate) isolated: bool,
    /// Since when (RFC 3339), while isolated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) since: Option<String>,
    /// Nodes held unreachable.
    pub(crate) held: usize,
    /// Alive nodes past their quiet mark (1.5 periods before their deadline).
    pub(crate) quiet: usize,
    /// Episodes begun since the monitor started.
    pub(crate) episodes: u64,
}

impl IsolationSnapshot {
    fn merge(&mut self, o: Self) {
        self.isolated |= o.isolated;
        self.since = match (self.since.take(), o.since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.held += o.held;
        self.quiet += o.quiet;
        self.episodes += o.episodes;
    }
}

impl Snapshot {
    /// Adds `other`'s nodes and counters (same reasons and states, in the same order).
    pub(crate) fn merge(&mut self, other: Self) {
        self.nodes.extend(other.nodes);
        self.beats_received += other.beats_received;
        for ((_, n), (_, m)) in self.rejections.iter_mut().zip(other.rejections) {
            *n += m;
        }
        for ((_, n), (_, m)) in self.states.iter_mut().zip(other.states) {
            *n += m;
        }
        self.core_acks_dropped += other.core_acks_dropped;
        self.probes_refused += other.probes_refused;
        for ((_, n), (_, m)) in self.readings_refused.iter_mut().zip(other.readings_refused) {
            *n += m;
        }
        // Each Detector guards its own loop; they share one thread, so a stall shows in all.
        self.stalls = self.stalls.max(other.stalls);
        self.max_nodes += other.max_nodes;
        self.isolation.merge(other.isolation);
        // Only the main Detector runs witness mode.
        if self.witnesses.is_none() {
            self.witnesses = other.witnesses;
        }
        for (name, out) in other.zones {
            match self.zones.iter_mut().find(|(n, _)| *n == name) {
                Some((_, o)) => *o |= out,
                None => self.zones.push((name, out)),
            }
        }
    }
}

/// One Detector's nodes and counters, seen at `clock.now()`.
pub(crate) fn snapshot(monitor: &Monitor, clock: &Clock, legacy: &LegacyState) -> Snapshot {
    let now = clock.now();
    Snapshot {
        nodes: monitor
            .nodes(now)
            .map(|n| node(monitor, clock, legacy, &n))
            .collect(),
        beats_received: monitor.beats_received(),
        rejections: monitor
            .rejections()
            .iter()
            .map(|(r, n)| (r.as_str(), n))
            .collect(),
        states: NodeState::ALL
            .iter()
            .map(|s| (s.as_str(), monitor.count(*s)))
            .collect(),
        core_acks_dropped: monitor.acks_dropped(),
        probes_refused: monitor.probes_refused(),
        readings_refused: monitor
            .readings_refused()
            .iter()
            .map(|(r, n)| (r.as_str(), n))
            .collect(),
        stalls: monitor.stalls(),
        max_nodes: monitor.config().max_nodes,
        zones: monitor
            .zones()
            .map(|(name, out)| (name.to_owned(), out.is_some()))
            .collect(),
        witnesses: WitnessSnapshot::of(monitor, clock),
        isolation: {
            let i = monitor.isolation();
            IsolationSnapshot {
                isolated: i.isolated_since.is_some(),
                since: i.isolated_since.map(|t| clock.rfc3339(t)),
                held: i.held,
                quiet: i.quiet,
                episodes: i.episodes,
            }
        },
    }
}

/// One node as the API shows it.
pub(crate) fn node(
    monitor: &Monitor,
    clock: &Clock,
    legacy: &LegacyState,
    n: &NodeInfo<'_>,
) -> NodeView {
    NodeView {
        id: n.id.to_string(),
        state: n.state.as_str().to_owned(),
        addr: n.addr,
        incarnation: n.incarnation,
        seq: n.seq,
        last_seen: clock.rfc3339(n.last_seen),
        last_seen_unix: unix_secs(clock.wall(n.last_seen)),
        silence_ms: u64::try_from(n.silence.as_millis()).unwrap_or(u64::MAX),
        state_since: clock.rfc3339(n.state_since),
        timeout_ms: n
            .deadline
            .filter(|_| n.state == NodeState::Alive)
            .map(|d| u64::try_from((d - n.last_seen).as_millis()).unwrap_or(u64::MAX)),
        value: n.value.is_finite().then_some(n.value),
        threshold: monitor.config().detector.threshold(),
        period_ms: u64::try_from(n.period.as_millis()).unwrap_or(u64::MAX),
        beats: n.beats,
        lost: n.lost,
        loss: n.loss_ratio(),
        duplicates: n.duplicates,
        reordered: n.reordered,
        labels: legacy.labels(n.id),
        probes: probes(monitor, clock, n.id.as_str()),
        link: monitor
            .link_estimate(n.id.as_str())
            .map(|e| LinkView::of(&e.summary(n.period))),
    }
}

/// One node as `/v1/nodes/{id}` shows it: [`node`] and, for the budget detector, the false
/// alarms the theory predicts at the node's timeout.
pub(crate) fn node_detail(
    monitor: &Monitor,
    clock: &Clock,
    legacy: &LegacyState,
    n: &NodeInfo<'_>,
) -> NodeView {
    let mut v = node(monitor, clock, legacy, n);
    if let Some(view) = monitor.link_view(n.id.as_str()) {
        v.link = Some(LinkView {
            predicted_per_day: Some(view.predicted_per_second * 86_400.0),
            fleet_prior: Some(view.fleet_prior),
            ..LinkView::of(&view.link)
        });
    }
    v
}

/// A node's probes, with the ranges in force for each (a rule's, else the plugin's).
fn probes(monitor: &Monitor, clock: &Clock, node: &str) -> Vec<ProbeView> {
    monitor
        .probes(node)
        .map(|(name, p)| {
            let ranges = monitor.ranges_in_force(node, name, p);
            ProbeView {
                name: name.to_owned(),
                state: p.status.as_str().to_owned(),
                state_since: clock.rfc3339(p.since),
                value: p.value.is_finite().then_some(p.value),
                last_reading: clock.rfc3339(p.last_at),
                warning: ranges.and_then(|r| r.warning).map(|r| r.to_string()),
                error: ranges.and_then(|r| r.error).map(|r| r.to_string()),
                source: ranges.map(|r| r.source.as_str().to_owned()),
                unit: (!p.meta.unit.is_empty()).then(|| p.meta.unit.to_string()),
                min: p.meta.min,
                max: p.meta.max,
            }
        })
        .collect()
}
