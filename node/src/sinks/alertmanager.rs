//! The Alertmanager action (`--alertmanager URL`, repeatable; every URL gets every alert, as
//! Alertmanager's high-availability docs require).
//!
//! A `down` node fires an alert, POSTed to `URL/api/v2/alerts` at once:
//!
//! - labels: `alertname="HbnodeNodeDown"`, `node`, plus the static `--alertmanager-label`s.
//!   The monitor's own identity is **not** a label but an annotation, so two monitors watching
//!   the same nodes produce one alert (Alertmanager deduplicates by labels);
//! - annotations: `monitor` (its `--id`), `summary`, `reason`, `addr`, and `pid` when known;
//! - `startsAt` = the event's time, `endsAt` = now + 4 × `--alertmanager-resend`.
//!
//! Every `--alertmanager-resend` (default 60 s) all firing alerts are sent again with a fresh
//! `endsAt`, so they stay active while the node is down and expire by themselves if this monitor
//! dies. When the node comes back (`up`, `restarted`), leaves or is forgotten, its alert is sent
//! once more with `endsAt` = now: resolved.
//!
//! While the monitor thinks it is cut off (`isolated`), it fires
//! `alertname="HbnodeMonitorIsolated"` with labels `monitor` (its id: here the monitor is the
//! subject) and `severity="critical"`, no `node` label; `reconnected` or `hold_expired`
//! resolves it. Nodes held unreachable meanwhile fire nothing.
//!
//! Witness mode (`--witness`): a node's `down` fires exactly as above — the same labels on
//! every monitor (the reason `agreed` and the monitor are annotations), so Alertmanager
//! deduplicates the monitors' alerts into one. `quorum_lost` fires
//! `alertname="HbnodeQuorumLost"` with labels `monitor` and `severity="warning"`, resolved by
//! `quorum_regained`; `witness_down` fires `alertname="HbnodeWitnessDown"` with labels
//! `monitor`, `witness` (the witness's id) and `severity="warning"`, resolved by `witness_up`.
//! `unreachable` fires nothing: the other monitors still hear the node, so nothing is down —
//! the fault is one monitor's path, shown in its events, `/metrics` and status page, and
//! paging on it would page for a non-outage (a lasting one shows as
//! `hbnode_unreachable_reported_total` rising, for a ticket-level rule).
//!
//! A probe in warning or error fires `alertname="HbnodeProbe"` with labels `node`, `probe` and
//! `severity` (`warning` or `critical`), resolved by `probe_ok`/`probe_unknown`, by a change of
//! severity (which fires the other one), or when the node leaves or is forgotten. Retries and
//! failure counting: [`crate::sinks::http_post`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use hb_core::probe::ProbeStatus;
use hb_core::{Monitor, NodeState};

use crate::runtime::clock::Clock;
use crate::runtime::record::EventRecord;
use crate::runtime::stats::{PostAction, Stats};
use crate::sinks::http_post::{self, Target};
use crate::sinks::kind::SinkKind;
use crate::sinks::{DRAIN, Sink};

/// The `alertname` label of a node-down alert.
pub(crate) const ALERT_NAME: &str = "HbnodeNodeDown";

/// The `alertname` label of a probe alert (labels `probe` and `severity` added).
pub(crate) const PROBE_ALERT_NAME: &str = "HbnodeProbe";

/// The `alertname` label of the monitor's own isolation alert (labels `monitor`, `severity`).
pub(crate) const ISOLATED_ALERT_NAME: &str = "HbnodeMonitorIsolated";

/// The `alertname` label of a zone outage (labels `zone`, `severity`); the shipped inhibit
/// rule folds the downs of that zone's nodes (which carry `zone`) into it.
pub(crate) const ZONE_ALERT_NAME: &str = "HbnodeZoneDown";

/// The `alertname` label of a monitor whose witnesses are too few to agree (labels `monitor`,
/// `severity="warning"`): its own verdicts are final until enough return.
pub(crate) const QUORUM_ALERT_NAME: &str = "HbnodeQuorumLost";

/// The `alertname` label of a silent witness (labels `monitor`, `witness`,
/// `severity="warning"`).
pub(crate) const WITNESS_ALERT_NAME: &str = "HbnodeWitnessDown";

/// The firing-map key of the quorum alert, under the monitor's own id.
const QUORUM_KEY: &str = "\u{0}quorum";

/// The firing-map key of the isolation alert, under the monitor's own id (no probe has it:
/// probe names are printable).
const ISOLATED_KEY: &str = "\u{0}isolated";

/// Events waiting for the Alertmanager runtime before further ones are dropped.
const QUEUE: usize = 4096;

/// Most alerts per POST (a resend of many firing alerts is split).
const MAX_ALERTS_PER_POST: usize = 1000;

