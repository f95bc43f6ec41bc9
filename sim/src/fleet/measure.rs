//! What a pager sees, from a run's event log and its ground truth: events by kind, false downs
//! (fault-induced or noise), crashes detected and how fast, missed crashes, and pages per
//! incident (see [`super::pages`] for the paging policy).

use std::collections::BTreeMap;

use hb_core::detector::DetectorConfig;

use super::attribution::{Attribution, attribute, noise_groups};
use super::faults::Fault;
use super::pages::{Page, Seen, pages};
use super::{Fleet, FleetOutcome, MonitorCounters};
use crate::engine::Violation;
use crate::scenario::Scenario;
use crate::stats::quantile_sorted;

/// One monitor's measurements, summed over runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorMeasure {
    /// The monitor's name.
    pub name: String,
    /// Events by hb-core name.
    pub events: BTreeMap<&'static str, u64>,
    /// Downs of nodes that were not crashed but were cut off by a fault.
    pub false_downs_fault: u64,
    /// Downs of nodes that were not crashed, with no fault to blame.
    pub false_downs_noise: u64,
    /// Crashes this monitor declared down.
    pub detected: u64,
    /// Crashes of a node this monitor already held down (not counted in the detection times).
    pub already_down: u64,
    /// Crashes that lasted longer than the bound with no down.
    pub missed: u64,
    /// Crashes that ended (restart, or the end of the run) within the bound without a down.
    pub not_due: u64,
    /// Crashes of nodes this monitor had never heard of.
    pub unobserved: u64,
    /// Detection times, µs, sorted.
    pub detection_us: Vec<u64>,
    /// Detections slower than [`Self::bound_us`].
    pub over_bound: u64,
    /// The detection bound checked: the detector's bound (given the run's largest delay) plus
    /// one period, the largest over runs; `None` where the simulator has no bound (φ, jittered
    /// Chen).
    pub bound_us: Option<u64>,
    /// Pages from this monitor: (crash, fault, noise).
    pub pages: (u64, u64, u64),
    /// Network and process counters.
    pub counters: MonitorCounters,
}

impl MonitorMeasure {
    /// Mean, 99th percentile and maximum detection time, µs.
    pub fn detection(&self) -> Option<(f64, u64, u64)> {
        summary(&self.detection_us)
    }

    /// All pages.
    pub fn page_count(&self) -> u64 {
        self.pages.0 + self.pages.1 + self.pages.2
    }
}

/// Mean, p99 and max of sorted samples.
pub(crate) fn summary(sorted: &[u64]) -> Option<(f64, u64, u64)> {
    let last = *sorted.last()?;
    let mean = sorted.iter().sum::<u64>() as f64 / sorted.len() as f64;
    let f: Vec<f64> = sorted.iter().map(|&x| x as f64).collect();
    let p99 = quantile_sorted(&f, 0.99).map_or(last, |x| x as u64);
    Some((mean, p99, last))
}

/// Pages blamed on one fault of the plan, per monitor, summed over runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentMeasure {
    /// Index in the plan.
    pub fault: usize,
    /// The fault's text form.
    pub label: String,
    /// Pages per monitor.
    pub pages: Vec<u64>,
}

/// A fleet's measurements over one or more runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetMeasure {
    /// Runs measured.
    pub runs: u64,
    /// Per monitor.
    pub monitors: Vec<MonitorMeasure>,
    /// One per fault of the plan except `crash_every` (random crashes are counted below).
    pub incidents: Vec<IncidentMeasure>,
    /// Random crashes (over all runs).
    pub random_crashes: u64,
    /// Pages blamed on random crashes, over all monitors.
    pub random_crash_pages: u64,
    /// The most pages one random crash caused, over all monitors.
    pub random_crash_max_pages: u64,
    /// Noise downs grouped by node and overlapping silence: entry k counts the groups that
    /// k + 1 monitors saw (correlated loss shows as groups seen by several monitors).
    pub noise_seen_by: Vec<u64>,
    /// Beats sent.
    pub beats_sent: u64,
    /// Simulated node-hours.
    pub node_hours: f64,
    /// Each run's digest, in run order.
    pub hashes: Vec<u64>,
    /// Failed checks: (run seed, what).
    pub violations: Vec<(u64, Violation)>,
}

