//! What the budget detector knows of one node's link: a streaming Gilbert–Elliott loss fit from
//! sequence gaps and a fixed-size, decayed, log-binned sketch of arrival offsets.

use core::time::Duration;

use super::api::Arrival;
use crate::theory::LossChain;
use crate::time::micros_f64;

/// Bins of the offset sketch: one below 2⁻⁸η, 20 half-octaves up to 4η, one overflow.
pub const BINS: usize = 22;

/// Memory of the fast loss fit, in beats (the slow one's is the detector's `window`).
pub const FAST_WINDOW: u32 = 128;

/// Standard deviations of the loss fit's posterior by which [`LinkEstimate::chain`] leans
/// towards more loss and longer bursts.
pub const CONFIDENCE_Z: f64 = 0.5;

/// Effective loss runs the fast fit needs before it is believed.
const FAST_MIN_RUNS: f32 = 2.0;

/// Longest run of losses one gap adds to the loss fit: a partition or an outage is one event,
/// not evidence that every burst lasts minutes.
pub const MAX_RUN: u64 = 64;

/// How far the offset baseline rises per beat, as a fraction of the period (2⁻¹²: follows a
/// sender clock up to ~244 ppm slow; a fast one only lowers offsets, which the baseline follows
/// at once).
const CREEP: f64 = 1.0 / 4096.0;

/// Rescale the decayed counts when the weight of a new sample exceeds this.
const RESCALE_AT: f32 = 1e30;

/// One node's link estimate (128 bytes): the budget detector's side state.
///
/// - **Loss**: the beat-loss indicator as a two-state Markov chain (received = good, lost =
///   bad), fitted from sequence gaps: a fresh beat that advanced the sequence by k ≥ 2 is one
///   loss run — one received → lost transition, k − 2 lost → lost ones (at most [`MAX_RUN`])
///   and one lost → received; k = 1 is one received → received. The counts decay
///   exponentially, twice: a slow fit (memory: the detector's `window` beats) for precision and
///   a fast one ([`FAST_WINDOW`] beats) that sees a link getting worse within a minute or two;
///   [`Self::chain`] takes the worse of the two.
/// - **Offsets**: each beat's lateness — its offset from the sender's schedule (arrival minus
///   η·seq, as in Chen's NFD-E) above a baseline that tracks the earliest recent offset — in
///   [`BINS`] log-scale bins relative to the period, decayed like the loss counts. Only
///   differences of offsets matter to the theory, so the unknown clock offset cancels.
///
/// Decay costs O(1) per beat: each new observation weighs `g` times the previous one
/// (g = 1 + 1/window) and every count is divided by the newest weight when read; the counts are
/// rescaled when the weight grows large. No sample is stored.
///
/// Laid out in two cache lines, the first holding everything an on-time beat touches (the
/// counts, the weights, the lateness and the sketch's lowest bins), so that at a million nodes
/// a beat costs one extra cache miss, not two.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[repr(C, align(64))]
pub struct LinkEstimate {
    /// Decayed counts, slow memory: received → received, loss runs, lost → lost.
    slow: [f32; 3],
    /// The same, fast memory.
    fast: [f32; 3],
    /// Weight of the newest observation in the slow and the fast counts.
    weight: [f32; 2],
    /// Fresh beats observed (saturating).
    beats: u32,
    /// Lateness of the newest beat above the baseline, µs (≥ 0).
    lateness_us: f32,
    /// Decayed weights of the lateness bins (slow memory).
    hist: [f32; BINS],
}

impl Default for LinkEstimate {
    fn default() -> Self {
        Self {
            hist: [0.0; BINS],
            slow: [0.0; 3],
            fast: [0.0; 3],
            weight: [1.0; 2],
            beats: 0,
            lateness_us: 0.0,
        }
    }
}

/// A summary of a [`LinkEstimate`] for status pages and metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkSummary {
    /// Long-run fraction of beats lost, as fitted.
    pub loss: f64,
    /// Mean length of a run of lost beats, in beats (1/P(lost → received)).
    pub mean_burst: f64,
    /// 99th percentile of the beats' lateness above the earliest recent one (the sketch's bin
    /// edge at or above it).
    pub offset_p99: Duration,
    /// Fresh beats observed.
    pub beats: u32,
}

