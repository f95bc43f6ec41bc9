//! What the monitor remembers of one probe of one node, with hysteresis.

use super::meta::ProbeMeta;
use super::status::ProbeStatus;
use crate::time::Timestamp;

/// What the monitor remembers of one probe of one node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeState {
    /// The current (debounced) state.
    pub status: ProbeStatus,
    /// Since when.
    pub since: Timestamp,
    /// The latest value.
    pub value: f64,
    /// The status the latest reading alone indicates.
    pub last_status: ProbeStatus,
    /// When the latest reading arrived.
    pub last_at: Timestamp,
    /// The unit, ranges, min and max the latest reading carried (empty if it carried none).
    pub meta: ProbeMeta,
    /// Consecutive readings indicating `last_status` (when it differs from `status`).
    streak: u32,
}

impl ProbeState {
    pub(crate) fn new(at: Timestamp) -> Self {
        Self {
            status: ProbeStatus::Ok,
            since: at,
            value: f64::NAN,
            last_status: ProbeStatus::Ok,
            last_at: at,
            meta: ProbeMeta::default(),
            streak: 0,
        }
    }

    /// A state a previous run left: `status` since `since`, its latest reading `value`.
    pub(crate) fn restored(status: ProbeStatus, since: Timestamp, value: f64) -> Self {
        Self {
            status,
            since,
            value,
            last_status: status,
            last_at: since,
            meta: ProbeMeta::default(),
            streak: 0,
        }
    }

    /// Takes one reading that indicates `now_status`; returns the previous state if the state
    /// changed (after `hysteresis` agreeing readings).
    pub(crate) fn observe(
        &mut self,
        at: Timestamp,
        value: f64,
        now_status: ProbeStatus,
        hysteresis: u32,
    ) -> Option<ProbeStatus> {
        self.value = value;
        self.last_at = at;
        if now_status == self.status {
            self.streak = 0;
            self.last_status = now_status;
            return None;
        }
        if now_status == self.last_status {
            self.streak += 1;
        } else {
            self.streak = 1;
        }
        self.last_status = now_status;
        if self.streak >= hysteresis.max(1) {
            let previous = self.status;
            self.status = now_status;
            self.since = at;
            self.streak = 0;
            Some(previous)
        } else {
            None
        }
    }
}
