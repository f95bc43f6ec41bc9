//! Golden bytes, round trips and refusals of the wire format (peer mode's and witness mode's
//! messages in `peer.rs`).

mod peer;

use super::envelope::FLAG_AUTH;
use super::*;
use crate::auth::{Key, Keyring};

fn beat() -> Beat<'static> {
    Beat {
        period_ms: 1000,
        flags: BeatFlags(BeatFlags::ACK_WANTED),
        sent_at_us: 1_700_000_000_123_456,
        ..Beat::new("web-1", 1_700_000_000_000_000, 42)
    }
}

fn enc(msg: &Message<'_>, key: Option<&Key>) -> Vec<u8> {
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(msg, key, &mut buf).unwrap();
    buf[..n].to_vec()
}

// Golden bytes pin the v1 encoding: a change here breaks every deployed beater.
#[test]
fn golden_beat_bytes() {
    let bytes = enc(&Message::Beat(beat()), None);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "4842010100057765622d318080f9c0c1c482032ae80701c0c480c1c1c48203\
         000000"
    );
}

/// A reading without meta costs one byte for it (`00`); one with meta carries its unit, its
/// ranges as (low, high, inside) with `None` for an open end, min and max, each an `Option`.
#[test]
fn golden_reading_bytes_with_and_without_meta() {
    // `golden_beat_bytes` up to its group and schedule version, before the reading count.
    let beat_hex = "4842010100057765622d318080f9c0c1c482032ae80701c0c480c1c1c482030000";
    let head: Vec<u8> = (0..beat_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&beat_hex[i..i + 2], 16).unwrap())
        .collect();
    let f = |v: f64| v.to_le_bytes();

    let plain = [Reading::new("p", 1.0, 2)];
    let mut b = beat();
    b.readings = Readings::from_slice(&plain);
    let mut want = head.clone();
    want.extend_from_slice(&[1, 1, b'p']);
    want.extend_from_slice(&f(1.0));
    want.extend_from_slice(&[2, 0]);
    assert_eq!(enc(&Message::Beat(b), None), want);

    let with_meta = [Reading {
        meta: Some(ReadingMeta {
            unit: "B",
            // Nagios `5` and `@10:20`; and `~:` for an open range.
            warning: Some(WireRange {
                low: Some(0.0),
                high: Some(5.0),
                inside: false,
            }),
            critical: Some(WireRange {
                low: Some(10.0),
                high: Some(20.0),
                inside: true,
            }),
            min: Some(0.0),
            max: None,
        }),
        ..Reading::new("l", 0.74, 0)
    }];
    let mut b = beat();
    b.readings = Readings::from_slice(&with_meta);
    let mut want = head;
    want.extend_from_slice(&[1, 1, b'l']);
    want.extend_from_slice(&f(0.74));
    want.extend_from_slice(&[0, 1, 1, b'B', 1, 1]);
    want.extend_from_slice(&f(0.0));
    want.push(1);
    want.extend_from_slice(&f(5.0));
    want.extend_from_slice(&[0, 1, 1]);
    want.extend_from_slice(&f(10.0));
    want.push(1);
    want.extend_from_slice(&f(20.0));
    want.extend_from_slice(&[1, 1]);
    want.extend_from_slice(&f(0.0));
    want.push(0);
    let bytes = enc(&Message::Beat(b.clone()), None);
    assert_eq!(bytes, want);
    assert_eq!(
        decode(&bytes, &Keyring::open()).unwrap().message,
        Message::Beat(b)
    );
}

