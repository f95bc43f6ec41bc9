//! Link classes: what the links of a monitor's settled nodes look like — the prior a young node
//! plans with under the budget detector.
//!
//! A node that has not lost a beat yet cannot tell a clean link from one whose bursts have not
//! come: on a Wi-Fi hop that loses a burst of five beats every 200, its own fit says "clean"
//! until the first burst, and that burst is a false alarm. The nodes a monitor already knows
//! well are the evidence it lacks: nodes on one network share its bursts. So the monitor sorts
//! its *settled* nodes (at least [`SETTLED`] beats) into classes by their solved timeout — one
//! class per half-octave of timeout in periods, each remembered by its members' mean loss chain
//! and by how many nodes it holds. A young node must meet its
//! budget on every class it may belong to. The probability q that it belongs to each, given the
//! beats and losses it has shown so far, is Bayes' (the class's share s of the fleet times the
//! likelihood of the node's own loss counts under the class's chain); its predicted rate is
//! the sum of the classes' rates, each weighted by min(1, (q/s)/[`DOUBT`]). The node's timeout
//! is the larger of that answer and its own estimate's.
//!
//! So a class counts in full until the node's own evidence is [`DOUBT`]⁻¹ : 1 against it,
//! however few nodes it holds: the budget holds for a node of *each* class, not only on the
//! fleet's average (weighting by q alone would let the 9 % of nodes on a bad link run at 11
//! times the budget while young, and a 1 % class at 100 times). A young node on a lossy class
//! starts as cautious as that class and stays so (its first burst makes it certain: a run of
//! losses is far likelier there); a young node on a clean link earns its own short timeout as
//! clean beats rule the bursty classes out — within a few of their burst intervals, the price
//! of not knowing. With no settled node, or a fleet of one link, the detector behaves exactly
//! as without classes.

use super::link::LinkEstimate;
use crate::theory::LossChain;

/// Beats after which a node's own estimate stands alone, and it counts in the census (about
/// an hour at 1 s beats: long enough to have seen a rare link's bursts many times).
pub const SETTLED: u32 = 4096;

/// The likelihood ratio (the node's evidence for a class against the fleet as a whole, q/s)
/// below which the class's weight in a young node's rate falls with it; above, it counts in
/// full: how sure a node must be that it is not on a class before it stops paying for it.
pub const DOUBT: f64 = 0.05;

/// Most classes: half-octaves of timeouts from under 2 up to the budget detector's longest
/// (100 periods).
pub const MAX_CLASSES: usize = 14;

/// One class of settled links.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkClass {
    /// Its members' loss chain: their mean P(received → lost) and P(lost → received).
    pub chain: LossChain,
    /// Settled nodes in the class.
    pub nodes: u32,
}

/// The classes of a monitor's settled links, in ascending timeout; empty until a node settles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkClasses {
    classes: Vec<LinkClass>,
}

/// The class of a timeout of `periods` periods: its half-octave.
fn bucket(periods: f64) -> usize {
    if periods.is_nan() || periods < 2.0_f64.sqrt() {
        return 0;
    }
    ((2.0 * periods.log2()) as usize).min(MAX_CLASSES - 1)
}

/// Collects settled nodes into [`LinkClasses`] (a census, rebuilt from scratch each time).
#[derive(Clone, Debug, Default)]
pub struct Census {
    /// Per class: nodes, and sums of P(received → lost) and P(lost → received).
    sums: [(u32, [f64; 2]); MAX_CLASSES],
}

impl Census {
    /// Counts a node whose estimate is `est` and whose current timeout is `periods` periods;
    /// a node not yet settled is skipped.
    pub fn add(&mut self, est: &LinkEstimate, periods: f64) {
        if est.beats() < SETTLED || !periods.is_finite() {
            return;
        }
        let c = est.chain();
        let (nodes, sums) = &mut self.sums[bucket(periods)];
        *nodes = nodes.saturating_add(1);
        sums[0] += c.trans[0][1];
        sums[1] += c.trans[1][0];
    }

