//! Monitor-driven schedules and redirects, and which acks may change them.

use super::*;

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