/// What the Alertmanager action runs with.
#[derive(Clone, Debug, Default)]
pub(crate) struct AlertmanagerSettings {
    /// Base URLs (`http://HOST:PORT`); `/api/v2/alerts` is appended.
    pub(crate) urls: Vec<String>,
    /// Resend interval while down.
    pub(crate) resend: Duration,
    /// Static labels added to every alert.
    pub(crate) labels: Vec<(String, String)>,
    /// This monitor's id (an annotation).
    pub(crate) monitor: String,
}

/// An alert that was firing when the previous run stopped (a node restored down, a probe
/// restored in warning or error): fired again as soon as the sink starts, so it never expires
/// across a restart. Nothing is announced anywhere else.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RestoredAlert {
    node: String,
    /// `None`: the node-down alert.
    probe: Option<(String, ProbeStatus, Option<f64>)>,
    addr: String,
    since: SystemTime,
}

/// The alerts `monitor` (just restored) has firing.
pub(crate) fn firing(monitor: &Monitor, clock: &Clock) -> Vec<RestoredAlert> {
    let now = clock.now();
    let down = monitor
        .nodes(now)
        .filter(|n| n.state == NodeState::Down)
        .map(|n| RestoredAlert {
            node: n.id.to_string(),
            probe: None,
            addr: n.addr.to_string(),
            since: clock.wall(n.state_since),
        });
    let probes = monitor
        .all_probes()
        .filter(|(_, _, p)| matches!(p.status, ProbeStatus::Warning | ProbeStatus::Error))
        .map(|(node, probe, p)| RestoredAlert {
            node: node.to_string(),
            probe: Some((
                probe.to_owned(),
                p.status,
                p.value.is_finite().then_some(p.value),
            )),
            addr: String::new(),
            since: clock.wall(p.since),
        });
    down.chain(probes).collect()
}

/// One firing alert.
#[derive(Clone, Debug, PartialEq)]
struct Firing {
    alertname: &'static str,
    /// The monitor's own alert (isolation): no `node` label, the labels say which monitor.
    about_monitor: bool,
    /// Labels besides `alertname`, `node` and the static ones (`probe`, `severity`).
    labels: Map<String, Value>,
    starts_at: String,
    annotations: Map<String, Value>,
}

/// Builds alerts; pure, so its output is unit-tested.
#[derive(Debug)]
struct Alerts {
    settings: AlertmanagerSettings,
    /// By (node, probe); the empty probe is the node-down alert.
    firing: BTreeMap<(String, String), Firing>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The firing-map key of a witness's alert, by its address (its id may be learnt later).
fn witness_key(r: &EventRecord) -> String {
    format!("\u{0}witness {}", r.addr)
}

impl Alerts {
    fn alert(&self, node: &str, f: &Firing, ends_at: SystemTime) -> Value {
        let mut labels = Map::new();
        labels.insert("alertname".into(), f.alertname.into());
        if !f.about_monitor {
            labels.insert("node".into(), node.into());
        }
        labels.extend(f.labels.clone());
        for (k, v) in &self.settings.labels {
            labels.insert(k.clone(), v.clone().into());
        }
        json!({
            "labels": labels,
            "annotations": f.annotations,
            "startsAt": f.starts_at,
            "endsAt": rfc3339(ends_at),
        })
    }

