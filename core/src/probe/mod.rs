//! Sensor readings as the monitor hands them on: one [`Sample`] per reading of every fresh beat.
//!
//! Readings ride on beats ([`crate::wire::Reading`]); the monitor accepts them only from beats
//! it accepts (authenticated if keys are set, in sequence, not duplicated or replayed), so a
//! sample is never counted twice. Drain them with [`crate::Monitor::poll_sample`].

mod range;
mod refusal;
mod rule;
mod sample;
mod state;
mod status;

pub use range::{Range, RangeError};
pub use refusal::{ReadingRefusal, ReadingRefusals};
pub use rule::{ProbeConfig, ProbeRule, RuleError};
pub use sample::Sample;
pub use state::ProbeState;
pub use status::ProbeStatus;

#[cfg(test)]
mod tests;
