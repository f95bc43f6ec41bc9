//! The node's two clocks: a monotonic one that drives detection and a wall clock for display.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hb_core::Timestamp;
use tokio::time::Instant;

/// Maps `tokio::time::Instant` (monotonic, pausable in tests) to [`Timestamp`]s, and those to
/// wall-clock times for display only.
///
/// The epoch is the instant the clock was made (process start). Detection never looks at the
/// wall clock: it is read once, at start, to print event times.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    start: Instant,
    unix_at_start: Duration,
}

impl Clock {
    /// A clock whose epoch is now.
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            unix_at_start: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// A clock whose epoch is now but whose wall clock read `unix_at_start` at that instant
    /// (tests: a wall clock stepped anywhere must not change detection).
    #[cfg(test)]
    pub(crate) fn with_unix_at_start(unix_at_start: Duration) -> Self {
        Self {
            start: Instant::now(),
            unix_at_start,
        }
    }

    /// The monotonic time now.
    pub(crate) fn now(&self) -> Timestamp {
        self.at(Instant::now())
    }

    /// The [`Timestamp`] of a tokio instant.
    pub(crate) fn at(&self, instant: Instant) -> Timestamp {
        let us = instant.saturating_duration_since(self.start).as_micros();
        Timestamp::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// The tokio instant of a [`Timestamp`].
    pub(crate) fn instant(&self, t: Timestamp) -> Instant {
        self.start + Duration::from_micros(t.as_micros())
    }

    /// Wall-clock time of the epoch, in µs since the Unix epoch.
    pub(crate) fn unix_offset_us(&self) -> u64 {
        u64::try_from(self.unix_at_start.as_micros()).unwrap_or(u64::MAX)
    }

    /// The wall-clock time of a [`Timestamp`] (display only).
    pub(crate) fn wall(&self, t: Timestamp) -> SystemTime {
        UNIX_EPOCH + self.unix_at_start + Duration::from_micros(t.as_micros())
    }

    /// RFC 3339 UTC with milliseconds, as in the JSON event stream.
    pub(crate) fn rfc3339(&self, t: Timestamp) -> String {
        humantime::format_rfc3339_millis(self.wall(t)).to_string()
    }
}

/// Seconds since the Unix epoch of a wall-clock time, as a float.
pub(crate) fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}
