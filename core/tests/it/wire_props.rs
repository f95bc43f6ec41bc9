//! The decoder never panics, and every valid message survives a round trip.

use hb_core::wire::{
    self, Ack, Beat, BeatFlags, Leave, MAX_DATAGRAM, Message, Reading, ReadingMeta, Readings,
    Schedule, SensorEvery, WireRange,
};
use hb_core::{Key, Keyring};
use proptest::prelude::*;

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,64}"
}

/// (node, monitor, kind, incarnation, seq, period, flags, sent_at, (group, schedule version),
/// readings, schedule, redirect)
type Fields = (
    String,
    String,
    u8,
    u64,
    u64,
    u32,
    u8,
    u64,
    (u32, u32),
    Vec<(String, f64, u8)>,
    Option<(u32, u32, Option<Vec<(String, u32)>>)>,
    Option<String>,
);

fn message() -> impl Strategy<Value = Fields> {
    (
        id(),
        id(),
        1u8..=3,
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        0u8..4,
        any::<u64>(),
        (any::<u32>(), any::<u32>()),
        prop::collection::vec(("[a-z0-9]{1,32}", -1e9f64..1e9, 0u8..4), 0..=16),
        prop::option::of((
            any::<u32>(),
            prop_oneof![Just(0u32), 10u32..],
            prop::option::of(prop::collection::vec(("[a-z0-9.]{1,32}", 100u32..), 0..=16)),
        )),
        prop::option::of("[a-z0-9.:]{1,60}"),
    )
}

proptest! {
    #[test]
    fn valid_messages_round_trip((node, monitor, kind, inc, seq, period, flags, sent, (group, sv), readings, sched, redirect) in message(), signed in any::<bool>()) {
        let rs: Vec<Reading<'_>> =
            readings.iter().map(|(p, v, s)| Reading::new(p, *v, *s)).collect();
        let msg = match kind {
            1 => Message::Beat(Beat { period_ms: period, flags: BeatFlags(flags), sent_at_us: sent, group, schedule_version: sv, readings: Readings::from_slice(&rs), ..Beat::new(&node, inc, seq) }),
            2 => Message::Ack(Ack { node: &node, seq, monitor: &monitor, schedule: sched.as_ref().map(|(version, period_ms, sensors)| Schedule { version: *version, period_ms: *period_ms, sensors: sensors.as_ref().map(|l| l.iter().map(|(s, ms)| SensorEvery { sensor: s, every_ms: *ms }).collect()) }), redirect: redirect.as_deref() }),
            _ => Message::Leave(Leave { node: &node, incarnation: inc, seq, group }),
        };
        let key = Key::new(3, [5; 32]);
        let ring = Keyring::new(vec![key.clone()], false);
        let mut buf = [0u8; MAX_DATAGRAM];
        let n = wire::encode(&msg, signed.then_some(&key), &mut buf).unwrap();
        let d = wire::decode(&buf[..n], &ring).unwrap();
        prop_assert_eq!(d.message, msg);
        prop_assert_eq!(d.key_id, signed.then_some(3));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1400)) {
        let _ = wire::decode(&bytes, &Keyring::open());
        let _ = wire::decode(&bytes, &Keyring::new(vec![Key::new(0, [0; 32])], true));
    }

    #[test]
    fn corrupted_datagrams_never_panic_and_never_verify(flip in 0usize..200, bit in 0u8..8, cut in 0usize..8) {
        let key = Key::new(1, [1; 32]);
        let ring = Keyring::new(vec![key.clone()], true);
        let msg = Message::Beat(Beat { period_ms: 1000, flags: BeatFlags(1), sent_at_us: 3, ..Beat::new("node", 1, 2) });
        let mut buf = [0u8; MAX_DATAGRAM];
        let n = wire::encode(&msg, Some(&key), &mut buf).unwrap();
        let mut bytes = buf[..n].to_vec();
        let i = flip % n;
        bytes[i] ^= 1 << bit;
        bytes.truncate(n - cut.min(n));
        // Any change to an authenticated datagram must be refused.
        prop_assert!(wire::decode(&bytes, &ring).is_err());
    }
}

