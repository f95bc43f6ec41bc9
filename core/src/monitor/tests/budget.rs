//! The budget detector inside the monitor: per-node timeouts from each node's own link, the
//! side table of link estimates, restarts and restores.

use super::*;
use crate::detector::{AlarmRate, Budget, LinkEstimate};

fn budget_monitor() -> Monitor {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Budget(Budget::new(AlarmRate::parse("1/day").unwrap())),
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

/// 2000 beats of `clean` (no loss) and `lossy` (every 10th beat lost, every 50th run 3 long).
fn feed(m: &mut Monitor) -> u64 {
    let mut at = 0;
    for i in 1..=2000u64 {
        at = i * S;
        beat(m, at + 300, "clean", 1, i);
        let lost = i % 10 == 0 || (i % 50 > 0 && i % 50 < 3);
        if !lost {
            beat(m, at + 500 + (i * 7919) % 20_000, "lossy", 1, i);
        }
    }
    assert!(events(m).iter().all(|e| e.2 == "joined"), "no false alarm");
    at
}

#[test]
fn a_lossy_node_gets_a_longer_timeout_than_a_clean_one() {
    let mut m = budget_monitor();
    let at = feed(&mut m);
    let now = t(at + 1000);
    let clean = m.link_view("clean").unwrap().timeout;
    let lossy = m.link_view("lossy").unwrap().timeout;
    assert!(clean < lossy, "{clean:?} vs {lossy:?}");
    let v = m.link_view("lossy").unwrap();
    assert!(v.link.loss > 0.1 && v.link.loss < 0.2, "{v:?}");
    assert!(v.link.mean_burst > 1.0, "{v:?}");
    assert!(v.predicted_per_second <= 1.0 / 86_400.0, "{v:?}");
    let c = m.link_view("clean").unwrap();
    assert!(
        c.link.loss < 0.01 && c.link.offset_p99 < Duration::from_millis(5),
        "{c:?}"
    );
    // The deadline is the last beat plus the node's own timeout.
    let n = m.node("lossy", now).unwrap();
    assert_eq!(n.deadline.unwrap() - n.last_seen, lossy);
}

#[test]
fn the_side_table_exists_only_for_the_budget_detector() {
    let mut fixed = monitor(3);
    beat(&mut fixed, S, "a", 1, 1);
    assert!(fixed.link_estimate("a").is_none());
    assert!(fixed.link_view("a").is_none());
    assert!(!fixed.restore_link_estimate("a", LinkEstimate::default()));
    let a = fixed.node("a", t(S)).unwrap();
    assert_eq!(a.deadline.unwrap() - a.last_seen, Duration::from_secs(3));
    let mut m = budget_monitor();
    beat(&mut m, S, "a", 1, 1);
    assert!(m.link_estimate("a").is_some());
}

#[test]
fn a_silent_node_is_down_at_its_own_timeout() {
    let mut m = budget_monitor();
    let at = feed(&mut m);
    let last = m.node("lossy", t(at)).unwrap().last_seen;
    let timeout = m.link_view("lossy").unwrap().timeout;
    // Only "clean" keeps beating, until long after "lossy"'s deadline.
    for i in 2001..2100u64 {
        beat(&mut m, i * S + 300, "clean", 1, i);
    }
    let downs: Vec<_> = std::iter::from_fn(|| m.poll_event())
        .filter_map(|e| match e.kind {
            crate::EventKind::Down { deadline, .. } => Some((e.node.to_string(), deadline)),
            _ => None,
        })
        .collect();
    assert_eq!(downs, [("lossy".to_string(), last + timeout)]);
}

#[test]
fn the_estimate_survives_a_restart_and_a_restore() {
    let mut m = budget_monitor();
    let at = feed(&mut m);
    let before = *m.link_estimate("lossy").unwrap();
    let timeout = m.link_view("lossy").unwrap().timeout;
    // A new incarnation keeps the link's estimate (the link did not change) and its timeout.
    beat(&mut m, at + 2 * S, "lossy", 2, 1);
    assert_eq!(
        m.link_estimate("lossy").unwrap().beats(),
        before.beats() + 1
    );
    assert_eq!(m.link_view("lossy").unwrap().timeout, timeout);
    // A restored monitor starts from the prior, until the stored estimate is given back.
    let mut r = budget_monitor();
    let restored = m.nodes(t(at + 2 * S)).map(|n| RestoredNode {
        id: n.id.clone(),
        addr: n.addr,
        incarnation: n.incarnation,
        seq: n.seq,
        state: n.state,
        state_since: n.state_since,
        last_seen: n.last_seen,
        period: n.period,
    });
    r.restore(restored, t(at + 3 * S));
    let prior = r.link_view("lossy").unwrap().timeout;
    assert_ne!(prior, timeout);
    let stored = *m.link_estimate("lossy").unwrap();
    assert!(r.restore_link_estimate("lossy", stored));
    assert_eq!(r.link_estimate("lossy"), Some(&stored));
    assert_eq!(r.link_view("lossy").unwrap().timeout, timeout);
    assert!(!r.restore_link_estimate("nobody", stored));
}

#[test]
fn budget_state_is_at_most_128_bytes_more_than_fixed() {
    // Per node: the record every detector has, plus the side-table entry for budget only.
    assert!(size_of::<LinkEstimate>() <= 128);
    let mut fixed = monitor(3);
    let mut budget = budget_monitor();
    for i in 0..1000u64 {
        beat(&mut fixed, S + i, &format!("n{i}"), 1, 1);
        beat(&mut budget, S + i, &format!("n{i}"), 1, 1);
    }
    let extra = budget.heap_bytes() as f64 / 1000.0 - fixed.heap_bytes() as f64 / 1000.0;
    assert!(
        extra > 0.0 && extra <= 128.0 * 1.5,
        "{extra} bytes per node"
    );
}

/// A monitor that has watched `clean` loss-free nodes and `bursty` ones (a burst of five lost
/// beats every 200) for 5000 beats: every one settled.
fn settled_fleet(clean: u64, bursty: u64) -> (Monitor, u64) {
    let mut m = budget_monitor();
    for i in 1..=5000u64 {
        for k in 0..clean {
            beat(&mut m, i * S + 300 + k, &format!("clean{k}"), 1, i);
        }
        for k in 0..bursty {
            if (i + 37 * k) % 200 < 195 {
                beat(&mut m, i * S + 400 + k, &format!("bursty{k}"), 1, i);
            }
        }
    }
    (m, 5000 * S)
}

/// The timeout of a node `id` that has beaten `n` times on a clean link from `from`.
fn newcomer(m: &mut Monitor, id: &str, from: u64, n: u64) -> Duration {
    for i in 1..=n {
        beat(m, from + i * S + 350, id, 1, i);
    }
    m.link_view(id).unwrap().timeout
}

#[test]
fn a_new_node_starts_as_cautious_as_the_fleet_s_worst_class_and_earns_its_own_timeout() {
    let (mut m, at) = settled_fleet(9, 1);
    let classes = m.link_classes().classes().to_vec();
    assert_eq!(classes.len(), 2, "{classes:?}");
    assert_eq!((classes[0].nodes, classes[1].nodes), (9, 1), "{classes:?}");
    let clean = m.link_view("clean0").unwrap().timeout;
    let bursty = m.link_view("bursty0").unwrap().timeout;
    assert!(bursty > 5 * clean, "{clean:?} vs {bursty:?}");
    // A newcomer cannot yet tell its link from the bursty one's (10 % of the fleet, more than
    // DOUBT): it plans for it from its first beat.
    let young = newcomer(&mut m, "new", at, 60);
    assert!(young >= bursty / 2, "{young:?} vs {bursty:?}");
    assert!(m.link_view("new").unwrap().fleet_prior);
    assert!(!m.link_view("clean0").unwrap().fleet_prior);
    // 2000 clean beats (ten burst intervals) rule the bursty class out: its own short timeout.
    let old = newcomer(&mut m, "new", at, 2000);
    assert!(old <= clean * 2, "{old:?} vs {clean:?}");
    // Alone on a monitor, the same node would have had the prior's timeout at first.
    let mut alone = budget_monitor();
    let first = newcomer(&mut alone, "new", 0, 60);
    assert!(first < young / 2, "{first:?} vs {young:?}");
}

#[test]
fn a_fleet_of_one_clean_link_changes_nothing_for_a_newcomer() {
    let (mut m, at) = settled_fleet(4, 0);
    assert_eq!(m.link_classes().classes().len(), 1);
    let mut alone = budget_monitor();
    for n in [60, 300, 1000] {
        let with = newcomer(&mut m, &format!("new{n}"), at, n);
        let without = newcomer(&mut alone, &format!("new{n}"), 0, n);
        assert_eq!(with, without, "after {n} beats");
    }
}
