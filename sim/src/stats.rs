//! Confidence intervals: exact Poisson (Garwood), normal over independent traces, quantiles.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// A point estimate with a two-sided confidence interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Interval {
    /// The estimate.
    pub value: f64,
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

impl Interval {
    /// Whether `x` lies inside `[lo, hi]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Two-sided standard normal quantile for confidence `level` (0.99 → 2.5758).
pub fn z(level: f64) -> f64 {
    Normal::new(0.0, 1.0).map_or(2.5758, |n| n.inverse_cdf(0.5 + level / 2.0))
}

/// Garwood's exact interval for the mean of a Poisson variable observed as `k`.
pub fn poisson_interval(k: u64, level: f64) -> (f64, f64) {
    let a = 1.0 - level;
    let lo = if k == 0 {
        0.0
    } else {
        ChiSquared::new(2.0 * k as f64).map_or(0.0, |c| c.inverse_cdf(a / 2.0) / 2.0)
    };
    let hi = ChiSquared::new(2.0 * k as f64 + 2.0)
        .map_or(f64::INFINITY, |c| c.inverse_cdf(1.0 - a / 2.0) / 2.0);
    (lo, hi)
}

/// Two-sided exact Poisson test: the p-value of observing `k` events when `mu` are expected
/// (the probability of outcomes at most as likely as `k`).
pub fn poisson_p_value(k: u64, mu: f64) -> f64 {
    if mu <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    let ln_pmf = |i: u64| -> f64 { i as f64 * mu.ln() - mu - ln_factorial(i) };
    let pk = ln_pmf(k);
    let tol = 1e-7;
    // Sum the pmf over all i with pmf(i) <= pmf(k); stop far in the tail.
    let hi = (mu + 20.0 * mu.sqrt() + 50.0).max(k as f64 + 50.0) as u64;
    let mut p = 0.0;
    for i in 0..=hi {
        let l = ln_pmf(i);
        if l <= pk + tol {
            p += l.exp();
        }
    }
    p.min(1.0)
}

fn ln_factorial(n: u64) -> f64 {
    statrs::function::factorial::ln_factorial(n)
}

/// The rate (events per unit exposure) of counts observed over independent traces, with a
/// confidence interval: a normal interval from the between-trace variance when there are at
/// least 30 events (robust to clustered events), else Garwood's exact Poisson interval.
pub fn rate_interval(counts: &[f64], exposures: &[f64], level: f64) -> Interval {
    let total: f64 = counts.iter().sum();
    let expo: f64 = exposures.iter().sum();
    if expo <= 0.0 {
        return Interval::default();
    }
    let value = total / expo;
    if total < 30.0 || counts.len() < 30 {
        let (lo, hi) = poisson_interval(total as u64, level);
        return Interval {
            value,
            lo: lo / expo,
            hi: hi / expo,
        };
    }
    // Ratio estimator: residuals r_i = c_i − value·e_i, Var(value) ≈ n/(n−1)·Σr²/E².
    let n = counts.len() as f64;
    let ss: f64 = counts
        .iter()
        .zip(exposures)
        .map(|(c, e)| (c - value * e).powi(2))
        .sum();
    let se = (ss * n / (n - 1.0)).sqrt() / expo;
    let h = z(level) * se;
    Interval {
        value,
        lo: (value - h).max(0.0),
        hi: value + h,
    }
}

/// The wider of the two intervals [`rate_interval`] chooses between — the normal interval over
/// traces (robust to clustered events) and Garwood's exact Poisson interval (right for few,
/// independent events) — so a gate using it keeps its nominal level in either regime. With no
/// events this is `[0, −ln((1 − level)/2)/exposure]`.
pub fn rate_interval_hull(counts: &[f64], exposures: &[f64], level: f64) -> Interval {
    let total: f64 = counts.iter().sum();
    let expo: f64 = exposures.iter().sum();
    if expo <= 0.0 {
        return Interval::default();
    }
    let value = total / expo;
    let (plo, phi) = poisson_interval(total.round() as u64, level);
    let (mut lo, mut hi) = (plo / expo, phi / expo);
    if counts.len() >= 2 {
        let n = counts.len() as f64;
        let ss: f64 = counts
            .iter()
            .zip(exposures)
            .map(|(c, e)| (c - value * e).powi(2))
            .sum();
        let h = z(level) * (ss * n / (n - 1.0)).sqrt() / expo;
        lo = lo.min((value - h).max(0.0));
        hi = hi.max(value + h);
    }
    Interval { value, lo, hi }
}

/// Mean of non-negative samples (durations) with a normal confidence interval whose lower end
/// is clamped at zero; `None` for no samples.
pub fn mean_interval(xs: &[f64], level: f64) -> Option<Interval> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let h = z(level) * (var / n).sqrt();
    Some(Interval {
        value: mean,
        lo: (mean - h).max(0.0),
        hi: mean + h,
    })
}