    /// The alerts to send for event `r` at wall time `now`, if any.
    fn on_event(&mut self, r: &EventRecord, now: SystemTime) -> Vec<Value> {
        match r.event {
            "down" => {
                let mut annotations = Map::new();
                annotations.insert("monitor".into(), self.settings.monitor.clone().into());
                annotations.insert(
                    "summary".into(),
                    format!(
                        "node {} is down ({})",
                        r.node,
                        r.reason.unwrap_or("silence")
                    )
                    .into(),
                );
                annotations.insert("reason".into(), r.reason.unwrap_or("silence").into());
                annotations.insert("addr".into(), r.addr.to_string().into());
                if let Some(pid) = r.pid {
                    annotations.insert("pid".into(), pid.to_string().into());
                }
                let mut labels = Map::new();
                if let Some(z) = &r.zone {
                    labels.insert("zone".into(), z.clone().into());
                }
                let f = Firing {
                    alertname: ALERT_NAME,
                    about_monitor: false,
                    labels,
                    starts_at: r.time.clone(),
                    annotations,
                };
                self.fire((r.node.clone(), String::new()), f, now)
            }
            "zone_down" => {
                let zone = r.zone.clone().unwrap_or_default();
                let mut labels = Map::new();
                labels.insert("zone".into(), zone.clone().into());
                labels.insert("severity".into(), "critical".into());
                let mut annotations = Map::new();
                annotations.insert("monitor".into(), self.settings.monitor.clone().into());
                annotations.insert(
                    "summary".into(),
                    format!(
                        "zone {zone} is out: {} of its {} nodes went silent together while \
                         the rest of the fleet is fine",
                        r.nodes.unwrap_or(0),
                        r.watched.unwrap_or(0)
                    )
                    .into(),
                );
                let f = Firing {
                    alertname: ZONE_ALERT_NAME,
                    about_monitor: true,
                    labels,
                    starts_at: r.time.clone(),
                    annotations,
                };
                self.fire(("\u{0}zone".to_owned(), zone), f, now)
            }
            "zone_up" => {
                let zone = r.zone.clone().unwrap_or_default();
                self.resolve("\u{0}zone", Some(&zone), now)
            }
            "isolated" => {
                let mut labels = Map::new();
                labels.insert("monitor".into(), r.node.clone().into());
                labels.insert("severity".into(), "critical".into());
                let mut annotations = Map::new();
                annotations.insert(
                    "summary".into(),
                    format!(
                        "monitor {} hears none of {} of its {} nodes: its own network is the \
                         likely fault; they are held unreachable, not reported down",
                        r.node,
                        r.nodes.unwrap_or(0),
                        r.watched.unwrap_or(0)
                    )
                    .into(),
                );
                let f = Firing {
                    alertname: ISOLATED_ALERT_NAME,
                    about_monitor: true,
                    labels,
                    starts_at: r.time.clone(),
                    annotations,
                };
                self.fire((r.node.clone(), ISOLATED_KEY.into()), f, now)
            }
            "reconnected" | "hold_expired" => self.resolve(&r.node, Some(ISOLATED_KEY), now),
            "quorum_lost" => {
                let mut labels = Map::new();
                labels.insert("monitor".into(), r.node.clone().into());
                labels.insert("severity".into(), "warning".into());
                let mut annotations = Map::new();
                annotations.insert(
                    "summary".into(),
                    format!(
                        "monitor {} hears {} of the {} monitors a down needs: its own verdicts \
                         are final, unconfirmed by its witnesses",
                        r.node,
                        r.monitors_up.unwrap_or(0),
                        r.needed.unwrap_or(0)
                    )
                    .into(),
                );
                let f = Firing {
                    alertname: QUORUM_ALERT_NAME,
                    about_monitor: true,
                    labels,
                    starts_at: r.time.clone(),
                    annotations,
                };
                self.fire((r.node.clone(), QUORUM_KEY.into()), f, now)
            }
            "quorum_regained" => self.resolve(&r.node, Some(QUORUM_KEY), now),
            "witness_down" => {
                let witness = r.monitor.clone().unwrap_or_default();
                let mut labels = Map::new();
                labels.insert("monitor".into(), r.node.clone().into());
                labels.insert("witness".into(), witness.clone().into());
                labels.insert("severity".into(), "warning".into());
                let mut annotations = Map::new();
                annotations.insert("addr".into(), r.addr.to_string().into());
                annotations.insert(
                    "summary".into(),
                    format!(
                        "monitor {} no longer hears its witness {witness} ({})",
                        r.node, r.addr
                    )
                    .into(),
                );
                let f = Firing {
                    alertname: WITNESS_ALERT_NAME,
                    about_monitor: true,
                    labels,
                    starts_at: r.time.clone(),
                    annotations,
                };
                self.fire((r.node.clone(), witness_key(r)), f, now)
            }
            "witness_up" => self.resolve(&r.node, Some(&witness_key(r)), now),
            "up" | "restarted" | "joined" => self.resolve(&r.node, Some(""), now),
            // Gone on purpose or forgotten: nothing of the node should stay firing.
            "left" | "forgotten" => self.resolve(&r.node, None, now),
            "probe_warning" | "probe_error" => {
                let probe = r.probe.clone().unwrap_or_default();
                let severity = if r.event == "probe_error" {
                    "critical"
                } else {
                    "warning"
                };
                let mut labels = Map::new();
                labels.insert("probe".into(), probe.clone().into());
                labels.insert("severity".into(), severity.into());
                let mut annotations = Map::new();
                annotations.insert("monitor".into(), self.settings.monitor.clone().into());
                let reading = r
                    .reading
                    .map_or_else(|| "NaN".to_owned(), |v| v.to_string());
                annotations.insert(
                    "summary".into(),
                    format!("{probe} on {} is {reading} ({severity})", r.node).into(),
                );
                annotations.insert("reading".into(), reading.into());
                // A warning that became an error (or back) is a different alert: resolve the old.
                let mut out = self.resolve(&r.node, Some(&probe), now);
                let f = Firing {
                    alertname: PROBE_ALERT_NAME,
                    about_monitor: false,
                    labels,
                    starts_at: r.time.clone(),
                    annotations,
                };
                out.extend(self.fire((r.node.clone(), probe), f, now));
                out
            }
            "probe_ok" | "probe_unknown" => {
                let probe = r.probe.clone().unwrap_or_default();
                self.resolve(&r.node, Some(&probe), now)
            }
            _ => Vec::new(),
        }
    }

