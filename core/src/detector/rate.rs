//! A false-alarm budget: a rate in alarms per second, written `N/hour`, `N/day` or `N/year`.

use core::fmt;
use core::str::FromStr;

/// Seconds in an hour.
const HOUR_S: f64 = 3600.0;
/// Seconds in a day.
const DAY_S: f64 = 86_400.0;
/// Seconds in a (Julian) year, as `hbnode plan` counts it.
pub const YEAR_S: f64 = 365.25 * DAY_S;

/// The smallest budget accepted: one false alarm per million node-years.
pub const MIN_PER_YEAR: f64 = 1e-6;
/// The largest budget accepted: one false alarm per node-minute (a "detector" that cries wolf
/// more often than that is not monitoring anything).
pub const MAX_PER_HOUR: f64 = 60.0;

/// A false-alarm budget per node, in alarms per second of up-time.
///
/// Parsed from `N/hour`, `N/day` or `N/year` (N a positive decimal number, e.g. `0.5/day`,
/// `1e-3/hour`); always between [`MIN_PER_YEAR`] per year and [`MAX_PER_HOUR`] per hour.
///
/// Held as alarms per hour, so its `N/hour` display parses back to exactly the same value.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct AlarmRate(f64);

/// Why a false-alarm budget did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// No `/hour`, `/day` or `/year` unit.
    #[error("bad false-alarm budget {0:?}: write N/hour, N/day or N/year, like 1/day")]
    Syntax(String),
    /// The count is not a finite number.
    #[error("bad false-alarm budget {0:?}: the count before the unit is not a finite number")]
    Number(String),
    /// The count is zero or negative.
    #[error(
        "bad false-alarm budget {0:?}: it must be greater than zero (no timeout gives zero false \
         alarms on a lossy link)"
    )]
    NotPositive(String),
    /// Below one per million node-years.
    #[error(
        "false-alarm budget {0:?} is below 1e-6/year: no link model is known that well; \
         write at least 1e-6/year"
    )]
    TooSmall(String),
    /// Above one per node-minute.
    #[error(
        "false-alarm budget {0:?} is above 60/hour (one a minute per node): write at most 60/hour"
    )]
    TooLarge(String),
}

impl AlarmRate {
    /// A budget of `per_second` alarms per second, checked against the bounds.
    pub fn per_second(per_second: f64) -> Result<Self, RateError> {
        let text = || format!("{per_second}/s");
        if !per_second.is_finite() {
            return Err(RateError::Number(text()));
        }
        if per_second <= 0.0 {
            return Err(RateError::NotPositive(text()));
        }
        if per_second < MIN_PER_YEAR / YEAR_S {
            return Err(RateError::TooSmall(text()));
        }
        if per_second > MAX_PER_HOUR / HOUR_S {
            return Err(RateError::TooLarge(text()));
        }
        Ok(Self(per_second * HOUR_S))
    }

    /// Parses `N/hour`, `N/day` or `N/year`.
    pub fn parse(s: &str) -> Result<Self, RateError> {
        let t = s.trim();
        let (n, unit) = t
            .split_once('/')
            .ok_or_else(|| RateError::Syntax(s.into()))?;
        let scale = match unit.trim() {
            "hour" => HOUR_S,
            "day" => DAY_S,
            "year" => YEAR_S,
            _ => return Err(RateError::Syntax(s.into())),
        };
        let n: f64 = n.trim().parse().map_err(|_| RateError::Number(s.into()))?;
        if !n.is_finite() {
            return Err(RateError::Number(s.into()));
        }
        if n <= 0.0 {
            return Err(RateError::NotPositive(s.into()));
        }
        let per_hour = n * (HOUR_S / scale);
        if per_hour < MIN_PER_YEAR * (HOUR_S / YEAR_S) {
            return Err(RateError::TooSmall(s.into()));
        }
        if per_hour > MAX_PER_HOUR {
            return Err(RateError::TooLarge(s.into()));
        }
        Ok(Self(per_hour))
    }

    /// Alarms per second.
    pub fn as_per_second(self) -> f64 {
        self.0 / HOUR_S
    }

    /// Alarms per hour.
    pub fn as_per_hour(self) -> f64 {
        self.0
    }

    /// Alarms per year.
    pub fn as_per_year(self) -> f64 {
        self.0 * (YEAR_S / HOUR_S)
    }
}

impl fmt::Display for AlarmRate {
    /// `N/hour`, which parses back to exactly this rate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/hour", self.0)
    }
}

impl FromStr for AlarmRate {
    type Err = RateError;
    fn from_str(s: &str) -> Result<Self, RateError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse_per_hour_day_and_year() {
        assert_eq!(
            AlarmRate::parse("1/hour").unwrap().as_per_second(),
            1.0 / 3600.0
        );
        assert_eq!(
            AlarmRate::parse(" 2/day ").unwrap().as_per_hour(),
            2.0 / 24.0
        );
        assert_eq!(AlarmRate::parse("1/hour").unwrap().as_per_hour(), 1.0);
        let y = AlarmRate::parse("0.5/year").unwrap();
        assert!((y.as_per_year() - 0.5).abs() < 1e-12);
        assert!((AlarmRate::parse("1e-3/hour").unwrap().as_per_hour() - 1e-3).abs() < 1e-15);
    }

    #[test]
    fn nonsense_budgets_are_refused_with_the_reason() {
        let e = |s: &str| AlarmRate::parse(s).unwrap_err();
        assert!(matches!(e("1"), RateError::Syntax(_)));
        assert!(matches!(e("1/week"), RateError::Syntax(_)));
        assert!(matches!(e("1/h"), RateError::Syntax(_)));
        assert!(matches!(e("x/day"), RateError::Number(_)));
        assert!(matches!(e("NaN/day"), RateError::Number(_)));
        assert!(matches!(e("inf/day"), RateError::Number(_)));
        assert!(matches!(e("0/day"), RateError::NotPositive(_)));
        assert!(matches!(e("-1/day"), RateError::NotPositive(_)));
        assert!(matches!(e("1e-9/year"), RateError::TooSmall(_)));
        assert!(matches!(e("61/hour"), RateError::TooLarge(_)));
        assert!(AlarmRate::parse("60/hour").is_ok());
        assert!(AlarmRate::per_second(f64::NAN).is_err());
        assert!(e("0/day").to_string().contains("greater than zero"));
    }

    #[test]
    fn budgets_print_back_to_a_spec() {
        for s in [
            "1/hour",
            "0.5/hour",
            "1/day",
            "0.25/year",
            "1e-6/year",
            "60/hour",
        ] {
            let r = AlarmRate::parse(s).unwrap();
            assert_eq!(AlarmRate::parse(&r.to_string()).unwrap(), r, "{s}");
        }
    }
}
