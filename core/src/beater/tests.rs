//! Beater scenarios against hand-made acks.

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

#[test]
fn readings_spread_across_beats_oldest_first_and_newer_replace_unsent() {
    let mut b = Beater::new(cfg(1, false, None), t(0)).unwrap();
    for i in 0..20 {
        b.push_reading(&format!("p{i}"), f64::from(i), 0).unwrap();
    }
    b.push_reading("p3", 33.0, 1).unwrap(); // replaces the waiting p3, keeps its turn
    assert_eq!(b.pending_readings(), 20);
    b.handle_timeout(t(0));
    let (beats, _) = sent_beats(&mut b);
    let first = &beats[0].readings;
    assert_eq!(first.len(), MAX_READINGS);
    assert_eq!(first[0], ("p0".into(), 0.0, 0));
    assert_eq!(first[3], ("p3".into(), 33.0, 1));
    assert_eq!(first[15].0, "p15");
    b.handle_timeout(t(S));
    let (beats, _) = sent_beats(&mut b);
    let rest: Vec<_> = beats[0].readings.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(rest, ["p16", "p17", "p18", "p19"]);
    b.handle_timeout(t(2 * S));
    assert!(sent_beats(&mut b).0[0].readings.is_empty());
    assert_eq!(b.readings_dropped(), 0);
}

#[test]
fn readings_go_to_every_monitor_a_beat_goes_to() {
    let mut b = Beater::new(cfg(2, false, None), t(0)).unwrap();
    b.push_reading("load1", 0.5, 0).unwrap();
    b.handle_timeout(t(0));
    let (beats, _) = sent_beats(&mut b);
    assert_eq!(beats.len(), 2);
    assert!(
        beats
            .iter()
            .all(|x| x.readings == [("load1".into(), 0.5, 0)])
    );
}

#[test]
fn pending_readings_are_bounded_and_drops_counted() {
    let mut b = Beater::new(cfg(1, false, None), t(0)).unwrap();
    let extra = 44;
    for i in 0..MAX_PENDING_READINGS + extra {
        b.push_reading(&format!("p{i}"), 1.0, 0).unwrap();
    }
    assert_eq!(b.pending_readings(), MAX_PENDING_READINGS);
    assert_eq!(b.readings_dropped(), extra as u64);
    b.handle_timeout(t(0));
    assert_eq!(sent_beats(&mut b).0[0].readings[0].0, format!("p{extra}"));
}

#[test]
fn bad_readings_are_refused() {
    let mut b = Beater::new(cfg(1, false, None), t(0)).unwrap();
    assert_eq!(b.push_reading("", 1.0, 0), Err(ReadingError::ProbeName));
    assert_eq!(
        b.push_reading(&"x".repeat(33), 1.0, 0),
        Err(ReadingError::ProbeName)
    );
    assert_eq!(b.push_reading("p", 1.0, 4), Err(ReadingError::Status));
    assert_eq!(b.pending_readings(), 0);
}

/// The largest beat (64-byte id, 16 readings with 32-byte probe names, signed) fits a
/// datagram, so a beat never has to leave readings behind for size.
#[test]
fn a_full_beat_fits_a_datagram() {
    let mut c = cfg(1, false, Some(3));
    c.id = NodeId::new(&"n".repeat(64)).unwrap();
    let key = Key::new(u32::MAX, [1; 32]);
    c.keyring = Keyring::new(vec![key], true);
    c.incarnation = u64::MAX;
    c.unix_offset_us = u64::MAX / 2;
    let mut b = Beater::new(c.clone(), t(0)).unwrap();
    for i in 0..MAX_READINGS {
        b.push_reading(&format!("{i:x<32}"), f64::MAX, 3).unwrap();
    }
    b.handle_timeout(t(u64::MAX / 4));
    let mut buf = [0; MAX_DATAGRAM];
    let tx = b.poll_transmit(&mut buf).expect("the beat encodes");
    let d = wire::decode(&buf[..tx.len], &c.keyring).unwrap();
    let Message::Beat(beat) = d.message else {
        panic!("not a beat")
    };
    assert_eq!(beat.readings.len(), MAX_READINGS);
    assert!(tx.len < 900, "{} bytes", tx.len);
}

