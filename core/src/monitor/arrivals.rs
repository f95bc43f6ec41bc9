//! Beat arrivals as an output (`poll_arrival`), for recording traces.

use super::state::Monitor;
use crate::arrival::BeatArrival;
use crate::id::NodeId;
use crate::time::Timestamp;
use crate::wire::Beat;

impl Monitor {
    /// Arrivals dropped because the arrival queue was full (`max_pending_arrivals`).
    pub fn arrivals_dropped(&self) -> u64 {
        self.arrivals_dropped
    }

    /// The next beat arrival, if any: every beat that decoded and authenticated (and every
    /// [`handle_beat`](Self::handle_beat)), before the group, sequence and replay checks;
    /// queued only when [`MonitorConfig::max_pending_arrivals`](super::MonitorConfig::max_pending_arrivals) is above zero.
    pub fn poll_arrival(&mut self) -> Option<BeatArrival> {
        self.arrivals.pop_front()
    }

    /// Queues the arrival of beat `b` at `now` for `poll_arrival`, if arrivals are recorded.
    pub(super) fn queue_arrival(&mut self, now: Timestamp, b: &Beat<'_>) {
        if self.cfg.max_pending_arrivals == 0 {
            return;
        }
        if self.arrivals.len() >= self.cfg.max_pending_arrivals {
            self.arrivals_dropped += 1;
            return;
        }
        // Decoding and `handle_beat` validated the id already.
        let Ok(node) = NodeId::new(b.node) else {
            return;
        };
        self.arrivals.push_back(BeatArrival {
            node,
            at: now,
            seq: b.seq,
            incarnation: b.incarnation,
            period_ms: b.period_ms,
        });
    }
}
