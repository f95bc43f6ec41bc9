//! Peer mode: ignoring our own beats, answering identify requests.

use super::*;
use crate::id::NodeId;
use crate::wire::{Identify, Member};

fn peer_monitor(keyring: Keyring) -> Monitor {
    let cfg = MonitorConfig {
        group: 77,
        peer: Some(PeerIdentity {
            id: NodeId::new("me").unwrap(),
            incarnation: 5,
        }),
        keyring,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    Monitor::new(cfg, t(0)).unwrap()
}

fn group_beat(node: &str, inc: u64, seq: u64) -> Vec<u8> {
    msg_bytes(
        &Message::Beat(Beat {
            period_ms: 1000,
            group: 77,
            ..Beat::new(node, inc, seq)
        }),
        None,
    )
}

#[test]
fn peer_ignores_its_own_looped_back_beats_and_counts_an_id_clash() {
    let mut m = peer_monitor(Keyring::open());
    m.handle_datagram(t(0), addr(), &group_beat("me", 5, 1));
    let own_leave = Message::Leave(Leave {
        node: "me",
        incarnation: 5,
        seq: 2,
        group: 77,
    });
    m.handle_datagram(t(1), addr(), &msg_bytes(&own_leave, None));
    assert!(m.is_empty(), "own beats make no node");
    assert_eq!(m.rejections().total(), 0, "own beats are not rejections");
    // Another process with our id (another incarnation): refused and counted.
    m.handle_datagram(t(2), addr(), &group_beat("me", 6, 1));
    assert!(m.is_empty());
    assert_eq!(m.rejections().get(Rejection::IdConflict), 1);
    // Other members are monitored as usual.
    m.handle_datagram(t(3), addr(), &group_beat("other", 1, 1));
    assert_eq!(events(&mut m), [(3, "other".into(), "joined")]);
}

#[test]
fn peer_answers_identify_with_its_identity_uptime_and_the_nonce() {
    let mut m = peer_monitor(Keyring::open());
    let asker: SocketAddr = "10.0.0.9:5555".parse().unwrap();
    let ask = |group, nonce| msg_bytes(&Message::Identify(Identify { group, nonce }), None);
    m.handle_datagram(t(2_500_000), asker, &ask(77, 42));
    let mut buf = [0; MAX_DATAGRAM];
    let tx = m.poll_transmit(&mut buf).expect("an answer");
    assert_eq!(tx.to, asker);
    let answer = wire::decode(&buf[..tx.len], &Keyring::open()).unwrap();
    assert_eq!(
        answer.message,
        Message::Member(Member {
            group: 77,
            node: "me",
            incarnation: 5,
            uptime_ms: 2_500,
            nonce: 42,
        })
    );
    drop(answer);
    assert!(m.poll_transmit(&mut buf).is_none());
    // Another group's request is refused, and a plain monitor does not answer at all.
    m.handle_datagram(t(2_600_000), asker, &ask(78, 1));
    assert!(m.poll_transmit(&mut buf).is_none());
    assert_eq!(m.rejections().get(Rejection::WrongGroup), 1);
    let mut plain = monitor(3);
    plain.handle_datagram(t(0), asker, &ask(0, 1));
    assert!(plain.poll_transmit(&mut buf).is_none());
    assert_eq!(plain.rejections().get(Rejection::UnexpectedKind), 1);
    // A member answer sent to a monitor is refused.
    let stray = Message::Member(Member {
        group: 77,
        node: "x",
        incarnation: 1,
        uptime_ms: 1,
        nonce: 1,
    });
    m.handle_datagram(t(2_700_000), asker, &msg_bytes(&stray, None));
    assert_eq!(m.rejections().get(Rejection::UnexpectedKind), 1);
}

#[test]
fn peer_with_a_key_answers_only_signed_identify_and_signs_its_answer() {
    let key = Key::new(3, [8; 32]);
    let ring = Keyring::new(vec![key.clone()], true);
    let mut m = peer_monitor(ring.clone());
    let asker: SocketAddr = "10.0.0.9:5555".parse().unwrap();
    let ask = Message::Identify(Identify {
        group: 77,
        nonce: 1,
    });
    let mut buf = [0; MAX_DATAGRAM];
    m.handle_datagram(t(0), asker, &msg_bytes(&ask, None));
    assert!(m.poll_transmit(&mut buf).is_none());
    assert_eq!(m.rejections().get(Rejection::Unauthenticated), 1);
    let forged = Key::new(3, [9; 32]);
    m.handle_datagram(t(1), asker, &msg_bytes(&ask, Some(&forged)));
    assert!(m.poll_transmit(&mut buf).is_none());
    assert_eq!(m.rejections().get(Rejection::BadMac), 1);
    m.handle_datagram(t(2), asker, &msg_bytes(&ask, Some(&key)));
    let tx = m.poll_transmit(&mut buf).expect("an answer");
    let d = wire::decode(&buf[..tx.len], &ring).expect("signed answer verifies");
    assert_eq!(d.key_id, Some(3));
}

#[test]
fn member_answers_are_bounded_by_the_transmit_queue() {
    let mut cfg = peer_monitor(Keyring::open()).config().clone();
    cfg.max_pending_acks = 2;
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    let ask = msg_bytes(
        &Message::Identify(Identify {
            group: 77,
            nonce: 1,
        }),
        None,
    );
    for i in 0..5 {
        m.handle_datagram(t(i), addr(), &ask);
    }
    let mut buf = [0; MAX_DATAGRAM];
    assert_eq!(std::iter::from_fn(|| m.poll_transmit(&mut buf)).count(), 2);
    assert_eq!(m.acks_dropped(), 3);
}