    /// Takes up an alert a previous run had firing (not sent: the first resend sends it).
    fn restore(&mut self, r: RestoredAlert) {
        let starts_at = rfc3339(r.since);
        let mut annotations = Map::new();
        annotations.insert("monitor".into(), self.settings.monitor.clone().into());
        let (key, f) = match r.probe {
            None => {
                annotations.insert(
                    "summary".into(),
                    format!(
                        "node {} is down (since before the monitor restarted)",
                        r.node
                    )
                    .into(),
                );
                annotations.insert("addr".into(), r.addr.into());
                let f = Firing {
                    alertname: ALERT_NAME,
                    about_monitor: false,
                    labels: Map::new(),
                    starts_at,
                    annotations,
                };
                ((r.node, String::new()), f)
            }
            Some((probe, status, value)) => {
                let severity = if status == ProbeStatus::Error {
                    "critical"
                } else {
                    "warning"
                };
                let reading = value.map_or_else(|| "NaN".to_owned(), |v| v.to_string());
                annotations.insert(
                    "summary".into(),
                    format!("{probe} on {} is {reading} ({severity})", r.node).into(),
                );
                annotations.insert("reading".into(), reading.into());
                let mut labels = Map::new();
                labels.insert("probe".into(), probe.clone().into());
                labels.insert("severity".into(), severity.into());
                let f = Firing {
                    alertname: PROBE_ALERT_NAME,
                    about_monitor: false,
                    labels,
                    starts_at,
                    annotations,
                };
                ((r.node, probe), f)
            }
        };
        self.firing.insert(key, f);
    }

    /// Records `f` as firing under `key` and returns its first POST.
    fn fire(&mut self, key: (String, String), f: Firing, now: SystemTime) -> Vec<Value> {
        let a = self.alert(&key.0, &f, now + 4 * self.settings.resend);
        self.firing.insert(key, f);
        vec![a]
    }

    /// Resolves `node`'s alert for `probe` (`""`: the node-down alert; `None`: every alert of
    /// the node).
    fn resolve(&mut self, node: &str, probe: Option<&str>, now: SystemTime) -> Vec<Value> {
        let keys: Vec<(String, String)> = self
            .firing
            .keys()
            .filter(|(n, p)| n == node && probe.is_none_or(|want| p == want))
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| self.firing.remove(&k).map(|f| self.alert(&k.0, &f, now)))
            .collect()
    }

    /// Every firing alert with a fresh `endsAt`.
    fn resend(&self, now: SystemTime) -> Vec<Value> {
        let ends = now + 4 * self.settings.resend;
        self.firing
            .iter()
            .map(|((n, _), f)| self.alert(n, f, ends))
            .collect()
    }
}

/// The POST URL for a base URL.
pub(crate) fn alerts_url(base: &str) -> String {
    format!("{}/api/v2/alerts", base.trim_end_matches('/'))
}

fn send(targets: &[Target], alerts: &[Value]) {
    for chunk in alerts.chunks(MAX_ALERTS_PER_POST) {
        let body = Value::Array(chunk.to_vec()).to_string();
        for t in targets {
            t.offer(body.clone());
        }
    }
}

/// Starts the Alertmanager runtime and the sink that feeds it; `restored` alerts fire at once.
pub(crate) fn start(
    s: &AlertmanagerSettings,
    stats: &Arc<Stats>,
    restored: Vec<RestoredAlert>,
) -> std::io::Result<Sink> {
    let settings = s.clone();
    let st = Arc::clone(stats);
    Sink::runtime(
        SinkKind::Alertmanager,
        "hbnode-alertmanager",
        QUEUE,
        move |mut rx| async move {
            let targets: Vec<Target> = settings
                .urls
                .iter()
                .map(|u| Target::start(alerts_url(u), PostAction::Alertmanager, Arc::clone(&st)))
                .collect();
            let mut tick = tokio::time::interval(settings.resend);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            let mut alerts = Alerts {
                settings,
                firing: BTreeMap::new(),
            };
            for r in restored {
                alerts.restore(r);
            }
            send(&targets, &alerts.resend(SystemTime::now()));
            loop {
                tokio::select! {
                    r = rx.recv() => match r {
                        Some(r) => send(&targets, &alerts.on_event(&r, SystemTime::now())),
                        None => break,
                    },
                    _ = tick.tick() => send(&targets, &alerts.resend(SystemTime::now())),
                }
            }
            http_post::drain(targets, DRAIN).await;
        },
    )
}

#[cfg(test)]
mod tests;
