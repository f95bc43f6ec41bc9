//! The engines' agenda: a min-heap of events keyed by `(time, seq)`, and the event-log hash.
//!
//! `seq` is the insertion counter, so two events at the same microsecond run in the order they
//! were scheduled, on every machine. Shared by the single-trace engine and the fleet engine.

use core::cmp::Reverse;
use std::collections::BinaryHeap;

/// One scheduled event.
#[derive(Debug)]
pub(crate) struct Item<E> {
    pub(crate) at: u64,
    pub(crate) seq: u64,
    pub(crate) ev: E,
}

impl<E> PartialEq for Item<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<E> Eq for Item<E> {}
impl<E> PartialOrd for Item<E> {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Item<E> {
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// The heap of [`Item`]s with its insertion counter.
#[derive(Debug)]
pub(crate) struct Agenda<E> {
    heap: BinaryHeap<Reverse<Item<E>>>,
    seq: u64,
}

impl<E> Agenda<E> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(n),
            seq: 0,
        }
    }

    /// Schedules `ev` at `at` (after everything already scheduled at `at`).
    pub(crate) fn push(&mut self, at: u64, ev: E) {
        self.seq += 1;
        self.heap.push(Reverse(Item {
            at,
            seq: self.seq,
            ev,
        }));
    }

    /// The earliest event.
    pub(crate) fn pop(&mut self) -> Option<Item<E>> {
        self.heap.pop().map(|Reverse(i)| i)
    }
}

/// Folds `x` into the event-log hash `h`.
pub(crate) fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(0x517C_C1B7_2722_0A95)
}