/// The weight growth per beat of a decayed count with memory `window` beats.
pub(super) fn gain(window: u32) -> f32 {
    1.0 + 1.0 / window.max(1) as f32
}

/// The sketch's bin for a lateness of `r` periods.
fn bin(r: f64) -> usize {
    if r.is_nan() || r < 1.0 / 256.0 {
        return 0;
    }
    if r >= 4.0 {
        return BINS - 1;
    }
    // floor(2·log2 r) from the float's exponent and whether its mantissa is ≥ √2.
    let bits = r.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mantissa = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
    let half = i64::from(mantissa >= core::f64::consts::SQRT_2);
    (2 * exp + half + 17).clamp(1, BINS as i64 - 2) as usize
}

/// The value a bin stands for, in periods: its upper edge (so the sketch never understates a
/// delay by more than its bin), and 8η for the overflow bin.
pub(super) fn bin_value(k: usize) -> f64 {
    // Upper edge of bin k (1 ≤ k ≤ 20) is 2^((k − 16)/2); bin 0's is 2⁻⁸.
    let half_octaves = match k {
        0 => -16,
        k if k >= BINS - 1 => 6,
        k => k as i64 - 16,
    };
    let pow2 = |e: i64| f64::from_bits(((1023 + e) as u64) << 52);
    if half_octaves % 2 == 0 {
        pow2(half_octaves / 2)
    } else {
        pow2((half_octaves - 1) / 2) * core::f64::consts::SQRT_2
    }
}

impl LinkEstimate {
    /// Takes one fresh beat into the estimate; `window` is the effective memory in beats.
    ///
    /// A first beat (of a node or of a new incarnation, `prev` is `None`) restarts the offset
    /// baseline: the sender's schedule starts afresh. A beat that ends an outage (`resumed`)
    /// counts its gap's losses but restarts the baseline too: the sender may have re-phased.
    pub fn observe(&mut self, arrival: &Arrival, window: u32) {
        self.observe_with_gain(arrival, gain(window));
    }

    /// [`Self::observe`] with the slow memory's per-beat weight growth `g = 1 + 1/window`
    /// precomputed (the budget detector keeps it, sparing a division per beat).
    pub(super) fn observe_with_gain(&mut self, arrival: &Arrival, g: f32) {
        self.beats = self.beats.saturating_add(1);
        let Some(prev) = arrival.prev else {
            self.lateness_us = 0.0;
            return;
        };
        self.weight[0] *= g;
        self.weight[1] *= 1.0 + 1.0 / FAST_WINDOW as f32;
        let k = arrival.seq_advance.max(1);
        for (counts, w) in [
            (&mut self.slow, self.weight[0]),
            (&mut self.fast, self.weight[1]),
        ] {
            if k == 1 {
                counts[0] += w;
            } else {
                counts[1] += w;
                counts[2] += (k - 2).min(MAX_RUN) as f32 * w;
            }
        }
        let eta = micros_f64(arrival.period);
        if arrival.resumed || eta <= 0.0 {
            self.lateness_us = 0.0;
        } else {
            let da = micros_f64(arrival.at - prev);
            let late = (f64::from(self.lateness_us) + da - eta * k as f64 * (1.0 + CREEP)).max(0.0);
            self.lateness_us = late as f32;
            // Most beats are on time: bin 0 without a division.
            let k = if late < eta * (1.0 / 256.0) {
                0
            } else {
                bin(late / eta)
            };
            self.hist[k] += self.weight[0];
        }
        if self.weight[0] > RESCALE_AT {
            let inv = 1.0 / self.weight[0];
            for c in self.hist.iter_mut().chain(self.slow.iter_mut()) {
                *c *= inv;
            }
            self.weight[0] = 1.0;
        }
        if self.weight[1] > RESCALE_AT {
            let inv = 1.0 / self.weight[1];
            for c in &mut self.fast {
                *c *= inv;
            }
            self.weight[1] = 1.0;
        }
    }

    /// The slow fit's decayed counts: clean beats (received → received), loss runs begun,
    /// lost beats followed by another loss (see [`LinkClasses`](super::LinkClasses)).
    pub fn loss_counts(&self) -> [f64; 3] {
        self.slow.map(|c| f64::from(c / self.weight[0]))
    }

