//! A detector chosen at run time ([`DetectorConfig`]), and why its parameters are refused.

use core::time::Duration;

use super::api::{Arrival, Detector, DetectorState};
use super::budget::Budget;
use super::chen::Chen;
use super::classes::LinkClasses;
use super::fixed::Fixed;
use super::link::LinkEstimate;
use super::phi::Phi;
use crate::time::Timestamp;

/// A detector chosen at run time: what `--detector fixed|phi|chen|budget` builds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DetectorConfig {
    /// See [`Fixed`].
    Fixed(Fixed),
    /// See [`Phi`].
    Phi(Phi),
    /// See [`Chen`].
    Chen(Chen),
    /// See [`Budget`].
    Budget(Budget),
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
    /// A budget detector knob is out of its range.
    #[error("budget detector: {0}")]
    Budget(&'static str),
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
            Self::Budget(b) if !(1..=1 << 20).contains(&b.window()) => Err(ConfigError::Budget(
                "window must be between 1 and 1048576 beats",
            )),
            Self::Budget(b) if b.warmup > 1_000_000 => {
                Err(ConfigError::Budget("warm-up must be at most 1000000 beats"))
            }
            Self::Budget(b) if !(1..=1_000_000).contains(&b.resolve_every) => Err(
                ConfigError::Budget("resolve-every must be between 1 and 1000000 beats"),
            ),
            Self::Budget(b) if !(2..=100_000).contains(&b.max_periods) => Err(ConfigError::Budget(
                "max-periods must be between 2 and 100000",
            )),
            _ => Ok(()),
        }
    }

    /// Updates `state` with a fresh beat, and `link` (the node's side state, and the classes of
    /// the monitor's settled links) when the detector keeps one: the budget detector needs it
    /// (without it, it holds its prior timeout), the others ignore it.
    pub fn observe_with(
        &self,
        state: &mut DetectorState,
        link: Option<(&mut LinkEstimate, &LinkClasses)>,
        arrival: &Arrival,
    ) {
        match (self, link) {
            (Self::Budget(b), Some((link, classes))) => {
                b.observe_link(state, link, classes, arrival);
            }
            _ => self.observe(state, arrival),
        }
    }

    /// Whether nodes need a [`LinkEstimate`] beside their state (the budget detector).
    pub fn keeps_link_estimates(&self) -> bool {
        matches!(self, Self::Budget(_))
    }
}

impl Detector for DetectorConfig {
    fn name(&self) -> &'static str {
        match self {
            Self::Fixed(d) => d.name(),
            Self::Phi(d) => d.name(),
            Self::Chen(d) => d.name(),
            Self::Budget(d) => d.name(),
        }
    }

    fn observe(&self, state: &mut DetectorState, arrival: &Arrival) {
        match self {
            Self::Fixed(d) => d.observe(state, arrival),
            Self::Phi(d) => d.observe(state, arrival),
            Self::Chen(d) => d.observe(state, arrival),
            Self::Budget(d) => d.observe(state, arrival),
        }
    }

    fn deadline(&self, state: &DetectorState, last: Timestamp, period: Duration) -> Timestamp {
        match self {
            Self::Fixed(d) => d.deadline(state, last, period),
            Self::Phi(d) => d.deadline(state, last, period),
            Self::Chen(d) => d.deadline(state, last, period),
            Self::Budget(d) => d.deadline(state, last, period),
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
            Self::Budget(d) => d.value(state, last, period, now),
        }
    }

    fn threshold(&self) -> f64 {
        match self {
            Self::Fixed(d) => d.threshold(),
            Self::Phi(d) => d.threshold(),
            Self::Chen(d) => d.threshold(),
            Self::Budget(d) => d.threshold(),
        }
    }
}
