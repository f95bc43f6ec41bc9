//! Failure detectors: given a node's arrival history, *when* does silence mean failure?
//!
//! Every detector implements [`Detector`]. A detector is a pure function of a node's small,
//! fixed-size [`DetectorState`] (updated on each fresh beat) and the time of its last fresh beat:
//! it names the exact instant ([`Detector::deadline`]) at which the node is to be declared down
//! if nothing more arrives. The monitor schedules that instant; nothing is swept.
//!
//! | detector | down when | guarantee checked by the simulator |
//! |---|---|---|
//! | [`Fixed`] | silence ≥ `timeout` | T_D ≤ timeout + max delay; mistake rate = p_S/η (NFD-S) |
//! | [`Phi`] | φ(silence) ≥ threshold | down at the instant φ crosses the threshold |
//! | [`Chen`] | now ≥ EA + α | T_D ≤ η + α + max delay (NFD-E) |

mod chen;
mod fixed;
mod phi;

use core::time::Duration;

pub use chen::Chen;
pub use fixed::Fixed;
pub use phi::Phi;

use crate::time::Timestamp;

/// Per-node detector state: 24 bytes, the same for every detector.
///
/// Each detector documents how it uses the two estimates; `samples` counts observed intervals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DetectorState {
    /// First running estimate, in µs (phi: mean interval; chen: mean lag behind schedule).
    pub mean: f64,
    /// Second running estimate, in µs² (phi: interval variance; unused by others).
    pub var: f64,
    /// Intervals observed since the state was reset (saturating).
    pub samples: u32,
}

/// One fresh beat, as a detector sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Receive time of this beat.
    pub at: Timestamp,
    /// Receive time of the previous fresh beat of the same incarnation, if any.
    pub prev: Option<Timestamp>,
    /// How far the sequence number advanced since the previous fresh beat (≥ 1).
    pub seq_advance: u64,
    /// The sender's advertised period (or the monitor's default when it advertises none).
    pub period: Duration,
    /// The node was down until this beat: the gap is an outage, not an inter-arrival sample.
    pub resumed: bool,
}

/// A failure detector. Implementations are stateless configuration; per-node state lives in
/// [`DetectorState`].
pub trait Detector {
    /// Short name used in events and metrics (`fixed`, `phi`, `chen`).
    fn name(&self) -> &'static str;

    /// Updates `state` with a fresh beat.
    fn observe(&self, state: &mut DetectorState, arrival: &Arrival);

    /// The instant the node is to be declared down if no fresh beat arrives after `last`, the
    /// receive time of its latest fresh beat, sent with period `period`.
    fn deadline(&self, state: &DetectorState, last: Timestamp, period: Duration) -> Timestamp;

    /// The suspicion level at `now`, in the detector's own unit (fixed: seconds of silence;
    /// phi: φ; chen: seconds past the expected arrival). Crosses [`Self::threshold`] at
    /// [`Self::deadline`].
    fn value(
        &self,
        state: &DetectorState,
        last: Timestamp,
        period: Duration,
        now: Timestamp,
    ) -> f64;

    /// The value of [`Self::value`] at which the node is down.
    fn threshold(&self) -> f64;
}

/// A detector chosen at run time: what `--detector fixed|phi|chen` builds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DetectorConfig {
    /// See [`Fixed`].
    Fixed(Fixed),
    /// See [`Phi`].
    Phi(Phi),
    /// See [`Chen`].
    Chen(Chen),
}

/// Why a detector configuration is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// The φ threshold is outside (0, 100].
    #[error("phi threshold must be greater than 0 and at most 100")]
    PhiThreshold,
}

impl DetectorConfig {
    /// Checks the parameters; the monitor calls this at construction.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Fixed(f) if f.timeout.is_zero() => Err(ConfigError::Zero("timeout")),
            Self::Phi(p) if !(p.threshold_phi() > 0.0 && p.threshold_phi() <= 100.0) => {
                Err(ConfigError::PhiThreshold)
            }
            Self::Phi(p) if p.min_std_dev().is_zero() => Err(ConfigError::Zero("min std-dev")),
            _ => Ok(()),
        }
    }
}

impl Detector for DetectorConfig {
    fn name(&self) -> &'static str {
        match self {
            Self::Fixed(d) => d.name(),
            Self::Phi(d) => d.name(),
            Self::Chen(d) => d.name(),
        }
    }

    fn observe(&self, state: &mut DetectorState, arrival: &Arrival) {
        match self {
            Self::Fixed(d) => d.observe(state, arrival),
            Self::Phi(d) => d.observe(state, arrival),
            Self::Chen(d) => d.observe(state, arrival),
        }
    }

    fn deadline(&self, state: &DetectorState, last: Timestamp, period: Duration) -> Timestamp {
        match self {
            Self::Fixed(d) => d.deadline(state, last, period),
            Self::Phi(d) => d.deadline(state, last, period),
            Self::Chen(d) => d.deadline(state, last, period),
        }
    }

    fn value(
        &self,
        state: &DetectorState,
        last: Timestamp,
        period: Duration,
        now: Timestamp,
    ) -> f64 {
        match self {
            Self::Fixed(d) => d.value(state, last, period, now),
            Self::Phi(d) => d.value(state, last, period, now),
            Self::Chen(d) => d.value(state, last, period, now),
        }
    }

    fn threshold(&self) -> f64 {
        match self {
            Self::Fixed(d) => d.threshold(),
            Self::Phi(d) => d.threshold(),
            Self::Chen(d) => d.threshold(),
        }
    }
}

/// Exponentially weighted update shared by the estimators: the first `window` samples form a
/// plain running average, after which each new sample weighs `1/window`. Returns the weight.
pub(crate) fn ewma_weight(samples: u32, window: u32) -> f64 {
    1.0 / f64::from(samples.saturating_add(1).min(window.max(1)))
}

/// Rounds a µs offset (≥ 0 expected) up to a whole µs and adds it to `t`, saturating.
pub(crate) fn at_offset(t: Timestamp, offset_us: f64) -> Timestamp {
    if offset_us.is_nan() {
        return Timestamp::MAX;
    }
    let off = offset_us.max(0.0).ceil();
    if off >= u64::MAX as f64 {
        return Timestamp::MAX;
    }
    Timestamp::from_micros(t.as_micros().saturating_add(off as u64))
}
