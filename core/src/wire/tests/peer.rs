//! Peer mode's identify and member messages and witness mode's verdicts: golden bytes, round
//! trips signed, bounds and tampering.

use super::*;

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
fn peer_and_witness_messages_round_trip_signed_and_refuse_tampering() {
    let key = Key::new(5, [9; 32]);
    let ring = Keyring::new(vec![key.clone()], true);
    for msg in [
        verdicts(&["a", "b"], &["c"]),
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
fn the_kind_of_an_encoded_datagram_is_read_from_its_envelope() {
    assert_eq!(
        Kind::of(&enc(&verdicts(&["a"], &[]), None)),
        Some(Kind::Verdicts)
    );
    let member = Message::Member(Member {
        group: 1,
        node: "n",
        incarnation: 1,
        uptime_ms: 0,
        nonce: 0,
    });
    assert_eq!(Kind::of(&enc(&member, None)), Some(Kind::Member));
    assert_eq!(Kind::of(b"HB\x01"), None, "shorter than the envelope");
    assert_eq!(Kind::of(b"HB\x02\x06\x00"), None, "another version");
    assert_eq!(Kind::of(b"HB\x01\x09\x00"), None, "an unknown kind");
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
fn verdicts_are_bounded_and_the_largest_fits_signed() {
    let key = Key::new(5, [9; 32]);
    let ring = Keyring::new(vec![key.clone()], true);
    // The largest message: eight 64-byte ids in each list still fits a signed datagram.
    let long: &'static str = "x".repeat(64).leak();
    let full = verdicts(&[long; MAX_VERDICTS], &[long; MAX_VERDICTS]);
    let signed = enc(&full, Some(&key));
    assert!(signed.len() <= MAX_DATAGRAM, "{} bytes", signed.len());
    let d = decode(&signed, &ring).unwrap();
    assert_eq!((d.message, d.key_id), (full, Some(5)));
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
