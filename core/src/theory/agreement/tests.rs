//! The agreement theory against closed forms, the single-link theory, and a brute-force
//! continuous-time simulation of suspicion intervals (which does not assume the k-window
//! argument: it overlaps the intervals themselves).

use super::*;
use crate::theory::{Law, LossChain, mistake_rate};

fn model(n: usize, k: usize, t: f64, s: f64, q: f64) -> Agreement {
    Agreement {
        monitors: n,
        needed: k,
        period: 1.0,
        timeout: t,
        shared: s,
        path: q,
    }
}

/// SplitMix64 as a uniform source: the tests stay free of an RNG dependency.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Simulates `beats` beats to `m.monitors` paths with zero delay; each path's suspicion
/// intervals are `[last + T, next)` for gaps reaching T. Counts the onsets of at least K
/// overlapping intervals, per second, an onset not counted when an interval still open was
/// open before the previous episode ended (the same node still suspected: one incident).
fn brute_force(m: &Agreement, beats: usize, seed: u64) -> f64 {
    let mut rng = Rng(seed);
    let mut last = vec![0.0f64; m.monitors];
    let mut intervals: Vec<(f64, f64)> = Vec::new();
    for j in 1..beats {
        let t = j as f64 * m.period;
        let nic = rng.unit() < m.shared;
        for l in &mut last {
            let lost = nic || rng.unit() < m.path;
            if !lost {
                if t - *l >= m.timeout {
                    intervals.push((*l + m.timeout, t));
                }
                *l = t;
            }
        }
    }
    // Edges: (time, +1 start / −1 end, interval); ends before starts at one instant.
    let mut edges: Vec<(f64, i32, usize)> = Vec::new();
    for (i, &(a, b)) in intervals.iter().enumerate() {
        edges.push((a, 1, i));
        edges.push((b, -1, i));
    }
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let need = m.needed;
    let mut open: Vec<usize> = Vec::new();
    let (mut onsets, mut episode_end) = (0u64, f64::NEG_INFINITY);
    for (t, d, i) in edges {
        let before = open.len();
        if d > 0 {
            open.push(i);
        } else {
            open.retain(|&o| o != i);
        }
        if before < need && open.len() >= need {
            let spans = open.iter().any(|&o| intervals[o].0 < episode_end);
            onsets += u64::from(!spans);
        }
        if before >= need && open.len() < need {
            episode_end = t;
        }
    }
    onsets as f64 / (beats as f64 * m.period)
}

fn assert_close(theory: f64, measured: f64, seconds: f64, what: &str) {
    // 5 standard deviations of a Poisson count, plus 3 % for the higher-order episodes the
    // onset formula and the brute force merge differently.
    let tol = 5.0 * (theory / seconds).sqrt() + 0.03 * theory;
    assert!(
        (theory - measured).abs() <= tol,
        "{what}: theory {theory:.6e}, brute force {measured:.6e} (tolerance {tol:.2e})"
    );
}

#[test]
fn one_monitor_is_the_single_link_closed_form_and_theory() {
    for (t, k) in [(2.2, 2), (3.1, 3), (4.1, 4), (1.5, 1)] {
        let p = 0.05;
        let m = model(1, 1, t, 0.0, p);
        assert_eq!(m.run(), k);
        let closed = (1.0 - p) * p.powi(k as i32);
        let r = m.false_alarm_rate();
        assert!(
            (r - closed).abs() < 1e-15 * closed.max(1.0),
            "T {t}: {r} vs {closed}"
        );
        let law = Law {
            nodes: &[(0.0, 1.0)],
            survival: |z: f64| f64::from(u8::from(z <= 0.0)),
        };
        let single = mistake_rate(&LossChain::bernoulli(p), &law, 1.0, t);
        assert!(
            (r - single).abs() < 1e-12,
            "T {t}: {r} vs single-link {single}"
        );
    }
    // All loss shared is one path with loss s: the number of monitors does not matter.
    let shared = model(3, 2, 2.2, 0.05, 0.0).false_alarm_rate();
    assert!((shared - 0.95 * 0.05f64.powi(2)).abs() < 1e-15, "{shared}");
}

#[test]
fn two_of_three_is_three_pairs_to_first_order() {
    // λ ≈ C(3,2)·q^(2k) for small q.
    let q: f64 = 1e-3;
    let r = model(3, 2, 2.2, 0.0, q).false_alarm_rate();
    let first = 3.0 * q.powi(4);
    assert!((r / first - 1.0).abs() < 0.01, "{r} vs {first}");
    // 3 of 3 needs all three paths.
    let r3 = model(3, 3, 2.2, 0.0, q).false_alarm_rate();
    assert!((r3 / q.powi(6) - 1.0).abs() < 0.01, "{r3}");
}

