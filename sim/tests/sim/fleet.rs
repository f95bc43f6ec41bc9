//! The fleet simulator: determinism, the fault verbs doing what they say, the `crashes`
//! baseline, and today's behaviour under a monitor-side partition (issue 16 §3).

use std::collections::BTreeSet;
use std::time::Duration;

use hb_sim::fleet::{
    FaultPlan, Fleet, FleetMeasure, FleetOutcome, Seen, Topology, measure, presets, run_fleet,
    run_many,
};
use hb_sim::{Link, Loss, trace_seed};

/// `nodes` nodes in `zones` zones, `monitors` monitors, 1 s beats, fixed 3 s timeout, every path
/// lossless with a constant 1 ms delay, for `secs` seconds, under `plan`.
fn lossless(nodes: u32, monitors: u16, zones: u32, secs: u64, plan: &str) -> Fleet {
    let mut t = Topology::uniform(nodes, monitors, zones).unwrap();
    t.link = Link::parse("delay=const:1ms").unwrap();
    t.duration = Duration::from_secs(secs);
    Fleet::new(t, FaultPlan::parse(plan).unwrap()).unwrap()
}

fn run(f: &Fleet, seed: u64) -> (FleetOutcome, FleetMeasure) {
    let o = run_fleet(f, seed);
    assert_eq!(o.violation, None);
    let m = measure(f, core::slice::from_ref(&o));
    (o, m)
}

/// The nodes monitor `m` declared down, in the log.
fn downed(o: &FleetOutcome, m: u16) -> BTreeSet<u32> {
    o.log
        .iter()
        .filter(|e| e.monitor == m && matches!(e.seen, Seen::Down { .. }))
        .filter_map(|e| e.node)
        .collect()
}

const EVERY_VERB: &str = "partition_monitor=m0,40s,10s;zone_outage=z1,60s,8s;\
                          switch_flap=z0,80s,4s,4s,2;stall_monitor=m1,100s,5s;crash=n2,20s,15s;\
                          crash_every=1m,10s;cut_path=n5,m2,30s,6s";

#[test]
fn same_seed_and_plan_give_the_same_event_log_another_seed_another() {
    let mut t = Topology::uniform(12, 3, 2).unwrap();
    t.link = Link::parse("wan;loss=2%;dup=1%;reorder=1%,50ms").unwrap();
    t.shared_loss = Some(Loss::Bernoulli(0.01));
    t.jitter = 0.1;
    t.duration = Duration::from_secs(150);
    let f = Fleet::new(t, FaultPlan::parse(EVERY_VERB).unwrap()).unwrap();
    let a = run_fleet(&f, 7);
    let b = run_fleet(&f, 7);
    assert_eq!(a.hash, b.hash);
    assert_eq!(a, b, "the whole outcome, log included");
    assert!(
        a.log.len() > 50 && !a.crashes.is_empty(),
        "the run exercises faults"
    );
    let c = run_fleet(&f, 8);
    assert_ne!(a.hash, c.hash);
    // Parallel runs are the sequential runs with derived seeds.
    let many = run_many(&f, 7, 3);
    for (r, o) in many.iter().enumerate() {
        assert_eq!(o.hash, run_fleet(&f, trace_seed(7, r as u64)).hash);
    }
}