/// Issue 14: readings with meta (unit, both ranges, min, max) are larger; the largest beat
/// takes as many as fit a datagram, oldest first, and the rest ride on the next beats: none
/// is lost to an encoding that does not fit.
#[test]
fn readings_with_meta_spread_over_beats_that_fit_a_datagram() {
    use crate::probe::{ProbeMeta, Range, Unit};
    let mut c = cfg(1, false, Some(3));
    c.id = NodeId::new(&"n".repeat(64)).unwrap();
    let key = Key::new(u32::MAX, [1; 32]);
    c.keyring = Keyring::new(vec![key], true);
    c.incarnation = u64::MAX;
    c.unix_offset_us = u64::MAX / 2;
    let mut b = Beater::new(c.clone(), t(0)).unwrap();
    let range = Range::new(Some(-f64::MAX), Some(f64::MAX), true).unwrap();
    let meta = ProbeMeta {
        unit: Unit::new("uuuuuuuu").unwrap(),
        warning: Some(range),
        critical: Some(range),
        min: Some(f64::MIN),
        max: Some(f64::MAX),
    };
    for i in 0..MAX_READINGS {
        b.push_reading_with_meta(&format!("{i:x<32}"), f64::MAX, 3, meta)
            .unwrap();
    }
    let mut got = Vec::new();
    let mut per_beat = Vec::new();
    for k in 0..3 {
        b.handle_timeout(t(u64::MAX / 4 + k * S));
        let mut buf = [0; MAX_DATAGRAM];
        let tx = b.poll_transmit(&mut buf).expect("the beat encodes");
        let Message::Beat(beat) = wire::decode(&buf[..tx.len], &c.keyring).unwrap().message else {
            panic!("not a beat")
        };
        per_beat.push(beat.readings.len());
        for r in beat.readings.iter() {
            assert_eq!(r.meta.map(|m| ProbeMeta::from_wire(&m)), Some(meta));
            got.push(r.probe.to_owned());
        }
        while b.poll_transmit(&mut buf).is_some() {}
    }
    assert_eq!(per_beat, [9, 7, 0], "9 of the largest fit one datagram");
    let want: Vec<String> = (0..MAX_READINGS).map(|i| format!("{i:x<32}")).collect();
    assert_eq!(got, want, "every reading, oldest first");
}

#[test]
fn a_schedule_is_adopted_once_per_version_and_version_zero_restores_own_settings() {
    let mut b = Beater::new(keyed(cfg(1, false, Some(10))), t(0)).unwrap();
    b.handle_timeout(t(0));
    let (beats, _) = sent_beats(&mut b);
    assert_eq!((beats[0].schedule_version, beats[0].period_ms), (0, 1000));
    ack_with(
        &mut b,
        10,
        mon(0),
        1,
        Some(schedule(5, 2000, &[("load", 10_000)])),
        None,
    );
    assert_eq!(
        events(&mut b),
        [BeaterEvent::ScheduleAdopted {
            monitor: "m".into(),
            addr: mon(0),
            version: 5,
            previous_period: Duration::from_secs(1),
            period: Duration::from_secs(2),
            sensors: Some(vec![SensorInterval {
                sensor: "load".into(),
                every: Duration::from_secs(10),
            }]),
        }]
    );
    // The same version again changes nothing.
    ack_with(
        &mut b,
        20,
        mon(0),
        1,
        Some(schedule(5, 2000, &[("load", 10_000)])),
        None,
    );
    assert!(events(&mut b).is_empty());
    // The beat already armed at 1 s stays; the next interval is the new period.
    b.handle_timeout(t(S));
    let (beats, _) = sent_beats(&mut b);
    assert_eq!((beats[0].schedule_version, beats[0].period_ms), (5, 2000));
    assert_eq!(b.poll_timeout(), Some(t(3 * S)));
    ack_with(&mut b, 3 * S, mon(0), 2, Some(schedule(0, 0, &[])), None);
    let ev = events(&mut b);
    assert!(matches!(
        &ev[..],
        [BeaterEvent::ScheduleAdopted { version: 0, period, sensors: None, .. }]
            if *period == Duration::from_secs(1)
    ));
    assert_eq!(b.period(), Duration::from_secs(1));
    assert_eq!(b.schedule_version(), 0);
}

#[test]
fn a_shorter_scheduled_period_takes_effect_at_once() {
    let mut c = keyed(cfg(1, false, Some(100)));
    c.period = Duration::from_secs(30);
    let mut b = Beater::new(c, t(0)).unwrap();
    b.handle_timeout(t(0));
    assert_eq!(b.poll_timeout(), Some(t(30 * S)));
    ack_with(&mut b, S, mon(0), 1, Some(schedule(9, 2000, &[])), None);
    assert_eq!(b.poll_timeout(), Some(t(3 * S)));
}

