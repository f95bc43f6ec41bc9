//! `poll_arrival`: every authenticated beat, bounded and counted, off by default.

use super::*;

fn recording(max_pending_arrivals: usize, keyring: Keyring) -> Monitor {
    let cfg = MonitorConfig {
        max_pending_arrivals,
        keyring,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn arrivals(m: &mut Monitor) -> Vec<(String, u64, u64, u64, u32)> {
    std::iter::from_fn(|| m.poll_arrival())
        .map(|a| {
            let at = a.at.as_micros();
            (a.node.to_string(), at, a.incarnation, a.seq, a.period_ms)
        })
        .collect()
}

#[test]
fn every_authenticated_beat_is_an_arrival_even_if_the_sequence_refuses_it() {
    let key = Key::new(1, [3; 32]);
    let mut m = recording(16, Keyring::new(vec![key.clone()], true));
    let signed = |node, inc, seq| {
        let b = Beat {
            period_ms: 1000,
            ..Beat::new(node, inc, seq)
        };
        msg_bytes(&Message::Beat(b), Some(&key))
    };
    m.handle_datagram(t(0), addr(), &signed("a", 1, 1));
    // A duplicate, a replay of an older incarnation and another group's beat still arrived.
    m.handle_datagram(t(10), addr(), &signed("a", 1, 1));
    m.handle_datagram(t(20), addr(), &signed("a", 0, 9));
    let other_group = Beat {
        group: 9,
        ..Beat::new("b", 1, 1)
    };
    m.handle_datagram(
        t(30),
        addr(),
        &msg_bytes(&Message::Beat(other_group), Some(&key)),
    );
    // Unauthenticated and malformed datagrams, and leaves, are not arrivals.
    m.handle_datagram(t(40), addr(), &beat_bytes("a", 1, 2, 0));
    m.handle_datagram(t(50), addr(), b"garbage");
    let leave = Message::Leave(Leave {
        node: "a",
        incarnation: 1,
        seq: 3,
        group: 0,
    });
    m.handle_datagram(t(60), addr(), &msg_bytes(&leave, Some(&key)));
    assert_eq!(
        arrivals(&mut m),
        [
            ("a".into(), 0, 1, 1, 1000),
            ("a".into(), 10, 1, 1, 1000),
            ("a".into(), 20, 0, 9, 1000),
            ("b".into(), 30, 1, 1, 0),
        ]
    );
    assert_eq!(m.rejections().get(Rejection::Duplicate), 1);
    assert_eq!(m.arrivals_dropped(), 0);
}

#[test]
fn arrival_queue_is_bounded_and_counts_drops() {
    let mut m = recording(1, Keyring::open());
    for seq in 1..=3 {
        beat(&mut m, seq * S, "a", 1, seq);
    }
    assert_eq!(arrivals(&mut m), [("a".into(), S, 1, 1, 1000)]);
    assert_eq!(m.arrivals_dropped(), 2);
    // Drained, the queue takes arrivals again.
    beat(&mut m, 4 * S, "a", 1, 4);
    assert_eq!(arrivals(&mut m).len(), 1);
}

#[test]
fn arrivals_are_off_by_default_neither_queued_nor_counted() {
    assert_eq!(MonitorConfig::default().max_pending_arrivals, 0);
    let mut m = monitor(3);
    for seq in 1..=3 {
        beat(&mut m, seq * S, "a", 1, seq);
    }
    assert!(m.poll_arrival().is_none());
    assert_eq!(m.arrivals_dropped(), 0);
    assert_eq!(m.beats_received(), 3);
}

#[test]
fn legacy_beats_handed_in_are_arrivals_unless_their_id_is_invalid() {
    let mut m = recording(16, Keyring::open());
    m.handle_beat(t(5), addr(), &Beat::new("legacy-1", 0, 1));
    m.handle_beat(t(6), addr(), &Beat::new("bad\nid", 0, 1));
    assert_eq!(arrivals(&mut m), [("legacy-1".into(), 5, 0, 1, 0)]);
    assert_eq!(m.rejections().get(Rejection::InvalidField), 1);
}
