//! The Alertmanager action's tests: which events fire, resolve and re-send which alerts.

use hb_core::{DownReason, Event, EventKind, NodeId, Timestamp};

use super::*;
use crate::runtime::clock::Clock;

fn record(kind: EventKind) -> EventRecord {
    let ev = Event {
        at: Timestamp::ZERO,
        node: NodeId::new("web-1").unwrap(),
        addr: "127.0.0.1:9".parse().unwrap(),
        incarnation: 1,
        kind,
    };
    EventRecord::new(&ev, 1, "fixed", &Clock::new())
}

fn down() -> EventRecord {
    record(EventKind::Down {
        silence: Duration::from_secs(3),
        value: 3.0,
        deadline: Timestamp::ZERO,
        reason: DownReason::Silence,
    })
}

fn alerts() -> Alerts {
    Alerts {
        settings: AlertmanagerSettings {
            urls: vec![],
            resend: Duration::from_secs(60),
            labels: vec![("team".into(), "infra".into())],
            monitor: "mon-a".into(),
        },
        firing: BTreeMap::new(),
    }
}

#[test]
fn isolation_fires_one_monitor_alert_without_node_label_and_reconnected_resolves_it() {
    let mut a = alerts();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let fired = a.on_event(
        &record(EventKind::Isolated {
            silent: 20,
            watched: 21,
        }),
        now,
    );
    assert_eq!(fired.len(), 1);
    let labels = &fired[0]["labels"];
    assert_eq!(labels["alertname"], ISOLATED_ALERT_NAME);
    assert_eq!(
        labels["monitor"], "web-1",
        "the event's subject: the monitor id"
    );
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["team"], "infra");
    assert!(labels.get("node").is_none(), "{labels}");
    assert!(
        fired[0]["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("20 of its 21")
    );
    assert_eq!(a.resend(now).len(), 1, "kept firing");
    let resolved = a.on_event(
        &record(EventKind::Reconnected {
            returned: 11,
            still_silent: 9,
            lasted: Duration::from_secs(7),
        }),
        now,
    );
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["endsAt"], rfc3339(now));
    assert!(a.resend(now).is_empty());
    // A node of the same name as the monitor keeps its own, separate down alert.
    a.on_event(&down(), now);
    a.on_event(
        &record(EventKind::Isolated {
            silent: 20,
            watched: 21,
        }),
        now,
    );
    let ended = a.on_event(
        &record(EventKind::IsolationExpired {
            down: 20,
            lasted: Duration::from_secs(60),
        }),
        now,
    );
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["labels"]["alertname"], ISOLATED_ALERT_NAME);
    assert_eq!(a.resend(now).len(), 1, "the node's down alert still fires");
}

#[test]
fn down_fires_with_node_labels_and_monitor_annotation_and_up_resolves() {
    let mut a = alerts();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let fired = a.on_event(&down(), now);
    assert_eq!(fired.len(), 1);
    let f = &fired[0];
    assert_eq!(
        f["labels"],
        json!({"alertname": "HbnodeNodeDown", "node": "web-1", "team": "infra"})
    );
    assert_eq!(f["annotations"]["monitor"], "mon-a");
    assert_eq!(f["endsAt"], rfc3339(now + Duration::from_secs(240)));
    assert_eq!(a.resend(now).len(), 1);
    let later = now + Duration::from_secs(5);
    let resolved = a.on_event(
        &record(EventKind::Up {
            down_for: Duration::ZERO,
        }),
        later,
    );
    assert_eq!(resolved[0]["endsAt"], rfc3339(later));
    assert_eq!(resolved[0]["startsAt"], f["startsAt"]);
    assert!(a.resend(later).is_empty());
    assert!(a.on_event(&record(EventKind::Joined), later).is_empty());
}

#[test]
fn probe_alerts_fire_by_severity_and_resolve_on_ok_or_leave() {
    let mut a = alerts();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let probe = |status, previous| {
        record(EventKind::Probe {
            probe: "load1".into(),
            status,
            previous,
            value: 9.5,
        })
    };
    use hb_core::probe::ProbeStatus::{Error, Ok, Warning};
    let fired = a.on_event(&probe(Warning, Ok), now);
    assert_eq!(
        fired[0]["labels"],
        json!({"alertname": "HbnodeProbe", "node": "web-1", "probe": "load1",
               "severity": "warning", "team": "infra"})
    );
    assert_eq!(
        fired[0]["annotations"]["summary"],
        "load1 on web-1 is 9.5 (warning)"
    );
    // warning → error: the warning alert resolves, a critical one fires.
    let out = a.on_event(&probe(Error, Warning), now);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["labels"]["severity"], "warning");
    assert_eq!(out[0]["endsAt"], rfc3339(now));
    assert_eq!(out[1]["labels"]["severity"], "critical");
    // The node going down adds its own alert; coming up resolves only that one.
    a.on_event(&down(), now);
    assert_eq!(a.resend(now).len(), 2);
    let up = record(EventKind::Up {
        down_for: Duration::ZERO,
    });
    assert_eq!(a.on_event(&up, now).len(), 1);
    assert_eq!(a.resend(now).len(), 1);
    // Leaving resolves everything of the node.
    assert_eq!(a.on_event(&record(EventKind::Left), now).len(), 1);
    assert!(a.resend(now).is_empty());
    a.on_event(&probe(Error, Ok), now);
    assert_eq!(a.on_event(&probe(Ok, Error), now).len(), 1);
    assert!(a.resend(now).is_empty());
}

