//! QoS metrics of Chen, Toueg and Aguilera (2002), measured per trace and summarised with
//! confidence intervals.
//!
//! - T_D, detection time: from a crash to the start of the monitor's permanent suspicion
//!   (0 if it already suspected the node).
//! - A mistake: the monitor declares a node down while it is up. Mistake rate λ_M = mistakes
//!   per unit of up-time; E(T_MR) = 1/λ_M is the mean mistake recurrence time.
//! - T_M, mistake duration: from a false down to the next fresh beat.
//! - P_A, query accuracy: the fraction of up-time during which the monitor trusts the node.

use crate::stats::{self, Interval};

/// What one trace measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceStats {
    /// Virtual time simulated, µs.
    pub simulated_us: u64,
    /// Beats sent by the beater (all incarnations).
    pub beats_sent: u64,
    /// Datagrams delivered to the monitor (duplicates included).
    pub delivered: u64,
    /// Up-time observed (from the monitor first hearing of an incarnation until it crashes
    /// or the trace ends), µs.
    pub up_us: u64,
    /// Of that, time the monitor suspected the node, µs.
    pub suspected_up_us: u64,
    /// False downs.
    pub mistakes: u64,
    /// Durations of completed mistakes, µs.
    pub mistake_durations_us: Vec<u64>,
    /// Crashes injected.
    pub crashes: u64,
    /// Detection times of detected crashes, µs.
    pub detection_us: Vec<u64>,
    /// Crashes the detector did not report before the node restarted (the restart itself is
    /// reported) or the trace ended.
    pub undetected: u64,
    /// Crashes before any beat of the node reached the monitor (nothing to detect), ended by
    /// the restart or the trace end; not counted as undetected.
    pub unobserved: u64,
    /// For each undetected crash, how long it was watched without a down: from the crash to
    /// the restart or the end of the trace, µs.
    pub undetected_watched_us: Vec<u64>,
    /// Largest one-way delay any packet took, µs.
    pub max_delay_us: u64,
    /// Largest inter-arrival sample a detector saw: the gap between two consecutive fresh
    /// arrivals of one incarnation while the monitor trusted the node, µs (φ's estimates are
    /// averages of these; see [`crate::Scenario::detection_bound_us`]).
    pub max_sample_gap_us: u64,
    /// Monitor inputs processed (datagrams and timeouts).
    pub steps: u64,
}

/// A summary of many traces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Traces.
    pub traces: u64,
    /// Virtual seconds, all traces.
    pub simulated_seconds: f64,
    /// Up-time observed, seconds.
    pub up_seconds: f64,
    /// Beats sent.
    pub beats: u64,
    /// False downs.
    pub mistakes: u64,
    /// Mistakes per hour of up-time, with its 99 % confidence interval.
    pub mistake_rate_per_hour: Interval,
    /// Mean mistake recurrence time, seconds (up-time / mistakes).
    pub t_mr_mean_s: Option<f64>,
    /// Mean mistake duration, seconds, with its 99 % confidence interval.
    pub t_m_mean_s: Option<Interval>,
    /// Query accuracy probability, with its 99 % confidence interval over traces.
    pub p_a: Interval,
    /// Crashes.
    pub crashes: u64,
    /// Crashes not reported before restart or trace end.
    pub undetected: u64,
    /// Mean detection time, seconds, with its 99 % confidence interval.
    pub t_d_mean_s: Option<Interval>,
    /// Median detection time, seconds.
    pub t_d_p50_s: Option<f64>,
    /// 99th-percentile detection time, seconds.
    pub t_d_p99_s: Option<f64>,
    /// Largest detection time, seconds.
    pub t_d_max_s: Option<f64>,
    /// Every detection time, seconds, sorted (for plots).
    pub t_d_samples_s: Vec<f64>,
    /// Largest one-way delay seen, seconds.
    pub max_delay_s: f64,
}

impl Summary {
    /// Summarises `traces` (confidence level 99 %).
    pub fn of<'a>(traces: impl IntoIterator<Item = &'a TraceStats>) -> Self {
        let traces: Vec<&TraceStats> = traces.into_iter().collect();
        let n = traces.len() as u64;
        let up: f64 = traces.iter().map(|t| t.up_us as f64 / 1e6).sum();
        let mistakes: u64 = traces.iter().map(|t| t.mistakes).sum();
        let counts: Vec<f64> = traces.iter().map(|t| t.mistakes as f64).collect();
        let exposures: Vec<f64> = traces.iter().map(|t| t.up_us as f64 / 3.6e9).collect();
        let rate = stats::rate_interval(&counts, &exposures, 0.99);
        let t_m: Vec<f64> = traces
            .iter()
            .flat_map(|t| t.mistake_durations_us.iter().map(|&u| u as f64 / 1e6))
            .collect();
        let p_a_per: Vec<f64> = traces
            .iter()
            .filter(|t| t.up_us > 0)
            .map(|t| 1.0 - t.suspected_up_us as f64 / t.up_us as f64)
            .collect();
        let weights: Vec<f64> = traces
            .iter()
            .filter(|t| t.up_us > 0)
            .map(|t| t.up_us as f64)
            .collect();
        let mut t_d: Vec<f64> = traces
            .iter()
            .flat_map(|t| t.detection_us.iter().map(|&u| u as f64 / 1e6))
            .collect();
        t_d.sort_by(f64::total_cmp);
        Self {
            traces: n,
            simulated_seconds: traces.iter().map(|t| t.simulated_us as f64 / 1e6).sum(),
            up_seconds: up,
            beats: traces.iter().map(|t| t.beats_sent).sum(),
            mistakes,
            mistake_rate_per_hour: rate,
            t_mr_mean_s: (mistakes > 0).then(|| up / mistakes as f64),
            t_m_mean_s: stats::mean_interval(&t_m, 0.99),
            p_a: stats::ratio_interval(&p_a_per, &weights, 0.99),
            crashes: traces.iter().map(|t| t.crashes).sum(),
            undetected: traces.iter().map(|t| t.undetected).sum(),
            t_d_mean_s: stats::mean_interval(&t_d, 0.99),
            t_d_p50_s: stats::quantile_sorted(&t_d, 0.5),
            t_d_p99_s: stats::quantile_sorted(&t_d, 0.99),
            t_d_max_s: t_d.last().copied(),
            t_d_samples_s: t_d,
            max_delay_s: traces.iter().map(|t| t.max_delay_us).max().unwrap_or(0) as f64 / 1e6,
        }
    }
}
