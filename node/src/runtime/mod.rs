//! The actors and what they share: Receiver → Detector → Reporter around `hb_core::Monitor`, the
//! Beater around `hb_core::Beater`, the batches and time they pass, their counters, and the
//! wiring that starts them.

pub(crate) mod batch;
pub(crate) mod beater;
pub(crate) mod clock;
pub(crate) mod detector;
mod listeners;
pub(crate) mod receiver;
pub(crate) mod record;
pub(crate) mod recorder;
pub(crate) mod reporter;
pub(crate) mod stats;
pub(crate) mod wiring;

#[cfg(test)]
mod tests;
