//! The per-node sequence window: fresh, reordered, duplicate or replayed.

use super::registry::Node;

/// Width of the per-node window in which late (reordered) beats are still accepted.
pub const REORDER_WINDOW: u64 = 64;

pub(super) enum Seq {
    /// Newer than anything seen; advanced by this much (≥ 1). The window is updated.
    Fresh(u64),
    /// Inside the window and not seen before. The window is updated.
    Reordered,
    /// Seen before.
    Duplicate,
    /// Older than the window.
    TooOld,
}

/// Classifies `seq` against the node's sequence window and records it.
pub(super) fn sequence(n: &mut Node, seq: u64) -> Seq {
    if seq > n.seq {
        let shift = seq - n.seq;
        n.window = match shift {
            s if s < REORDER_WINDOW => (n.window << s) | (1 << (s - 1)),
            REORDER_WINDOW => 1 << (REORDER_WINDOW - 1),
            _ => 0,
        };
        n.seq = seq;
        return Seq::Fresh(shift);
    }
    if seq == n.seq {
        return Seq::Duplicate;
    }
    let back = n.seq - seq;
    if back > REORDER_WINDOW {
        return Seq::TooOld;
    }
    let bit = 1u64 << (back - 1);
    if n.window & bit != 0 {
        return Seq::Duplicate;
    }
    n.window |= bit;
    Seq::Reordered
}
