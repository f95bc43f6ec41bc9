//! One-way delay distributions: parse, sample, and (for the theory) their laws.

use core::fmt;
use core::time::Duration;

use rand::Rng;
use rand_distr::Distribution;
use statrs::distribution::{ContinuousCDF, LogNormal, Normal, Pareto};

use crate::parse::{self, SpecError, fmt_duration};

/// One delay component. Samples are clamped at zero (a delay is never negative) and rounded to
/// whole microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DelayDist {
    /// `const:D` — always `D`.
    Const(Duration),
    /// `uniform:MIN,MAX` — uniform on `[MIN, MAX]`.
    Uniform(Duration, Duration),
    /// `normal:MEAN,SD` — normal, negative samples clamped to 0 (an atom at zero).
    Normal(Duration, Duration),
    /// `lognormal:MEDIAN,SIGMA` — `MEDIAN·exp(SIGMA·Z)`, Z standard normal (SIGMA has no unit).
    LogNormal(Duration, f64),
    /// `pareto:SCALE,SHAPE` — Pareto with minimum `SCALE` and tail index `SHAPE` (heavy tail:
    /// finite mean needs SHAPE > 1).
    Pareto(Duration, f64),
}

/// A delay: the sum of one or more components, written `A+B` (e.g. `const:20ms+pareto:1ms,2`).
#[derive(Clone, Debug, PartialEq)]
pub struct Delay {
    parts: Vec<DelayDist>,
}

const HINT: &str = "use const:D, uniform:MIN,MAX, normal:MEAN,SD, lognormal:MEDIAN,SIGMA or \
                    pareto:SCALE,SHAPE, summed with +";

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl DelayDist {
    /// Parses one component.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        let bad = || SpecError::Spec {
            what: "delay",
            spec: s.into(),
            hint: HINT,
        };
        let (kind, args) = s.trim().split_once(':').ok_or_else(bad)?;
        let args: Vec<&str> = args.split(',').map(str::trim).collect();
        let d = match (kind.trim(), args.as_slice()) {
            ("const", [d]) => Self::Const(parse::duration(d)?),
            ("uniform", [a, b]) => {
                let (a, b) = (parse::duration(a)?, parse::duration(b)?);
                if a > b {
                    return Err(bad());
                }
                Self::Uniform(a, b)
            }
            ("normal", [m, sd]) => Self::Normal(parse::duration(m)?, parse::duration(sd)?),
            ("lognormal", [m, s]) => {
                let sigma = parse::number(s)?;
                if sigma < 0.0 {
                    return Err(bad());
                }
                Self::LogNormal(parse::duration(m)?, sigma)
            }
            ("pareto", [x, a]) => {
                let shape = parse::number(a)?;
                let scale = parse::duration(x)?;
                if shape <= 0.0 || scale.is_zero() {
                    return Err(bad());
                }
                Self::Pareto(scale, shape)
            }
            _ => return Err(bad()),
        };
        Ok(d)
    }

    /// A sample in seconds, before clamping.
    fn sample_secs<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Self::Const(d) => secs(d),
            Self::Uniform(a, b) if a == b => secs(a),
            Self::Uniform(a, b) => rand_distr::Uniform::new_inclusive(secs(a), secs(b))
                .map_or(secs(a), |u| u.sample(rng)),
            Self::Normal(m, sd) => {
                rand_distr::Normal::new(secs(m), secs(sd)).map_or(secs(m), |n| n.sample(rng))
            }
            Self::LogNormal(m, s) => {
                rand_distr::LogNormal::new(secs(m).ln(), s).map_or(secs(m), |n| n.sample(rng))
            }
            Self::Pareto(x, a) => {
                rand_distr::Pareto::new(secs(x), a).map_or(secs(x), |p| p.sample(rng))
            }
        }
    }

    /// P(D ≥ x) for the clamped component, x in seconds.
    fn survival(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        match *self {
            Self::Const(d) => f64::from(u8::from(secs(d) >= x)),
            Self::Uniform(a, b) => {
                let (a, b) = (secs(a), secs(b));
                if x <= a {
                    1.0
                } else if x > b {
                    0.0
                } else {
                    (b - x) / (b - a)
                }
            }
            Self::Normal(m, sd) => match Normal::new(secs(m), secs(sd)) {
                Ok(n) => n.sf(x),
                Err(_) => f64::from(u8::from(secs(m) >= x)),
            },
            Self::LogNormal(m, s) => match LogNormal::new(secs(m).ln(), s) {
                Ok(n) => n.sf(x),
                Err(_) => f64::from(u8::from(secs(m) >= x)),
            },
            Self::Pareto(xm, a) => Pareto::new(secs(xm), a).map_or(0.0, |p| p.sf(x)),
        }
    }

    /// The q-quantile of the clamped component, in seconds.
    fn quantile(&self, q: f64) -> f64 {
        let q = q.clamp(0.0, 1.0);
        let v = match *self {
            Self::Const(d) => secs(d),
            Self::Uniform(a, b) => secs(a) + q * (secs(b) - secs(a)),
            Self::Normal(m, sd) => {
                Normal::new(secs(m), secs(sd)).map_or(secs(m), |n| n.inverse_cdf(q))
            }
            Self::LogNormal(m, s) => {
                LogNormal::new(secs(m).ln(), s).map_or(secs(m), |n| n.inverse_cdf(q))
            }
            Self::Pareto(xm, a) => secs(xm) * (1.0 - q).powf(-1.0 / a),
        };
        v.max(0.0)
    }

    fn is_const(&self) -> bool {
        matches!(self, Self::Const(_))
            || matches!(self, Self::Uniform(a, b) if a == b)
            || matches!(self, Self::Normal(_, sd) if sd.is_zero())
            || matches!(self, Self::LogNormal(_, s) if *s == 0.0)
    }

    /// Mass of the atom at zero (the clamped negative part of a normal).
    fn zero_atom(&self) -> f64 {
        match *self {
            Self::Normal(m, sd) if !sd.is_zero() => {
                Normal::new(secs(m), secs(sd)).map_or(0.0, |n| n.cdf(0.0))
            }
            _ => 0.0,
        }
    }
}