#[test]
fn partition_monitor_silences_that_monitor_only() {
    let f = lossless(12, 3, 3, 150, "partition_monitor=m0,60s,30s");
    let (o, m) = run(&f, 1);
    // 12 nodes × 30 beats sent in [60 s, 90 s), all dropped on m0's uplink, none elsewhere.
    assert_eq!(o.monitors[0].blocked, 12 * 30);
    assert_eq!((o.monitors[1].blocked, o.monitors[2].blocked), (0, 0));
    let (from, to) = o.monitors[0].longest_quiet_us;
    assert!(
        from <= 60_000_000 && to >= 90_000_000 && to - from < 31_000_000,
        "m0 heard nothing in [{from}, {to}) µs"
    );
    assert!(o.monitors[1].longest_quiet_us.1 - o.monitors[1].longest_quiet_us.0 < 1_000_000);
    // m0 takes the silence of all twelve for its own blindness: one isolated, one reconnected.
    assert!(downed(&o, 0).is_empty());
    assert_eq!(m.monitors[0].events.get("isolated"), Some(&1));
    assert_eq!(m.monitors[0].events.get("reconnected"), Some(&1));
    assert!(downed(&o, 1).is_empty() && downed(&o, 2).is_empty());
    assert!(
        m.monitors[1..]
            .iter()
            .all(|mm| !mm.events.contains_key("isolated"))
    );
    // Without the isolation guard the same verb convicts every node m0 watches.
    let mut t = f.topology.clone();
    t.monitors[0].isolation = None;
    let (o, m) = run(&Fleet::new(t, f.plan.clone()).unwrap(), 1);
    assert_eq!(downed(&o, 0), (0..12).collect());
    assert_eq!(m.monitors[0].false_downs_fault, 12);
    assert_eq!(m.monitors[0].false_downs_noise, 0);
}

#[test]
fn zone_outage_drops_only_that_zone() {
    let f = lossless(12, 3, 3, 150, "zone_outage=z1,60s,20s");
    let (o, m) = run(&f, 2);
    let zone1: BTreeSet<u32> = (0..12).filter(|&i| f.zone_of(i) == 1).collect();
    assert_eq!(zone1.len(), 4);
    for mon in 0..3 {
        assert_eq!(downed(&o, mon), zone1, "monitor {mon}");
        assert_eq!(o.monitors[usize::from(mon)].blocked, 4 * 20);
        let mm = &m.monitors[usize::from(mon)];
        assert_eq!((mm.false_downs_fault, mm.false_downs_noise), (4, 0));
        assert_eq!(
            mm.events.get("up"),
            Some(&4),
            "they come back after the outage"
        );
        // Each monitor knows the zones: one zone_down (its nodes' downs are that page) and
        // one zone_up.
        assert_eq!(mm.events.get("zone_down"), Some(&1), "monitor {mon}");
        assert_eq!(mm.events.get("zone_up"), Some(&1), "monitor {mon}");
    }
    assert_eq!(m.incidents[0].pages, [1, 1, 1]);
    let all = m.overall();
    assert_eq!((all.false_downs_fault, all.page_count()), (12, 3));
    assert_eq!(all.counters.blocked, 3 * 4 * 20);
    // Monitors that know no zones page once per node.
    let mut t = f.topology.clone();
    for mon in &mut t.monitors {
        mon.zones = false;
    }
    let (_, m) = run(&Fleet::new(t, f.plan.clone()).unwrap(), 2);
    assert_eq!(m.incidents[0].pages, [4, 4, 4]);
}

#[test]
fn switch_flap_takes_its_zone_down_each_time() {
    let f = lossless(12, 2, 3, 150, "switch_flap=z2,60s,5s,10s,3");
    let (_, m) = run(&f, 3);
    for mm in &m.monitors {
        assert_eq!((mm.false_downs_fault, mm.false_downs_noise), (4 * 3, 0));
    }
}

#[test]
fn stall_monitor_is_a_stall_the_monitor_counts_and_forgives() {
    let f = lossless(60, 3, 3, 150, "stall_monitor=m1,60s,10s");
    let (o, m) = run(&f, 4);
    let stalls: Vec<u64> = o.monitors.iter().map(|c| c.stalls).collect();
    assert_eq!(stalls, [0, 1, 0]);
    let q = o.monitors[1].longest_quiet_us;
    assert!(q.0 <= 60_000_000 && q.1 >= 70_000_000, "{q:?}");
    // 600 datagrams arrive during the stall; the socket holds 256.
    assert_eq!(o.monitors[1].stall_dropped, 600 - 256);
    assert!(m.monitors.iter().all(|mm| mm.page_count() == 0));
    // Without the core's stall guard the same stall convicts every node at resume: the verb
    // really froze the monitor's clock.
    let mut t = f.topology.clone();
    t.monitors[1].stall_threshold = None;
    // (The isolation guard would take the mass silence at resume for blindness: off too.)
    t.monitors[1].isolation = None;
    let unguarded = Fleet::new(t, f.plan.clone()).unwrap();
    let (o, m) = run(&unguarded, 4);
    assert_eq!(o.monitors[1].stalls, 0);
    assert_eq!(downed(&o, 1).len(), 60);
    assert_eq!(m.monitors[1].false_downs_fault, 60);
    assert!(downed(&o, 0).is_empty());
}

