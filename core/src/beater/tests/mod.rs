//! Beater scenarios against hand-made acks: beats, monitor loss and failover, configs here;
//! readings and schedules in their own files.

mod readings;
mod schedules;

use super::*;
use crate::auth::{Key, Keyring};
use crate::id::NodeId;
use crate::wire::{Ack, MAX_DATAGRAM};

const S: u64 = 1_000_000;

fn t(us: u64) -> Timestamp {
    Timestamp::from_micros(us)
}

fn mon(i: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5000 + i))
}

fn cfg(monitors: usize, failover: bool, ack: Option<u64>) -> BeaterConfig {
    BeaterConfig {
        id: NodeId::new("node-a").unwrap(),
        incarnation: 7,
        period: Duration::from_secs(1),
        jitter: 0.0,
        seed: 1,
        monitors: (0..monitors as u16).map(mon).collect(),
        failover,
        ack_timeout: ack.map(Duration::from_secs),
        schedule_poll: Some(SCHEDULE_POLL),
        keyring: Keyring::open(),
        group: 0,
        unix_offset_us: 1_000_000_000,
    }
}

/// The key monitors sign acks with in these tests (when the beater holds it).
fn key() -> Key {
    Key::new(9, [9; 32])
}

/// `c` holding [`key`]: its beats are signed and it trusts acks signed with it.
fn keyed(mut c: BeaterConfig) -> BeaterConfig {
    c.keyring = Keyring::new(vec![key()], false);
    c
}

/// What decodes every beat these tests send (signed with [`key`] or not).
fn any_keys() -> Keyring {
    Keyring::new(vec![key()], false)
}

/// Drains transmits, returning (destination, decoded message kind + seq).
fn sent(b: &mut Beater) -> Vec<(SocketAddr, &'static str, u64)> {
    let mut out = Vec::new();
    let mut buf = [0; MAX_DATAGRAM];
    while let Some(tx) = b.poll_transmit(&mut buf) {
        let d = wire::decode(&buf[..tx.len], &any_keys()).unwrap();
        out.push(match d.message {
            Message::Beat(m) => (tx.to, "beat", m.seq),
            Message::Leave(m) => (tx.to, "leave", m.seq),
            Message::Ack(_) | Message::Identify(_) | Message::Member(_) | Message::Verdicts(_) => {
                unreachable!()
            }
        });
    }
    out
}

fn ack(b: &mut Beater, now: u64, from: SocketAddr, seq: u64) {
    ack_with(b, now, from, seq, None, None);
}

/// An ack, signed with [`key`] if the beater holds it.
fn ack_with(
    b: &mut Beater,
    now: u64,
    from: SocketAddr,
    seq: u64,
    schedule: Option<wire::Schedule<'_>>,
    redirect: Option<&str>,
) {
    let signed = b.config().keyring.get(key().id()).is_some();
    ack_signed(b, now, from, seq, schedule, redirect, signed);
}

/// An ack, signed with [`key`] or not.
fn ack_signed(
    b: &mut Beater,
    now: u64,
    from: SocketAddr,
    seq: u64,
    schedule: Option<wire::Schedule<'_>>,
    redirect: Option<&str>,
    signed: bool,
) {
    let key = key();
    let msg = Message::Ack(Ack {
        node: "node-a",
        seq,
        monitor: "m",
        schedule,
        redirect,
    });
    let mut buf = [0; MAX_DATAGRAM];
    let n = wire::encode(&msg, signed.then_some(&key), &mut buf).unwrap();
    b.handle_datagram(t(now), from, &buf[..n]);
}

/// A beat as sent: destination, seq, whether it asks for an ack, its schedule version and
/// period, and its readings.
#[derive(Debug, PartialEq)]
struct SentBeat {
    to: SocketAddr,
    seq: u64,
    ack: bool,
    schedule_version: u32,
    period_ms: u32,
    readings: Vec<(String, f64, u8)>,
}

/// Drains transmits; beats in detail, leaves as (destination, seq).
fn sent_beats(b: &mut Beater) -> (Vec<SentBeat>, Vec<(SocketAddr, u64)>) {
    let (mut beats, mut leaves) = (Vec::new(), Vec::new());
    let mut buf = [0; MAX_DATAGRAM];
    while let Some(tx) = b.poll_transmit(&mut buf) {
        match wire::decode(&buf[..tx.len], &any_keys()).unwrap().message {
            Message::Beat(m) => beats.push(SentBeat {
                to: tx.to,
                seq: m.seq,
                ack: m.flags.has(BeatFlags::ACK_WANTED),
                schedule_version: m.schedule_version,
                period_ms: m.period_ms,
                readings: m
                    .readings
                    .iter()
                    .map(|r| (r.probe.to_owned(), r.value, r.status))
                    .collect(),
            }),
            Message::Leave(m) => leaves.push((tx.to, m.seq)),
            other => unreachable!("a beater sent {other:?}"),
        }
    }
    (beats, leaves)
}

fn events(b: &mut Beater) -> Vec<BeaterEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

