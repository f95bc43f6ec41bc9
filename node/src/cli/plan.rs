//! Flags of `hbnode plan`: the simulator's planner (`hb_sim::cli::PlanArgs`: a timeout from a
//! link model) and, with `--trace`, planning from recorded traffic under `--budget`.

use std::path::PathBuf;

use clap::Args;
use hb_core::detector::AlarmRate;

use super::values::parse_budget;

/// `hbnode plan`.
#[derive(Clone, Debug, Args)]
pub(crate) struct PlanFlags {
    /// The link-model planner's flags (ignored with `--trace`, but `--period`: the period of
    /// recorded beats that advertised none, and `--json`).
    #[command(flatten)]
    pub(crate) model: hb_sim::cli::PlanArgs,

    /// Plan from a recording (`hbnode monitor --record FILE`) instead of a link model: per
    /// node, the timeout the budget detector would use at the end of it, and the false alarms
    /// the recording would have had under that detector.
    #[arg(long, value_name = "FILE.hbtrace", requires = "budget", conflicts_with_all = ["loss", "burst", "delay", "traces"])]
    pub(crate) trace: Option<PathBuf>,

    /// False alarms allowed per node, as N/hour, N/day or N/year (with `--trace`).
    #[arg(long, value_name = "RATE", requires = "trace", value_parser = parse_budget)]
    pub(crate) budget: Option<AlarmRate>,
}