/// Issue 14: postcard carries raw `f64` bits, so a peer can put NaN or ±∞ in a range bound or
/// min/max, or reverse a range, or send a unit no perfdata can hold: each is an invalid field,
/// refused at decode (and at encode).
#[test]
fn reading_meta_is_validated_both_ways() {
    let meta = ReadingMeta {
        unit: "ms",
        warning: Some(WireRange {
            low: None,
            high: Some(5.0),
            inside: false,
        }),
        critical: None,
        min: Some(0.0),
        max: Some(10.0),
    };
    let with = |m: ReadingMeta<'static>| {
        let rs = [Reading {
            meta: Some(m),
            ..Reading::new("p", 1.0, 0)
        }];
        let mut b = beat();
        b.readings = Readings::from_slice(&rs);
        let mut buf = [0; MAX_DATAGRAM];
        encode(&Message::Beat(b), None, &mut buf).map(|n| buf[..n].to_vec())
    };
    let ok = with(meta).unwrap();
    assert!(decode(&ok, &Keyring::open()).is_ok());
    let bad_units = ["123456789", "a b", "m;s", "5s", "-x", "\n", "\u{7}"];
    for unit in bad_units {
        let m = ReadingMeta { unit, ..meta };
        assert_eq!(
            with(m),
            Err(EncodeError::InvalidField("reading unit")),
            "{unit:?}"
        );
    }
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let m = ReadingMeta {
            max: Some(v),
            ..meta
        };
        assert_eq!(with(m), Err(EncodeError::InvalidField("reading min/max")));
        let m = ReadingMeta {
            critical: Some(WireRange {
                low: Some(v),
                high: None,
                inside: true,
            }),
            ..meta
        };
        assert_eq!(with(m), Err(EncodeError::InvalidField("reading range")));
    }
    let reversed = ReadingMeta {
        warning: Some(WireRange {
            low: Some(9.0),
            high: Some(1.0),
            inside: false,
        }),
        ..meta
    };
    assert_eq!(
        with(reversed),
        Err(EncodeError::InvalidField("reading range"))
    );
    // Hand-made from the valid datagram: max's bits (the last 8 bytes) made NaN and +∞, the
    // warning's high bound made −∞, and the unit made to hold a space.
    let open = Keyring::open();
    for bits in [f64::NAN, f64::INFINITY] {
        let mut b = ok.clone();
        let n = b.len();
        b[n - 8..].copy_from_slice(&bits.to_le_bytes());
        assert_eq!(
            decode(&b, &open),
            Err(DecodeError::InvalidField("reading min/max"))
        );
    }
    let mut b = ok.clone();
    let five = 5.0f64.to_le_bytes();
    let at = b.windows(8).position(|w| w == five).unwrap();
    b[at..at + 8].copy_from_slice(&f64::NEG_INFINITY.to_le_bytes());
    assert_eq!(
        decode(&b, &open),
        Err(DecodeError::InvalidField("reading range"))
    );
    let mut b = ok;
    let at = b.windows(2).position(|w| w == b"ms").unwrap();
    b[at] = b' ';
    assert_eq!(
        decode(&b, &open),
        Err(DecodeError::InvalidField("reading unit"))
    );
}

#[test]
fn golden_ack_and_leave_bytes() {
    let ack = Message::Ack(Ack {
        node: "n",
        seq: 300,
        monitor: "m1",
        schedule: Some(Schedule {
            version: 2,
            period_ms: 500,
            sensors: None,
        }),
        redirect: None,
    });
    assert_eq!(
        enc(&ack, None),
        [
            0x48, 0x42, 1, 2, 0, 1, b'n', 0xac, 0x02, 2, b'm', b'1', 1, 2, 0xf4, 0x03, 0, 0
        ]
    );
    let mut sensors = heapless::Vec::new();
    sensors
        .push(SensorEvery {
            sensor: "load",
            every_ms: 10_000,
        })
        .unwrap();
    let ack = Message::Ack(Ack {
        node: "n",
        seq: 1,
        monitor: "m",
        schedule: Some(Schedule {
            version: 7,
            period_ms: 0,
            sensors: Some(sensors),
        }),
        redirect: Some("10.0.0.2:43278"),
    });
    let mut want = vec![0x48, 0x42, 1, 2, 0, 1, b'n', 1, 1, b'm', 1, 7, 0, 1, 1, 4];
    want.extend_from_slice(b"load");
    want.extend_from_slice(&[0x90, 0x4e, 1, 14]);
    want.extend_from_slice(b"10.0.0.2:43278");
    assert_eq!(enc(&ack, None), want);
    let leave = Message::Leave(Leave {
        node: "n",
        incarnation: 1,
        seq: 2,
        group: 3,
    });
    assert_eq!(enc(&leave, None), [0x48, 0x42, 1, 3, 0, 1, b'n', 1, 2, 3]);
}

