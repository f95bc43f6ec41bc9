//! Acks: when they are sent, how they are signed, and the schedules and redirects they carry.

use super::*;
use crate::NodeMatch;
use crate::schedule::ScheduleRule;
use crate::schedule::SensorInterval;

fn rule(nodes: &str, period_ms: Option<u64>, redirect: Option<&str>) -> ScheduleRule {
    ScheduleRule {
        nodes: NodeMatch::new(nodes).unwrap(),
        period: period_ms.map(Duration::from_millis),
        sensors: Some(vec![SensorInterval {
            sensor: "load".into(),
            every: Duration::from_secs(10),
        }]),
        redirect: redirect.map(str::to_owned),
    }
}

fn with_rules(rules: Vec<ScheduleRule>) -> Monitor {
    let cfg = MonitorConfig {
        schedules: rules,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

/// An ack's schedule (version, period_ms, sensor count) and redirect.
type AckSummary = (Option<(u32, u32, Option<usize>)>, Option<String>);

/// Sends a beat wanting an ack that says it runs schedule `have`; returns the ack's schedule
/// (version, period_ms, sensor count) and redirect.
fn ack_for(m: &mut Monitor, node: &str, seq: u64, have: u32) -> AckSummary {
    let msg = Message::Beat(Beat {
        period_ms: 1000,
        flags: BeatFlags(BeatFlags::ACK_WANTED),
        schedule_version: have,
        ..Beat::new(node, 1, seq)
    });
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(&msg, None, &mut buf).unwrap();
    m.handle_datagram(t(seq * 1000), addr(), &buf[..n]);
    let tx = m.poll_transmit(&mut buf).expect("an ack");
    assert!(m.poll_transmit(&mut [0; MAX_DATAGRAM]).is_none());
    let Message::Ack(a) = wire::decode(&buf[..tx.len], &Keyring::open())
        .unwrap()
        .message
    else {
        panic!("not an ack")
    };
    (
        a.schedule
            .map(|s| (s.version, s.period_ms, s.sensors.map(|l| l.len()))),
        a.redirect.map(str::to_owned),
    )
}

#[test]
fn acks_carry_the_first_matching_rule_until_the_node_runs_its_version() {
    let specific = rule("web-1", Some(500), None);
    let general = rule("web-*", Some(2000), Some("10.0.0.2:43278"));
    let (v1, v2) = (specific.version(), general.version());
    let mut m = with_rules(vec![specific, general]);
    assert_eq!(
        ack_for(&mut m, "web-1", 1, 0),
        (Some((v1, 500, Some(1))), None)
    );
    assert_eq!(ack_for(&mut m, "web-1", 2, v1), (None, None));
    let redirect = Some("10.0.0.2:43278".to_owned());
    assert_eq!(
        ack_for(&mut m, "web-2", 1, 0),
        (Some((v2, 2000, Some(1))), redirect.clone())
    );
    // Redirects ride on every ack; the schedule only while the version differs.
    assert_eq!(ack_for(&mut m, "web-2", 2, v2), (None, redirect));
}

#[test]
fn a_node_no_rule_matches_is_told_to_return_to_its_own_settings() {
    let mut m = with_rules(vec![rule("web-*", Some(2000), None)]);
    assert_eq!(ack_for(&mut m, "db-1", 1, 0), (None, None));
    assert_eq!(ack_for(&mut m, "db-1", 2, 77), (Some((0, 0, None)), None));
}

#[test]
fn the_version_survives_a_monitor_restart() {
    let mut a = with_rules(vec![rule("web-*", Some(2000), None)]);
    let mut b = with_rules(vec![rule("web-*", Some(2000), None)]);
    assert_eq!(
        ack_for(&mut a, "web-1", 1, 0),
        ack_for(&mut b, "web-1", 1, 0)
    );
}

#[test]
fn out_of_bounds_rules_are_a_config_error() {
    let cfg = MonitorConfig {
        schedules: vec![rule("a", Some(2000), None), rule("b", Some(1), None)],
        ..MonitorConfig::default()
    };
    assert_eq!(
        Monitor::new(cfg, t(0)).unwrap_err(),
        MonitorConfigError::Schedule { rule: 1 }
    );
}

#[test]
fn acks_are_sent_when_asked_and_signed_with_the_keyring() {
    let key = Key::new(5, [9; 32]);
    let cfg = MonitorConfig {
        id: "mon-1".into(),
        keyring: Keyring::new(vec![key.clone()], false),
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    m.handle_datagram(t(0), addr(), &beat_bytes("a", 1, 7, BeatFlags::ACK_WANTED));
    beat(&mut m, 1, "a", 1, 8); // no ack wanted
    let mut buf = [0; MAX_DATAGRAM];
    let tx = m.poll_transmit(&mut buf).unwrap();
    assert_eq!(tx.to, addr());
    let ring = Keyring::new(vec![key], true);
    let d = wire::decode(&buf[..tx.len], &ring).unwrap();
    assert_eq!(d.key_id, Some(5));
    let Message::Ack(a) = d.message else { panic!() };
    assert_eq!((a.node, a.seq, a.monitor), ("a", 7, "mon-1"));
    assert!(m.poll_transmit(&mut [0; MAX_DATAGRAM]).is_none());
}

#[test]
fn an_ack_that_cannot_be_encoded_is_counted_as_dropped() {
    let mut m = with_rules(Vec::new());
    let msg = Message::Beat(Beat {
        period_ms: 1000,
        flags: BeatFlags(BeatFlags::ACK_WANTED),
        ..Beat::new("n", 1, 1)
    });
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(&msg, None, &mut buf).unwrap();
    m.handle_datagram(t(1000), addr(), &buf[..n]);
    assert_eq!(m.acks_dropped(), 0);
    // A buffer too short for any ack.
    assert!(m.poll_transmit(&mut [0; 4]).is_none());
    assert_eq!(m.acks_dropped(), 1);
}