/// Weighted mean of per-trace ratios (weights: the traces' exposures) with a normal interval.
pub fn ratio_interval(xs: &[f64], ws: &[f64], level: f64) -> Interval {
    let wsum: f64 = ws.iter().sum();
    if xs.is_empty() || wsum <= 0.0 {
        return Interval {
            value: 1.0,
            lo: 1.0,
            hi: 1.0,
        };
    }
    let mean = xs.iter().zip(ws).map(|(x, w)| x * w).sum::<f64>() / wsum;
    let n = xs.len() as f64;
    let wbar = wsum / n;
    let ss: f64 = xs
        .iter()
        .zip(ws)
        .map(|(x, w)| (w / wbar * (x - mean)).powi(2))
        .sum();
    let se = if n > 1.0 {
        (ss / (n * (n - 1.0))).sqrt()
    } else {
        0.0
    };
    let h = z(level) * se;
    Interval {
        value: mean,
        lo: (mean - h).max(0.0),
        hi: (mean + h).min(1.0),
    }
}

/// The q-quantile of sorted samples (nearest rank); `None` when empty.
pub fn quantile_sorted(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let rank = (q * xs.len() as f64).ceil() as usize;
    Some(xs[rank.clamp(1, xs.len()) - 1])
}

/// A distribution-free confidence interval for the `q`-quantile of sorted samples `xs`, at
/// two-sided level `level`: the order statistics whose ranks bound that of the quantile in
/// a Binomial(n, q) (normal approximation, ranks clamped to the samples). `None` if empty.
pub fn quantile_interval_sorted(xs: &[f64], q: f64, level: f64) -> Option<(f64, f64)> {
    use statrs::distribution::{ContinuousCDF as _, Normal};
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let z = Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0);
    let half = z * (n * q * (1.0 - q)).sqrt();
    let rank = |r: f64| (r.max(1.0) as usize).clamp(1, xs.len()) - 1;
    Some((
        xs[rank((n * q - half).floor())],
        xs[rank((n * q + half).ceil())],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_intervals_bracket_the_quantile_and_narrow_with_more_samples() {
        let xs: Vec<f64> = (1..=10_000).map(f64::from).collect();
        let (lo, hi) = quantile_interval_sorted(&xs, 0.99, 1.0 - 1e-5).unwrap();
        let p99 = quantile_sorted(&xs, 0.99).unwrap();
        assert!(lo < p99 && p99 < hi, "{lo} {p99} {hi}");
        // ±4.42 σ of Binomial(10000, 0.99): σ ≈ 9.95 ranks.
        assert!(
            (p99 - lo - 44.0).abs() <= 2.0 && (hi - p99 - 44.0).abs() <= 2.0,
            "{lo} {hi}"
        );
        let few: Vec<f64> = (1..=100).map(f64::from).collect();
        let (lo, hi) = quantile_interval_sorted(&few, 0.99, 1.0 - 1e-5).unwrap();
        assert_eq!(hi, 100.0, "clamped to the largest sample");
        assert!(lo < 99.0);
        assert_eq!(quantile_interval_sorted(&[], 0.99, 0.99), None);
    }

    #[test]
    fn garwood_interval_matches_tables() {
        // Published 95 % limits: k = 0 → (0, 3.689); k = 5 → (1.623, 11.668).
        let (lo, hi) = poisson_interval(0, 0.95);
        assert_eq!(lo, 0.0);
        assert!((hi - 3.689).abs() < 1e-3);
        let (lo, hi) = poisson_interval(5, 0.95);
        assert!((lo - 1.623).abs() < 1e-3 && (hi - 11.668).abs() < 1e-3);
    }

    #[test]
    fn poisson_test_rejects_only_implausible_counts() {
        assert!(poisson_p_value(3, 3.0) > 0.5);
        assert!(poisson_p_value(0, 3.0) > 0.04);
        assert!(poisson_p_value(15, 3.0) < 1e-4);
        assert_eq!(poisson_p_value(0, 0.0), 1.0);
    }

    #[test]
    fn the_hull_interval_is_at_least_as_wide_as_either() {
        // Clustered: 10 traces with 0 and 10 with 20 events; the normal interval is wider.
        let counts: Vec<f64> = (0..20)
            .map(|i| if i % 2 == 0 { 0.0 } else { 20.0 })
            .collect();
        let expo = vec![1.0; 20];
        let h = rate_interval_hull(&counts, &expo, 0.99);
        let n = rate_interval(&counts, &expo, 0.99);
        let (plo, phi) = poisson_interval(200, 0.99);
        assert!(h.lo <= n.lo && h.hi >= n.hi);
        assert!(h.lo <= plo / 20.0 && h.hi >= phi / 20.0);
        assert!(h.hi > phi / 20.0, "clustering widens it beyond Poisson");
        // No events: Garwood's upper end, −ln(α/2) for the total.
        let h = rate_interval_hull(&[0.0; 10], &[1.0; 10], 1.0 - 1e-5);
        assert_eq!(h.lo, 0.0);
        assert!((h.hi * 10.0 - (-(5e-6f64).ln())).abs() < 1e-6, "{}", h.hi);
    }

    #[test]
    fn duration_means_never_get_a_negative_lower_bound() {
        // Two tiny mistakes and one long one: the normal interval would dip below zero.
        let i = mean_interval(&[0.001, 0.001, 0.5], 0.99).unwrap();
        assert_eq!(i.lo, 0.0);
        assert!(i.hi > i.value && i.value > 0.16);
        assert!(mean_interval(&[], 0.99).is_none());
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&xs, 0.5), Some(2.0));
        assert_eq!(quantile_sorted(&xs, 0.99), Some(4.0));
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }
}
