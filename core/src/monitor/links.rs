//! The budget detector's side table: one [`LinkEstimate`] per registry slot, present only when
//! that detector is configured (the other detectors' nodes stay exactly as small as before).

use core::time::Duration;

use super::state::Monitor;
use crate::detector::{Budget, Detector, DetectorConfig, LinkEstimate, LinkSummary};

/// Link estimates indexed by registry slot; empty unless the detector keeps them.
#[derive(Debug, Default)]
pub(crate) struct Links {
    on: bool,
    slots: Vec<LinkEstimate>,
}

impl Links {
    pub(crate) fn new(detector: &DetectorConfig, capacity: usize) -> Self {
        let on = detector.keeps_link_estimates();
        Self {
            on,
            slots: if on {
                Vec::with_capacity(capacity)
            } else {
                Vec::new()
            },
        }
    }

    /// A fresh estimate to fill for a node about to be inserted, if estimates are kept.
    pub(crate) fn fresh(&self) -> Option<LinkEstimate> {
        self.on.then(LinkEstimate::default)
    }

    /// Stores `est` as the estimate of `slot` (a no-op when `est` is `None`).
    pub(crate) fn put(&mut self, slot: u32, est: Option<LinkEstimate>) {
        let Some(est) = est else { return };
        let i = slot as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, LinkEstimate::default());
        }
        self.slots[i] = est;
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&LinkEstimate> {
        self.slots.get(slot as usize)
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut LinkEstimate> {
        self.slots.get_mut(slot as usize)
    }

    /// Heap bytes held.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<LinkEstimate>()
    }
}

/// What the budget detector estimates for one node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkView {
    /// Loss, burst length, offset p99.
    pub link: LinkSummary,
    /// The node's current timeout.
    pub timeout: Duration,
    /// The false-alarm rate the theory predicts at that timeout on the estimated link, per
    /// second.
    pub predicted_per_second: f64,
}

impl Monitor {
    /// The budget detector's link estimate of node `id` (`None` for another detector or an
    /// unknown node): a plain value to store and give back to
    /// [`Self::restore_link_estimate`] after a restart.
    pub fn link_estimate(&self, id: &str) -> Option<&LinkEstimate> {
        self.links.get(self.nodes.find(id)?)
    }

    /// Replaces node `id`'s link estimate with a stored one (after [`Self::restore`]) and
    /// re-solves its timeout from it; returns whether the node exists and the budget detector
    /// is configured. The node's current deadline is kept until its next beat.
    pub fn restore_link_estimate(&mut self, id: &str, est: LinkEstimate) -> bool {
        let DetectorConfig::Budget(b) = self.cfg.detector else {
            return false;
        };
        let Some(slot) = self.nodes.find(id) else {
            return false;
        };
        self.links.put(slot, Some(est));
        let n = self.nodes.get_mut(slot);
        let period = n.period();
        resolve(&b, &mut n.det, &est, period);
        true
    }

    /// The budget detector's estimate of node `id`'s link, its timeout and predicted rate.
    pub fn link_view(&self, id: &str) -> Option<LinkView> {
        let DetectorConfig::Budget(b) = self.cfg.detector else {
            return None;
        };
        let slot = self.nodes.find(id)?;
        let est = self.links.get(slot)?;
        let n = self.nodes.get(slot)?;
        let timeout = b.timeout(&n.det, n.period());
        let (_, predicted) = b.solve(est, n.period(), timeout.as_micros() as u64);
        Some(LinkView {
            link: est.summary(n.period()),
            timeout,
            predicted_per_second: predicted,
        })
    }
}

/// Re-solves `state`'s timeout from `est` as the detector would on its next due beat.
fn resolve(
    b: &Budget,
    state: &mut crate::detector::DetectorState,
    est: &LinkEstimate,
    p: Duration,
) {
    let (t, _) = b.solve(est, p, state.mean as u64);
    state.mean = t as f64;
    state.var = p.as_micros() as f64;
    state.samples = est.beats().max(1);
}
