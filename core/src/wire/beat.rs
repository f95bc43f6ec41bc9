//! What a beater sends: the beat (with its flags) and the graceful leave.

use serde::{Deserialize, Serialize};

use super::error::DecodeError;
use super::readings::Readings;

/// Flags carried by a beat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatFlags(pub u8);

impl BeatFlags {
    /// The sender wants an [`Ack`](super::Ack) for this beat.
    pub const ACK_WANTED: u8 = 0x01;
    /// The sender is shutting down; the monitor treats it as a [`Leave`].
    pub const LEAVING: u8 = 0x02;

    /// Whether all bits of `flag` are set.
    pub const fn has(self, flag: u8) -> bool {
        self.0 & flag == flag
    }
}

/// A heartbeat: "node `node`, incarnation `incarnation`, is alive; this is beat `seq`".
///
/// Encoded as a postcard struct of these fields in order (the readings as a postcard sequence).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Beat<'a> {
    /// The node's id (1–64 bytes UTF-8).
    #[serde(borrow)]
    pub node: &'a str,
    /// Grows across restarts of the node (hbnode uses its start time in µs since the Unix epoch).
    pub incarnation: u64,
    /// Grows by one per beat within an incarnation.
    pub seq: u64,
    /// The sender's beat period in milliseconds (0: unknown).
    pub period_ms: u32,
    /// See [`BeatFlags`].
    pub flags: BeatFlags,
    /// The sender's wall clock in µs since the Unix epoch. Informational only: detection uses
    /// the monitor's receive time.
    pub sent_at_us: u64,
    /// Hash of the peer group name (0 outside peer mode); other groups' beats are refused.
    pub group: u32,
    /// Version of the monitor-driven [`Schedule`](super::Schedule) the sender runs (0: none, its own settings).
    /// A monitor whose rule for the node has another version sends it in the ack.
    pub schedule_version: u32,
    /// Sensor readings riding on this beat.
    pub readings: Readings<'a>,
}

impl<'a> Beat<'a> {
    /// Beat `seq` of `node`'s incarnation `incarnation`, every other field at its neutral
    /// value: period 0 (unknown), no flags, `sent_at_us` 0, group 0 (no peer group), schedule
    /// version 0 (none), no readings. Set the others with struct update syntax:
    ///
    /// ```
    /// use hb_core::wire::Beat;
    ///
    /// let beat = Beat { period_ms: 1000, ..Beat::new("web-1", 1, 42) };
    /// assert_eq!((beat.seq, beat.period_ms, beat.group), (42, 1000, 0));
    /// ```
    pub const fn new(node: &'a str, incarnation: u64, seq: u64) -> Self {
        Self {
            node,
            incarnation,
            seq,
            period_ms: 0,
            flags: BeatFlags(0),
            sent_at_us: 0,
            group: 0,
            schedule_version: 0,
            readings: Readings::EMPTY,
        }
    }
}

/// The fixed fields of a [`Beat`], decoded by postcard before the readings.
#[derive(Deserialize)]
struct BeatHeader<'a> {
    #[serde(borrow)]
    node: &'a str,
    incarnation: u64,
    seq: u64,
    period_ms: u32,
    flags: BeatFlags,
    sent_at_us: u64,
    group: u32,
    schedule_version: u32,
}

/// A graceful goodbye: the node is stopping on purpose and should not be reported down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leave<'a> {
    /// The node's id.
    #[serde(borrow)]
    pub node: &'a str,
    /// The node's incarnation.
    pub incarnation: u64,
    /// Sequence number, from the same counter as beats.
    pub seq: u64,
    /// Peer group hash, as in [`Beat::group`].
    pub group: u32,
}

/// Decodes a beat body: the fixed fields, then the readings, using every byte.
pub(super) fn beat_of(body: &[u8]) -> Result<Beat<'_>, DecodeError> {
    let (h, rest) =
        postcard::take_from_bytes::<BeatHeader<'_>>(body).map_err(|_| DecodeError::Malformed)?;
    let (readings, rest) = Readings::decode(rest)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(Beat {
        period_ms: h.period_ms,
        flags: h.flags,
        sent_at_us: h.sent_at_us,
        group: h.group,
        schedule_version: h.schedule_version,
        readings,
        ..Beat::new(h.node, h.incarnation, h.seq)
    })
}
