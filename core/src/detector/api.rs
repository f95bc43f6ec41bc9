//! What every detector shares: the [`Detector`] trait, the [`Arrival`] it observes and the
//! fixed-size per-node [`DetectorState`] it keeps.

use core::time::Duration;

use crate::time::Timestamp;

/// Per-node detector state: 24 bytes, the same for every detector.
///
/// Each detector documents how it uses the two estimates; `samples` counts observed intervals.
/// The budget detector needs more; its [`LinkEstimate`](super::LinkEstimate) lives in a side
/// table of the monitor that exists only when that detector is configured, so the other
/// detectors' nodes stay this small.
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
    /// Short name used in events and metrics (`fixed`, `phi`, `chen`, `budget`).
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

    /// The silence after which this detector, from `state`, declares the node down: its
    /// deadline minus its last fresh beat. (The monitor's scheduled deadline can be later after
    /// it re-armed the node for a stall of its own; `/v1/nodes`' `timeout_ms` is that one,
    /// `NodeInfo::deadline` minus `last_seen`.)
    fn timeout(&self, state: &DetectorState, period: Duration) -> Duration {
        self.deadline(state, Timestamp::ZERO, period) - Timestamp::ZERO
    }
}