#[test]
fn fire_and_forget_still_asks_for_an_ack_every_schedule_poll() {
    let mut b = Beater::new(keyed(cfg(1, false, None)), t(0)).unwrap();
    let mut asked = Vec::new();
    for s in 0..=20 {
        b.handle_timeout(t(s * S));
        if sent_beats(&mut b).0[0].ack {
            asked.push(s);
        }
    }
    assert_eq!(asked, [0, 10, 20]);
    let mut c = cfg(1, false, None);
    c.schedule_poll = None;
    let mut quiet = Beater::new(c, t(0)).unwrap();
    for s in 0..=20 {
        quiet.handle_timeout(t(s * S));
        assert!(
            !sent_beats(&mut quiet).0[0].ack,
            "no polling when schedule_poll is None"
        );
    }
    // Its acks still carry schedules, and no ack deadline is armed.
    ack_with(
        &mut b,
        20 * S + 5,
        mon(0),
        21,
        Some(schedule(3, 500, &[])),
        None,
    );
    assert_eq!(b.period(), Duration::from_millis(500));
    assert_eq!(b.poll_timeout(), Some(t(20 * S + 5 + 500_000)));
}

#[test]
fn a_redirect_switches_only_after_the_new_monitor_answers() {
    let mut b = Beater::new(keyed(cfg(1, false, Some(3))), t(0)).unwrap();
    b.handle_timeout(t(0));
    sent_beats(&mut b);
    let target = mon(7).to_string();
    ack_with(&mut b, 10, mon(0), 1, None, Some(&target));
    assert_eq!(
        events(&mut b),
        [BeaterEvent::RedirectStarted {
            from: mon(0),
            to: mon(7)
        }]
    );
    assert_eq!(b.redirecting_to(), Some(mon(7)));
    // Until it answers, beats go to both; the trial beat asks for an ack.
    b.handle_timeout(t(S));
    let (beats, _) = sent_beats(&mut b);
    let to: Vec<_> = beats.iter().map(|x| (x.to, x.ack)).collect();
    assert_eq!(to, [(mon(0), true), (mon(7), true)]);
    // The old monitor repeating the redirect changes nothing.
    ack_with(&mut b, S + 5, mon(0), 2, None, Some(&target));
    assert!(events(&mut b).is_empty());
    ack(&mut b, S + 10, mon(7), 2);
    assert_eq!(
        events(&mut b),
        [BeaterEvent::Redirected {
            from: mon(0),
            to: mon(7)
        }]
    );
    // The old monitor gets a Leave with a sequence number it has not seen.
    let (beats, leaves) = sent_beats(&mut b);
    assert!(beats.is_empty());
    assert_eq!(leaves, [(mon(0), 3)]);
    b.handle_timeout(t(2 * S));
    let (beats, _) = sent_beats(&mut b);
    assert_eq!(
        beats.iter().map(|x| (x.to, x.seq)).collect::<Vec<_>>(),
        [(mon(7), 3)]
    );
    assert_eq!(
        b.monitors().collect::<Vec<_>>(),
        [(mon(7), MonitorStatus::Healthy)]
    );
    // Acks from the old monitor are now foreign.
    ack(&mut b, 2 * S + 1, mon(0), 3);
    assert_eq!(b.rejections().get(Rejection::UnknownNode), 1);
}

#[test]
fn a_silent_redirect_target_is_given_up_and_the_beater_stays() {
    let mut b = Beater::new(keyed(cfg(1, false, Some(3))), t(0)).unwrap();
    let target = mon(7).to_string();
    for s in 0..=3 {
        b.handle_timeout(t(s * S));
        ack_with(&mut b, s * S + 1, mon(0), s + 1, None, Some(&target));
    }
    let ev = events(&mut b);
    assert_eq!(
        ev,
        [BeaterEvent::RedirectStarted {
            from: mon(0),
            to: mon(7)
        }]
    );
    b.handle_timeout(t(3 * S + 1));
    assert_eq!(
        events(&mut b),
        [BeaterEvent::RedirectFailed {
            from: mon(0),
            to: mon(7),
            waited: Duration::from_secs(3)
        }]
    );
    let (_, leaves) = sent_beats(&mut b);
    assert_eq!(leaves, [(mon(7), 5)]);
    assert_eq!(b.redirecting_to(), None);
    // Repeated redirects are not retried before REDIRECT_RETRY, then they are.
    b.handle_timeout(t(4 * S));
    ack_with(&mut b, 4 * S + 1, mon(0), 5, None, Some(&target));
    assert!(events(&mut b).is_empty());
    let (beats, _) = sent_beats(&mut b);
    assert!(beats.iter().all(|x| x.to == mon(0)));
    let later = 3 * S + 1 + micros(REDIRECT_RETRY);
    ack_with(&mut b, later, mon(0), 5, None, Some(&target));
    assert_eq!(events(&mut b).len(), 1);
    assert_eq!(b.monitors().next(), Some((mon(0), MonitorStatus::Healthy)));
}