#[test]
fn golden_authenticated_trailer() {
    let key = Key::new(9, [7; 32]);
    let leave = Message::Leave(Leave {
        node: "n",
        incarnation: 1,
        seq: 2,
        group: 3,
    });
    let bytes = enc(&leave, Some(&key));
    assert_eq!(bytes[4], FLAG_AUTH);
    assert_eq!(bytes[10..14], 9u32.to_le_bytes());
    assert_eq!(bytes[14..], key.tag(&bytes[..14]));
    assert_eq!(bytes.len(), 10 + TRAILER_LEN);
}

#[test]
fn round_trip_with_and_without_key() {
    let key = Key::new(1, [3; 32]);
    let ring = Keyring::new(vec![key.clone()], false);
    let mut b = beat();
    let rs = [Reading::new("load1", 0.5, 0), Reading::new("disk", 91.0, 2)];
    b.readings = Readings::from_slice(&rs);
    let msg = Message::Beat(b);
    let plain = enc(&msg, None);
    assert_eq!(
        decode(&plain, &ring).unwrap(),
        Datagram {
            message: msg.clone(),
            key_id: None
        }
    );
    let signed = enc(&msg, Some(&key));
    assert_eq!(
        decode(&signed, &ring).unwrap(),
        Datagram {
            message: msg,
            key_id: Some(1)
        }
    );
}

#[test]
fn readings_are_bounded_and_validated() {
    let r = Reading::new("p", 1.0, 0);
    let many = [r; MAX_READINGS + 1];
    let mut b = beat();
    b.readings = Readings::from_slice(&many);
    let mut buf = [0; MAX_DATAGRAM];
    assert_eq!(
        encode(&Message::Beat(b.clone()), None, &mut buf),
        Err(EncodeError::InvalidField("too many readings"))
    );
    // Hand-made: the count says 17.
    b.readings = Readings::from_slice(&many[..1]);
    let mut bytes = enc(&Message::Beat(b.clone()), None);
    let count_at = bytes.len() - (1 + 1 + 8 + 1 + 1) - 1;
    assert_eq!(bytes[count_at], 1);
    bytes[count_at] = 17;
    assert_eq!(
        decode(&bytes, &Keyring::open()),
        Err(DecodeError::InvalidField("too many readings"))
    );
    // An empty probe name, and a reading cut short.
    let mut ok = enc(&Message::Beat(beat()), None);
    ok.pop();
    ok.extend_from_slice(&[1, 0]);
    ok.extend_from_slice(&1.0f64.to_le_bytes());
    ok.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode(&ok, &Keyring::open()),
        Err(DecodeError::InvalidField("probe name"))
    );
    let mut cut = enc(&Message::Beat(beat()), None);
    cut.pop();
    cut.extend_from_slice(&[1, 1, b'p', 0, 0]);
    assert_eq!(decode(&cut, &Keyring::open()), Err(DecodeError::Malformed));
}

#[test]
fn schedules_are_bounded_and_validated() {
    let ack = |period_ms, sensor, every_ms| {
        let mut sensors = heapless::Vec::new();
        sensors.push(SensorEvery { sensor, every_ms }).unwrap();
        Message::Ack(Ack {
            node: "n",
            seq: 1,
            monitor: "m",
            schedule: Some(Schedule {
                version: 1,
                period_ms,
                sensors: Some(sensors),
            }),
            redirect: None,
        })
    };
    let ok = enc(&ack(1000, "load", 10_000), None);
    assert!(decode(&ok, &Keyring::open()).is_ok());
    let mut buf = [0; MAX_DATAGRAM];
    for (msg, why) in [
        (ack(5, "load", 10_000), "schedule period"),
        (ack(1000, "", 10_000), "scheduled sensor name"),
        (ack(1000, "x", 50), "scheduled sensor interval"),
    ] {
        assert_eq!(
            encode(&msg, None, &mut buf),
            Err(EncodeError::InvalidField(why))
        );
    }
    // Hand-made: the period byte says 5 ms; and a list claiming 17 sensors.
    let mut short = ok.clone();
    let at = short.iter().position(|&b| b == 0xe8).unwrap();
    short.splice(at..at + 2, [5]);
    assert_eq!(
        decode(&short, &Keyring::open()),
        Err(DecodeError::InvalidField("schedule period"))
    );
    let mut many = ok.clone();
    let count_at = many.iter().position(|&b| b == b'l').unwrap() - 2;
    assert_eq!(many[count_at], 1);
    many[count_at] = 17;
    assert_eq!(decode(&many, &Keyring::open()), Err(DecodeError::Malformed));
}