#[test]
fn crash_and_cut_path_hit_one_node() {
    let f = lossless(12, 3, 2, 120, "crash=n3,30s,30s;cut_path=n5,m2,30s,10s");
    let (o, m) = run(&f, 5);
    assert_eq!(o.crashes.len(), 1);
    for (mon, mm) in m.monitors.iter().enumerate() {
        assert_eq!(mm.detected, 1, "{}", mm.name);
        let (_, _, max) = mm.detection().unwrap();
        assert!(max <= mm.bound_us.unwrap());
        let expect: BTreeSet<u32> = if mon == 2 { [3, 5].into() } else { [3].into() };
        assert_eq!(downed(&o, mon as u16), expect, "{}", mm.name);
        assert_eq!(mm.events.get("restarted"), Some(&1));
    }
    assert_eq!(m.monitors[2].false_downs_fault, 1);
    assert_eq!(
        m.incidents[0].pages,
        [1, 1, 1],
        "the crash pages once per monitor"
    );
    assert_eq!(m.incidents[1].pages, [0, 0, 1]);
}

#[test]
fn crashes_preset_on_a_lossless_link_detects_every_crash_within_bound_and_nothing_else() {
    let p = presets::preset("crashes", 60, 3, 3).unwrap();
    let mut t = p.topology;
    t.link.loss = Loss::Bernoulli(0.0);
    t.check_invariants = false;
    let f = Fleet::new(t, p.plan).unwrap();
    let (o, m) = run(&f, 1);
    assert!(o.crashes.len() > 100, "{} crashes", o.crashes.len());
    assert_eq!(m.random_crashes, o.crashes.len() as u64);
    for mm in &m.monitors {
        let bound = mm.bound_us.unwrap();
        // Only a crash that ends (restart or end of run) within the bound may go without a
        // down: restarts come after 1 min, so those are the crashes of the run's last seconds.
        let short = o
            .crashes
            .iter()
            .filter(|c| c.restart_us.unwrap_or(o.simulated_us) - c.at_us <= bound)
            .count() as u64;
        assert_eq!(mm.missed, 0, "{}", mm.name);
        assert_eq!(mm.over_bound, 0, "{}", mm.name);
        assert_eq!((mm.false_downs_fault, mm.false_downs_noise), (0, 0));
        assert_eq!(
            mm.already_down, 0,
            "no false down, so no node is down when it crashes"
        );
        assert_eq!(mm.not_due, short, "{}", mm.name);
        assert_eq!(
            mm.detected + mm.not_due + mm.unobserved,
            o.crashes.len() as u64
        );
        let (_, _, max) = mm.detection().unwrap();
        assert!(max <= bound, "{max} µs");
    }
}

