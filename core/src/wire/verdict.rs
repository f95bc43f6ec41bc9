//! Witness mode's one message: a monitor's verdicts, sent to the other monitors it names.

use serde::{Deserialize, Serialize};

/// Most node ids in each of [`Verdicts::suspect`] and [`Verdicts::trust`]: with 64-byte ids
/// both lists still fit one datagram, signed.
pub const MAX_VERDICTS: usize = 8;

/// A monitor's word to its witnesses (`hbnode monitor --witness`): which nodes it can no longer
/// hear, and which it hears again.
///
/// Sent every witness period (then also the witness's beat: its silence is detected like a
/// node's) and at once when a verdict changes. A suspicion counts at the receiver for 1.5 of
/// the sender's periods unless repeated; a trust withdraws it at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdicts<'a> {
    /// The sending monitor's id.
    #[serde(borrow)]
    pub monitor: &'a str,
    /// Grows across restarts of the sender (hbnode: its start time in µs since the Unix epoch).
    pub incarnation: u64,
    /// Grows by one per message within an incarnation (replays are refused).
    pub seq: u64,
    /// How often the sender repeats itself, in milliseconds (at least 10).
    pub period_ms: u32,
    /// Nodes the sender suspects: silent past its own detector's deadline, or reported down
    /// within the last minute.
    #[serde(borrow)]
    pub suspect: heapless::Vec<&'a str, MAX_VERDICTS>,
    /// Nodes the sender had suspected and hears again.
    #[serde(borrow)]
    pub trust: heapless::Vec<&'a str, MAX_VERDICTS>,
}
