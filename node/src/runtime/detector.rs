//! The Detector actor: owns the `hb_core::Monitor`, feeds it datagrams and time, and keeps
//! exactly one timer, re-armed after every input so it never fires later than
//! `poll_timeout()` (no periodic sweep; see [`Detector::rearm`]).
//!
//! Mailbox policy: Receivers hand over one [`Ingest`] batch at a time with `send().await`, so
//! each Receiver has at most one batch in flight and the kernel socket buffer absorbs bursts
//! (its overflow is the only place beats can drop, and the kernel counts it). Events leave
//! with `try_send` to the Reporter and acks with `try_send` to the Receiver: the Detector never
//! waits on anyone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::time::Duration;

use actix::prelude::*;
use hb_core::detector::Detector as _;
use hb_core::{Monitor, NodeInfo, NodeState, Timestamp, wire};
use hb_sim::trace::Arrival;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::legacy::state::LegacyState;
use crate::legacy::{LegacyIngest, LegacyInput};
use crate::runtime::batch::Batch;
use crate::runtime::clock::{Clock, unix_secs};
use crate::runtime::record::EventRecord;
use crate::runtime::recorder::TraceRecorder;
use crate::runtime::reporter::Report;
use crate::runtime::stats::{REPORTER_SINK, Stats};
use crate::store::writer::{Row, StoreTx};
use crate::store::{NodeRow, unix_ms};

/// Messages the Detector's mailbox holds (one batch per Receiver in flight, plus queries).
pub(crate) const DETECTOR_MAILBOX: usize = 64;

/// A batch of datagrams from a Receiver; acks go back to `reply`. Replies with the emptied
/// batch for reuse.
#[derive(Debug, Message)]
#[rtype(result = "Batch")]
pub(crate) struct Ingest {
    /// The datagrams.
    pub(crate) batch: Batch,
    /// Where the acks for this batch go (the Receiver that read it).
    pub(crate) reply: Recipient<Outgoing>,
}

/// Datagrams to send (acks), stored back to back.
#[derive(Debug, Default, Message)]
#[rtype(result = "()")]
pub(crate) struct Outgoing {
    /// The bytes of every datagram.
    pub(crate) data: Vec<u8>,
    /// Destination and range in `data` of each.
    pub(crate) items: Vec<(SocketAddr, std::ops::Range<usize>)>,
}

/// Asks for a snapshot of every node and counter.
#[derive(Debug, Message)]
#[rtype(result = "Snapshot")]
pub(crate) struct GetSnapshot;

/// Asks for one node.
#[derive(Debug, Message)]
#[rtype(result = "Option<NodeView>")]
pub(crate) struct GetNode(pub(crate) String);

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
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) labels: std::collections::BTreeMap<String, String>,
    /// Sensor probes, by name (see `--threshold`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) probes: Vec<ProbeView>,
}

/// One sensor probe of one node, as the HTTP API, `/metrics` and `hbnode check` show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Stalls of the monitor itself detected, and the length of the latest.
    pub(crate) stalls: (u64, Duration),
    /// The registry's capacity (`--max-nodes`).
    pub(crate) max_nodes: usize,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Detector {
    monitor: Monitor,
    clock: Clock,
    reporter: Recipient<Report>,
    stats: Arc<Stats>,
    timer: Option<(Timestamp, SpawnHandle)>,
    next_event_id: u64,
    buf: Vec<u8>,
    recorder: Option<TraceRecorder>,
    stalls_logged: u64,
    legacy: LegacyState,
    /// Event numbers shared with the other Detectors of this process (per-listener detector
    /// settings), so `event_id` stays unique and increasing.
    event_ids: Option<Arc<AtomicU64>>,
    /// The other Detectors, whose nodes and counters snapshots and lookups merge in.
    siblings: Vec<Addr<Self>>,
    /// The store's queue, and this Detector's number in it (0 main, i the i-th `--listener`
    /// detector group).
    store: Option<(StoreTx, u32)>,
    /// Where the next registry snapshot chunk starts.
    snapshot_cursor: usize,
    /// The core's `samples_dropped` already added to the shared counter.
    samples_dropped: u64,
}

