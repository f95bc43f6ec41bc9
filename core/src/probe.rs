//! Sensor readings as the monitor hands them on: one [`Sample`] per reading of every fresh beat.
//!
//! Readings ride on beats ([`crate::wire::Reading`]); the monitor accepts them only from beats
//! it accepts (authenticated if keys are set, in sequence, not duplicated or replayed), so a
//! sample is never counted twice. Drain them with [`crate::Monitor::poll_sample`].

use compact_str::CompactString;

use crate::glob::NodeMatch;
use crate::id::NodeId;
use crate::time::Timestamp;

/// One reading from one node, as accepted by the monitor.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Receive time of the beat that carried it.
    pub at: Timestamp,
    /// The node.
    pub node: NodeId,
    /// The probe's name (1–32 bytes, e.g. `load1`, `disk./var`).
    pub probe: CompactString,
    /// The measured value.
    pub value: f64,
    /// Nagios-style status the sender attached: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub status: u8,
}

/// Why a reading of an accepted beat was refused: not judged, not handed on as a [`Sample`].
///
/// The beat that carried it still counts for the node's liveness: one garbage sensor value
/// never costs a node its heartbeat. The wire format carries `f64` as raw bits, so a peer can
/// send any of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ReadingRefusal {
    /// The value is NaN.
    NotANumber,
    /// The value is +∞ or −∞.
    Infinite,
}

impl ReadingRefusal {
    /// Every reason, in counter order.
    pub const ALL: [Self; 2] = [Self::NotANumber, Self::Infinite];

    /// Why `value` is refused, if it is.
    pub fn of(value: f64) -> Option<Self> {
        if value.is_nan() {
            Some(Self::NotANumber)
        } else if value.is_infinite() {
            Some(Self::Infinite)
        } else {
            None
        }
    }

    /// The stable snake_case name used as the `reason` label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotANumber => "nan",
            Self::Infinite => "infinite",
        }
    }
}

impl core::fmt::Display for ReadingRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of refused readings, one per [`ReadingRefusal`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadingRefusals([u64; ReadingRefusal::ALL.len()]);

impl ReadingRefusals {
    /// Counts one refused reading.
    pub fn add(&mut self, why: ReadingRefusal) {
        self.0[why as usize] += 1;
    }

    /// The count for one reason.
    pub fn get(&self, why: ReadingRefusal) -> u64 {
        self.0[why as usize]
    }

    /// All refused readings.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every reason with its count, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (ReadingRefusal, u64)> + '_ {
        ReadingRefusal::ALL.iter().map(|&r| (r, self.get(r)))
    }
}

// ---- thresholds ----

/// A Nagios threshold range (the plugin development guidelines' syntax).
///
/// | text     | alerts when the value is … |
/// |----------|----------------------------|
/// | `10`     | < 0 or > 10                |
/// | `10:`    | < 10                       |
/// | `~:10`   | > 10                       |
/// | `10:20`  | < 10 or > 20               |
/// | `@10:20` | ≥ 10 and ≤ 20              |
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    start: f64,
    end: f64,
    inside: bool,
}

/// Why a [`Range`] or [`ProbeRule`] did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Empty text.
    #[error("empty range")]
    Empty,
    /// A bound is not a number.
    #[error("{0:?} is not a number (Nagios range syntax: 10, 10:, ~:10, 10:20, @10:20)")]
    Number(String),
    /// The start is above the end.
    #[error("range start {start} is above its end {end}")]
    Reversed {
        /// The start.
        start: String,
        /// The end.
        end: String,
    },
}

impl Range {
    /// Whether `value` is outside the range (inside, for `@` ranges): an alert. NaN always
    /// alerts.
    pub fn alerts(&self, value: f64) -> bool {
        if value.is_nan() {
            return true;
        }
        let within = self.start <= value && value <= self.end;
        within == self.inside
    }
}

impl core::str::FromStr for Range {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<Self, RangeError> {
        let s = s.trim();
        let (inside, body) = match s.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if body.is_empty() {
            return Err(RangeError::Empty);
        }
        let num = |t: &str| -> Result<f64, RangeError> {
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(RangeError::Number(t.to_string())),
            }
        };
        let (start, end) = match body.split_once(':') {
            None => (0.0, num(body)?),
            Some((a, b)) => {
                let start = if a == "~" { f64::NEG_INFINITY } else { num(a)? };
                let end = if b.is_empty() { f64::INFINITY } else { num(b)? };
                (start, end)
            }
        };
        if start > end {
            return Err(RangeError::Reversed {
                start: start.to_string(),
                end: end.to_string(),
            });
        }
        Ok(Self { start, end, inside })
    }
}

