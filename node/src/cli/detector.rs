//! The detector flags: `--detector` and its settings on `monitor` and `peer` (`DetectorArgs`),
//! the same keys on a `--listener` (`DetectorFlags`), and the one place their defaults live.

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use hb_core::detector::{AlarmRate, Budget, Chen, DetectorConfig, Fixed, Phi};

use super::values::{DetectorKind, parse_budget, parse_duration};

/// The detector flags `monitor` and `peer` share.
#[derive(Clone, Copy, Debug, Args)]
pub(crate) struct DetectorArgs {
    /// The failure detector applied to every node.
    ///
    /// fixed: down after `--timeout` of silence. phi: φ-accrual (`--phi-threshold`,
    /// `--acceptable-pause`). chen: expected arrival plus `--chen-margin`. budget: each node's
    /// own timeout, the smallest meeting `--budget` false alarms on that node's measured link
    /// (docs/guides/choosing-a-timeout.md).
    #[arg(
        long = "detector",
        env = "HBNODE_DETECTOR",
        value_name = "DETECTOR",
        value_enum,
        default_value = "fixed"
    )]
    pub(crate) kind: DetectorKind,

    /// Silence after which a node is down (fixed detector) [default: 5s].
    #[arg(long, env = "HBNODE_TIMEOUT", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,

    /// φ at which a node is down (phi detector; 0 < F ≤ 100) [default: 8].
    #[arg(long, env = "HBNODE_PHI_THRESHOLD", value_name = "F")]
    pub(crate) phi_threshold: Option<f64>,

    /// Silence tolerated on top of the mean interval (phi detector) [default: 0s].
    #[arg(long, env = "HBNODE_ACCEPTABLE_PAUSE", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) acceptable_pause: Option<Duration>,

    /// Safety margin after the expected arrival (chen detector) [default: 500ms].
    #[arg(long, env = "HBNODE_CHEN_MARGIN", value_name = "DUR", value_parser = parse_duration)]
    pub(crate) chen_margin: Option<Duration>,

    /// False alarms allowed per node, as N/hour, N/day or N/year (budget detector) [default: 1/day].
    #[arg(long, env = "HBNODE_BUDGET", value_name = "RATE", value_parser = parse_budget)]
    pub(crate) budget: Option<AlarmRate>,
}

/// Detector settings, each optional.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct DetectorFlags {
    /// `detector`.
    pub(crate) kind: Option<DetectorKind>,
    /// `timeout` (fixed).
    pub(crate) timeout: Option<Duration>,
    /// `phi-threshold` (phi).
    pub(crate) phi_threshold: Option<f64>,
    /// `acceptable-pause` (phi).
    pub(crate) acceptable_pause: Option<Duration>,
    /// `chen-margin` (chen).
    pub(crate) chen_margin: Option<Duration>,
    /// `budget` (budget).
    pub(crate) budget: Option<AlarmRate>,
}

/// `--timeout`'s default (fixed).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// `--phi-threshold`'s default (Akka's).
pub(crate) const DEFAULT_PHI_THRESHOLD: f64 = 8.0;
/// φ's lower bound on the standard deviation of inter-arrival times (Akka's).
const PHI_MIN_STD_DEV: Duration = Duration::from_millis(100);
/// `--chen-margin`'s default.
pub(crate) const DEFAULT_CHEN_MARGIN: Duration = Duration::from_millis(500);
/// `--budget`'s default: one false alarm per node per day.
pub(crate) const DEFAULT_BUDGET: &str = "1/day";

impl From<&DetectorArgs> for DetectorFlags {
    fn from(a: &DetectorArgs) -> Self {
        Self {
            kind: Some(a.kind),
            timeout: a.timeout,
            phi_threshold: a.phi_threshold,
            acceptable_pause: a.acceptable_pause,
            chen_margin: a.chen_margin,
            budget: a.budget,
        }
    }
}