/// How often a chunk of the registry is written to the store (seq and last_seen; state
/// changes are written at once, with their event).
pub(crate) const SNAPSHOT_EVERY: Duration = Duration::from_secs(5);
/// Most nodes per snapshot chunk: a registry of N nodes is refreshed every
/// `max(1, N / SNAPSHOT_CHUNK) × SNAPSHOT_EVERY`.
const SNAPSHOT_CHUNK: usize = 10_000;

impl Detector {
    /// A detector around `monitor`, reading time from `clock`.
    pub(crate) fn new(
        monitor: Monitor,
        clock: Clock,
        reporter: Recipient<Report>,
        stats: Arc<Stats>,
    ) -> Self {
        let monitor_max_nodes = monitor.config().max_nodes;
        Self {
            monitor,
            clock,
            reporter,
            stats,
            timer: None,
            next_event_id: 1,
            buf: vec![0; wire::MAX_DATAGRAM],
            recorder: None,
            stalls_logged: 0,
            legacy: LegacyState::new(monitor_max_nodes),
            event_ids: None,
            siblings: Vec::new(),
            store: None,
            snapshot_cursor: 0,
            samples_dropped: 0,
        }
    }

    /// Writes events, readings and the registry to the store, as Detector number `index`.
    pub(crate) fn with_store(mut self, store: Option<StoreTx>, index: u32) -> Self {
        self.store = store.map(|s| (s, index));
        self
    }

