//! `cargo xtask sim fleet --preset witnesses…`: the K-of-N theory against the run, and the
//! comparison the goal asks for — one monitor alone at the same timeout and at the smallest
//! timeout that meets the same false-alarm rate on its own — run on the same seed.

use std::fmt::Write as _;
use std::time::Duration;

use hb_core::detector::{DetectorConfig, Fixed};
use hb_core::theory::agreement::{Agreement, smallest_run};
use hb_sim::fleet::{
    AgreementMeasure, Fleet, FleetOutcome, agreement, agreement_model, measure, run_many,
};
use serde_json::{Value, json};

use hb_sim::fleet::presets::WITNESS_GOAL_PER_YEAR as GOAL_PER_YEAR;

/// One monitor alone, no witnesses, fixed timeout `timeout`: the comparison fleet.
fn alone(fleet: &Fleet, timeout: Duration) -> Option<Fleet> {
    let mut t = fleet.topology.clone();
    t.monitors.truncate(1);
    t.monitors[0].quorum = None;
    t = t.with_detector(DetectorConfig::Fixed(Fixed { timeout }));
    Fleet::new(t, fleet.plan.clone()).ok()
}

/// The timeout one monitor needs for `per_year` on its own under `model`'s loss: the smallest
/// run k, then T = (k + 0.1)·η (a margin over the jitter).
pub(crate) fn alone_timeout(model: &Agreement, per_year: f64) -> Option<Duration> {
    let single = Agreement {
        monitors: 1,
        needed: 1,
        ..*model
    };
    let k = smallest_run(&single, per_year)?;
    Some(Duration::from_secs_f64((f64::from(k) + 0.1) * model.period))
}

fn s3(x: f64) -> String {
    format!("{x:.3}")
}

fn rate(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.is_finite() {
        format!("{x:.3e}")
    } else {
        "∞".into()
    }
}

fn row(s: &mut String, name: &str, a: &AgreementMeasure) {
    let det = a.detection.map_or("–".into(), |(m, p, x)| {
        format!("{}/{}/{}", s3(m), s3(p), s3(x))
    });
    let th = &a.theory_detection;
    let _ = writeln!(
        s,
        "  {name:<22} {:>8.1} {:>6} ({:>9.2}) {:>10} [{}, {}] {:>10}  {:<19} {}/{}/{}  {:>5} {:>5}",
        a.up_hours,
        a.false_alarms,
        a.expected,
        rate(a.per_year.0),
        rate(a.per_year.1),
        rate(a.per_year.2),
        rate(a.theory_per_year),
        det,
        s3(th.mean),
        s3(th.quantile(0.99)),
        s3(th.max),
        a.pages_per_false_alarm
            .map_or("–".into(), |p| format!("{p:.2}")),
        a.pages_per_crash.map_or("–".into(), |p| format!("{p:.2}")),
    );
}

fn case_json(name: &str, a: &AgreementMeasure) -> Value {
    json!({
        "case": name,
        "monitors": a.model.monitors,
        "needed": a.model.needed,
        "timeout_s": a.model.timeout,
        "loss_per_path": a.model.total_loss(),
        "shared_loss": a.model.shared,
        "up_hours": a.up_hours,
        "false_alarms": a.false_alarms,
        "below_quorum": a.below_quorum,
        "expected": a.expected,
        "per_host_year": a.per_year.0,
        "per_host_year_99": [a.per_year.1, a.per_year.2],
        "theory_per_host_year": a.theory_per_year,
        "detection_s": a.detection.map(|(m, p, x)| json!({"mean": m, "p99": p, "max": x})),
        "theory_detection_s": {
            "mean": a.theory_detection.mean,
            "p99": a.theory_detection.quantile(0.99),
            "max": a.theory_detection.max,
        },
        "pages_per_false_alarm": a.pages_per_false_alarm,
        "pages_per_crash": a.pages_per_crash,
    })
}

