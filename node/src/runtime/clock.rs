//! The node's two clocks: a monotonic one that drives detection and a wall clock for display.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hb_core::Timestamp;
use tokio::time::Instant;

/// Maps `tokio::time::Instant` (monotonic, pausable in tests) to [`Timestamp`]s, and those to
/// wall-clock times for display only.
///
/// The clock was made at `start` (process start); [`Timestamp`]s count from `back` before it
/// (zero unless [`Clock::reaching_back`]), so times a previous run stored can be restored.
/// Detection never looks at the wall clock: it is read once, at start, to print event times
/// and to place stored times.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    start: Instant,
    unix_at_start: Duration,
    /// The [`Timestamp`] of `start`.
    back: Duration,
}

impl Clock {
    /// A clock whose epoch is now.
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            // Whole µs, as Timestamps are: stored times map back exactly.
            unix_at_start: Duration::from_micros(
                u64::try_from(
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_micros(),
                )
                .unwrap_or(u64::MAX),
            ),
            back: Duration::ZERO,
        }
    }

    /// The same clock, its [`Timestamp`]s counting from `back` before its start (at most to
    /// the Unix epoch), so stored times up to `back` old have a [`Timestamp`]
    /// ([`Clock::at_unix_ms`]). Call before any [`Timestamp`] of this clock is handed out.
    pub(crate) fn reaching_back(self, back: Duration) -> Self {
        Self {
            back: back.min(self.unix_at_start),
            ..self
        }
    }

    /// The [`Timestamp`] of a wall-clock time in ms since the Unix epoch, as the wall clock
    /// read at start places it; earlier than this clock reaches back: its first instant.
    pub(crate) fn at_unix_ms(&self, ms: i64) -> Timestamp {
        let at = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        let since_epoch = (at + self.back).saturating_sub(self.unix_at_start);
        Timestamp::from_micros(u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX))
    }

    /// A clock whose epoch is now but whose wall clock read `unix_at_start` at that instant
    /// (tests: a wall clock stepped anywhere must not change detection).
    #[cfg(test)]
    pub(crate) fn with_unix_at_start(unix_at_start: Duration) -> Self {
        Self {
            start: Instant::now(),
            unix_at_start,
            back: Duration::ZERO,
        }
    }

    /// The monotonic time now.
    pub(crate) fn now(&self) -> Timestamp {
        self.at(Instant::now())
    }

    /// The [`Timestamp`] of a tokio instant.
    pub(crate) fn at(&self, instant: Instant) -> Timestamp {
        let us = (instant.saturating_duration_since(self.start) + self.back).as_micros();
        Timestamp::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// The tokio instant of a [`Timestamp`] (one before the start: the start).
    pub(crate) fn instant(&self, t: Timestamp) -> Instant {
        self.start + Duration::from_micros(t.as_micros()).saturating_sub(self.back)
    }

    /// Wall-clock time of [`Timestamp::ZERO`], in µs since the Unix epoch.
    pub(crate) fn unix_offset_us(&self) -> u64 {
        u64::try_from(self.unix_at_start.saturating_sub(self.back).as_micros()).unwrap_or(u64::MAX)
    }

    /// The wall-clock time of a [`Timestamp`] (display only).
    pub(crate) fn wall(&self, t: Timestamp) -> SystemTime {
        UNIX_EPOCH
            + self.unix_at_start.saturating_sub(self.back)
            + Duration::from_micros(t.as_micros())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_reaching_back_places_stored_wall_times_exactly() {
        let start = Duration::from_secs(1_700_000_000);
        let c = Clock::with_unix_at_start(start).reaching_back(Duration::from_secs(86_400));
        let day_ago_ms = i64::try_from((start - Duration::from_secs(86_400)).as_millis()).unwrap();
        let hour_ago_ms = day_ago_ms + 23 * 3_600_000;
        assert_eq!(c.at_unix_ms(day_ago_ms), Timestamp::ZERO);
        assert_eq!(
            crate::store::unix_ms(c.wall(c.at_unix_ms(hour_ago_ms))),
            hour_ago_ms
        );
        assert_eq!(
            c.at_unix_ms(0),
            Timestamp::ZERO,
            "older than it reaches: its start"
        );
        assert!(c.now() >= Timestamp::from_micros(86_400_000_000));
        assert_eq!(
            c.instant(Timestamp::ZERO),
            c.start,
            "before the start: the start"
        );
        assert_eq!(c.unix_offset_us(), 1_699_913_600_000_000);
    }
}
