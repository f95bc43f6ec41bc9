//! A detector chosen at run time ([`DetectorConfig`]), and why its parameters are refused.

use core::time::Duration;

use super::api::{Arrival, Detector, DetectorState};
use super::chen::Chen;
use super::fixed::Fixed;
use super::phi::Phi;
use crate::time::Timestamp;

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