    /// The classes counted.
    pub fn finish(self) -> LinkClasses {
        let classes = self
            .sums
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|&(nodes, [p_gb, p_bg])| {
                let n = f64::from(nodes);
                LinkClass {
                    chain: LossChain::gilbert_elliott(p_gb / n, p_bg / n, 0.0, 1.0),
                    nodes,
                }
            })
            .collect();
        LinkClasses { classes }
    }
}

impl LinkClasses {
    /// Whether no node has settled.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The classes, in ascending timeout.
    pub fn classes(&self) -> &[LinkClass] {
        &self.classes
    }

    /// Whether a node with estimate `est` plans with the classes: it is not settled and some
    /// other node is.
    pub fn apply_to(&self, est: &LinkEstimate) -> bool {
        !self.is_empty() && est.beats() < SETTLED
    }

    /// How much each class weighs in the rate of a young node whose estimate is `est` (in
    /// [`Self::classes`] order): min(1, (q/s)/[`DOUBT`]) for its posterior q and share s.
    pub fn weights(&self, est: &LinkEstimate, out: &mut [f64; MAX_CLASSES]) -> usize {
        let n = self.posterior(est, out);
        let total: f64 = self.classes.iter().map(|c| f64::from(c.nodes)).sum();
        for (w, c) in out.iter_mut().zip(&self.classes) {
            let share = f64::from(c.nodes) / total;
            *w = (*w / share / DOUBT).min(1.0);
        }
        n
    }