fn schedule(
    version: u32,
    period_ms: u32,
    sensors: &[(&'static str, u32)],
) -> wire::Schedule<'static> {
    wire::Schedule {
        version,
        period_ms,
        sensors: (!sensors.is_empty()).then(|| {
            sensors
                .iter()
                .map(|&(sensor, every_ms)| wire::SensorEvery { sensor, every_ms })
                .collect()
        }),
    }
}

#[test]
fn beats_every_period_to_every_monitor_then_leaves() {
    let mut b = Beater::new(cfg(2, false, None), t(0)).unwrap();
    assert_eq!(b.poll_timeout(), Some(t(0)));
    b.handle_timeout(t(0));
    assert_eq!(sent(&mut b), [(mon(0), "beat", 1), (mon(1), "beat", 1)]);
    assert_eq!(b.poll_timeout(), Some(t(S)));
    b.handle_timeout(t(S / 2)); // early wake-up: nothing
    assert!(sent(&mut b).is_empty());
    b.handle_timeout(t(S));
    assert_eq!(sent(&mut b).len(), 2);
    b.leave(t(S + 1));
    assert_eq!(sent(&mut b), [(mon(0), "leave", 3), (mon(1), "leave", 3)]);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn a_stall_resumes_without_a_burst() {
    let mut b = Beater::new(cfg(1, false, None), t(0)).unwrap();
    b.handle_timeout(t(0));
    sent(&mut b);
    b.handle_timeout(t(10 * S + 5));
    assert_eq!(sent(&mut b).len(), 1);
    assert_eq!(b.poll_timeout(), Some(t(11 * S + 5)));
}

#[test]
fn jitter_is_seeded_and_bounded() {
    let run = |seed| {
        let mut c = cfg(1, false, None);
        c.jitter = 0.2;
        c.seed = seed;
        let mut b = Beater::new(c, t(0)).unwrap();
        let mut times = Vec::new();
        for _ in 0..100 {
            let next = b.poll_timeout().unwrap();
            b.handle_timeout(next);
            times.push(next.as_micros());
        }
        times
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
    for w in a.windows(2) {
        let gap = w[1] - w[0];
        assert!((800_000..=1_200_000).contains(&gap), "gap {gap}");
    }
}

#[test]
fn silent_monitor_is_lost_then_back() {
    let mut b = Beater::new(cfg(1, false, Some(3)), t(0)).unwrap();
    b.handle_timeout(t(0));
    ack(&mut b, 1000, mon(0), 1);
    assert_eq!(b.acks_received(), 1);
    assert_eq!(b.poll_timeout(), Some(t(S)));
    for s in 1..=3 {
        b.handle_timeout(t(s * S));
    }
    assert!(b.poll_event().is_none());
    b.handle_timeout(t(3 * S + 1000));
    assert_eq!(
        b.poll_event(),
        Some(BeaterEvent::MonitorLost {
            monitor: mon(0),
            silence: Duration::from_secs(3)
        })
    );
    ack(&mut b, 4 * S, mon(0), 4);
    assert_eq!(
        b.poll_event(),
        Some(BeaterEvent::MonitorBack { monitor: mon(0) })
    );
}

#[test]
fn failover_moves_to_the_next_monitor_and_back_to_the_primary() {
    let mut b = Beater::new(cfg(2, true, Some(2)), t(0)).unwrap();
    b.handle_timeout(t(0));
    assert_eq!(sent(&mut b), [(mon(0), "beat", 1)]);
    b.handle_timeout(t(S));
    b.handle_timeout(t(2 * S));
    let evs: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(
        evs,
        [
            BeaterEvent::MonitorLost {
                monitor: mon(0),
                silence: Duration::from_secs(2)
            },
            BeaterEvent::Active { monitor: mon(1) }
        ]
    );
    // Beat 3 goes to the new active monitor and probes the lost primary.
    let s = sent(&mut b);
    assert_eq!(
        s,
        [
            (mon(0), "beat", 2),
            (mon(0), "beat", 3),
            (mon(1), "beat", 3)
        ]
    );
    ack(&mut b, 2 * S + 10, mon(1), 3);
    ack(&mut b, 2 * S + 20, mon(0), 3);
    let evs: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(
        evs,
        [
            BeaterEvent::MonitorBack { monitor: mon(0) },
            BeaterEvent::Active { monitor: mon(0) }
        ]
    );
    b.handle_timeout(t(3 * S));
    assert_eq!(sent(&mut b), [(mon(0), "beat", 4)]);
    assert_eq!(
        b.monitors().collect::<Vec<_>>(),
        [
            (mon(0), MonitorStatus::Healthy),
            (mon(1), MonitorStatus::Standby)
        ]
    );
}

#[test]
fn forged_or_foreign_acks_are_refused() {
    let mut c = cfg(1, false, Some(3));
    c.keyring = Keyring::new(vec![Key::new(1, [1; 32])], true);
    let mut b = Beater::new(c, t(0)).unwrap();
    b.handle_timeout(t(0));
    ack(&mut b, 10, mon(0), 1); // unsigned
    assert_eq!(b.rejections().get(Rejection::Unauthenticated), 1);
    let mut b = Beater::new(cfg(1, false, Some(3)), t(0)).unwrap();
    b.handle_timeout(t(0));
    ack(&mut b, 10, mon(9), 1); // not one of our monitors
    ack(&mut b, 10, mon(0), 99); // acks a beat never sent
    assert_eq!(b.rejections().total(), 2);
    assert_eq!(b.acks_received(), 0);
}

#[test]
fn bad_configs_are_refused() {
    let mut c = cfg(0, false, None);
    assert_eq!(
        Beater::new(c.clone(), t(0)).unwrap_err(),
        BeaterConfigError::NoMonitors
    );
    c.monitors.push(mon(0));
    c.jitter = 0.9;
    assert_eq!(
        Beater::new(c.clone(), t(0)).unwrap_err(),
        BeaterConfigError::Jitter
    );
    c.jitter = 0.0;
    c.failover = true;
    assert_eq!(
        Beater::new(c, t(0)).unwrap_err(),
        BeaterConfigError::FailoverWithoutAcks
    );
}
