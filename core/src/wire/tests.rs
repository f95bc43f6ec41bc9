//! Golden bytes, round trips and refusals of the wire format.

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
fn golden_identify_and_member_bytes() {
    let identify = Message::Identify(Identify {
        group: 0x0102_0304,
        nonce: 300,
    });
    assert_eq!(
        enc(&identify, None),
        [0x48, 0x42, 1, 4, 0, 0x84, 0x86, 0x88, 0x08, 0xac, 0x02]
    );
    let member = Message::Member(Member {
        group: 3,
        node: "n",
        incarnation: 1,
        uptime_ms: 1500,
        nonce: 7,
    });
    assert_eq!(
        enc(&member, None),
        [0x48, 0x42, 1, 5, 0, 3, 1, b'n', 1, 0xdc, 0x0b, 7]
    );
}

#[test]
fn identify_and_member_round_trip_signed_and_refuse_tampering() {
    let key = Key::new(5, [9; 32]);
    let ring = Keyring::new(vec![key.clone()], true);
    for msg in [
        Message::Identify(Identify {
            group: 77,
            nonce: u64::MAX,
        }),
        Message::Member(Member {
            group: 77,
            node: "peer-1",
            incarnation: 1_700_000_000_000_000,
            uptime_ms: 42,
            nonce: 9,
        }),
    ] {
        let signed = enc(&msg, Some(&key));
        assert_eq!(
            decode(&signed, &ring).unwrap(),
            Datagram {
                message: msg.clone(),
                key_id: Some(5)
            }
        );
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x10;
            assert!(
                decode(&bad, &ring).is_err(),
                "byte {i} flipped still decodes"
            );
        }
        assert_eq!(
            decode(&enc(&msg, None), &ring),
            Err(DecodeError::Unauthenticated)
        );
        let mut long = enc(&msg, None);
        long.push(0);
        assert_eq!(
            decode(&long, &Keyring::open()),
            Err(DecodeError::TrailingBytes(1))
        );
    }
    let mut buf = [0; MAX_DATAGRAM];
    let bad = Message::Member(Member {
        group: 1,
        node: "",
        incarnation: 1,
        uptime_ms: 0,
        nonce: 0,
    });
    assert_eq!(
        encode(&bad, None, &mut buf),
        Err(EncodeError::InvalidField("node id"))
    );
    // A member answer whose id holds a newline, hand-made.
    let mut b = enc(
        &Message::Member(Member {
            group: 1,
            node: "ab",
            incarnation: 1,
            uptime_ms: 0,
            nonce: 0,
        }),
        None,
    );
    b[8] = b'\n';
    assert_eq!(
        decode(&b, &Keyring::open()),
        Err(DecodeError::InvalidField("node id"))
    );
}

fn verdicts(suspect: &[&'static str], trust: &[&'static str]) -> Message<'static> {
    Message::Verdicts(Verdicts {
        monitor: "m",
        incarnation: 2,
        seq: 300,
        period_ms: 1000,
        suspect: suspect.iter().copied().collect(),
        trust: trust.iter().copied().collect(),
    })
}

#[test]
fn golden_verdicts_bytes() {
    // monitor "m", incarnation 2, seq 300 (varint ac 02), period 1000 (e8 07), one suspect
    // "a", one trust "bc".
    assert_eq!(
        enc(&verdicts(&["a"], &["bc"]), None),
        [
            0x48, 0x42, 1, 6, 0, 1, b'm', 2, 0xac, 0x02, 0xe8, 0x07, 1, 1, b'a', 1, 2, b'b', b'c'
        ]
    );
    assert_eq!(
        enc(&verdicts(&[], &[]), None),
        [
            0x48, 0x42, 1, 6, 0, 1, b'm', 2, 0xac, 0x02, 0xe8, 0x07, 0, 0
        ]
    );
}

#[test]
fn verdicts_round_trip_signed_are_bounded_and_refuse_tampering() {
    let key = Key::new(5, [9; 32]);
    let ring = Keyring::new(vec![key.clone()], true);
    // The largest message: eight 64-byte ids in each list still fits a signed datagram.
    let long: &'static str = "x".repeat(64).leak();
    let full = verdicts(&[long; MAX_VERDICTS], &[long; MAX_VERDICTS]);
    for msg in [verdicts(&["a", "b"], &[]), full] {
        let signed = enc(&msg, Some(&key));
        assert!(signed.len() <= MAX_DATAGRAM);
        let d = decode(&signed, &ring).unwrap();
        assert_eq!((d.message, d.key_id), (msg.clone(), Some(5)));
        for i in [0, 3, 6, signed.len() / 2, signed.len() - 1] {
            let mut bad = signed.clone();
            bad[i] ^= 0x10;
            assert!(
                decode(&bad, &ring).is_err(),
                "byte {i} flipped still decodes"
            );
        }
        assert_eq!(
            decode(&enc(&msg, None), &ring),
            Err(DecodeError::Unauthenticated)
        );
    }
    // A ninth suspect does not decode (hand-made: the count byte raised to 9).
    let mut nine = enc(&verdicts(&["a"; MAX_VERDICTS], &[]), None);
    nine[12] = 9;
    nine.extend([1, b'a']);
    assert_eq!(decode(&nine, &Keyring::open()), Err(DecodeError::Malformed));
    // Bad ids and periods are refused both ways.
    let mut buf = [0; MAX_DATAGRAM];
    assert_eq!(
        encode(&verdicts(&[""], &[]), None, &mut buf),
        Err(EncodeError::InvalidField("node id"))
    );
    let slow = Message::Verdicts(Verdicts {
        period_ms: 5,
        ..match verdicts(&[], &[]) {
            Message::Verdicts(v) => v,
            _ => unreachable!(),
        }
    });
    assert_eq!(
        encode(&slow, None, &mut buf),
        Err(EncodeError::InvalidField("verdict period"))
    );
    let mut b = enc(&verdicts(&["ab"], &[]), None);
    b[14] = b'\n';
    assert_eq!(
        decode(&b, &Keyring::open()),
        Err(DecodeError::InvalidField("node id"))
    );
    let mut trailing = enc(&verdicts(&[], &[]), None);
    trailing.push(0);
    assert_eq!(
        decode(&trailing, &Keyring::open()),
        Err(DecodeError::TrailingBytes(1))
    );
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