/// Issue 16 §1's fleet scenario: a 30 s partition of one monitor's uplink (60 nodes, 1 % loss)
/// is one `isolated` page on that monitor, then `reconnected`, and no false down; the other
/// monitors see nothing. Without the isolation guard, the same partition pages once for every
/// node the monitor watches (60 pages for one fault): the storm this fixes.
#[test]
fn a_30s_monitor_partition_is_one_isolated_page_and_no_false_down() {
    let p = presets::preset("partition", 60, 3, 3).unwrap();
    let f = Fleet::new(p.topology, p.plan).unwrap();
    let (o, m) = run(&f, 1);
    assert_eq!(m.incidents.len(), 1);
    assert_eq!(m.incidents[0].pages, [1, 0, 0]);
    assert_eq!(m.monitors[0].false_downs_fault, 0);
    assert!(downed(&o, 0).is_empty());
    assert_eq!(m.monitors[0].events.get("isolated"), Some(&1));
    assert_eq!(m.monitors[0].events.get("reconnected"), Some(&1));
    assert_eq!(m.monitors[0].events.get("up"), None, "no up storm");
    let mut t = f.topology.clone();
    for mon in &mut t.monitors {
        mon.isolation = None;
    }
    let (o, m) = run(&Fleet::new(t, f.plan.clone()).unwrap(), 1);
    assert_eq!(m.incidents[0].pages, [60, 0, 0]);
    assert_eq!(m.monitors[0].false_downs_fault, 60);
    assert_eq!(downed(&o, 0).len(), 60);
    assert!(o.log.iter().all(|e| e.seen != Seen::MonitorLevel));
}

#[test]
fn loss_at_the_nic_is_seen_by_every_monitor_at_once() {
    let mut t = Topology::uniform(30, 3, 3).unwrap();
    t.link = Link::parse("delay=const:1ms").unwrap();
    t.duration = Duration::from_secs(1800);
    t.check_invariants = false;
    let burst = Loss::GilbertElliott {
        p_gb: 0.002,
        p_bg: 0.3,
        loss_good: 0.0,
        loss_bad: 1.0,
    };
    t.shared_loss = Some(burst);
    let shared = Fleet::new(t.clone(), FaultPlan::default()).unwrap();
    let (_, m) = run(&shared, 6);
    assert_eq!(m.noise_seen_by[..2], [0, 0]);
    assert!(m.noise_seen_by[2] > 10, "{:?}", m.noise_seen_by);
    // The same loss per path instead: monitors mostly disagree.
    t.shared_loss = None;
    t.link.loss = burst;
    let independent = Fleet::new(t, FaultPlan::default()).unwrap();
    let (_, m) = run(&independent, 6);
    assert!(
        m.noise_seen_by[0] > 10 * m.noise_seen_by[2],
        "{:?}",
        m.noise_seen_by
    );
}

/// The fleet engine drives the core as the single-trace engine does: noise downs on independent
/// lossy paths, and on paths whose only loss is the NIC's shared draw, come at the rate the
/// fixed detector's theory predicts for one link with that loss.
#[test]
fn noise_downs_per_path_hour_match_the_fixed_detectors_theory() {
    for shared in [false, true] {
        let mut t = Topology::uniform(30, 3, 3).unwrap();
        t.link = Link::parse("lan;loss=2%").unwrap();
        if shared {
            t.shared_loss = Some(t.link.loss);
            t.link.loss = Loss::Bernoulli(0.0);
        }
        t.duration = Duration::from_secs(2 * 3600);
        t.check_invariants = false;
        let predicted = hb_sim::theory::predict(
            t.period,
            Duration::from_secs(3),
            &Loss::Bernoulli(0.02),
            &t.link.delay,
        )
        .unwrap()
        .mistake_rate_per_hour;
        let f = Fleet::new(t, FaultPlan::default()).unwrap();
        let (_, m) = run(&f, 9);
        // Per monitor: with shared loss the monitors' counts are correlated, each alone is
        // Poisson.
        for mm in &m.monitors {
            let k = mm.false_downs_noise;
            let (lo, hi) = hb_sim::stats::poisson_interval(k, 1.0 - 1e-5);
            assert!(
                lo / m.node_hours <= predicted && predicted <= hi / m.node_hours,
                "shared {shared}, {}: {k} noise downs in {} node-hours, theory {predicted}/h",
                mm.name,
                m.node_hours
            );
            assert!(k > 25, "enough to tell");
        }
    }
}
