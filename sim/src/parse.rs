//! Parsing of the small values every spec string is made of: durations and probabilities.

use core::time::Duration;

/// Why a spec string did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A duration such as `250ms`, `1s` or `1h` did not parse.
    #[error("bad duration {0:?}: write a number with a unit, like 250ms, 1s, 10m or 1h")]
    Duration(String),
    /// A probability did not parse or is outside 0–1.
    #[error("bad probability {0:?}: write 0.01 or 1%, between 0 and 1")]
    Probability(String),
    /// A plain number did not parse.
    #[error("bad number {0:?}")]
    Number(String),
    /// The spec has an unknown kind or the wrong number of parameters.
    #[error("bad {what} spec {spec:?}: {hint}")]
    Spec {
        /// What was being parsed (`delay`, `link`, …).
        what: &'static str,
        /// The offending text.
        spec: String,
        /// What would have been accepted.
        hint: &'static str,
    },
}

/// Parses a duration: `250ms`, `1s`, `1.5s`, `10m`, `1h`, `500us`; a bare `0` is zero.
pub fn duration(s: &str) -> Result<Duration, SpecError> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if let Some((num, unit)) = split_number(s)
        && let Ok(v) = num.parse::<f64>()
        && v.is_finite()
        && v >= 0.0
    {
        let scale = match unit {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(SpecError::Duration(s.into())),
        };
        return Ok(Duration::from_secs_f64(v * scale));
    }
    humantime::parse_duration(s).map_err(|_| SpecError::Duration(s.into()))
}

fn split_number(s: &str) -> Option<(&str, &str)> {
    let at = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    (at > 0).then(|| (&s[..at], &s[at..]))
}

/// Parses a probability: `0.01` or `1%`.
pub fn probability(s: &str) -> Result<f64, SpecError> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| SpecError::Probability(s.into()))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(SpecError::Probability(s.into()))
    }
}

/// Parses a finite float.
pub(crate) fn number(s: &str) -> Result<f64, SpecError> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| SpecError::Number(s.into()))
}

/// Formats a duration compactly for tables and replay commands (`1s`, `250ms`, `1500us`).
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0".into()
    } else if us.is_multiple_of(3_600_000_000) {
        format!("{}h", us / 3_600_000_000)
    } else if us.is_multiple_of(60_000_000) {
        format!("{}m", us / 60_000_000)
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_probabilities_parse() {
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(duration("500us").unwrap(), Duration::from_micros(500));
        assert_eq!(duration("0").unwrap(), Duration::ZERO);
        assert!(duration("fast").is_err());
        assert!(duration("-1s").is_err());
        assert_eq!(probability("1%").unwrap(), 0.01);
        assert_eq!(probability("0.25").unwrap(), 0.25);
        assert!(probability("150%").is_err());
        assert!(probability("x").is_err());
    }

    #[test]
    fn durations_format_back_to_their_spec() {
        for s in ["1h", "10m", "1s", "250ms", "1500us", "0"] {
            assert_eq!(fmt_duration(duration(s).unwrap()), s);
        }
    }
}