/// A number for a meta field: mostly finite, sometimes NaN or ±∞ (postcard carries raw bits).
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e12f64..1e12,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ]
}

/// (low, high, inside) of a range.
type RangeFields = (Option<f64>, Option<f64>, bool);

fn range() -> impl Strategy<Value = Option<RangeFields>> {
    prop::option::of((
        prop::option::of(number()),
        prop::option::of(number()),
        any::<bool>(),
    ))
}

/// (unit, warning, critical, min, max) of a reading's meta.
type MetaFields = (
    String,
    Option<RangeFields>,
    Option<RangeFields>,
    Option<f64>,
    Option<f64>,
);

fn meta() -> impl Strategy<Value = MetaFields> {
    (
        // Mostly units a plugin prints; sometimes too long, spaced, delimited or numeric.
        prop_oneof![
            6 => "[a-zA-Z%]{0,8}",
            1 => "[a-z]{9,12}",
            1 => "[a-z]{0,3}[ ;='|][a-z]{0,3}",
            1 => "[0-9.+-][a-z]{0,3}",
        ],
        range(),
        range(),
        prop::option::of(number()),
        prop::option::of(number()),
    )
}

fn wire_range(r: Option<RangeFields>) -> Option<WireRange> {
    r.map(|(low, high, inside)| WireRange { low, high, inside })
}

/// Whether `m` is what a receiver accepts, said plainly (not with the crate's own checks).
fn acceptable(m: &MetaFields) -> bool {
    let (unit, w, c, min, max) = m;
    let unit_ok = unit.len() <= 8 && unit.chars().all(|ch| ch.is_ascii_alphabetic() || ch == '%');
    let range_ok = |r: &Option<RangeFields>| {
        r.is_none_or(|(lo, hi, _)| {
            lo.is_none_or(f64::is_finite)
                && hi.is_none_or(f64::is_finite)
                && !matches!((lo, hi), (Some(a), Some(b)) if a > b)
        })
    };
    unit_ok
        && range_ok(w)
        && range_ok(c)
        && min.is_none_or(f64::is_finite)
        && max.is_none_or(f64::is_finite)
}

proptest! {
    /// Issue 14: a beat of readings with meta (at most 9: the most of the largest that fit a
    /// datagram) either encodes and decodes to itself, or — when a unit, bound, min or max is
    /// one a receiver refuses — is refused as an invalid field.
    #[test]
    fn readings_with_meta_round_trip_or_are_refused(
        metas in prop::collection::vec(meta(), 1..=9),
        signed in any::<bool>(),
    ) {
        let rs: Vec<Reading<'_>> = metas
            .iter()
            .enumerate()
            .map(|(i, (unit, w, c, min, max))| Reading {
                meta: Some(ReadingMeta {
                    unit,
                    warning: wire_range(*w),
                    critical: wire_range(*c),
                    min: *min,
                    max: *max,
                }),
                ..Reading::new(["a", "b", "c", "d", "e", "f", "g", "h", "i"][i], i as f64, 0)
            })
            .collect();
        let node = "n".repeat(64);
        let msg = Message::Beat(Beat { readings: Readings::from_slice(&rs), ..Beat::new(&node, u64::MAX, u64::MAX) });
        let key = Key::new(3, [5; 32]);
        let ring = Keyring::new(vec![key.clone()], false);
        let mut buf = [0u8; MAX_DATAGRAM];
        let encoded = wire::encode(&msg, signed.then_some(&key), &mut buf);
        if metas.iter().all(acceptable) {
            let n = encoded.unwrap();
            prop_assert_eq!(wire::decode(&buf[..n], &ring).unwrap().message, msg);
        } else {
            prop_assert!(matches!(encoded, Err(wire::EncodeError::InvalidField(_))), "{:?}", encoded);
        }
    }
}