impl core::fmt::Display for Range {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        match (self.start, self.end) {
            (s, e) if s == 0.0 && e.is_finite() && !self.inside => write!(f, "{e}"),
            (s, e) if e.is_infinite() => write!(f, "{s}:"),
            (s, e) if s.is_infinite() => write!(f, "~:{e}"),
            (s, e) => write!(f, "{s}:{e}"),
        }
    }
}

/// The state of one probe of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProbeStatus {
    /// Within its thresholds (or the sender said ok).
    #[default]
    Ok,
    /// Outside the warning range.
    Warning,
    /// Outside the error (critical) range.
    Error,
    /// No usable value: NaN, or the sender said unknown (a plugin timed out, say).
    Unknown,
}

impl ProbeStatus {
    /// The Nagios status code: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Error => 2,
            Self::Unknown => 3,
        }
    }

    /// From a Nagios status code; anything above 3 is unknown.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Ok,
            1 => Self::Warning,
            2 => Self::Error,
            _ => Self::Unknown,
        }
    }

    /// `ok`, `warning`, `error` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Unknown => "unknown",
        }
    }

    /// How bad, for taking the worst of several: ok < unknown < warning < error (Nagios's own
    /// order for a host's services).
    pub fn severity(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Unknown => 1,
            Self::Warning => 2,
            Self::Error => 3,
        }
    }
}

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
        if value.is_nan() {
            ProbeStatus::Unknown
        } else if self.error.is_some_and(|r| r.alerts(value)) {
            ProbeStatus::Error
        } else if self.warning.is_some_and(|r| r.alerts(value)) {
            ProbeStatus::Warning
        } else {
            ProbeStatus::Ok
        }
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
/// monitor's ranges decide the state; without one the sender's own status does (a plugin's exit
/// code). A state changes only after `hysteresis` consecutive readings agree on the new state.
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

/// What the monitor remembers of one probe of one node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeState {
    /// The current (debounced) state.
    pub status: ProbeStatus,
    /// Since when.
    pub since: Timestamp,
    /// The latest value.
    pub value: f64,
    /// The status the latest reading alone indicates.
    pub last_status: ProbeStatus,
    /// When the latest reading arrived.
    pub last_at: Timestamp,
    /// Consecutive readings indicating `last_status` (when it differs from `status`).
    streak: u32,
}

impl ProbeState {
    pub(crate) fn new(at: Timestamp) -> Self {
        Self {
            status: ProbeStatus::Ok,
            since: at,
            value: f64::NAN,
            last_status: ProbeStatus::Ok,
            last_at: at,
            streak: 0,
        }
    }

    /// A state a previous run left: `status` since `since`, its latest reading `value`.
    pub(crate) fn restored(status: ProbeStatus, since: Timestamp, value: f64) -> Self {
        Self {
            status,
            since,
            value,
            last_status: status,
            last_at: since,
            streak: 0,
        }
    }

