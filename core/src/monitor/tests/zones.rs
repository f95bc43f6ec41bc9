//! Zones: a whole zone silent while the others are fine is one `zone_down`, its nodes down as
//! usual (they really are unreachable), and `zone_up` when it is back.

use super::*;
use crate::event::EventKind;
use crate::glob::NodeMatch;
use crate::monitor::{Isolation, ZoneRule};

fn zoned() -> Monitor {
    let rule = |name: &str, glob: &str| ZoneRule {
        name: name.into(),
        nodes: NodeMatch::new(glob).unwrap(),
    };
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(3),
        }),
        stall_threshold: None,
        isolation: Some(Isolation::default()),
        zones: vec![
            rule("rack-a", "a-*"),
            rule("rack-b", "b-*"),
            rule("rack-c", "c-*"),
        ],
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn ids() -> Vec<String> {
    ["a", "b", "c"]
        .iter()
        .flat_map(|z| (0..8).map(move |i| format!("{z}-{i}")))
        .collect()
}

/// Every node in `ids` for which `up(sec, id)` beats each second from `from` to `to`.
fn run(m: &mut Monitor, from: u64, to: u64, up: impl Fn(u64, &str) -> bool) {
    for sec in from..to {
        for (i, id) in ids().iter().enumerate() {
            let at = sec * S + i as u64 * 10_000;
            while let Some(d) = m.poll_timeout().filter(|d| d.as_micros() <= at) {
                m.handle_timeout(d);
            }
            if up(sec, id) {
                beat(m, at, id, 1, sec + 1);
            }
            m.check_invariants().unwrap();
        }
    }
}

#[test]
fn a_silent_zone_is_one_zone_down_its_nodes_down_and_one_zone_up() {
    let mut m = zoned();
    run(&mut m, 0, 10, |_, _| true);
    assert_eq!(m.zone_of("b-3"), Some("rack-b"));
    assert_eq!(m.node("c-0", t(10 * S)).unwrap().zone, Some("rack-c"));
    events(&mut m);
    // rack-b's switch dies at 10 s for 10 s: 8 of 24 nodes, a third, under the isolation share.
    run(&mut m, 10, 30, |sec, id| {
        !(id.starts_with("b-") && sec < 20)
    });
    let evs: Vec<_> = std::iter::from_fn(|| m.poll_event()).collect();
    let names: Vec<_> = evs.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names.iter().filter(|&&n| n == "zone_down").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|&&n| n == "down").count(),
        8,
        "{names:?}"
    );
    assert_eq!(names.iter().filter(|&&n| n == "up").count(), 8, "{names:?}");
    assert_eq!(
        names.iter().filter(|&&n| n == "zone_up").count(),
        1,
        "{names:?}"
    );
    assert!(!names.contains(&"isolated"), "{names:?}");
    let zd = evs.iter().find(|e| e.kind.name() == "zone_down").unwrap();
    let EventKind::ZoneDown {
        zone,
        silent,
        watched,
    } = &zd.kind
    else {
        unreachable!()
    };
    assert_eq!(zone.as_str(), "rack-b");
    assert!(
        *silent >= 2 && *silent <= 8 && *watched <= 8,
        "{silent} of {watched}"
    );
    assert_eq!(
        zd.node.as_str(),
        "monitor",
        "monitor-level: the monitor's id"
    );
    for e in evs.iter().filter(|e| e.kind.name() == "down") {
        assert_eq!(m.zone_of(e.node.as_str()), Some("rack-b"));
    }
    assert!(m.zones().all(|(_, out)| out.is_none()));
}

#[test]
fn one_node_down_in_a_zone_is_no_zone_event_and_every_zone_at_once_is_isolation() {
    let mut m = zoned();
    run(&mut m, 0, 10, |_, _| true);
    events(&mut m);
    run(&mut m, 10, 20, |_, id| id != "a-5");
    let names: Vec<_> = events(&mut m).into_iter().map(|e| e.2).collect();
    assert_eq!(names, ["down"]);
    // Every zone at once: the monitor's own blindness.
    run(&mut m, 20, 30, |_, _| false);
    let names: Vec<_> = events(&mut m).into_iter().map(|e| e.2).collect();
    assert_eq!(
        names,
        ["isolated"],
        "no zone_down: the fleet-wide rule comes first"
    );
}

#[test]
fn bad_zone_names_are_refused() {
    let cfg = MonitorConfig {
        zones: vec![ZoneRule {
            name: "".into(),
            nodes: NodeMatch::new("*").unwrap(),
        }],
        ..MonitorConfig::default()
    };
    assert_eq!(
        Monitor::new(cfg, t(0)).err(),
        Some(MonitorConfigError::Zones)
    );
}
