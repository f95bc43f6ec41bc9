//! Nagios threshold ranges (`10`, `10:`, `~:10`, `10:20`, `@10:20`).

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
    /// The range from `low` to `high` (`None`: unbounded on that side, Nagios `~` and `N:`),
    /// alerting inside it if `inside` (Nagios `@`). Bounds must be finite and in order.
    pub fn new(low: Option<f64>, high: Option<f64>, inside: bool) -> Result<Self, RangeError> {
        for b in [low, high].into_iter().flatten() {
            if !b.is_finite() {
                return Err(RangeError::Number(b.to_string()));
            }
        }
        let start = low.unwrap_or(f64::NEG_INFINITY);
        let end = high.unwrap_or(f64::INFINITY);
        if start > end {
            return Err(RangeError::Reversed {
                start: start.to_string(),
                end: end.to_string(),
            });
        }
        Ok(Self { start, end, inside })
    }

    /// The lower bound (`None`: unbounded, Nagios `~`).
    pub fn low(&self) -> Option<f64> {
        self.start.is_finite().then_some(self.start)
    }

    /// The upper bound (`None`: unbounded, Nagios `N:`).
    pub fn high(&self) -> Option<f64> {
        self.end.is_finite().then_some(self.end)
    }

    /// Whether a value alerts inside the bounds (Nagios `@`) rather than outside them.
    pub fn inside(&self) -> bool {
        self.inside
    }

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
        let (low, high) = match body.split_once(':') {
            None => (Some(0.0), Some(num(body)?)),
            Some((a, b)) => {
                let low = if a == "~" { None } else { Some(num(a)?) };
                let high = if b.is_empty() { None } else { Some(num(b)?) };
                (low, high)
            }
        };
        Self::new(low, high, inside)
    }
}

impl core::fmt::Display for Range {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        match (self.start, self.end) {
            (s, e) if s == 0.0 && e.is_finite() && !self.inside => write!(f, "{e}"),
            (s, e) if s.is_infinite() && e.is_infinite() => f.write_str("~:"),
            (s, e) if e.is_infinite() => write!(f, "{s}:"),
            (s, e) if s.is_infinite() => write!(f, "~:{e}"),
            (s, e) => write!(f, "{s}:{e}"),
        }
    }
}