#[test]
fn a_redirect_that_is_not_an_address_is_refused_and_counted() {
    let mut b = Beater::new(keyed(cfg(1, false, Some(3))), t(0)).unwrap();
    b.handle_timeout(t(0));
    ack_with(&mut b, 10, mon(0), 1, None, Some("monitor-b.example:43278"));
    assert_eq!(b.rejections().get(Rejection::InvalidField), 1);
    assert!(events(&mut b).is_empty());
    assert_eq!(b.redirecting_to(), None);
}

/// Issue 13 item 4: without keys, a spoofed ack (right source address) must not reschedule or
/// move the beater; it still counts as an answer.
#[test]
fn unsigned_acks_count_as_answers_but_their_schedules_and_redirects_are_ignored() {
    let mut b = Beater::new(cfg(1, false, Some(3)), t(0)).unwrap();
    b.handle_timeout(t(0));
    sent_beats(&mut b);
    let elsewhere = mon(7).to_string();
    let s = || Some(schedule(5, 60_000, &[("load", 10_000)]));
    ack_with(&mut b, 10, mon(0), 1, s(), Some(&elsewhere));
    ack_with(&mut b, 20, mon(0), 1, s(), None);
    ack_with(&mut b, 30, mon(0), 1, None, Some(&elsewhere));
    ack(&mut b, 40, mon(0), 1);
    assert_eq!(
        events(&mut b),
        [BeaterEvent::UnsignedIgnored { monitor: mon(0) }],
        "reported once"
    );
    assert_eq!(
        b.unsigned_acks_ignored(),
        3,
        "the plain ack carried nothing to ignore"
    );
    assert_eq!(b.period(), Duration::from_secs(1));
    assert_eq!(b.schedule_version(), 0);
    assert_eq!(b.redirecting_to(), None);
    assert_eq!(b.acks_received(), 4, "each still an answer");
    // Monitor loss and return still work on unsigned acks.
    b.handle_timeout(t(3 * S + 40));
    assert!(matches!(
        &events(&mut b)[..],
        [BeaterEvent::MonitorLost { .. }, ..]
    ));
    ack(&mut b, 3 * S + 50, mon(0), 1);
    assert_eq!(
        events(&mut b),
        [BeaterEvent::MonitorBack { monitor: mon(0) }]
    );
    let (beats, leaves) = sent_beats(&mut b);
    assert!(beats.iter().all(|x| x.to == mon(0)) && leaves.is_empty());
}

#[test]
fn a_keyed_beater_ignores_an_unsigned_schedule_and_an_unsigned_answer_from_a_redirect_target() {
    let mut b = Beater::new(keyed(cfg(1, false, Some(3))), t(0)).unwrap();
    b.handle_timeout(t(0));
    sent_beats(&mut b);
    ack_signed(
        &mut b,
        5,
        mon(0),
        1,
        Some(schedule(5, 2000, &[])),
        None,
        false,
    );
    assert_eq!(b.schedule_version(), 0);
    let target = mon(7).to_string();
    ack_with(&mut b, 10, mon(0), 1, None, Some(&target));
    assert_eq!(b.redirecting_to(), Some(mon(7)));
    // A forged "answer" from the target does not complete the move (no Leave to mon(0)).
    ack_signed(&mut b, 20, mon(7), 1, None, None, false);
    assert_eq!(
        events(&mut b),
        [
            BeaterEvent::UnsignedIgnored { monitor: mon(0) },
            BeaterEvent::RedirectStarted {
                from: mon(0),
                to: mon(7)
            }
        ]
    );
    assert_eq!(b.unsigned_acks_ignored(), 2);
    assert_eq!(b.redirecting_to(), Some(mon(7)));
    assert!(sent_beats(&mut b).1.is_empty(), "no Leave");
    // The target's signed answer does.
    ack_with(&mut b, 30, mon(7), 1, None, None);
    assert!(matches!(
        &events(&mut b)[..],
        [BeaterEvent::Redirected { .. }]
    ));
}

#[test]
fn trust_unsigned_acks_follows_unsigned_schedules_and_redirects() {
    let mut b = Beater::new(cfg(1, false, Some(3)), t(0)).unwrap();
    b.trust_unsigned_acks(true);
    b.handle_timeout(t(0));
    sent_beats(&mut b);
    let target = mon(7).to_string();
    ack_with(
        &mut b,
        10,
        mon(0),
        1,
        Some(schedule(5, 2000, &[])),
        Some(&target),
    );
    assert_eq!(b.schedule_version(), 5);
    assert_eq!(b.redirecting_to(), Some(mon(7)));
    ack(&mut b, 20, mon(7), 1);
    let ev = events(&mut b);
    assert!(
        matches!(ev.last(), Some(BeaterEvent::Redirected { .. })),
        "{ev:?}"
    );
    assert_eq!(b.unsigned_acks_ignored(), 0);
}
