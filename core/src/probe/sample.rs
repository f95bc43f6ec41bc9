//! One accepted reading, as the monitor hands it on.

use compact_str::CompactString;

use crate::id::NodeId;
use crate::time::Timestamp;

/// One reading from one node, as accepted by the monitor.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Receive time of the beat that carried it.
    pub at: Timestamp,
    /// The node.
    pub node: NodeId,
    /// The probe's name (1–32 bytes, e.g. `load1`, `disk./var`).
    pub probe: CompactString,
    /// The measured value.
    pub value: f64,
    /// Nagios-style status the sender attached: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub status: u8,
}
