//! A snapshot of one node ([`NodeInfo`]) for status pages and metrics, and the getters
//! that build them.

use core::net::SocketAddr;
use core::time::Duration;

use super::registry::{Node, NodeState};
use super::state::Monitor;
use crate::detector::Detector;
use crate::id::NodeId;
use crate::time::Timestamp;

/// A snapshot of one node, for status pages and metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo<'a> {
    /// The node's id.
    pub id: &'a NodeId,
    /// Its last known address.
    pub addr: SocketAddr,
    /// Its state.
    pub state: NodeState,
    /// When it entered that state.
    pub state_since: Timestamp,
    /// Its current incarnation.
    pub incarnation: u64,
    /// Highest sequence number seen in this incarnation.
    pub seq: u64,
    /// Receive time of its latest fresh beat.
    pub last_seen: Timestamp,
    /// Silence since then, at the snapshot's `now`.
    pub silence: Duration,
    /// The detector's value at `now`.
    pub value: f64,
    /// When it will be declared down if silent (alive nodes only).
    pub deadline: Option<Timestamp>,
    /// Its advertised (or assumed) beat period.
    pub period: Duration,
    /// Fresh beats received (this incarnation and before).
    pub beats: u64,
    /// Beats missing from the sequence (gaps not filled by late arrivals).
    pub lost: u32,
    /// Duplicate beats refused.
    pub duplicates: u32,
    /// Beats that arrived after a later one.
    pub reordered: u32,
    /// Its zone, if a zone rule gave it one.
    pub zone: Option<&'a str>,
}

impl NodeInfo<'_> {
    /// Estimated beat loss, 0.0–1.0.
    pub fn loss_ratio(&self) -> f64 {
        let lost = f64::from(self.lost);
        let total = self.beats as f64 + lost;
        if total == 0.0 { 0.0 } else { lost / total }
    }
}

impl Monitor {
    /// One node, as of `now`.
    pub fn node(&self, id: &str, now: Timestamp) -> Option<NodeInfo<'_>> {
        let slot = self.nodes.find(id)?;
        self.nodes.get(slot).map(|n| self.info(n, now))
    }

    /// Every node as of `now`, in a deterministic order (registration order, slots reused).
    pub fn nodes(&self, now: Timestamp) -> impl Iterator<Item = NodeInfo<'_>> {
        self.nodes.iter().map(move |(_, n)| self.info(n, now))
    }

    fn info<'a>(&'a self, n: &'a Node, now: Timestamp) -> NodeInfo<'a> {
        let period = n.period();
        let alive = n.state == NodeState::Alive;
        NodeInfo {
            id: &n.id,
            addr: n.addr,
            state: n.state,
            state_since: n.since,
            incarnation: n.incarnation,
            seq: n.seq,
            last_seen: n.last,
            silence: now - n.last,
            value: self.cfg.detector.value(&n.det, n.last, period, now),
            deadline: alive.then(|| self.deadline_of(n)),
            period,
            beats: n.beats,
            lost: n.lost,
            duplicates: n.duplicates,
            reordered: n.reordered,
            zone: self.zone_name(n.zone),
        }
    }
}