    /// The probability that a node whose estimate is `est` belongs to each class (in
    /// [`Self::classes`] order, summing to 1): the class's share of the settled nodes times the
    /// likelihood of the node's loss counts — clean beats, loss runs begun, runs continued —
    /// under the class's chain.
    pub fn posterior(&self, est: &LinkEstimate, out: &mut [f64; MAX_CLASSES]) -> usize {
        let [clean, runs, stays] = est.loss_counts();
        let ln = |p: f64| p.clamp(1e-12, 1.0 - 1e-12).ln();
        let mut best = f64::NEG_INFINITY;
        for (o, c) in out.iter_mut().zip(&self.classes) {
            let (p_gb, p_bg) = (c.chain.trans[0][1], c.chain.trans[1][0]);
            let ll = f64::from(c.nodes).ln()
                + clean * ln(1.0 - p_gb)
                + runs * (ln(p_gb) + ln(p_bg))
                + stays * ln(1.0 - p_bg);
            *o = ll;
            best = best.max(ll);
        }
        let n = self.classes.len();
        let mut total = 0.0;
        for o in &mut out[..n] {
            *o = (*o - best).exp();
            total += *o;
        }
        for o in &mut out[..n] {
            *o /= total;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::*;
    use crate::detector::Arrival;
    use crate::time::Timestamp;

    /// An estimate after `n` beats where beat i is lost when `lost(i)`.
    fn estimate(n: u64, lost: impl Fn(u64) -> bool) -> LinkEstimate {
        let mut e = LinkEstimate::default();
        let mut prev: Option<u64> = None;
        for i in 0..n {
            if lost(i) {
                continue;
            }
            e.observe(
                &Arrival {
                    at: Timestamp::from_micros(i * 1_000_000),
                    prev: prev.map(|p| Timestamp::from_micros(p * 1_000_000)),
                    seq_advance: prev.map_or(1, |p| i - p),
                    period: Duration::from_secs(1),
                    resumed: false,
                },
                8192,
            );
            prev = Some(i);
        }
        e
    }

    /// Bursts of 5 lost beats every 200.
    fn bursty(i: u64) -> bool {
        i % 200 >= 195
    }

    proptest::proptest! {
        #[test]
        fn weights_are_in_0_1_and_the_posterior_sums_to_1(
            every in proptest::collection::vec(2u64..400, 1..6),
            young_every in 2u64..400,
            young_beats in 0u64..3000,
            periods in proptest::collection::vec(0.5f64..200.0, 6),
        ) {
            let mut census = Census::default();
            for (k, e) in every.iter().enumerate() {
                census.add(&estimate(9000, |i| i % e == 0), periods[k]);
            }
            let classes = census.finish();
            let young = estimate(young_beats, |i| i % young_every == 1);
            let mut q = [0.0; MAX_CLASSES];
            let n = classes.posterior(&young, &mut q);
            proptest::prop_assert!(n >= 1 && n <= every.len());
            let total: f64 = q[..n].iter().sum();
            proptest::prop_assert!((total - 1.0).abs() < 1e-9, "{q:?}");
            classes.weights(&young, &mut q);
            proptest::prop_assert!(q[..n].iter().all(|w| (0.0..=1.0).contains(w)), "{q:?}");
            // Posterior over share averages to 1 under the shares: some class counts in full.
            proptest::prop_assert!(q[..n].contains(&1.0), "{q:?}");
        }
    }

    #[test]
    fn buckets_are_half_octaves_of_the_timeout() {
        assert_eq!(bucket(1.0), 0);
        assert_eq!(bucket(1.5), 1);
        assert_eq!(bucket(2.0), 2);
        assert_eq!(bucket(2.9), 3);
        assert_eq!(bucket(29.0), 9);
        assert_eq!(bucket(100.0), 13);
        assert_eq!(bucket(1e9), MAX_CLASSES - 1);
        assert_eq!(bucket(f64::NAN), 0);
    }

    #[test]
    fn the_census_counts_settled_nodes_by_class_and_averages_them() {
        let clean = estimate(5000, |_| false);
        let lossy = estimate(5000, bursty);
        let young = estimate(100, bursty);
        let mut census = Census::default();
        census.add(&clean, 2.1);
        census.add(&clean, 2.3);
        census.add(&lossy, 25.0);
        census.add(&young, 30.0);
        census.add(&lossy, 29.0);
        census.add(&lossy, f64::INFINITY);
        let classes = census.finish();
        let c = classes.classes();
        assert_eq!(c.len(), 2, "{c:?}");
        // 2.1 and 2.3 periods share a half-octave, and so do 25 and 29; the young node and the
        // infinite timeout are not counted.
        assert_eq!((c[0].nodes, c[1].nodes), (2, 2), "{c:?}");
        let (want, got) = (lossy.chain().trans, c[1].chain.trans);
        assert!((want[0][1] - got[0][1]).abs() < 1e-15 && (want[1][0] - got[1][0]).abs() < 1e-15);
        assert!(LinkClasses::default().is_empty());
        assert!(!classes.apply_to(&clean) && classes.apply_to(&young));
    }

    #[test]
    fn the_posterior_starts_at_the_shares_and_follows_the_evidence() {
        let mut census = Census::default();
        for _ in 0..9 {
            census.add(&estimate(5000, |_| false), 2.0);
        }
        census.add(&estimate(5000, bursty), 29.0);
        let classes = census.finish();
        let mut q = [0.0; MAX_CLASSES];
        // No evidence: the shares.
        assert_eq!(classes.posterior(&LinkEstimate::default(), &mut q), 2);
        assert!(
            (q[0] - 0.9).abs() < 1e-12 && (q[1] - 0.1).abs() < 1e-12,
            "{q:?}"
        );
        // One burst of five makes the bursty class all but certain.
        classes.posterior(&estimate(210, bursty), &mut q);
        assert!(q[1] > 0.999, "{q:?}");
        // A thousand clean beats rule it out (bursts come every 200).
        classes.posterior(&estimate(1000, |_| false), &mut q);
        assert!(q[1] < 0.01, "{q:?}");
        assert!((q[0] + q[1] - 1.0).abs() < 1e-12);
        // Weights: a class counts in full until the evidence is 20 : 1 against it.
        classes.weights(&LinkEstimate::default(), &mut q);
        assert_eq!(&q[..2], [1.0, 1.0]);
        classes.weights(&estimate(1000, |_| false), &mut q);
        assert_eq!(q[0], 1.0);
        assert!(q[1] > 0.0 && q[1] < 0.5, "{q:?}");
        classes.weights(&estimate(3000, |_| false), &mut q);
        assert!(q[1] < 1e-4, "{q:?}");
    }
}
