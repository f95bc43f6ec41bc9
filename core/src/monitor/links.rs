//! The budget detector's side table: one [`LinkEstimate`] per registry slot, present only when
//! that detector is configured (the other detectors' nodes stay exactly as small as before),
//! and the [`LinkClasses`] of the settled nodes, the prior young nodes plan with. The classes
//! are re-counted by a sweep over the slots, one slot every [`SWEEP_EVERY`] fresh beats: a
//! whole census takes that many beats per node (a minute at 1 s beats), costs O(1) per beat and
//! never stalls the monitor, however many nodes it holds.

use core::time::Duration;

use super::state::Monitor;
use crate::detector::{
    Budget, Census, Detector, DetectorConfig, LinkClasses, LinkEstimate, LinkSummary,
};

/// Fresh beats between two steps of the census sweep (each step visits one slot).
pub(crate) const SWEEP_EVERY: u32 = 64;

/// Link estimates indexed by registry slot; empty unless the detector keeps them.
#[derive(Debug, Default)]
pub(crate) struct Links {
    on: bool,
    slots: Vec<LinkEstimate>,
    /// The classes of the last complete census.
    classes: LinkClasses,
    /// The census being swept, the next slot it visits, and fresh beats since its last step.
    census: Census,
    cursor: u32,
    since_step: u32,
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
            classes: LinkClasses::default(),
            census: Census::default(),
            cursor: 0,
            since_step: 0,
        }
    }

    /// `slot`'s estimate and the classes, for the detector.
    pub(crate) fn side(&mut self, slot: u32) -> Option<(&mut LinkEstimate, &LinkClasses)> {
        let est = self.slots.get_mut(slot as usize)?;
        Some((est, &self.classes))
    }

    /// A new node's estimate (from [`Self::fresh`]) and the classes, for the detector.
    pub(crate) fn with_classes<'a>(
        &'a self,
        est: Option<&'a mut LinkEstimate>,
    ) -> Option<(&'a mut LinkEstimate, &'a LinkClasses)> {
        est.map(|e| (e, &self.classes))
    }

    /// Counts a fresh beat; whether the census sweep takes its next step.
    pub(crate) fn sweep_due(&mut self) -> bool {
        if !self.on {
            return false;
        }
        self.since_step += 1;
        if self.since_step < SWEEP_EVERY {
            return false;
        }
        self.since_step = 0;
        true
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
    /// Whether the node is young and plans with the link classes of the settled nodes
    /// ([`LinkClasses`]) as well as with its own estimate.
    pub fleet_prior: bool,
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
        resolve(&b, &mut n.det, &est, period, &self.links.classes);
        true
    }

    /// One step of the census sweep: counts the node in the next slot (if settled) into the
    /// classes young nodes plan with ([`LinkClasses`]); past the last slot, the census
    /// replaces the classes and a new one begins.
    pub(crate) fn sweep_step(&mut self) {
        let DetectorConfig::Budget(b) = self.cfg.detector else {
            return;
        };
        let slot = self.links.cursor;
        if slot as usize >= self.links.slots.len() {
            let done = core::mem::take(&mut self.links.census);
            self.links.classes = done.finish();
            self.links.cursor = 0;
            return;
        }
        self.links.cursor += 1;
        if let (Some(n), Some(est)) = (self.nodes.get(slot), self.links.slots.get(slot as usize)) {
            let period = n.period().as_secs_f64();
            if period > 0.0 {
                let periods = b.timeout(&n.det, n.period()).as_secs_f64() / period;
                self.links.census.add(est, periods);
            }
        }
    }

    /// The classes of the settled links (empty for another detector or before a node
    /// settles).
    pub fn link_classes(&self) -> &LinkClasses {
        &self.links.classes
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
        let (_, predicted) = b.solve(
            est,
            n.period(),
            timeout.as_micros() as u64,
            &self.links.classes,
        );
        Some(LinkView {
            link: est.summary(n.period()),
            timeout,
            predicted_per_second: predicted,
            fleet_prior: self.links.classes.apply_to(est),
        })
    }
}

/// Re-solves `state`'s timeout from `est` as the detector would on its next due beat.
fn resolve(
    b: &Budget,
    state: &mut crate::detector::DetectorState,
    est: &LinkEstimate,
    p: Duration,
    classes: &LinkClasses,
) {
    let (t, _) = b.solve(est, p, state.mean as u64, classes);
    state.mean = t as f64;
    state.var = p.as_micros() as f64;
    state.samples = est.beats().max(1);
}
