//! Nodes joining a monitor that already knows the rest of the fleet: the budget detector's
//! young nodes plan with the classes of the settled ones (`hb_core::detector::LinkClasses`).
//!
//! [`mixed_join`] builds the fleet — for every link class a zone of settled nodes, there from
//! the start, and a zone of newcomers that join once the settled ones are (after
//! `hb_core::detector::SETTLED` beats and some) — and [`cohort`] measures each zone over its
//! own up-time: false downs, detection times of the random crashes, crashes never detected.

use core::time::Duration;

use hb_core::detector::DetectorConfig;

use super::pages::Seen;
use super::topology::{FleetError, Topology, Zone};
use super::{FaultPlan, Fleet, FleetOutcome};
use crate::link::Link;

/// One zone's measure over all runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZoneMeasure {
    /// The zone's name.
    pub name: String,
    /// Seconds of node up-time counted (from each node's join to the end of the run, less the
    /// time its crashes kept it down).
    pub up_s: f64,
    /// Downs of nodes that were up: false alarms.
    pub false_downs: u64,
    /// Detection time of each detected random crash, µs, ascending.
    pub detection_us: Vec<u64>,
    /// Crashes whose node restarted before any down.
    pub undetected: u64,
}

impl ZoneMeasure {
    /// False alarms per node-day of up-time.
    pub fn per_node_day(&self) -> f64 {
        self.false_downs as f64 / (self.up_s / 86_400.0).max(1e-12)
    }
}

/// For each `(name, link, share)` a zone `NAME-settled` of `settled · share` nodes (at least
/// one) beating from the start, and a zone `NAME-new` of as many joining at `join`; one
/// monitor with `detector`, isolation and zones off (the detector alone); random crashes every
/// `crash_every`, each restarting after `restart_after`; `join + measure` of virtual time.
pub fn mixed_join(
    classes: &[(String, Link, f64)],
    settled: u32,
    detector: DetectorConfig,
    join: Duration,
    measure: Duration,
    crash_every: Duration,
    restart_after: Duration,
) -> Result<Fleet, FleetError> {
    let mut t = Topology::uniform(1, 1, 1)?.with_detector(detector);
    let size = |share: f64| ((f64::from(settled) * share).round() as u32).max(1);
    t.zones = classes
        .iter()
        .flat_map(|(name, link, share)| {
            [
                (format!("{name}-settled"), Duration::ZERO),
                (format!("{name}-new"), join),
            ]
            .map(|(zone, joins_at)| Zone {
                name: zone,
                nodes: size(*share),
                link: Some(link.clone()),
                joins_at,
            })
        })
        .collect();
    t.monitors[0].isolation = None;
    t.monitors[0].zones = false;
    t.monitors[0].stall_threshold = None;
    t.duration = join + measure;
    t.check_invariants = false;
    let plan = FaultPlan::parse(&format!(
        "crash_every={}s,{}s",
        crash_every.as_secs_f64(),
        restart_after.as_secs_f64()
    ))
    .map_err(|e| FleetError::Param(e.to_string()))?;
    Fleet::new(t, plan)
}

/// Measures every zone of `fleet` over `outcomes` (one monitor; faults other than random
/// crashes are not told apart from noise).
pub fn cohort(fleet: &Fleet, outcomes: &[FleetOutcome]) -> Vec<ZoneMeasure> {
    let t = &fleet.topology;
    let mut zones: Vec<ZoneMeasure> = t
        .zones
        .iter()
        .map(|z| ZoneMeasure {
            name: z.name.clone(),
            ..ZoneMeasure::default()
        })
        .collect();
    let n = t.node_count() as usize;
    for o in outcomes {
        let mut crashes_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (c, cr) in o.crashes.iter().enumerate() {
            crashes_of[cr.node as usize].push(c);
        }
        let mut detected = vec![false; o.crashes.len()];
        for e in &o.log {
            let (Some(node), Seen::Down { .. }) = (e.node, e.seen) else {
                continue;
            };
            let z = &mut zones[usize::from(fleet.zone_of(node))];
            let crash = crashes_of[node as usize].iter().copied().find(|&c| {
                let cr = &o.crashes[c];
                cr.at_us <= e.at_us && cr.restart_us.is_none_or(|r| e.at_us < r)
            });
            match crash {
                Some(c) if !detected[c] => {
                    detected[c] = true;
                    z.detection_us.push(e.at_us - o.crashes[c].at_us);
                }
                Some(_) => {}
                None => z.false_downs += 1,
            }
        }
        for (i, zone) in t.zones.iter().enumerate() {
            let span = o
                .simulated_us
                .saturating_sub(zone.joins_at.as_micros() as u64);
            zones[i].up_s += f64::from(zone.nodes) * span as f64 / 1e6;
        }
        for (c, cr) in o.crashes.iter().enumerate() {
            let z = &mut zones[usize::from(fleet.zone_of(cr.node))];
            let end = cr.restart_us.unwrap_or(o.simulated_us);
            z.up_s -= end.saturating_sub(cr.at_us) as f64 / 1e6;
            if !detected[c] && cr.restart_us.is_some() {
                z.undetected += 1;
            }
        }
    }
    for z in &mut zones {
        z.detection_us.sort_unstable();
    }
    zones
}
