//! Restoring a registry that a previous run of the monitor left (hb-node's `--db`), so a node
//! that died while the monitor was down is still caught.

use core::net::SocketAddr;
use core::time::Duration;

use super::liveness::{deadline_after, first_arrival};
use super::registry::{Node, NodeState};
use super::state::Monitor;
use crate::id::NodeId;
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
    ///   was down is still caught; beating, it carries on with no event.
    /// - A **down** or **left** node keeps its state and is not announced again; its
    ///   `forget_after` clock starts at `now`.
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
            let det = first_arrival(&self.cfg.detector, now, period);
            let slot = self.nodes.insert(Node {
                id: r.id,
                addr: r.addr,
                incarnation: r.incarnation,
                seq: r.seq,
                // Everything up to `seq` counts as seen: replays are duplicates.
                window: u64::MAX,
                last: now,
                since: now,
                scheduled: Timestamp::MAX,
                deadline: deadline_after(&self.cfg.detector, &det, now, period),
                det,
                beats: 0,
                lost: 0,
                duplicates: 0,
                reordered: 0,
                period_us,
                generation: 0,
                state: r.state,
                occupied: true,
            });
            self.counts[r.state as usize] += 1;
            self.arm(slot);
            out.restored += 1;
        }
        self.settle();
        out
    }
}