impl fmt::Display for DelayDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Const(d) => write!(f, "const:{}", fmt_duration(d)),
            Self::Uniform(a, b) => write!(f, "uniform:{},{}", fmt_duration(a), fmt_duration(b)),
            Self::Normal(m, s) => write!(f, "normal:{},{}", fmt_duration(m), fmt_duration(s)),
            Self::LogNormal(m, s) => write!(f, "lognormal:{},{s}", fmt_duration(m)),
            Self::Pareto(x, a) => write!(f, "pareto:{},{a}", fmt_duration(x)),
        }
    }
}

impl Delay {
    /// A delay of one component.
    pub fn new(d: DelayDist) -> Self {
        Self { parts: vec![d] }
    }

    /// A constant delay.
    pub fn constant(d: Duration) -> Self {
        Self::new(DelayDist::Const(d))
    }

    /// Parses `A` or `A+B+…` where each part is a [`DelayDist`] spec.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        let parts = s
            .split('+')
            .map(DelayDist::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { parts })
    }

    /// The components.
    pub fn parts(&self) -> &[DelayDist] {
        &self.parts
    }

    /// Draws a delay in whole microseconds (each component clamped at zero).
    pub fn sample_us<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let mut total = 0.0;
        for p in &self.parts {
            if p.is_const() {
                total += p.quantile(0.5);
            } else {
                total += p.sample_secs(rng).max(0.0);
            }
        }
        let us = (total * 1e6).round();
        if us >= 1e15 {
            1_000_000_000_000_000
        } else {
            us as u64
        }
    }

    /// The law of the delay as one constant shift plus at most one random component, which is
    /// what [`crate::theory`] integrates over; `None` for sums of two or more random parts.
    pub fn law(&self) -> Option<DelayLaw> {
        let mut shift = 0.0;
        let mut random = None;
        for p in &self.parts {
            if p.is_const() {
                shift += p.quantile(0.5);
            } else if random.replace(*p).is_some() {
                return None;
            }
        }
        Some(DelayLaw { shift, random })
    }

    /// An upper bound on the delay in seconds: the exact maximum for bounded laws, else the
    /// `1 − 1e-9` quantile of each part (the value the plan reports as "worst case").
    pub fn worst_case(&self) -> f64 {
        self.parts
            .iter()
            .map(|p| match p {
                DelayDist::Const(_) | DelayDist::Uniform(..) => p.quantile(1.0),
                _ => p.quantile(1.0 - 1e-9),
            })
            .sum()
    }

    /// The q-quantile, in seconds, when the law is known (see [`Self::law`]).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.law().map(|l| l.quantile(q))
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl core::str::FromStr for Delay {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        Self::parse(s)
    }
}

