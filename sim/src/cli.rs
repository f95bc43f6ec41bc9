//! The `plan` command, shared by `cargo xtask sim plan` and `hbnode plan` (feature `cli`).
//!
//! Given a beat period, a loss rate (or bursty loss) and a delay law, finds the smallest
//! fixed timeout whose predicted false-alarm rate meets a target, reports its worst-case
//! detection time, and confirms the theory with a seeded simulation.

use core::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::plan::{self, Confirmation, Plan, PlanRequest};
use crate::{Delay, Link, Loss, fmt_duration};

/// Flags of the plan command.
#[derive(Clone, Debug, clap::Args)]
pub struct PlanArgs {
    /// Beat period η.
    #[arg(long, default_value = "1s", value_parser = dur)]
    pub period: Duration,
    /// Bernoulli loss probability (`1%` or `0.01`).
    #[arg(long, default_value = "0", value_parser = prob)]
    pub loss: f64,
    /// Gilbert–Elliott bursty loss `P_GB,P_BG` (instead of --loss).
    #[arg(long)]
    pub burst: Option<String>,
    /// One-way delay law: `const:D`, `uniform:MIN,MAX`, `normal:MEAN,SD`, `lognormal:…`,
    /// `pareto:…`.
    #[arg(long, default_value = "const:0")]
    pub delay: String,
    /// Target: false alarms per monitored host per year.
    #[arg(long, default_value_t = 1.0)]
    pub max_false_alarms_per_host_year: f64,
    /// Traces for the confirming simulation (0: theory only).
    #[arg(long, default_value_t = 200)]
    pub traces: u64,
    /// Virtual time per confirming trace.
    #[arg(long, default_value = "1h", value_parser = dur)]
    pub duration: Duration,
    /// Master seed of the confirming simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses a duration like `250ms` or `1h` (for clap).
pub fn dur(s: &str) -> Result<Duration, String> {
    crate::parse_duration(s).map_err(|e| e.to_string())
}

/// Parses a probability like `1%` or `0.01` (for clap).
pub fn prob(s: &str) -> Result<f64, String> {
    crate::parse_probability(s).map_err(|e| e.to_string())
}

/// Runs the plan command and prints its report; `progress` is called once per simulated
/// trace. Fails if the confirming simulation disagrees with the theory.
pub fn run_plan(a: &PlanArgs, progress: &(dyn Fn() + Sync)) -> anyhow::Result<()> {
    let mut link = Link {
        loss: Loss::Bernoulli(a.loss),
        ..Link::default()
    };
    if let Some(b) = &a.burst {
        link.set("burst", b).context("--burst")?;
    }
    let req = PlanRequest {
        period: a.period,
        loss: link.loss,
        delay: Delay::parse(&a.delay).context("--delay")?,
        max_false_alarms_per_host_year: a.max_false_alarms_per_host_year,
    };
    let p = plan::plan(&req)?;
    let conf =
        (a.traces > 0).then(|| plan::confirm(&req, &p, a.traces, a.duration, a.seed, progress));
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan_json(&req, &p, conf.as_ref()))?
        );
    } else {
        print!("{}", plan_text(&req, &p, conf.as_ref()));
    }
    if conf.as_ref().is_some_and(|c| !c.theory_confirmed()) {
        bail!("the confirming simulation disagrees with the theory at the probe timeout");
    }
    Ok(())
}

fn plan_json(req: &PlanRequest, p: &Plan, c: Option<&Confirmation>) -> Value {
    json!({
        "period_s": req.period.as_secs_f64(),
        "loss": req.loss.mean(),
        "delay": req.delay.to_string(),
        "max_false_alarms_per_host_year": req.max_false_alarms_per_host_year,
        "timeout_s": p.timeout.as_secs_f64(),
        "timeout_over_period": p.ratio,
        "predicted_false_alarms_per_host_year": p.predicted_per_year,
        "worst_case_detection_s": p.worst_case_detection_s,
        "confirmation": c.map_or(Value::Null, |c| json!({
            "host_hours": c.host_hours,
            "mistakes_at_plan": c.at_plan.mistakes,
            "upper99_per_host_year_at_plan": c.at_plan_upper_per_year,
            "probe_timeout_s": c.probe_timeout.as_secs_f64(),
            "probe_predicted_per_hour": c.probe_predicted_per_hour,
            "probe_measured_per_hour": c.probe_measured_per_hour.value,
            "probe_measured_ci99": [c.probe_measured_per_hour.lo, c.probe_measured_per_hour.hi],
            "theory_confirmed": c.theory_confirmed(),
        })),
    })
}

fn plan_text(req: &PlanRequest, p: &Plan, c: Option<&Confirmation>) -> String {
    let mut s = format!(
        "period {}, loss {:.4}%, delay {}, target ≤ {} false alarm(s) per host-year\n\
         timeout {} ({:.3} × period): {:.3e} false alarms per host-year predicted\n\
         worst-case detection time: {:.3} s\n",
        fmt_duration(req.period),
        req.loss.mean() * 100.0,
        req.delay,
        req.max_false_alarms_per_host_year,
        fmt_duration(p.timeout),
        p.ratio,
        p.predicted_per_year,
        p.worst_case_detection_s
    );
    if let Some(c) = c {
        let m = &c.probe_measured_per_hour;
        s += &format!(
            "confirmation over {:.0} host-hours: {} mistakes at the planned timeout \
             (99% upper bound {:.3e} per host-year)\n\
             theory check at timeout {}: predicted {:.4}/h, measured {:.4}/h \
             (99% CI {:.4}–{:.4}): {}\n",
            c.host_hours,
            c.at_plan.mistakes,
            c.at_plan_upper_per_year,
            fmt_duration(c.probe_timeout),
            c.probe_predicted_per_hour,
            m.value,
            m.lo,
            m.hi,
            if c.theory_confirmed() {
                "agrees"
            } else {
                "DISAGREES"
            }
        );
    }
    s
}
