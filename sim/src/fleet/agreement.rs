//! Witness mode measured against its theory ([`hb_core::theory::agreement`]): false alarms
//! (a node falsely down, one incident however many monitors report it) per host-year of
//! up-time with a 99 % interval, detection times, pages per incident.

use hb_core::detector::DetectorConfig;
use hb_core::theory::agreement::{Agreement, Detection, YEAR_SECS};

use super::{Fleet, FleetMeasure, FleetOutcome, Topology};
use crate::link::{Link, Loss};
use crate::stats::poisson_interval;

/// The agreement model of `t`: its monitors, their quorum (1 without witnesses), the fixed
/// timeout, and Bernoulli loss per path and at the NIC. `None` when the fleet is outside the
/// model: a detector other than one fixed timeout, a loss other than Bernoulli, zone links,
/// mixed quorums, or more monitors than the enumeration handles.
pub fn model(t: &Topology) -> Option<Agreement> {
    let first = t.monitors.first()?;
    let DetectorConfig::Fixed(f) = first.detector else {
        return None;
    };
    let same = t
        .monitors
        .iter()
        .all(|m| m.detector == first.detector && m.quorum == first.quorum);
    let Loss::Bernoulli(q) = t.link.loss else {
        return None;
    };
    let shared = match t.shared_loss {
        None => 0.0,
        Some(Loss::Bernoulli(s)) => s,
        Some(_) => return None,
    };
    if !same
        || t.zones.iter().any(|z| z.link.is_some())
        || t.link.switch.is_some()
        || t.monitors.len() > hb_core::theory::agreement::MAX_DETECTION_MONITORS
    {
        return None;
    }
    Some(Agreement {
        monitors: t.monitors.len(),
        needed: first.quorum.map_or(1, |w| w.needed),
        period: t.period.as_secs_f64(),
        timeout: f.timeout.as_secs_f64(),
        shared,
        path: q,
    })
}

/// One witness fleet's figures, measured and predicted.
#[derive(Clone, Debug, PartialEq)]
pub struct AgreementMeasure {
    /// The model the theory columns use.
    pub model: Agreement,
    /// False alarms: groups of noise downs of one node over overlapping silences (each an
    /// incident, whatever number of monitors reported it).
    pub false_alarms: u64,
    /// Of those, groups fewer than K monitors reported (a down without agreement: 0 expected).
    pub below_quorum: u64,
    /// Node up-time simulated, hours (crashed time excluded).
    pub up_hours: f64,
    /// Measured false alarms per host-year, and its 99 % interval.
    pub per_year: (f64, f64, f64),
    /// The theory's false alarms per host-year.
    pub theory_per_year: f64,
    /// False alarms the theory expects over the simulated up-time.
    pub expected: f64,
    /// Measured detection mean, p99, max (seconds), over all monitors; `None` without crashes.
    pub detection: Option<(f64, f64, f64)>,
    /// The theory's detection law (median path and monitor-link delays).
    pub theory_detection: Detection,
    /// Pages per false alarm and per random crash (all monitors).
    pub pages_per_false_alarm: Option<f64>,
    /// Pages per random crash.
    pub pages_per_crash: Option<f64>,
}

fn median_s(link: &Link) -> f64 {
    link.delay.quantile(0.5).unwrap_or(0.0)
}

/// Measures `outcomes` of `fleet` (already measured as `m`) against the agreement theory;
/// `None` if the fleet is outside the model ([`model`]).
pub fn agreement(
    fleet: &Fleet,
    m: &FleetMeasure,
    outcomes: &[FleetOutcome],
) -> Option<AgreementMeasure> {
    let t = &fleet.topology;
    let model = model(t)?;
    let n = f64::from(t.node_count());
    let crashed_us: u64 = outcomes
        .iter()
        .flat_map(|o| {
            o.crashes
                .iter()
                .map(|c| c.restart_us.unwrap_or(o.simulated_us) - c.at_us)
        })
        .sum();
    let total_us: f64 = outcomes.iter().map(|o| o.simulated_us as f64 * n).sum();
    let up_s = (total_us - crashed_us as f64) / 1e6;
    let false_alarms: u64 = m.noise_seen_by.iter().sum();
    let below_quorum: u64 = m.noise_seen_by.iter().take(model.needed - 1).sum();
    let years = up_s / YEAR_SECS;
    let (lo, hi) = poisson_interval(false_alarms, 0.99);
    let theory_per_year = model.per_host_year();
    let all = m.overall();
    let noise_pages = all.pages.2;
    let vote = if model.needed > 1 {
        median_s(&t.monitor_link)
    } else {
        0.0
    };
    Some(AgreementMeasure {
        model,
        false_alarms,
        below_quorum,
        up_hours: up_s / 3600.0,
        per_year: (false_alarms as f64 / years, lo / years, hi / years),
        theory_per_year,
        expected: theory_per_year * years,
        detection: all
            .detection()
            .map(|(mean, p99, max)| (mean / 1e6, p99 as f64 / 1e6, max as f64 / 1e6)),
        theory_detection: model.detection(median_s(&t.link), vote),
        pages_per_false_alarm: (false_alarms > 0).then(|| noise_pages as f64 / false_alarms as f64),
        pages_per_crash: (m.random_crashes > 0)
            .then(|| m.random_crash_pages as f64 / m.random_crashes as f64),
    })
}