impl FleetMeasure {
    /// All monitors together (`name` is `all`): counts summed, detection times merged, the
    /// largest bound and the longest quiet interval.
    pub fn overall(&self) -> MonitorMeasure {
        let mut all = MonitorMeasure {
            name: "all".into(),
            ..MonitorMeasure::default()
        };
        for m in &self.monitors {
            for (k, v) in &m.events {
                *all.events.entry(k).or_default() += v;
            }
            all.false_downs_fault += m.false_downs_fault;
            all.false_downs_noise += m.false_downs_noise;
            all.detected += m.detected;
            all.already_down += m.already_down;
            all.missed += m.missed;
            all.not_due += m.not_due;
            all.unobserved += m.unobserved;
            all.detection_us.extend(&m.detection_us);
            all.over_bound += m.over_bound;
            all.bound_us = all.bound_us.max(m.bound_us);
            all.pages.0 += m.pages.0;
            all.pages.1 += m.pages.1;
            all.pages.2 += m.pages.2;
            let (c, q) = (&m.counters, &mut all.counters);
            q.delivered += c.delivered;
            q.blocked += c.blocked;
            q.lost += c.lost;
            q.stall_dropped += c.stall_dropped;
            q.stalls += c.stalls;
            q.verdicts_sent += c.verdicts_sent;
            q.verdicts_lost += c.verdicts_lost;
            q.verdicts_delivered += c.verdicts_delivered;
            if c.longest_quiet_us.1 - c.longest_quiet_us.0
                > q.longest_quiet_us.1 - q.longest_quiet_us.0
            {
                q.longest_quiet_us = c.longest_quiet_us;
            }
        }
        all.detection_us.sort_unstable();
        all
    }
}

/// The detector's bound plus one period (plus, in witness mode, the run's largest vote
/// delay: see `measure_run`), µs, for a run whose largest delay was `max_delay_us`.
fn bound(detector: DetectorConfig, fleet: &Fleet, max_delay_us: u64) -> Option<u64> {
    if matches!(detector, DetectorConfig::Phi(_)) {
        return None;
    }
    let t = &fleet.topology;
    let sc = Scenario {
        detector,
        period: t.period,
        jitter: t.jitter,
        ..Scenario::default()
    };
    Some(sc.detection_bound_us(max_delay_us, 0)? + t.period.as_micros() as u64)
}

/// Measures `outcomes` (runs of `fleet`).
pub fn measure(fleet: &Fleet, outcomes: &[FleetOutcome]) -> FleetMeasure {
    let t = &fleet.topology;
    let mut fm = FleetMeasure {
        runs: outcomes.len() as u64,
        monitors: t
            .monitors
            .iter()
            .map(|m| MonitorMeasure {
                name: m.name.clone(),
                ..MonitorMeasure::default()
            })
            .collect(),
        incidents: fleet
            .plan
            .faults
            .iter()
            .enumerate()
            .filter(|(_, f)| !matches!(f, Fault::CrashEvery { .. }))
            .map(|(i, f)| IncidentMeasure {
                fault: i,
                label: f.to_string(),
                pages: vec![0; t.monitors.len()],
            })
            .collect(),
        noise_seen_by: vec![0; t.monitors.len()],
        ..FleetMeasure::default()
    };
    for o in outcomes {
        measure_run(fleet, o, &mut fm);
    }
    for m in &mut fm.monitors {
        m.detection_us.sort_unstable();
    }
    fm
}

