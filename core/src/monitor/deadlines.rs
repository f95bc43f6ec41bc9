//! The monitor's timer: a min-heap of per-node deadlines with lazy invalidation.
//!
//! Each node has at most one *live* entry, the one whose time equals the node's `scheduled`
//! field and whose generation matches the node's slot. A beat that only pushes a node's
//! deadline later changes nothing here; the entry is corrected when it reaches the top (see
//! `Monitor::settle`). A deadline that moves earlier gets a new entry and the old one becomes
//! stale. Stale entries are discarded when they surface, so the work per beat is O(1) amortised
//! and the heap holds about one entry per node.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::Timestamp;

/// One scheduled check: node slot `slot` of generation `gen` is due at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) at: Timestamp,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// Min-heap of [`Entry`] ordered by time, then slot (a deterministic tie-break).
#[derive(Debug, Default)]
pub(crate) struct Deadlines(BinaryHeap<Reverse<Entry>>);

impl Deadlines {
    pub(crate) fn push(&mut self, e: Entry) {
        self.0.push(Reverse(e));
    }

    pub(crate) fn peek(&self) -> Option<Entry> {
        self.0.peek().map(|r| r.0)
    }

    pub(crate) fn pop(&mut self) -> Option<Entry> {
        self.0.pop().map(|r| r.0)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn capacity_bytes(&self) -> usize {
        self.0.capacity() * size_of::<Reverse<Entry>>()
    }
}