impl DetectorFlags {
    /// The detector `--detector` and its flags describe (`monitor`, `peer`); unlike a
    /// `--listener`'s inherited keys, a flag of another detector kind is an error.
    pub(crate) fn from_args(a: &DetectorArgs) -> anyhow::Result<DetectorConfig> {
        let only = |set: bool, flag: &str, kind: &str| -> anyhow::Result<()> {
            if set {
                bail!("{flag} applies to --detector {kind} only");
            }
            Ok(())
        };
        if a.budget.is_some() && a.kind != DetectorKind::Budget {
            bail!(
                "--budget applies to --detector budget only: add --detector budget to give \
                 each node its own timeout for that false-alarm rate, or drop --budget"
            );
        }
        match a.kind {
            DetectorKind::Fixed => {
                only(a.phi_threshold.is_some(), "--phi-threshold", "phi")?;
                only(a.acceptable_pause.is_some(), "--acceptable-pause", "phi")?;
                only(a.chen_margin.is_some(), "--chen-margin", "chen")?;
            }
            DetectorKind::Phi => {
                only(a.timeout.is_some(), "--timeout", "fixed")?;
                only(a.chen_margin.is_some(), "--chen-margin", "chen")?;
            }
            DetectorKind::Chen => {
                only(a.timeout.is_some(), "--timeout", "fixed")?;
                only(a.phi_threshold.is_some(), "--phi-threshold", "phi")?;
                only(a.acceptable_pause.is_some(), "--acceptable-pause", "phi")?;
            }
            DetectorKind::Budget => {
                if a.timeout.is_some() {
                    bail!(
                        "--timeout applies to --detector fixed only: the budget detector \
                         chooses each node's timeout from --budget (false alarms per node)"
                    );
                }
                only(a.phi_threshold.is_some(), "--phi-threshold", "phi")?;
                only(a.acceptable_pause.is_some(), "--acceptable-pause", "phi")?;
                only(a.chen_margin.is_some(), "--chen-margin", "chen")?;
            }
        }
        Self::from(a).build()
    }

    /// These settings, with unset ones taken from `base`.
    pub(crate) fn or(self, base: Self) -> Self {
        Self {
            kind: self.kind.or(base.kind),
            timeout: self.timeout.or(base.timeout),
            phi_threshold: self.phi_threshold.or(base.phi_threshold),
            acceptable_pause: self.acceptable_pause.or(base.acceptable_pause),
            chen_margin: self.chen_margin.or(base.chen_margin),
            budget: self.budget.or(base.budget),
        }
    }

    /// The detector these settings describe (settings of another detector kind are ignored:
    /// they may be inherited from the monitor's flags).
    pub(crate) fn build(self) -> anyhow::Result<DetectorConfig> {
        let d = match self.kind.unwrap_or(DetectorKind::Fixed) {
            DetectorKind::Fixed => DetectorConfig::Fixed(Fixed {
                timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            }),
            DetectorKind::Phi => DetectorConfig::Phi(Phi::new(
                self.phi_threshold.unwrap_or(DEFAULT_PHI_THRESHOLD),
                self.acceptable_pause.unwrap_or(Duration::ZERO),
                PHI_MIN_STD_DEV,
            )),
            DetectorKind::Chen => DetectorConfig::Chen(Chen {
                margin: self.chen_margin.unwrap_or(DEFAULT_CHEN_MARGIN),
                ..Chen::default()
            }),
            DetectorKind::Budget => {
                DetectorConfig::Budget(Budget::new(self.budget.unwrap_or_else(default_budget)))
            }
        };
        d.validate().context("invalid detector settings")?;
        Ok(d)
    }
}

/// [`DEFAULT_BUDGET`] parsed.
fn default_budget() -> AlarmRate {
    AlarmRate::parse(DEFAULT_BUDGET).unwrap_or_else(|e| unreachable!("{e}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        d: DetectorArgs,
    }

    fn build(args: &[&str]) -> anyhow::Result<DetectorConfig> {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        DetectorFlags::from_args(&t.d)
    }

    #[test]
    fn budget_flag_builds_the_budget_detector() {
        let d = build(&["--detector", "budget", "--budget", "2/hour"]).unwrap();
        let DetectorConfig::Budget(b) = d else {
            panic!("{d:?}")
        };
        assert_eq!(b.rate, AlarmRate::parse("2/hour").unwrap());
        let d = build(&["--detector", "budget"]).unwrap();
        assert_eq!(
            d,
            DetectorConfig::Budget(Budget::new(AlarmRate::parse("1/day").unwrap()))
        );
    }

    #[test]
    fn bad_budgets_say_what_to_write() {
        let e = format!(
            "{:#}",
            build(&["--detector", "budget", "--budget", "0/day"]).unwrap_err()
        );
        assert!(e.contains("greater than zero"), "{e}");
        let e = format!(
            "{:#}",
            build(&["--detector", "budget", "--budget", "abc"]).unwrap_err()
        );
        assert!(e.contains("N/hour, N/day or N/year"), "{e}");
        let e = format!("{:#}", build(&["--budget", "1/day"]).unwrap_err());
        assert!(e.contains("add --detector budget"), "{e}");
        let e = format!(
            "{:#}",
            build(&["--detector", "phi", "--budget", "1/day"]).unwrap_err()
        );
        assert!(e.contains("add --detector budget"), "{e}");
        let e = format!(
            "{:#}",
            build(&["--detector", "budget", "--timeout", "3s"]).unwrap_err()
        );
        assert!(
            e.contains("chooses each node's timeout from --budget"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            build(&["--detector", "budget", "--chen-margin", "1s"]).unwrap_err()
        );
        assert!(
            e.contains("--chen-margin applies to --detector chen"),
            "{e}"
        );
    }
}