/// The witness report of a run (`outcomes` of `fleet`, seed and runs as given), with the
/// one-monitor comparison runs; `None` if the fleet is outside the agreement model.
pub(crate) fn report(
    fleet: &Fleet,
    outcomes: &[FleetOutcome],
    seed: u64,
    runs: u64,
) -> Option<(String, Value)> {
    let model = agreement_model(&fleet.topology)?;
    let this = agreement(fleet, &measure(fleet, outcomes), outcomes)?;
    let mut cases = vec![(
        format!(
            "{}-of-{}, T {}s",
            model.needed, model.monitors, model.timeout
        ),
        this,
    )];
    let long = alone_timeout(&model, GOAL_PER_YEAR);
    if model.monitors > 1 {
        let timeouts = [Some(Duration::from_secs_f64(model.timeout)), long];
        for to in timeouts.into_iter().flatten() {
            let Some(f) = alone(fleet, to) else { continue };
            let o = run_many(&f, seed, runs);
            if let Some(a) = agreement(&f, &measure(&f, &o), &o) {
                cases.push((format!("1 monitor, T {:.1}s", to.as_secs_f64()), a));
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "witnesses: {} loss per path ({} of it at the NIC), beats every {}s; false alarms per \
         host-year of up-time, measured with a 99 % interval, and theory",
        format_args!("{:.2} %", 100.0 * model.total_loss()),
        format_args!("{:.2} %", 100.0 * model.shared),
        model.period
    );
    let _ = writeln!(
        s,
        "  {:<22} {:>8} {:>6} ({:>9}) {:>10} {:<22} {:>10}  {:<19} {:<19} {:>5} {:>5}",
        "case",
        "up-h",
        "alarms",
        "theory",
        "/host-yr",
        "[99 %]",
        "theory/yr",
        "detect mean/p99/max",
        "theory mean/p99/max",
        "pg/FA",
        "pg/cr"
    );
    for (name, a) in &cases {
        row(&mut s, name, a);
    }
    let _ = writeln!(
        s,
        "  a host-year is not simulated: this run covers {:.1} node-hours, so rates far below \
         {} per host-year are beyond its resolution (0 alarms seen is consistent with them); \
         the goal figures below are the theory's, which `cargo xtask sim verify` \
         (fleet/witnesses) checks against runs at 15 % loss per path, where alarms are frequent",
        cases[0].1.up_hours,
        rate(8766.0 / cases[0].1.up_hours.max(1e-9))
    );
    if let Some(long) = long {
        let _ = writeln!(
            s,
            "  goal (≤ {GOAL_PER_YEAR} per host-year): {}-of-{} at T {}s: {} per host-year \
             ({}); one monitor at T {}s: {}; one monitor needs T {:.1}s ({} per host-year)",
            model.needed,
            model.monitors,
            model.timeout,
            rate(model.per_host_year()),
            if model.per_host_year() <= GOAL_PER_YEAR {
                "met"
            } else {
                "NOT met"
            },
            model.timeout,
            rate(
                Agreement {
                    monitors: 1,
                    needed: 1,
                    ..model
                }
                .per_host_year()
            ),
            long.as_secs_f64(),
            rate(
                Agreement {
                    monitors: 1,
                    needed: 1,
                    timeout: long.as_secs_f64(),
                    ..model
                }
                .per_host_year()
            ),
        );
    }
    let need = smallest_run(&model, GOAL_PER_YEAR);
    if let Some(k) = need {
        let _ = writeln!(
            s,
            "  under this loss {}-of-{} meets the goal from T > {}s (k = {k} lost beats)",
            model.needed,
            model.monitors,
            f64::from(k) * model.period
        );
    }
    let doc = json!({
        "cases": cases.iter().map(|(n, a)| case_json(n, a)).collect::<Vec<_>>(),
        "goal_per_host_year": GOAL_PER_YEAR,
        "theory_per_host_year": model.per_host_year(),
        "alone_timeout_s": long.map(|d| d.as_secs_f64()),
        "agreement_goal_run": need,
    });
    Some((s, doc))
}
