//! A monitor's answer to a beat: the ack, and the schedule and redirect it may carry.

use serde::{Deserialize, Serialize};

use super::error::DecodeError;

/// Longest redirect address in an ack, in bytes.
pub const MAX_REDIRECT_LEN: usize = 128;
/// Most sensors a [`Schedule`] names.
pub const MAX_SCHEDULED_SENSORS: usize = 16;
/// Longest sensor name in a [`Schedule`], in bytes.
pub const MAX_SENSOR_NAME_LEN: usize = 32;
/// Shortest beat period a [`Schedule`] may set, in milliseconds.
pub const MIN_SCHEDULE_PERIOD_MS: u32 = 10;
/// Shortest sensor interval a [`Schedule`] may set, in milliseconds.
pub const MIN_SENSOR_EVERY_MS: u32 = 100;

/// A monitor's answer to a beat that asked for one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack<'a> {
    /// The node whose beat this acknowledges.
    #[serde(borrow)]
    pub node: &'a str,
    /// The acknowledged beat's sequence number.
    pub seq: u64,
    /// The acknowledging monitor's id.
    pub monitor: &'a str,
    /// A schedule the monitor asks the node to adopt (sent when the beat's
    /// [`Beat::schedule_version`](super::Beat::schedule_version) differs from the monitor's).
    #[serde(borrow)]
    pub schedule: Option<Schedule<'a>>,
    /// Another monitor address the node should move to.
    pub redirect: Option<&'a str>,
}

/// A monitor-driven schedule: the beat period and which sensors run how often. Versioned, so
/// the beater adopts each version once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule<'a> {
    /// Changes whenever the monitor's rule for this node changes (hbnode: a hash of the rule,
    /// so it is the same across monitor restarts). 0: no rule; the node uses its own settings.
    pub version: u32,
    /// The beat period to use, in milliseconds (0: the node's own; otherwise at least
    /// [`MIN_SCHEDULE_PERIOD_MS`]).
    pub period_ms: u32,
    /// The sensors to run and how often (`None`: the node's own; at most
    /// [`MAX_SCHEDULED_SENSORS`]).
    #[serde(borrow)]
    pub sensors: Option<heapless::Vec<SensorEvery<'a>, MAX_SCHEDULED_SENSORS>>,
}

/// One sensor of a [`Schedule`]: run `sensor` every `every_ms` milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorEvery<'a> {
    /// The sensor's name on the node (`load`, `memory`, `processes`, or a `cmd:` sensor's
    /// name; 1–[`MAX_SENSOR_NAME_LEN`] bytes).
    pub sensor: &'a str,
    /// Its interval, in milliseconds (at least [`MIN_SENSOR_EVERY_MS`]).
    pub every_ms: u32,
}

impl Schedule<'_> {
    /// Checks the bounds a decoder enforces.
    pub(super) fn validate(&self) -> Result<(), DecodeError> {
        if self.period_ms != 0 && self.period_ms < MIN_SCHEDULE_PERIOD_MS {
            return Err(DecodeError::InvalidField("schedule period"));
        }
        for s in self.sensors.iter().flatten() {
            if s.sensor.is_empty() || s.sensor.len() > MAX_SENSOR_NAME_LEN {
                return Err(DecodeError::InvalidField("scheduled sensor name"));
            }
            if s.every_ms < MIN_SENSOR_EVERY_MS {
                return Err(DecodeError::InvalidField("scheduled sensor interval"));
            }
        }
        Ok(())
    }
}