    /// Takes one reading that indicates `now_status`; returns the previous state if the state
    /// changed (after `hysteresis` agreeing readings).
    pub(crate) fn observe(
        &mut self,
        at: Timestamp,
        value: f64,
        now_status: ProbeStatus,
        hysteresis: u32,
    ) -> Option<ProbeStatus> {
        self.value = value;
        self.last_at = at;
        if now_status == self.status {
            self.streak = 0;
            self.last_status = now_status;
            return None;
        }
        if now_status == self.last_status {
            self.streak += 1;
        } else {
            self.streak = 1;
        }
        self.last_status = now_status;
        if self.streak >= hysteresis.max(1) {
            let previous = self.status;
            self.status = now_status;
            self.since = at;
            self.streak = 0;
            Some(previous)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_refusal_all_is_in_discriminant_order_and_covers_non_finite_values() {
        for (i, r) in ReadingRefusal::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        assert_eq!(
            ReadingRefusal::of(f64::NAN),
            Some(ReadingRefusal::NotANumber)
        );
        assert_eq!(
            ReadingRefusal::of(-f64::NAN),
            Some(ReadingRefusal::NotANumber)
        );
        assert_eq!(
            ReadingRefusal::of(f64::INFINITY),
            Some(ReadingRefusal::Infinite)
        );
        assert_eq!(
            ReadingRefusal::of(f64::NEG_INFINITY),
            Some(ReadingRefusal::Infinite)
        );
        for ok in [0.0, -0.0, f64::MAX, f64::MIN, f64::MIN_POSITIVE / 2.0] {
            assert_eq!(ReadingRefusal::of(ok), None, "{ok}");
        }
    }

    fn r(s: &str) -> Range {
        s.parse().unwrap()
    }

    #[test]
    fn nagios_ranges_follow_the_guidelines_table() {
        // (range, value, alerts?) — the examples of the Nagios plugin development guidelines.
        let cases = [
            ("10", -1.0, true),
            ("10", 0.0, false),
            ("10", 10.0, false),
            ("10", 10.5, true),
            ("10:", 9.9, true),
            ("10:", 10.0, false),
            ("10:", 1e9, false),
            ("~:10", -1e9, false),
            ("~:10", 10.0, false),
            ("~:10", 10.1, true),
            ("10:20", 9.0, true),
            ("10:20", 10.0, false),
            ("10:20", 20.0, false),
            ("10:20", 21.0, true),
            ("@10:20", 9.0, false),
            ("@10:20", 10.0, true),
            ("@10:20", 20.0, true),
            ("@10:20", 21.0, false),
            ("-5:-1", -3.0, false),
            ("-5:-1", 0.0, true),
        ];
        for (range, v, alerts) in cases {
            assert_eq!(r(range).alerts(v), alerts, "{range} at {v}");
        }
        assert!(r("10").alerts(f64::NAN));
    }

    #[test]
    fn bad_ranges_are_clear_errors() {
        assert_eq!("".parse::<Range>(), Err(RangeError::Empty));
        assert_eq!("@".parse::<Range>(), Err(RangeError::Empty));
        assert!(matches!("x".parse::<Range>(), Err(RangeError::Number(_))));
        assert!(matches!("1:x".parse::<Range>(), Err(RangeError::Number(_))));
        assert!(matches!("nan".parse::<Range>(), Err(RangeError::Number(_))));
        assert!(matches!(
            "20:10".parse::<Range>(),
            Err(RangeError::Reversed { .. })
        ));
    }

    #[test]
    fn ranges_print_as_they_parse() {
        for s in ["10", "10:", "~:10", "10:20", "@10:20", "@0:5", "-3:4.5"] {
            assert_eq!(r(s).to_string(), s);
            assert_eq!(r(&r(s).to_string()), r(s));
        }
    }

    #[test]
    fn rules_parse_and_the_most_specific_wins() {
        let rules: Vec<ProbeRule> = [
            "load1 warning=4 error=8",
            "load1 warning=16 error=32 nodes=db-*",
            "load1 error=64 nodes=db-7",
            "disk.* critical=@0:10 hysteresis=1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let cfg = ProbeConfig {
            rules,
            hysteresis: 3,
        };
        let pick = |node: &str, probe: &str| cfg.rule(node, probe).map(|r| r.evaluate(20.0));
        assert_eq!(pick("web-1", "load1"), Some(ProbeStatus::Error));
        assert_eq!(pick("db-1", "load1"), Some(ProbeStatus::Warning));
        assert_eq!(pick("db-7", "load1"), Some(ProbeStatus::Ok));
        assert_eq!(pick("web-1", "disk./var"), Some(ProbeStatus::Ok));
        assert_eq!(
            cfg.rule("web-1", "disk./var").unwrap().evaluate(5.0),
            ProbeStatus::Error
        );
        assert_eq!(pick("web-1", "load5"), None);
        assert_eq!(cfg.rule("x", "disk.a").unwrap().hysteresis, Some(1));
    }

    #[test]
    fn bad_rules_are_clear_errors() {
        let e = |s: &str| s.parse::<ProbeRule>().unwrap_err().to_string();
        assert!(e("").contains("starts with the probe name"));
        assert!(e("warning=4").contains("starts with the probe name"));
        assert!(e("load1").contains("needs warning"));
        assert!(e("load1 warn=4").contains("unknown key `warn`"));
        assert!(e("load1 warning").contains("not key=value"));
        assert!(e("load1 warning=8:4").contains("above its end"));
        assert!(e("load1 error=4 hysteresis=0").contains("hysteresis"));
    }

    #[test]
    fn state_changes_only_after_n_agreeing_readings() {
        let t = Timestamp::from_micros;
        let mut s = ProbeState::new(t(0));
        assert_eq!(s.observe(t(1), 9.0, ProbeStatus::Error, 3), None);
        assert_eq!(s.observe(t(2), 9.0, ProbeStatus::Error, 3), None);
        // An ok reading in between restarts the count.
        assert_eq!(s.observe(t(3), 1.0, ProbeStatus::Ok, 3), None);
        assert_eq!(s.observe(t(4), 9.0, ProbeStatus::Error, 3), None);
        assert_eq!(s.observe(t(5), 9.0, ProbeStatus::Error, 3), None);
        assert_eq!(
            s.observe(t(6), 9.0, ProbeStatus::Error, 3),
            Some(ProbeStatus::Ok)
        );
        assert_eq!((s.status, s.since), (ProbeStatus::Error, t(6)));
        assert_eq!(s.observe(t(7), 9.0, ProbeStatus::Error, 3), None);
        assert_eq!(
            s.observe(t(8), 1.0, ProbeStatus::Ok, 1),
            Some(ProbeStatus::Error)
        );
    }
}