#[test]
fn independent_loss_matches_brute_force_suspicion_overlaps() {
    for (n, k, t, q) in [
        (3, 2, 2.2, 0.3),
        (3, 2, 3.4, 0.4),
        (5, 3, 2.2, 0.4),
        (2, 2, 1.5, 0.3),
    ] {
        let m = model(n, k, t, 0.0, q);
        let beats = 400_000;
        let measured = brute_force(&m, beats, 7 + n as u64);
        let theory = m.false_alarm_rate();
        assert_close(
            theory,
            measured,
            beats as f64,
            &format!("{n}/{k} T {t} q {q}"),
        );
    }
}

#[test]
fn shared_loss_matches_brute_force() {
    for (s, q) in [(0.1, 0.2), (0.2, 0.1)] {
        let m = model(3, 2, 2.2, s, q);
        let beats = 400_000;
        let measured = brute_force(&m, beats, 99);
        let theory = m.false_alarm_rate();
        assert_close(theory, measured, beats as f64, &format!("s {s} q {q}"));
    }
}

#[test]
fn the_goal_two_of_three_at_2_2_s_versus_one_monitor() {
    let goal = model(3, 2, 2.2, 0.0, 0.01);
    assert!(goal.per_host_year() <= 1.0, "{}", goal.per_host_year());
    let alone = model(1, 1, 2.2, 0.0, 0.01);
    assert!(alone.per_host_year() > 1000.0, "{}", alone.per_host_year());
    // One monitor needs k = 4 (T above 4 s), 2-of-3 k = 2.
    assert_eq!(smallest_run(&alone, 1.0), Some(4));
    assert_eq!(smallest_run(&goal, 1.0), Some(2));
    // Half the loss shared: the pairs term is gone, s² remains.
    let s = 0.005;
    let shared = model(3, 2, 2.2, s, (0.01 - s) / (1.0 - s));
    assert!((shared.total_loss() - 0.01).abs() < 1e-15);
    assert!(shared.per_host_year() > 100.0 * goal.per_host_year());
    assert!(shared.per_host_year() < alone.per_host_year());
}

#[test]
fn detection_is_the_kth_deadline_plus_the_vote() {
    let (d, dm) = (0.0003, 0.0002);
    // No loss: every deadline at T + d − U, mean T + d − η/2 for K = 1; 2-of-3 adds the vote
    // only for a monitor whose own deadline comes before the second one — none here.
    let alone = model(1, 1, 4.1, 0.0, 0.0).detection(d, dm);
    assert!(
        (alone.mean - (4.1 + d - 0.5)).abs() < 1e-12,
        "{}",
        alone.mean
    );
    assert!((alone.max - (4.1 + d)).abs() < 1e-12);
    let trio = model(3, 2, 2.2, 0.0, 0.0).detection(d, dm);
    assert!(
        (trio.mean - (2.2 + d + dm - 0.5)).abs() < 1e-12,
        "{}",
        trio.mean
    );
    assert!(
        (trio.quantile(0.99) - (2.2 + d + dm - 0.01)).abs() < 1e-6,
        "{}",
        trio.quantile(0.99)
    );
    // Loss makes deadlines earlier, never later.
    let lossy = model(3, 2, 2.2, 0.0, 0.1).detection(d, dm);
    assert!(lossy.mean < trio.mean && lossy.max == trio.max);
}

#[test]
fn detection_matches_a_monte_carlo_of_order_statistics() {
    let m = model(3, 2, 2.2, 0.05, 0.1);
    let (d, dm) = (0.0, 0.01);
    let th = m.detection(d, dm);
    let mut rng = Rng(5);
    let trials = 200_000;
    let mut sum = 0.0;
    for _ in 0..trials {
        let u = rng.unit();
        let mut nic = [false; 8];
        for x in &mut nic {
            *x = rng.unit() < m.shared;
        }
        let x: Vec<f64> = (0..3)
            .map(|_| {
                let mut l = 0;
                while l < 8 && (nic[l] || rng.unit() < m.path) {
                    l += 1;
                }
                m.timeout + d - u - l as f64
            })
            .collect();
        for i in 0..3 {
            let mut v: Vec<f64> = (0..3).filter(|&j| j != i).map(|j| x[j] + dm).collect();
            v.sort_by(f64::total_cmp);
            sum += x[i].max(v[0]).max(0.0) / 3.0;
        }
    }
    let mc = sum / trials as f64;
    assert!(
        (mc - th.mean).abs() < 0.005,
        "Monte Carlo {mc}, theory {}",
        th.mean
    );
}
