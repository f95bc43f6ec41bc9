//! Sensor readings as the monitor hands them on: one [`Sample`] per reading of every fresh beat.
//!
//! Readings ride on beats ([`crate::wire::Reading`]); the monitor accepts them only from beats
//! it accepts (authenticated if keys are set, in sequence, not duplicated or replayed), so a
//! sample is never counted twice. Drain them with [`crate::Monitor::poll_sample`].
//!
//! A reading judges its probe by the ranges in force ([`Ranges::in_force`]): a monitor rule
//! ([`ProbeRule`]) if one covers the probe, else the sender's own ranges ([`ProbeMeta`], a
//! plugin's performance data), else the sender's status.

mod meta;
mod range;
mod refusal;
mod rule;
mod sample;
mod state;
mod status;
mod unit;

pub use meta::{ProbeMeta, RangeSource, Ranges};
pub use range::{Range, RangeError};
pub use refusal::{ReadingRefusal, ReadingRefusals};
pub use rule::{ProbeConfig, ProbeRule, RuleError};
pub use sample::Sample;
pub use state::ProbeState;
pub use status::ProbeStatus;
pub use unit::{BaseUnit, Unit, UnitError};

#[cfg(test)]
mod tests;
