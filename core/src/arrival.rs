//! What a monitor saw arrive: one authenticated beat, as `hbnode monitor --record` stores it.

use crate::id::NodeId;
use crate::time::Timestamp;

/// One beat that reached the monitor: decoded and authenticated (or handed in by a legacy
/// listener), before the sequence, replay and group checks decide whether it counts.
///
/// Drained with [`Monitor::poll_arrival`](crate::Monitor::poll_arrival) when
/// [`MonitorConfig::max_pending_arrivals`](crate::MonitorConfig::max_pending_arrivals) is
/// above zero. This is the record hb-sim's trace format stores (`hb_sim::trace::Arrival` is
/// this type), so a recorder passes it straight through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeatArrival {
    /// The node.
    pub node: NodeId,
    /// The monitor's receive time.
    pub at: Timestamp,
    /// The beat's sequence number.
    pub seq: u64,
    /// The beat's incarnation.
    pub incarnation: u64,
    /// The period the beat advertised, ms (0: unknown).
    pub period_ms: u32,
}
