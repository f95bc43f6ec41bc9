//! Sensor readings waiting for a beat: first in, first out, one per probe, bounded.

use std::collections::VecDeque;

use compact_str::CompactString;

use crate::probe::ProbeMeta;
use crate::wire::{self, MAX_PROBE_LEN, Reading};

/// Most bytes the readings of one beat take, with everything else of the largest beat (a
/// 64-byte id, every varint at its widest, the MAC trailer) still within
/// [`wire::MAX_DATAGRAM`]: the postcard beat header is at most 1 + 64 (id) + 10 + 10
/// (incarnation, seq) + 5 (period) + 1 (flags) + 10 (sent at) + 5 + 5 (group, schedule
/// version) + 1 (reading count) = 112 bytes.
pub(crate) const READINGS_BUDGET: usize =
    wire::MAX_DATAGRAM - wire::HEADER_LEN - wire::TRAILER_LEN - 112;

/// Most readings waiting for beats; a new probe beyond this drops the oldest waiting reading.
pub const MAX_PENDING_READINGS: usize = 256;

/// Why [`crate::Beater::push_reading`] refused a reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadingError {
    /// The probe name is empty or longer than 32 bytes.
    #[error("a probe name must be 1–32 bytes")]
    ProbeName,
    /// The status is not 0–3.
    #[error("a reading's status must be 0 (ok), 1 (warning), 2 (critical) or 3 (unknown)")]
    Status,
}

/// A reading owned by the beater until a beat carries it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OwnedReading {
    pub(crate) probe: CompactString,
    pub(crate) value: f64,
    pub(crate) status: u8,
    pub(crate) meta: ProbeMeta,
}

impl OwnedReading {
    /// As the wire format borrows it.
    pub(crate) fn as_wire(&self) -> Reading<'_> {
        Reading {
            meta: self.meta.to_wire(),
            ..Reading::new(&self.probe, self.value, self.status)
        }
    }

    /// Its postcard encoding's length.
    fn encoded_len(&self) -> usize {
        // The largest reading: 33 (name) + 8 + 1 + 1 + meta (9 + 2 × 20 + 2 × 9) = 110 bytes.
        let mut buf = [0; 128];
        postcard::to_slice(&self.as_wire(), &mut buf).map_or(usize::MAX, |s| s.len())
    }
}

/// The waiting readings.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    queue: VecDeque<OwnedReading>,
    dropped: u64,
}

impl Pending {
    /// Queues a reading; a waiting one of the same probe is replaced in place (it keeps its
    /// turn, the value is the newer one).
    pub(crate) fn push(
        &mut self,
        probe: &str,
        value: f64,
        status: u8,
        meta: ProbeMeta,
    ) -> Result<(), ReadingError> {
        if probe.is_empty() || probe.len() > MAX_PROBE_LEN {
            return Err(ReadingError::ProbeName);
        }
        if status > 3 {
            return Err(ReadingError::Status);
        }
        if let Some(r) = self.queue.iter_mut().find(|r| r.probe == probe) {
            r.value = value;
            r.status = status;
            r.meta = meta;
            return Ok(());
        }
        if self.queue.len() >= MAX_PENDING_READINGS {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(OwnedReading {
            probe: probe.into(),
            value,
            status,
            meta,
        });
        Ok(())
    }

    /// Takes up to `n` readings, oldest first, as many as fit [`READINGS_BUDGET`] bytes (at
    /// least one: any single reading fits).
    pub(crate) fn take(&mut self, n: usize) -> Vec<OwnedReading> {
        let mut bytes = 0;
        let mut count = 0;
        for r in self.queue.iter().take(n) {
            bytes = r.encoded_len().saturating_add(bytes);
            if bytes > READINGS_BUDGET {
                break;
            }
            count += 1;
        }
        self.queue.drain(..count).collect()
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Readings dropped because too many waited.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}