#[test]
fn restored_alerts_fire_again_with_their_true_start_and_resolve_as_usual() {
    let mut a = alerts();
    let since = SystemTime::UNIX_EPOCH + Duration::from_secs(999_000);
    let now = since + Duration::from_secs(1000);
    a.restore(RestoredAlert {
        node: "web-1".into(),
        probe: None,
        addr: "127.0.0.1:9".into(),
        since,
    });
    a.restore(RestoredAlert {
        node: "web-1".into(),
        probe: Some(("load1".into(), ProbeStatus::Error, Some(9.5))),
        addr: String::new(),
        since,
    });
    let sent = a.resend(now);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["labels"]["alertname"], "HbnodeNodeDown");
    assert_eq!(sent[0]["startsAt"], rfc3339(since));
    assert_eq!(sent[0]["endsAt"], rfc3339(now + Duration::from_secs(240)));
    assert_eq!(
        sent[1]["labels"],
        json!({"alertname": "HbnodeProbe", "node": "web-1", "probe": "load1",
               "severity": "critical", "team": "infra"})
    );
    let up = record(EventKind::Up {
        down_for: Duration::ZERO,
    });
    assert_eq!(
        a.on_event(&up, now).len(),
        1,
        "up resolves the restored alert"
    );
    assert_eq!(a.on_event(&record(EventKind::Left), now).len(), 1);
    assert!(a.resend(now).is_empty());
}

#[test]
fn labels_are_validated() {
    assert_eq!(
        crate::cli::values::parse_label("team=infra").unwrap().0,
        "team"
    );
    assert!(crate::cli::values::parse_label("node=x").is_err());
    assert!(crate::cli::values::parse_label("9x=1").is_err());
    assert!(crate::cli::values::parse_label("noequals").is_err());
    assert_eq!(alerts_url("http://h:1/"), "http://h:1/api/v2/alerts");
}

#[test]
fn witness_mode_alerts_fire_per_monitor_and_agreed_downs_carry_no_monitor_label() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let agreed = record(EventKind::Down {
        silence: Duration::from_secs(1),
        value: 1.0,
        deadline: Timestamp::ZERO,
        reason: DownReason::Agreed,
    });
    // Two monitors' alerts for the same down: the same labels, so Alertmanager dedups them.
    let mut a = alerts();
    let mut b = alerts();
    b.settings.monitor = "mon-b".into();
    let (fa, fb) = (a.on_event(&agreed, now), b.on_event(&agreed, now));
    assert_eq!(fa[0]["labels"], fb[0]["labels"]);
    assert!(fa[0]["labels"].get("monitor").is_none(), "{}", fa[0]);
    assert_eq!(fa[0]["annotations"]["reason"], "agreed");
    assert_ne!(
        fa[0]["annotations"]["monitor"],
        fb[0]["annotations"]["monitor"]
    );
    // Unreachable pages nobody: the other monitors still hear the node.
    let unreachable = record(EventKind::Unreachable {
        silence: Duration::from_secs(1),
        by: "web-1".into(),
    });
    let mut c = alerts();
    assert!(c.on_event(&unreachable, now).is_empty());
    assert!(
        c.on_event(
            &record(EventKind::Reachable {
                lasted: Duration::from_secs(2)
            }),
            now
        )
        .is_empty()
    );
    // Quorum lost: one monitor-level warning, resolved when regained.
    let lost = c.on_event(&record(EventKind::QuorumLost { up: 1, needed: 2 }), now);
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["labels"]["alertname"], QUORUM_ALERT_NAME);
    assert_eq!(lost[0]["labels"]["monitor"], "web-1");
    assert_eq!(lost[0]["labels"]["severity"], "warning");
    assert!(lost[0]["labels"].get("node").is_none());
    let regained = c.on_event(&record(EventKind::QuorumRegained { up: 2, needed: 2 }), now);
    assert_eq!(
        (regained.len(), regained[0]["endsAt"].as_str()),
        (1, Some(rfc3339(now).as_str()))
    );
    // A silent witness: a warning naming it, resolved when heard again.
    let w = |up| {
        let (witness, addr) = ("m2".into(), "127.0.0.1:7002".parse().unwrap());
        record(if up {
            EventKind::WitnessUp { witness, addr }
        } else {
            EventKind::WitnessDown { witness, addr }
        })
    };
    let down = c.on_event(&w(false), now);
    assert_eq!(down[0]["labels"]["alertname"], WITNESS_ALERT_NAME);
    assert_eq!(down[0]["labels"]["witness"], "m2");
    assert_eq!(c.resend(now).len(), 1);
    assert_eq!(c.on_event(&w(true), now).len(), 1);
    assert!(c.resend(now).is_empty());
}
