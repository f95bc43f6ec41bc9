//! A Detector's rows for the store: each event with the node's registry row after it (with the
//! budget detector's link estimate of the node, if any; and a
//! probe event with the probe's state), the
//! readings of accepted beats, and the registry in chunks (seq and last-seen move with every
//! beat, so they are refreshed every [`SNAPSHOT_EVERY`] rather than per beat). Everything is
//! offered with `try_send` ([`StoreTx::offer`]): the Detector never waits on disk.

use std::sync::Arc;
use std::time::Duration;

use hb_core::probe::Sample;
use hb_core::{Event, EventKind, Monitor, NodeInfo};

use super::writer::{Row, StoreTx};
use super::{NodeRow, ProbeRow, unix_ms};
use crate::runtime::clock::Clock;
use crate::runtime::record::EventRecord;

/// How often a chunk of the registry is written to the store (state changes are written at
/// once, with their event).
pub(crate) const SNAPSHOT_EVERY: Duration = Duration::from_secs(5);

/// Most nodes per snapshot chunk: a registry of N nodes is refreshed every
/// `max(1, N / SNAPSHOT_CHUNK) × SNAPSHOT_EVERY`.
const SNAPSHOT_CHUNK: usize = 10_000;

/// One Detector's feed into the store.
#[derive(Debug)]
pub(crate) struct StoreFeed {
    tx: StoreTx,
    /// The Detector's number in the store (0 main, i the i-th `--listener` detector group).
    detector: u32,
    /// Where the next registry snapshot chunk starts.
    cursor: usize,
}

impl StoreFeed {
    /// A feed into `tx` for Detector number `detector`.
    pub(crate) fn new(tx: StoreTx, detector: u32) -> Self {
        Self {
            tx,
            detector,
            cursor: 0,
        }
    }

    /// An event, and the node's registry row as the event left it (or its removal).
    pub(crate) fn event(
        &self,
        monitor: &Monitor,
        clock: &Clock,
        ev: &Event,
        record: &Arc<EventRecord>,
    ) {
        self.tx.offer(Row::Event {
            at_ms: unix_ms(clock.wall(ev.at)),
            record: Arc::clone(record),
        });
        if ev.kind.is_monitor_level() {
            // About the monitor (its id may also be a node's: leave that row alone); the nodes
            // it held or released reach the store with the next registry snapshot.
            return;
        }
        self.tx.offer(match monitor.node(ev.node.as_str(), ev.at) {
            Some(n) => Row::Node(self.row(monitor, clock, &n)),
            None => Row::Forget(record.node.clone()),
        });
        if let EventKind::Probe { probe, .. } = &ev.kind
            && let Some((_, s)) = monitor
                .probes(ev.node.as_str())
                .find(|(p, _)| *p == probe.as_str())
        {
            self.tx.offer(Row::Probe(ProbeRow {
                node: record.node.clone(),
                probe: probe.to_string(),
                status: s.status,
                since_ms: unix_ms(clock.wall(s.since)),
                value: s.value.is_finite().then_some(s.value),
            }));
        }
    }

    /// One reading of an accepted beat.
    pub(crate) fn reading(&self, clock: &Clock, sample: Sample) {
        self.tx.offer(Row::Reading {
            at_ms: unix_ms(clock.wall(sample.at)),
            sample,
        });
    }

    /// Writes the next chunk of the registry.
    pub(crate) fn snapshot(&mut self, monitor: &Monitor, clock: &Clock) {
        if self.cursor >= monitor.len() {
            self.cursor = 0;
        }
        let rows: Vec<NodeRow> = monitor
            .nodes(clock.now())
            .skip(self.cursor)
            .take(SNAPSHOT_CHUNK)
            .map(|n| self.row(monitor, clock, &n))
            .collect();
        self.cursor += rows.len();
        if !rows.is_empty() {
            self.tx.offer(Row::Nodes(rows));
        }
    }

    /// Writes the whole registry, in chunks of at most `SNAPSHOT_CHUNK` rows: at shutdown, so
    /// the stored seq and last-seen of every node are those of its last beat. Returns how many
    /// rows were offered.
    pub(crate) fn snapshot_all(&mut self, monitor: &Monitor, clock: &Clock) -> usize {
        let mut offered = 0;
        let mut rows = Vec::with_capacity(SNAPSHOT_CHUNK.min(monitor.len()));
        for n in monitor.nodes(clock.now()) {
            rows.push(self.row(monitor, clock, &n));
            if rows.len() == SNAPSHOT_CHUNK {
                offered += rows.len();
                self.tx.offer(Row::Nodes(std::mem::take(&mut rows)));
            }
        }
        offered += rows.len();
        if !rows.is_empty() {
            self.tx.offer(Row::Nodes(rows));
        }
        self.cursor = 0;
        offered
    }

    /// A node's registry row, with the budget detector's link estimate when it keeps one.
    fn row(&self, monitor: &Monitor, clock: &Clock, n: &NodeInfo<'_>) -> NodeRow {
        NodeRow {
            id: n.id.to_string(),
            detector: self.detector,
            addr: n.addr,
            incarnation: n.incarnation,
            seq: n.seq,
            state: n.state,
            state_since_ms: unix_ms(clock.wall(n.state_since)),
            last_seen_ms: unix_ms(clock.wall(n.last_seen)),
            period_ms: u64::try_from(n.period.as_millis()).unwrap_or(u64::MAX),
            link: monitor.link_estimate(n.id.as_str()).copied().map(Box::new),
        }
    }
}