    /// A node's registry row.
    fn node_row(&self, n: &NodeInfo<'_>, index: u32) -> NodeRow {
        NodeRow {
            id: n.id.to_string(),
            detector: index,
            addr: n.addr,
            incarnation: n.incarnation,
            seq: n.seq,
            state: n.state,
            state_since_ms: unix_ms(self.clock.wall(n.state_since)),
            last_seen_ms: unix_ms(self.clock.wall(n.last_seen)),
            period_ms: u64::try_from(n.period.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Hands the readings of the beats just accepted to the store (or discards them).
    fn drain_samples(&mut self) {
        while let Some(s) = self.monitor.poll_sample() {
            if let Some((store, _)) = &self.store {
                store.offer(Row::Reading {
                    at_ms: unix_ms(self.clock.wall(s.at)),
                    sample: s,
                });
            }
        }
        let dropped = self.monitor.samples_dropped();
        if dropped > self.samples_dropped {
            self.stats.samples_dropped.fetch_add(
                dropped - self.samples_dropped,
                std::sync::atomic::Ordering::Relaxed,
            );
            self.samples_dropped = dropped;
        }
    }

    /// Writes the next chunk of the registry (seq and last_seen move with every beat).
    fn snapshot(&mut self) {
        let Some(index) = self.store.as_ref().map(|(_, i)| *i) else {
            return;
        };
        if self.snapshot_cursor >= self.monitor.len() {
            self.snapshot_cursor = 0;
        }
        let now = self.clock.now();
        let rows: Vec<NodeRow> = self
            .monitor
            .nodes(now)
            .skip(self.snapshot_cursor)
            .take(SNAPSHOT_CHUNK)
            .map(|n| self.node_row(&n, index))
            .collect();
        self.snapshot_cursor += rows.len();
        if let (Some((store, _)), false) = (&self.store, rows.is_empty()) {
            store.offer(Row::Nodes(rows));
        }
    }

    /// Also records every beat's arrival (`--record`).
    pub(crate) fn with_recorder(mut self, recorder: Option<TraceRecorder>) -> Self {
        self.recorder = recorder;
        self
    }

    /// Numbers events from a counter shared with other Detectors.
    pub(crate) fn with_event_ids(mut self, ids: Option<Arc<AtomicU64>>) -> Self {
        self.event_ids = ids;
        self
    }

    /// Merges these Detectors' nodes and counters into snapshots and lookups.
    pub(crate) fn with_siblings(mut self, siblings: Vec<Addr<Self>>) -> Self {
        self.siblings = siblings;
        self
    }

    /// The next event number.
    fn next_id(&mut self) -> u64 {
        match &self.event_ids {
            Some(ids) => ids.fetch_add(1, AtomicOrdering::Relaxed) + 1,
            None => {
                let id = self.next_event_id;
                self.next_event_id += 1;
                id
            }
        }
    }

    /// Offers one datagram's arrival to the recorder, if it is a beat that authenticates.
    fn record(&self, at: Timestamp, bytes: &[u8]) {
        let Some(r) = &self.recorder else { return };
        let keys = &self.monitor.config().keyring;
        if let Ok(wire::Datagram {
            message: wire::Message::Beat(b),
            ..
        }) = wire::decode(bytes, keys)
            && let Ok(node) = hb_core::NodeId::new(b.node)
        {
            r.offer(Arrival {
                node,
                at,
                seq: b.seq,
                incarnation: b.incarnation,
                period_ms: b.period_ms,
            });
        }
    }

    /// Logs each stall of the monitor itself (stopped process, starved loop) once, as the
    /// core's local-pause guard detects it.
    fn log_stalls(&mut self) {
        let (count, last) = self.monitor.stalls();
        if count > self.stalls_logged {
            self.stalls_logged = count;
            tracing::warn!(
                stall = %humantime::format_duration(Duration::from_millis(
                    u64::try_from(last.as_millis()).unwrap_or(u64::MAX)
                )),
                stalls = count,
                "the monitor itself was stalled past a deadline (stopped, swapped or starved); \
                 silence during the stall was not observed, so alive nodes were re-armed from \
                 now instead of being declared down"
            );
        }
    }

    /// Drains events to the Reporter.
    fn drain_events(&mut self) {
        self.log_stalls();
        let name = self.monitor.config().detector.name();
        let mut out = Vec::new();
        while let Some(ev) = self.monitor.poll_event() {
            let id = self.next_id();
            let mut r = EventRecord::new(&ev, id, name, &self.clock);
            r.pid = self.legacy.pid(&ev.node);
            if let Some((store, index)) = &self.store {
                store.offer(Row::Event {
                    at_ms: unix_ms(self.clock.wall(ev.at)),
                    record: Box::new(r.clone()),
                });
                let row = match self.monitor.node(ev.node.as_str(), ev.at) {
                    Some(n) => Row::Node(self.node_row(&n, *index)),
                    None => Row::Forget(r.node.clone()),
                };
                store.offer(row);
            }
            if ev.kind == hb_core::EventKind::Forgotten {
                self.legacy.forget(&ev.node);
            }
            out.push(r);
        }
        if !out.is_empty() && self.reporter.try_send(Report(out)).is_err() {
            self.stats.sink_dropped(REPORTER_SINK);
        }
    }

    /// Drains acks to `reply`.
    fn drain_transmits(&mut self, reply: &Recipient<Outgoing>) {
        let mut out = Outgoing::default();
        while let Some(t) = self.monitor.poll_transmit(&mut self.buf) {
            let start = out.data.len();
            out.data.extend_from_slice(&self.buf[..t.len]);
            out.items.push((t.to, start..out.data.len()));
        }
        if out.items.is_empty() {
            return;
        }
        let n = out.items.len() as u64;
        if reply.try_send(out).is_err() {
            self.stats
                .acks_dropped
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Keeps exactly one timer, never later than `poll_timeout()`.
    ///
    /// A beat usually moves the earliest deadline *later* (the node that was due beat again).
    /// Re-creating the timer on every beat would cost a timer-wheel removal and insertion per
    /// datagram, so a timer that is now early is kept: it fires, `handle_timeout` finds nothing
    /// due, and the timer is re-armed to the then-earliest deadline. A deadline earlier than the
    /// armed timer always re-arms it, so no node is ever reported late.
    fn rearm(&mut self, ctx: &mut Context<Self>) {
        let next = self.monitor.poll_timeout();
        if let Some((at, handle)) = self.timer {
            if next.is_none_or(|n| n >= at) {
                return;
            }
            ctx.cancel_future(handle);
            self.timer = None;
        }
        if let Some(at) = next {
            let delay = self
                .clock
                .instant(at)
                .saturating_duration_since(Instant::now());
            let handle = ctx.run_later(delay, |act, ctx| {
                act.timer = None;
                act.monitor.handle_timeout(act.clock.now());
                act.drain_events();
                act.rearm(ctx);
            });
            self.timer = Some((at, handle));
        }
    }

    fn view(&self, n: &NodeInfo<'_>) -> NodeView {
        NodeView {
            id: n.id.to_string(),
            state: n.state.as_str().to_owned(),
            addr: n.addr,
            incarnation: n.incarnation,
            seq: n.seq,
            last_seen: self.clock.rfc3339(n.last_seen),
            last_seen_unix: unix_secs(self.clock.wall(n.last_seen)),
            silence_ms: u64::try_from(n.silence.as_millis()).unwrap_or(u64::MAX),
            state_since: self.clock.rfc3339(n.state_since),
            value: n.value.is_finite().then_some(n.value),
            threshold: self.monitor.config().detector.threshold(),
            period_ms: u64::try_from(n.period.as_millis()).unwrap_or(u64::MAX),
            beats: n.beats,
            lost: n.lost,
            loss: n.loss_ratio(),
            duplicates: n.duplicates,
            reordered: n.reordered,
            labels: self.legacy.labels(n.id),
            probes: self.probe_views(n.id.as_str()),
        }
    }

    fn probe_views(&self, node: &str) -> Vec<ProbeView> {
        let probes = &self.monitor.config().probes;
        self.monitor
            .probes(node)
            .map(|(name, p)| {
                let rule = probes.rule(node, name);
                ProbeView {
                    name: name.to_owned(),
                    state: p.status.as_str().to_owned(),
                    state_since: self.clock.rfc3339(p.since),
                    value: p.value.is_finite().then_some(p.value),
                    last_reading: self.clock.rfc3339(p.last_at),
                    warning: rule.and_then(|r| r.warning).map(|r| r.to_string()),
                    error: rule.and_then(|r| r.error).map(|r| r.to_string()),
                }
            })
            .collect()
    }
}

impl Actor for Detector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(DETECTOR_MAILBOX);
        if self.store.is_some() {
            ctx.run_interval(SNAPSHOT_EVERY, |act, _| act.snapshot());
        }
        self.rearm(ctx);
    }
}

impl Handler<Ingest> for Detector {
    type Result = MessageResult<Ingest>;

    fn handle(&mut self, msg: Ingest, ctx: &mut Self::Context) -> Self::Result {
        let Ingest { mut batch, reply } = msg;
        for (at, from, bytes) in batch.iter() {
            self.record(at, bytes);
            self.monitor.handle_datagram(at, from, bytes);
        }
        self.drain_events();
        self.drain_samples();
        self.drain_transmits(&reply);
        self.rearm(ctx);
        batch.clear();
        MessageResult(batch)
    }
}

impl Detector {
    /// This Detector's own snapshot.
    fn own_snapshot(&self) -> Snapshot {
        let now = self.clock.now();
        let nodes = self.monitor.nodes(now).map(|n| self.view(&n)).collect();
        Snapshot {
            nodes,
            beats_received: self.monitor.beats_received(),
            rejections: self
                .monitor
                .rejections()
                .iter()
                .map(|(r, n)| (r.as_str(), n))
                .collect(),
            states: NodeState::ALL
                .iter()
                .map(|s| (s.as_str(), self.monitor.count(*s)))
                .collect(),
            core_acks_dropped: self.monitor.acks_dropped(),
            probes_refused: self.monitor.probes_refused(),
            stalls: self.monitor.stalls(),
            max_nodes: self.monitor.config().max_nodes,
        }
    }
}

impl Snapshot {
    /// Adds `other`'s nodes and counters (same reasons and states, in the same order).
    fn merge(&mut self, other: Self) {
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
        // Each Detector guards its own loop; they share one thread, so a stall shows in all.
        self.stalls = self.stalls.max(other.stalls);
        self.max_nodes += other.max_nodes;
    }
}

/// Asks a Detector for its own snapshot only (siblings answer this).
#[derive(Debug, Message)]
#[rtype(result = "Snapshot")]
struct GetOwnSnapshot;

impl Handler<GetOwnSnapshot> for Detector {
    type Result = MessageResult<GetOwnSnapshot>;

    fn handle(&mut self, _: GetOwnSnapshot, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.own_snapshot())
    }
}

/// Asks a Detector for one node, without asking its siblings.
#[derive(Debug, Message)]
#[rtype(result = "Option<NodeView>")]
struct GetOwnNode(String);

impl Handler<GetOwnNode> for Detector {
    type Result = Option<NodeView>;

    fn handle(&mut self, GetOwnNode(id): GetOwnNode, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        self.monitor.node(&id, now).map(|n| self.view(&n))
    }
}

impl Handler<GetSnapshot> for Detector {
    type Result = ResponseFuture<Snapshot>;

    fn handle(&mut self, _: GetSnapshot, _: &mut Self::Context) -> Self::Result {
        let mut snap = self.own_snapshot();
        let siblings = self.siblings.clone();
        Box::pin(async move {
            for s in siblings {
                if let Ok(other) = s.send(GetOwnSnapshot).await {
                    snap.merge(other);
                }
            }
            snap
        })
    }
}

impl Handler<GetNode> for Detector {
    type Result = ResponseFuture<Option<NodeView>>;

    fn handle(&mut self, GetNode(id): GetNode, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        let own = self.monitor.node(&id, now).map(|n| self.view(&n));
        let siblings = self.siblings.clone();
        Box::pin(async move {
            if own.is_some() {
                return own;
            }
            for s in siblings {
                if let Ok(Some(v)) = s.send(GetOwnNode(id.clone())).await {
                    return Some(v);
                }
            }
            None
        })
    }
}

impl Handler<LegacyIngest> for Detector {
    type Result = ();

    /// Feeds legacy beats with a synthesised identity (see [`LegacyState`]), counts refused
    /// input, and takes closed TCP connections' nodes down.
    fn handle(&mut self, LegacyIngest(items): LegacyIngest, ctx: &mut Self::Context) {
        let group = self.monitor.config().group;
        for item in items {
            match item {
                LegacyInput::Beat {
                    at,
                    from,
                    beat,
                    conn,
                } => {
                    let wall_us = self.clock.unix_offset_us().saturating_add(at.as_micros());
                    let (incarnation, seq) =
                        self.legacy
                            .identity(&self.monitor, at, wall_us, &beat, conn);
                    let b = wire::Beat {
                        node: beat.node.as_str(),
                        incarnation,
                        seq,
                        period_ms: 0,
                        flags: wire::BeatFlags::default(),
                        sent_at_us: 0,
                        group,
                        schedule_version: 0,
                        readings: wire::Readings::default(),
                    };
                    self.monitor.handle_beat(at, from, &b);
                }
                LegacyInput::Rejected => self
                    .monitor
                    .handle_rejection(hb_core::Rejection::BadLegacyFormat),
                LegacyInput::Closed { at, conn, nodes } => {
                    for node in &nodes {
                        if self.legacy.take_connection(node, conn) {
                            self.monitor.handle_disconnect(at, node.as_str());
                        }
                    }
                }
            }
        }
        self.drain_events();
        self.rearm(ctx);
    }
}