#[test]
fn refuses_trailing_bytes() {
    let mut bytes = enc(&Message::Beat(beat()), None);
    bytes.push(0);
    assert_eq!(
        decode(&bytes, &Keyring::open()),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn refuses_oversize_before_parsing() {
    let bytes = vec![0u8; MAX_DATAGRAM + 1];
    assert_eq!(
        decode(&bytes, &Keyring::open()),
        Err(DecodeError::TooLarge(1201))
    );
}

#[test]
fn refuses_bad_envelopes() {
    let ok = enc(&Message::Beat(beat()), None);
    let open = Keyring::open();
    assert_eq!(decode(&ok[..3], &open), Err(DecodeError::TooShort(3)));
    let mut b = ok.clone();
    b[0] = b'X';
    assert_eq!(decode(&b, &open), Err(DecodeError::BadMagic));
    let mut b = ok.clone();
    b[2] = 2;
    assert_eq!(decode(&b, &open), Err(DecodeError::UnsupportedVersion(2)));
    let mut b = ok.clone();
    b[3] = 9;
    assert_eq!(decode(&b, &open), Err(DecodeError::UnknownKind(9)));
    let mut b = ok.clone();
    b[4] = 0x80;
    assert_eq!(decode(&b, &open), Err(DecodeError::UnknownFlags(0x80)));
    assert_eq!(
        decode(&ok[..ok.len() - 4], &open),
        Err(DecodeError::Malformed)
    );
}

#[test]
fn a_huge_claimed_length_is_refused_without_allocating() {
    // Envelope + a varint claiming a 2^48-byte node id: bincode 2's default config aborts
    // on this; postcard with borrowed strings just fails.
    let bytes = [
        0x48, 0x42, 1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40,
    ];
    assert_eq!(
        decode(&bytes, &Keyring::open()),
        Err(DecodeError::Malformed)
    );
}

#[test]
fn authentication_is_enforced() {
    let key = Key::new(1, [3; 32]);
    let other = Key::new(2, [4; 32]);
    let msg = Message::Beat(beat());
    let plain = enc(&msg, None);
    let required = Keyring::new(vec![key.clone()], true);
    assert_eq!(decode(&plain, &required), Err(DecodeError::Unauthenticated));
    let foreign = enc(&msg, Some(&other));
    assert_eq!(decode(&foreign, &required), Err(DecodeError::UnknownKey(2)));
    let mut forged = enc(&msg, Some(&key));
    forged[7] ^= 1;
    assert_eq!(decode(&forged, &required), Err(DecodeError::BadMac));
    // A keyless monitor cannot check a signature, so it refuses signed beats too.
    assert_eq!(
        decode(&foreign, &Keyring::open()),
        Err(DecodeError::UnknownKey(2))
    );
}

#[test]
fn invalid_fields_are_refused_both_ways() {
    let mut b = beat();
    b.node = "";
    let mut buf = [0; MAX_DATAGRAM];
    assert_eq!(
        encode(&Message::Beat(b), None, &mut buf),
        Err(EncodeError::InvalidField("node id"))
    );
    // Hand-build a beat with a control character in its id.
    let mut bytes = enc(&Message::Beat(beat()), None);
    bytes[7] = b'\n';
    assert_eq!(
        decode(&bytes, &Keyring::open()),
        Err(DecodeError::InvalidField("node id"))
    );
}
