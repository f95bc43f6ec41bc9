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
//! | [`Budget`] | silence ≥ the node's own timeout | false alarms ≤ the budget; T_D p99 ≤ 1.25 × the oracle's + η |

mod api;
mod budget;
mod chen;
mod classes;
mod config;
mod estimate;
mod fixed;
mod link;
mod phi;
mod rate;

pub use api::{Arrival, Detector, DetectorState};
pub use budget::{Budget, PRIOR_LOSS};
pub use chen::Chen;
pub use classes::{Census, DOUBT, LinkClass, LinkClasses, MAX_CLASSES, SETTLED};
pub use config::{ConfigError, DetectorConfig};
pub use fixed::Fixed;
pub use link::{BINS, CONFIDENCE_Z, FAST_WINDOW, LinkEstimate, LinkSummary, MAX_RUN};
pub use phi::Phi;
pub use rate::{AlarmRate, MAX_PER_HOUR, MIN_PER_YEAR, RateError, YEAR_S};