fn measure_run(fleet: &Fleet, o: &FleetOutcome, fm: &mut FleetMeasure) {
    let t = &fleet.topology;
    let mons = t.monitors.len();
    let n = t.node_count() as usize;
    fm.beats_sent += o.beats_sent;
    fm.node_hours += t
        .zones
        .iter()
        .map(|z| {
            f64::from(z.nodes) * o.simulated_us.saturating_sub(z.joins_at.as_micros() as u64) as f64
        })
        .sum::<f64>()
        / 3.6e9;
    fm.hashes.push(o.hash);
    if let Some(v) = &o.violation {
        fm.violations.push((o.seed, v.clone()));
    }
    let bounds: Vec<Option<u64>> = t
        .monitors
        .iter()
        .map(|m| {
            // Witness mode: the last vote a monitor needs comes over the monitor link.
            let vote = if m.quorum.is_some() {
                o.max_vote_delay_us
            } else {
                0
            };
            bound(m.detector, fleet, o.max_delay_us).map(|b| b + vote)
        })
        .collect();
    let settle: Vec<u64> = bounds
        .iter()
        .map(|b| b.unwrap_or(10 * t.period.as_micros() as u64))
        .collect();
    for (mm, b) in fm.monitors.iter_mut().zip(&bounds) {
        if b.is_some() {
            mm.bound_us = mm.bound_us.max(*b);
        }
    }
    let mut crashes_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (c, cr) in o.crashes.iter().enumerate() {
        crashes_of[cr.node as usize].push(c);
    }
    // Per path: its node events in order.
    let mut path: Vec<Vec<(u64, Seen)>> = vec![Vec::new(); n * mons];
    let mut noise: Vec<Vec<(u64, u64, u16)>> = vec![Vec::new(); n];
    let mut crash_pages = vec![0u64; o.crashes.len()];
    for (m, c) in fm.monitors.iter_mut().zip(&o.monitors) {
        let q = &mut m.counters;
        q.delivered += c.delivered;
        q.blocked += c.blocked;
        q.lost += c.lost;
        q.stall_dropped += c.stall_dropped;
        q.stalls += c.stalls;
        q.verdicts_sent += c.verdicts_sent;
        q.verdicts_lost += c.verdicts_lost;
        q.verdicts_delivered += c.verdicts_delivered;
        if c.longest_quiet_us.1 - c.longest_quiet_us.0 > q.longest_quiet_us.1 - q.longest_quiet_us.0
        {
            q.longest_quiet_us = c.longest_quiet_us;
        }
    }
    for e in &o.log {
        let mm = &mut fm.monitors[usize::from(e.monitor)];
        *mm.events.entry(e.name).or_default() += 1;
        if let Some(node) = e.node {
            path[node as usize * mons + usize::from(e.monitor)].push((e.at_us, e.seen));
        }
    }
    for page in pages(&o.log) {
        let m = page.monitor;
        let blame = attribute(fleet, o, &page, settle[usize::from(m)], &crashes_of);
        if let (Attribution::Noise, Some(node), Seen::Down { silence_us, .. }) =
            (blame, page.node, o.log[page.event].seen)
        {
            noise[node as usize].push((page.at_us.saturating_sub(silence_us), page.at_us, m));
        }
        let mm = &mut fm.monitors[usize::from(m)];
        let is_down = page.node.is_some();
        match blame {
            Attribution::Crash(c) => {
                mm.pages.0 += 1;
                crash_pages[c] += 1;
                if let Some(f) = o.crashes[c].fault
                    && let Some(i) = fm.incidents.iter_mut().find(|i| i.fault == f)
                {
                    i.pages[usize::from(m)] += 1;
                }
            }
            Attribution::Fault(f) => {
                mm.pages.1 += 1;
                mm.false_downs_fault += u64::from(is_down);
                if let Some(i) = fm.incidents.iter_mut().find(|i| i.fault == f) {
                    i.pages[usize::from(m)] += 1;
                }
            }
            Attribution::Noise => {
                mm.pages.2 += 1;
                mm.false_downs_noise += u64::from(is_down);
            }
        }
    }
    // Downs reported together (an isolation hold's end, an out zone's nodes) page as one
    // monitor-level event, but each is still a verdict: a false one counts as a false down.
    for (i, e) in o.log.iter().enumerate() {
        if !matches!(e.seen, Seen::Down { grouped: true, .. }) {
            continue;
        }
        let page = Page {
            event: i,
            monitor: e.monitor,
            node: e.node,
            at_us: e.at_us,
        };
        let m = usize::from(e.monitor);
        match attribute(fleet, o, &page, settle[m], &crashes_of) {
            Attribution::Crash(_) => {}
            Attribution::Fault(_) => fm.monitors[m].false_downs_fault += 1,
            Attribution::Noise => fm.monitors[m].false_downs_noise += 1,
        }
    }
    for (c, cr) in o.crashes.iter().enumerate() {
        if cr.fault.is_none() {
            fm.random_crashes += 1;
            fm.random_crash_pages += crash_pages[c];
            fm.random_crash_max_pages = fm.random_crash_max_pages.max(crash_pages[c]);
        }
        let end = cr.restart_us.unwrap_or(o.simulated_us);
        for (m, mm) in fm.monitors.iter_mut().enumerate() {
            let evs = &path[cr.node as usize * mons + m];
            let before = evs.iter().rev().find(|(at, _)| *at < cr.at_us);
            let down = evs
                .iter()
                .filter(|(at, s)| cr.at_us <= *at && *at < end && matches!(s, Seen::Down { .. }))
                .map(|(at, _)| *at)
                .next();
            let b = bounds[m];
            match (before, down) {
                (None, _) => mm.unobserved += 1,
                (Some((_, Seen::Down { .. })), _) => mm.already_down += 1,
                (_, Some(at)) => {
                    let t_d = at - cr.at_us;
                    mm.detected += 1;
                    mm.detection_us.push(t_d);
                    mm.over_bound += u64::from(b.is_some_and(|b| t_d > b));
                }
                (_, None) if b.is_none_or(|b| end - cr.at_us > b) => mm.missed += 1,
                (_, None) => mm.not_due += 1,
            }
        }
    }
    for downs in &mut noise {
        for k in noise_groups(downs) {
            fm.noise_seen_by[k.min(mons) - 1] += 1;
        }
    }
}