/// A delay law the theory can integrate: `shift + random` (random may be absent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DelayLaw {
    /// Constant part, seconds.
    pub shift: f64,
    /// The random part, if any.
    pub random: Option<DelayDist>,
}

impl DelayLaw {
    /// P(D ≥ x), x in seconds.
    pub fn survival(&self, x: f64) -> f64 {
        let y = x - self.shift;
        match self.random {
            None => f64::from(u8::from(y <= 0.0)),
            Some(r) => r.survival(y),
        }
    }

    /// The q-quantile in seconds.
    pub fn quantile(&self, q: f64) -> f64 {
        self.shift + self.random.map_or(0.0, |r| r.quantile(q))
    }

    /// A discretisation of the law as `(value in seconds, probability)` pairs summing to 1:
    /// atoms exactly, the continuous part by `n` equal-probability cells represented by their
    /// median point (a midpoint rule in probability space).
    pub fn nodes(&self, n: usize) -> Vec<(f64, f64)> {
        let Some(r) = self.random else {
            return vec![(self.shift, 1.0)];
        };
        let atom = r.zero_atom();
        let mut out = Vec::with_capacity(n + 1);
        if atom > 0.0 {
            out.push((self.shift, atom));
        }
        let cont = 1.0 - atom;
        let n = n.max(1);
        for i in 0..n {
            let q = atom + cont * (i as f64 + 0.5) / n as f64;
            out.push((self.shift + r.quantile(q), cont / n as f64));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn specs_round_trip_and_reject_nonsense() {
        for s in [
            "const:10ms",
            "uniform:1ms,5ms",
            "normal:10ms,2ms",
            "lognormal:40ms,0.25",
            "pareto:2ms,1.5",
            "const:20ms+pareto:1ms,2",
        ] {
            assert_eq!(Delay::parse(s).unwrap().to_string(), s);
        }
        for s in [
            "",
            "const",
            "uniform:5ms,1ms",
            "pareto:1ms,0",
            "gauss:1ms,2ms",
        ] {
            assert!(Delay::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn samples_are_never_negative_and_normal_has_an_atom_at_zero() {
        let d = Delay::parse("normal:1ms,5ms").unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let zeros = (0..10_000).filter(|_| d.sample_us(&mut rng) == 0).count();
        // P(N(1, 5) < 0) = Φ(−0.2) ≈ 0.4207.
        assert!((3900..4500).contains(&zeros), "{zeros}");
        let law = d.law().unwrap();
        let atom = law.nodes(10)[0];
        assert_eq!(atom.0, 0.0);
        assert!((atom.1 - 0.4207).abs() < 1e-3);
    }

    #[test]
    fn survival_matches_hand_computed_values() {
        let u = Delay::parse("uniform:10ms,30ms").unwrap().law().unwrap();
        assert!((u.survival(0.015) - 0.75).abs() < 1e-12);
        assert_eq!(u.survival(0.005), 1.0);
        assert_eq!(u.survival(0.031), 0.0);
        let p = Delay::parse("const:10ms+pareto:1ms,2")
            .unwrap()
            .law()
            .unwrap();
        // P(X ≥ 2 ms) = (1/2)² for Pareto(1 ms, 2), shifted by 10 ms.
        assert!((p.survival(0.012) - 0.25).abs() < 1e-12);
        let c = Delay::constant(Duration::from_millis(5)).law().unwrap();
        assert_eq!(c.survival(0.005), 1.0);
        assert_eq!(c.survival(0.005_001), 0.0);
    }
}
