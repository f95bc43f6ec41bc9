//! Threshold rules per probe (or glob) and nodes, and the most specific one that applies.

use super::meta::{RangeSource, Ranges};
use super::range::{Range, RangeError};
use super::status::ProbeStatus;
use crate::glob::NodeMatch;

/// Warning and error ranges for one probe (or probe glob), for some nodes.
#[derive(Clone, Debug)]
pub struct ProbeRule {
    /// The probe name, or a glob of names (`disk.*`).
    pub probe: NodeMatch,
    /// The nodes it applies to (an id or glob; `None`: every node).
    pub nodes: Option<NodeMatch>,
    /// Alert range for `warning`.
    pub warning: Option<Range>,
    /// Alert range for `error`.
    pub error: Option<Range>,
    /// Consecutive readings needed to change state (`None`: [`ProbeConfig::hysteresis`]).
    pub hysteresis: Option<u32>,
}

impl ProbeRule {
    /// More specific rules win: an exact node id 2, a node glob 1, every node 0.
    fn specificity(&self) -> u8 {
        match &self.nodes {
            None => 0,
            Some(m) if m.is_glob() => 1,
            Some(_) => 2,
        }
    }

    /// Whether the rule covers `probe` on `node`.
    fn covers(&self, node: &str, probe: &str) -> bool {
        self.probe.matches(probe) && self.nodes.as_ref().is_none_or(|m| m.matches(node))
    }

    /// The state `value` puts the probe in under this rule.
    pub fn evaluate(&self, value: f64) -> ProbeStatus {
        Ranges {
            source: RangeSource::Rule,
            warning: self.warning,
            error: self.error,
        }
        .evaluate(value)
    }
}

/// Why a [`ProbeRule`] did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// No probe name first.
    #[error("a threshold starts with the probe name (e.g. 'load1 warning=4 error=8')")]
    NoProbe,
    /// A word is not `key=value`.
    #[error("`{0}` is not key=value")]
    NotKeyValue(String),
    /// An unknown key.
    #[error("unknown key `{0}`: use warning, error, nodes, hysteresis")]
    UnknownKey(String),
    /// A bad range.
    #[error("{key}: {err}")]
    Range {
        /// `warning` or `error`.
        key: &'static str,
        /// What is wrong.
        err: RangeError,
    },
    /// Hysteresis not a whole number from 1 to 1000.
    #[error("hysteresis `{0}` is not a whole number from 1 to 1000")]
    Hysteresis(String),
    /// A bad `nodes=` pattern.
    #[error("nodes: {0}")]
    Nodes(crate::glob::NodeMatchError),
    /// Neither range given.
    #[error("a threshold needs warning=RANGE, error=RANGE or both")]
    NoRange,
}

/// `PROBE [warning=RANGE] [error=RANGE] [nodes=ID|GLOB] [hysteresis=N]`, e.g.
/// `load1 warning=4 error=8 nodes=db-*`. `critical` is accepted for `error`. The probe may be a
/// glob (`disk.*`).
impl core::str::FromStr for ProbeRule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, RuleError> {
        let mut words = s.split_whitespace();
        let probe = words.next().ok_or(RuleError::NoProbe)?;
        if probe.contains('=') || probe.len() > crate::wire::MAX_PROBE_LEN {
            return Err(RuleError::NoProbe);
        }
        let mut rule = Self {
            probe: NodeMatch::new(probe).map_err(|_| RuleError::NoProbe)?,
            nodes: None,
            warning: None,
            error: None,
            hysteresis: None,
        };
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| RuleError::NotKeyValue(w.to_string()))?;
            match k {
                "warning" => {
                    let r = v.parse().map_err(|err| RuleError::Range {
                        key: "warning",
                        err,
                    })?;
                    rule.warning = Some(r);
                }
                "error" | "critical" => {
                    let r = v
                        .parse()
                        .map_err(|err| RuleError::Range { key: "error", err })?;
                    rule.error = Some(r);
                }
                "nodes" => rule.nodes = Some(NodeMatch::new(v).map_err(RuleError::Nodes)?),
                "hysteresis" => match v.parse::<u32>() {
                    Ok(n @ 1..=1000) => rule.hysteresis = Some(n),
                    _ => return Err(RuleError::Hysteresis(v.to_string())),
                },
                other => return Err(RuleError::UnknownKey(other.to_string())),
            }
        }
        if rule.warning.is_none() && rule.error.is_none() {
            return Err(RuleError::NoRange);
        }
        Ok(rule)
    }
}

/// How the monitor judges readings.
///
/// For each (node, probe) the most specific matching rule applies: an exact node id beats a node
/// glob, which beats a per-probe default; among equals the first listed wins. With a rule the
/// monitor's ranges decide the state; without one the sender's own ranges do (a plugin's
/// performance data warn/crit), and without those its status (a plugin's exit code). A state changes only after `hysteresis` consecutive readings agree on the new state.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// The rules, in configuration order.
    pub rules: Vec<ProbeRule>,
    /// Consecutive readings needed to change state, unless a rule says otherwise (≥ 1).
    pub hysteresis: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            hysteresis: 3,
        }
    }
}

impl ProbeConfig {
    /// The rule for `probe` on `node`, if any.
    pub fn rule(&self, node: &str, probe: &str) -> Option<&ProbeRule> {
        let mut best: Option<&ProbeRule> = None;
        for r in &self.rules {
            if r.covers(node, probe) && best.is_none_or(|b| r.specificity() > b.specificity()) {
                best = Some(r);
            }
        }
        best
    }
}