    /// Fresh beats observed.
    pub fn beats(&self) -> u32 {
        self.beats
    }

    /// The fitted loss chain (state 0: received, state 1: lost), on the pessimistic side of
    /// the evidence: P(received → lost) is the larger of the slow and the fast fit's, P(lost →
    /// received) the slow fit's (a burst length from a few recent bursts is too noisy to use).
    ///
    /// The slow fit treats each transition probability as a Beta posterior — Jeffreys' prior
    /// (half a loss run, half a clean beat) on the received side; on the lost side half a
    /// run's end against p_gb/2 of continuing, so that without evidence of bursts losses look
    /// independent — and takes the posterior mean moved [`CONFIDENCE_Z`] standard deviations
    /// towards more loss and longer bursts. It never predicts zero loss (a window without a
    /// loss still predicts about 1/(2·window)), and its margin shrinks as evidence accumulates.
    /// The fast fit (a point estimate) is used only once it holds two loss runs' worth of
    /// evidence.
    pub fn chain(&self) -> LossChain {
        let slow = self.slow.map(|c| f64::from(c / self.weight[0]));
        let beta = |a: f64, b: f64| {
            let mean = a / (a + b);
            (mean, (mean * (1.0 - mean) / (a + b + 1.0)).sqrt())
        };
        let (gb_mean, gb_sd) = beta(slow[1] + 0.5, slow[0] + 0.5);
        let p_gb = (gb_mean + CONFIDENCE_Z * gb_sd).min(1.0);
        let (bg_mean, bg_sd) = beta(slow[1] + 0.5, slow[2] + 0.5 * gb_mean);
        let p_bg = (bg_mean - CONFIDENCE_Z * bg_sd).max(bg_mean / 4.0);
        let fast = self.fast.map(|c| f64::from(c / self.weight[1]));
        let p_gb = if fast[1] >= f64::from(FAST_MIN_RUNS) {
            p_gb.max(fast[1] / (fast[0] + fast[1]))
        } else {
            p_gb
        };
        LossChain::gilbert_elliott(p_gb, p_bg, 0.0, 1.0)
    }

    /// The sketch as a discrete law in seconds for period `eta_s`: `(value, weight)` for every
    /// non-empty bin, ascending, weights summing to 1; `None` before any offset was seen.
    pub fn law_nodes(&self, eta_s: f64, out: &mut [(f64, f64); BINS]) -> Option<usize> {
        let total: f64 = self.hist.iter().map(|&c| f64::from(c)).sum();
        if total <= 0.0 {
            return None;
        }
        let mut len = 0;
        for (k, &c) in self.hist.iter().enumerate() {
            if c > 0.0 {
                out[len] = (bin_value(k) * eta_s, f64::from(c) / total);
                len += 1;
            }
        }
        Some(len)
    }

    /// The q-quantile of the lateness, in periods (the upper edge of the bin that holds it).
    pub fn lateness_quantile(&self, q: f64) -> f64 {
        let total: f64 = self.hist.iter().map(|&c| f64::from(c)).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let mut acc = 0.0;
        for (k, &c) in self.hist.iter().enumerate() {
            acc += f64::from(c);
            if acc >= q * total {
                return bin_value(k);
            }
        }
        bin_value(BINS - 1)
    }

