//! Sensor readings waiting for a beat: first in, first out, one per probe, bounded.

use std::collections::VecDeque;

use compact_str::CompactString;

use crate::wire::{MAX_PROBE_LEN, Reading};

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
}

impl OwnedReading {
    /// As the wire format borrows it.
    pub(crate) fn as_wire(&self) -> Reading<'_> {
        Reading {
            probe: &self.probe,
            value: self.value,
            status: self.status,
        }
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
    pub(crate) fn push(&mut self, probe: &str, value: f64, status: u8) -> Result<(), ReadingError> {
        if probe.is_empty() || probe.len() > MAX_PROBE_LEN {
            return Err(ReadingError::ProbeName);
        }
        if status > 3 {
            return Err(ReadingError::Status);
        }
        if let Some(r) = self.queue.iter_mut().find(|r| r.probe == probe) {
            r.value = value;
            r.status = status;
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
        });
        Ok(())
    }

    /// Takes up to `n` readings, oldest first.
    pub(crate) fn take(&mut self, n: usize) -> Vec<OwnedReading> {
        let n = n.min(self.queue.len());
        self.queue.drain(..n).collect()
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
