//! Readings riding on beats: spreading, bounds, refusals, fitting a datagram.

use super::*;

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
