//! Restoring a registry that a previous run of the monitor left (hb-node's `--db`), so a node
//! that died while the monitor was down is still caught.

use core::net::SocketAddr;
use core::time::Duration;

use super::liveness::{deadline_after, first_arrival};
use super::registry::{Node, NodeState, Quiet};
use super::state::Monitor;
use compact_str::CompactString;

use super::probes::MAX_PROBES_PER_NODE;
use crate::id::NodeId;
use crate::probe::{ProbeState, ProbeStatus};
use crate::time::Timestamp;

/// One node as a previous run of the monitor last saw it, for [`Monitor::restore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoredNode {
    /// The node's id.
    pub id: NodeId,
    /// Its last known address.
    pub addr: SocketAddr,
    /// Its incarnation then.
    pub incarnation: u64,
    /// The highest sequence number seen in that incarnation.
    pub seq: u64,
    /// Its state then.
    pub state: NodeState,
    /// Its advertised beat period (zero: the monitor's default).
    pub period: Duration,
    /// Receive time of its latest fresh beat, in this monitor's time base (the caller converts
    /// the stored wall-clock time; the core reads no clock). Later than `now` counts as `now`.
    pub last_seen: Timestamp,
    /// When it entered `state`, in this monitor's time base. Later than `now` counts as `now`.
    pub state_since: Timestamp,
}

/// One probe's state as a previous run of the monitor last saw it, for
/// [`Monitor::restore_probes`].
#[derive(Clone, Debug, PartialEq)]
pub struct RestoredProbe {
    /// The node's id (a node not in the registry is skipped).
    pub node: NodeId,
    /// The probe's name.
    pub probe: CompactString,
    /// Its state then (after hysteresis).
    pub status: ProbeStatus,
    /// When it entered that state, in this monitor's time base. Later than `now` counts as
    /// `now`.
    pub since: Timestamp,
    /// Its latest reading (NaN: none).
    pub value: f64,
}

/// What [`Monitor::restore`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Nodes added to the registry.
    pub restored: usize,
    /// Nodes skipped: their id is already known, or the registry is full.
    pub skipped: usize,
}

impl Monitor {
    /// Adds nodes a previous run knew, at `now` (a mutator, normally called once at start,
    /// before any datagram). No event is produced.
    ///
    /// - An **alive** node is treated as if its last beat had arrived at `now`: fresh detector
    ///   state and a deadline one detector bound after `now`. Silent, it is reported `down`
    ///   then (with its silence counted from `now`), so a node that died while the monitor
    ///   was down is still caught; beating, it carries on with no event. It keeps its
    ///   `state_since`.
    /// - A **down** or **left** node keeps its state, `last_seen` and `state_since` (so "down
    ///   since" stays true across restarts) and is not announced again. It is forgotten
    ///   `forget_after` after its true `state_since`, as if the monitor had never stopped; one
    ///   already overdue is forgotten just after `now` (its `state_since` then reads
    ///   `now + 1 µs - forget_after`).
    /// - Incarnation and sequence number are kept, and every sequence number up to `seq` counts
    ///   as seen, so a replayed capture of older beats is refused as after any beat.
    ///
    /// Ids already in the registry and nodes beyond `max_nodes` are skipped and counted.
    /// Afterwards drain nothing, but re-read [`Self::poll_timeout`].
    pub fn restore(
        &mut self,
        nodes: impl IntoIterator<Item = RestoredNode>,
        now: Timestamp,
    ) -> Restored {
        let now = self.advance(now);
        let mut out = Restored::default();
        for r in nodes {
            if self.nodes.len() >= self.cfg.max_nodes || self.nodes.find(r.id.as_str()).is_some() {
                out.skipped += 1;
                continue;
            }
            let period_us = if r.period.is_zero() {
                self.period_us(0)
            } else {
                u32::try_from(r.period.as_micros()).unwrap_or(u32::MAX)
            };
            let period = Duration::from_micros(u64::from(period_us));
            let mut link = self.links.fresh();
            let det = first_arrival(
                &self.cfg.detector,
                now,
                period,
                self.links.with_classes(link.as_mut()),
            );
            let state_since = r.state_since.min(now);
            // A node held unreachable by the previous run is judged afresh, as alive.
            let state = match r.state {
                NodeState::Unreachable => NodeState::Alive,
                s => s,
            };
            let (last, since) = match state {
                NodeState::Alive | NodeState::Unreachable => (now, state_since),
                NodeState::Down | NodeState::Left => {
                    // Forgotten after `now` at the earliest (`poll_timeout` is never in the past).
                    let due_from = self
                        .cfg
                        .forget_after
                        .map_or(Timestamp::ZERO, |f| now + Duration::from_micros(1) - f);
                    (r.last_seen.min(now), state_since.max(due_from))
                }
            };
            let zone = self.zone_for(r.id.as_str());
            let slot = self.nodes.insert(Node {
                id: r.id,
                addr: r.addr,
                incarnation: r.incarnation,
                seq: r.seq,
                // Everything up to `seq` counts as seen: replays are duplicates.
                window: u64::MAX,
                last,
                since,
                scheduled: Timestamp::MAX,
                deadline: deadline_after(&self.cfg.detector, &det, now, period),
                det,
                beats: 0,
                lost: 0,
                duplicates: 0,
                reordered: 0,
                period_us,
                generation: 0,
                state,
                quiet: Quiet::No,
                zone,
                occupied: true,
            });
            self.links.put(slot, link);
            self.counts[state as usize] += 1;
            self.zone_join(zone, state);
            self.arm(slot);
            out.restored += 1;
        }
        self.finish();
        out
    }

    /// Adds probe states a previous run knew (a mutator, called after [`Self::restore`],
    /// before any datagram). No event is produced: a probe restored in warning or error is
    /// not announced again, and the next readings carry on from its state (with hysteresis).
    ///
    /// Probes of nodes not in the registry, probes already tracked and probes beyond
    /// [`MAX_PROBES_PER_NODE`] for their node are skipped and counted.
    pub fn restore_probes(
        &mut self,
        probes: impl IntoIterator<Item = RestoredProbe>,
        now: Timestamp,
    ) -> Restored {
        let now = self.advance(now);
        let mut out = Restored::default();
        for p in probes {
            let key = (p.node, p.probe);
            if self.nodes.find(key.0.as_str()).is_none()
                || self.probes.contains_key(&key)
                || self.probes(key.0.as_str()).count() >= MAX_PROBES_PER_NODE
            {
                out.skipped += 1;
                continue;
            }
            let state = ProbeState::restored(p.status, p.since.min(now), p.value);
            self.probes.insert(key, state);
            out.restored += 1;
        }
        out
    }
}
