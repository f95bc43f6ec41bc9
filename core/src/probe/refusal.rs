//! Readings refused although their beat was accepted (non-finite values), and their counts.

/// Why a reading of an accepted beat was refused: not judged, not handed on as a [`Sample`].
///
/// The beat that carried it still counts for the node's liveness: one garbage sensor value
/// never costs a node its heartbeat. The wire format carries `f64` as raw bits, so a peer can
/// send any of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ReadingRefusal {
    /// The value is NaN.
    NotANumber,
    /// The value is +∞ or −∞.
    Infinite,
}

impl ReadingRefusal {
    /// Every reason, in counter order.
    pub const ALL: [Self; 2] = [Self::NotANumber, Self::Infinite];

    /// Why `value` is refused, if it is.
    pub fn of(value: f64) -> Option<Self> {
        if value.is_nan() {
            Some(Self::NotANumber)
        } else if value.is_infinite() {
            Some(Self::Infinite)
        } else {
            None
        }
    }

    /// The stable snake_case name used as the `reason` label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotANumber => "nan",
            Self::Infinite => "infinite",
        }
    }
}

impl core::fmt::Display for ReadingRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of refused readings, one per [`ReadingRefusal`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadingRefusals([u64; ReadingRefusal::ALL.len()]);

impl ReadingRefusals {
    /// Counts one refused reading.
    pub fn add(&mut self, why: ReadingRefusal) {
        self.0[why as usize] += 1;
    }

    /// The count for one reason.
    pub fn get(&self, why: ReadingRefusal) -> u64 {
        self.0[why as usize]
    }

    /// All refused readings.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every reason with its count, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (ReadingRefusal, u64)> + '_ {
        ReadingRefusal::ALL.iter().map(|&r| (r, self.get(r)))
    }
}
