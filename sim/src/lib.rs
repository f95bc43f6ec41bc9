//! hb-sim: a deterministic discrete-event simulator over hb-core.
//!
//! The simulator drives the exact [`hb_core::Beater`] and [`hb_core::Monitor`] that hbnode runs,
//! over a modelled link, in virtual time, and measures what a user cares about: how often the
//! detector cries wolf, and how quickly it notices a real crash.
//!
//! - [`Scenario`] — one world: detector, beat period, [`Link`], faults (crashes, restarts, clock
//!   drift, stalls), duration.
//! - [`run_trace`] — the engine: a `(time, seq)` event heap and one `ChaCha8Rng` per trace; a
//!   seed reproduces a trace byte-for-byte (see [`trace_seed`]).
//! - [`Link`], [`Delay`] — loss (Bernoulli, Gilbert–Elliott), delay laws, duplication,
//!   reordering, partitions; named presets.
//! - [`Summary`] — Chen–Toueg–Aguilera QoS (T_D, mistakes, E(T_MR), E(T_M), P_A) with
//!   confidence intervals.
//! - [`theory`] — analytic predictions for the fixed detector, written apart from the engine.
//! - [`fleet`] — many nodes, several monitors, per-path links, zones and correlated fault
//!   verbs (`cargo xtask sim fleet`), measured as a pager sees them.
//! - [`run`] — many traces on every core; [`verify`] — the CI gate ([`budget`]: the budget
//!   detector's cases, oracle and checks); [`plan()`] — the smallest
//!   timeout meeting a false-alarm target; [`trace`] — recorded arrivals and their replay.
//!
//! See docs/sim.md for the models, the derivation of the predictions and the CLI.

#![warn(missing_docs)]

mod agenda;
pub mod budget;
#[cfg(feature = "cli")]
pub mod cli;
mod delay;
mod engine;
pub mod fleet;
mod link;
mod parse;
pub mod plan;
mod qos;
mod runner;
mod scenario;
pub mod stats;
pub mod theory;
pub mod trace;
pub mod verify;

pub use delay::{Delay, DelayDist, DelayLaw};
pub use engine::{TraceOutcome, Violation, run_trace};
pub use link::{Copies, Link, LinkState, Loss, PRESETS, Partition};
pub use parse::{
    SpecError, duration as parse_duration, fmt_duration, probability as parse_probability,
};
pub use plan::{Plan, PlanRequest, plan};
pub use qos::{Summary, TraceStats};
pub use runner::{Report, predict, report, run};
pub use scenario::{
    Scenario, Stalls, budget, chen, fixed, phi, phi_offset_bound_us, splitmix64, trace_seed,
};
pub use stats::Interval;
pub use theory::Prediction;
