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