    /// Loss, mean burst length and offset p99 for a sender beating every `period`.
    pub fn summary(&self, period: Duration) -> LinkSummary {
        let c = self.chain();
        LinkSummary {
            loss: c.mean_loss(),
            mean_burst: 1.0 / c.trans[1][0],
            offset_p99: Duration::from_secs_f64(
                (self.lateness_quantile(0.99) * period.as_secs_f64()).min(1e9),
            ),
            beats: self.beats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    const ETA: Duration = Duration::from_secs(1);

    fn arrival(at_us: u64, prev_us: Option<u64>, advance: u64) -> Arrival {
        Arrival {
            at: Timestamp::from_micros(at_us),
            prev: prev_us.map(Timestamp::from_micros),
            seq_advance: advance,
            period: ETA,
            resumed: false,
        }
    }

    #[test]
    fn bins_are_half_octaves_of_the_period() {
        assert_eq!(bin(0.0), 0);
        assert_eq!(bin(1.0 / 512.0), 0);
        assert_eq!(bin(1.0 / 256.0), 1);
        assert_eq!(bin(0.999), 16);
        assert_eq!(bin(1.0), 17);
        assert_eq!(bin(1.5), 18);
        assert_eq!(bin(3.99), 20);
        assert_eq!(bin(4.0), 21);
        assert_eq!(bin(f64::INFINITY), 21);
        for k in 0..BINS - 1 {
            // A bin's value is its upper edge: just below it falls in the bin.
            assert_eq!(bin(bin_value(k) * (1.0 - 1e-12)), k, "bin {k}");
        }
        assert_eq!(bin_value(16), 1.0);
        assert_eq!(bin_value(BINS - 2), 4.0);
        assert_eq!(bin_value(BINS - 1), 8.0);
    }

    #[test]
    fn an_estimate_round_trips_through_postcard_for_the_store() {
        let mut e = LinkEstimate::default();
        let mut prev = None;
        for i in 0..500u64 {
            let advance = if i % 7 == 0 { 3 } else { 1 };
            let at = i * 1_000_000 + (i * 31) % 9000;
            e.observe(&arrival(at, prev, advance), 1024);
            prev = Some(at);
        }
        let mut buf = [0u8; 256];
        let bytes = postcard::to_slice(&e, &mut buf).unwrap();
        let back: LinkEstimate = postcard::from_bytes(bytes).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn the_estimate_fits_in_128_bytes() {
        assert!(
            size_of::<LinkEstimate>() <= 128,
            "{}",
            size_of::<LinkEstimate>()
        );
    }

    #[test]
    fn sequence_gaps_fit_bursts_and_offsets_their_lateness() {
        let mut e = LinkEstimate::default();
        let mut prev = None;
        let mut seq = 0u64;
        // 10 000 beats: every 100th starts a burst of 4 lost beats; delays alternate 10/30 ms.
        for i in 0..10_000u64 {
            let advance = if i % 100 == 99 { 5 } else { 1 };
            seq += advance;
            let at = seq * 1_000_000 + if i % 2 == 0 { 10_000 } else { 30_000 };
            e.observe(&arrival(at, prev, advance), 4096);
            prev = Some(at);
        }
        let c = e.chain();
        // P(received → lost) = 1/100, P(lost → received) = 1/4.
        assert!((c.trans[0][1] - 0.01).abs() < 0.002, "{:?}", c.trans);
        assert!((c.trans[1][0] - 0.25).abs() < 0.02, "{:?}", c.trans);
        let s = e.summary(ETA);
        assert!((s.mean_burst - 4.0).abs() < 0.3, "{s:?}");
        // Lateness is 0 or 20 ms less the creep (in [2^-6, 2^-5.5) s): p99 is that bin's upper edge.
        assert!(
            (s.offset_p99.as_secs_f64() - bin_value(5)).abs() < 1e-6,
            "{s:?}"
        );
    }

    #[test]
    fn a_clean_window_still_predicts_some_loss() {
        let mut e = LinkEstimate::default();
        let mut prev = None;
        for i in 0..5000u64 {
            let at = i * 1_000_000;
            e.observe(&arrival(at, prev, 1), 1024);
            prev = Some(at);
        }
        let c = e.chain();
        let p = c.trans[0][1];
        assert!(p > 0.0 && p < 1e-3, "{p}");
        // No burst seen: losses are assumed (nearly) independent, bursts of about one beat.
        assert!(c.trans[1][0] > 0.98, "{:?}", c.trans);
    }

    #[test]
    fn the_fit_follows_a_change_of_regime() {
        let mut e = LinkEstimate::default();
        let mut prev = None;
        let mut seq = 0;
        for i in 0..20_000u64 {
            // Clean for 10 000 beats, then every 10th beat lost.
            let advance = if i >= 10_000 && i % 9 == 0 { 2 } else { 1 };
            seq += advance;
            let at = seq * 1_000_000;
            e.observe(&arrival(at, prev, advance), 1024);
            prev = Some(at);
        }
        let loss = e.chain().mean_loss();
        assert!((loss - 0.1).abs() < 0.02, "{loss}");
    }
}
