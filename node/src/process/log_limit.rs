//! A log-line rate limiter for warnings a peer can trigger at will (bad or refused
//! connections): the first is logged in full, later ones are counted and summed up in at most
//! one line per interval. Time is an argument, so it is tested without sleeping.

use std::time::{Duration, Instant};

/// What to do with one occurrence, from [`LogLimiter::note`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Note {
    /// Log this one in full; `earlier` occurrences were counted since the last line and not
    /// yet summed up (log that summary first when it is not 0).
    Log {
        /// Occurrences counted and not yet reported.
        earlier: u64,
    },
    /// Counted, not logged: a later [`LogLimiter::flush`] or [`Note::Log`] reports it.
    Counted,
}

/// Logs the first occurrence, then at most one summary line per `interval`.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval: Duration,
    /// End of the current quiet window (a line was logged at its start); `None`: no window,
    /// the next occurrence is logged in full.
    window_end: Option<Instant>,
    /// Occurrences counted in the window, not yet reported.
    suppressed: u64,
}

impl LogLimiter {
    /// A limiter allowing one line per `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            window_end: None,
            suppressed: 0,
        }
    }

    /// The interval, for the summary's wording.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// One occurrence at `now`.
    pub(crate) fn note(&mut self, now: Instant) -> Note {
        match self.window_end {
            Some(end) if now < end => {
                self.suppressed = self.suppressed.saturating_add(1);
                Note::Counted
            }
            _ => {
                let earlier = std::mem::take(&mut self.suppressed);
                self.window_end = Some(now + self.interval);
                Note::Log { earlier }
            }
        }
    }

    /// When [`LogLimiter::flush`] has something to report: the end of a window with counted
    /// occurrences; `None` when there is nothing to report.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.window_end.filter(|_| self.suppressed > 0)
    }

    /// At `now`, once the window has ended: how many occurrences to sum up in one line (`None`
    /// if none or the window is still open). A summary opens a new window, so a steady stream
    /// still gets one line per interval; a window with nothing counted closes, and the next
    /// occurrence is logged in full.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<u64> {
        let end = self.window_end?;
        if now < end {
            return None;
        }
        if self.suppressed == 0 {
            self.window_end = None;
            return None;
        }
        self.window_end = Some(now + self.interval);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: Duration = Duration::from_secs(10);

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// Issue 13 item 9: a flood of bad connections logs the first, then one line per interval
    /// with how many more there were.
    #[test]
    fn a_flood_logs_the_first_then_one_summary_per_interval() {
        let t0 = Instant::now();
        let mut l = LogLimiter::new(TEN);
        assert_eq!(l.deadline(), None);
        assert_eq!(l.note(t0), Note::Log { earlier: 0 });
        assert_eq!(l.deadline(), None, "nothing counted yet");
        // 1000 more within the first 10 s: all counted, none logged.
        for i in 1..=1000 {
            assert_eq!(l.note(at(t0, i * 9)), Note::Counted);
        }
        assert_eq!(l.deadline(), Some(at(t0, 10_000)));
        assert_eq!(l.flush(at(t0, 9_999)), None, "the window is still open");
        assert_eq!(l.flush(at(t0, 10_000)), Some(1000));
        assert_eq!(l.flush(at(t0, 10_000)), None, "reported once");
        // The flood goes on: the summary opened a new window.
        for i in 0..500 {
            assert_eq!(l.note(at(t0, 10_001 + i)), Note::Counted);
        }
        assert_eq!(l.deadline(), Some(at(t0, 20_000)));
        assert_eq!(l.flush(at(t0, 20_000)), Some(500));
        // A quiet window closes; the next occurrence is logged in full.
        assert_eq!(l.deadline(), None, "nothing counted in this window");
        assert_eq!(l.flush(at(t0, 30_000)), None);
        assert_eq!(l.note(at(t0, 45_000)), Note::Log { earlier: 0 });
    }

    /// Without a timely flush, the next line logged carries the count, so none is lost.
    #[test]
    fn counts_not_flushed_are_reported_with_the_next_line() {
        let t0 = Instant::now();
        let mut l = LogLimiter::new(TEN);
        assert_eq!(l.note(t0), Note::Log { earlier: 0 });
        assert_eq!(l.note(at(t0, 1)), Note::Counted);
        assert_eq!(l.note(at(t0, 2)), Note::Counted);
        assert_eq!(l.note(at(t0, 60_000)), Note::Log { earlier: 2 });
        assert_eq!(l.deadline(), None);
        assert_eq!(l.interval(), TEN);
    }
}
