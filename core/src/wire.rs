//! Wire format v1: a fixed envelope around a postcard-encoded body, optionally authenticated.
//!
//! ```text
//! offset  size  field
//! 0       2     magic "HB"
//! 2       1     version (1)
//! 3       1     kind: 1 beat, 2 ack, 3 leave, 4 identify, 5 member
//! 4       1     flags: bit 0 = authenticated (trailer present); other bits must be 0
//! 5       n     body: postcard 1.x encoding of Beat / Ack / Leave / Identify / Member
//! 5+n     4     key id, u32 little-endian        } only when authenticated
//! 9+n     16    BLAKE3 keyed MAC of bytes 0..9+n } only when authenticated
//! ```
//!
//! Decoding rules (see docs/adr/0001-wire-format-postcard.md): datagrams over
//! [`MAX_DATAGRAM`] bytes are refused before anything is parsed; the MAC is checked before the
//! body is decoded; the body must use every byte (trailing bytes are refused); strings and
//! readings are borrowed from the datagram and counts are bounded, so decoding allocates nothing.

use serde::{Deserialize, Serialize};

use crate::auth::{Key, Keyring, TAG_LEN};
use crate::id::{self, MAX_ID_LEN};

/// The two bytes every datagram starts with.
pub const MAGIC: [u8; 2] = *b"HB";
/// The wire format version this crate speaks.
pub const VERSION: u8 = 1;
/// Largest datagram accepted or produced (fits an IPv6 minimum-MTU packet with headers).
pub const MAX_DATAGRAM: usize = 1200;
/// Bytes before the body.
pub const HEADER_LEN: usize = 5;
/// Bytes after the body of an authenticated datagram: key id and tag.
pub const TRAILER_LEN: usize = 4 + TAG_LEN;
/// Most sensor readings one beat carries.
pub const MAX_READINGS: usize = 16;
/// Longest probe name in a reading, in bytes.
pub const MAX_PROBE_LEN: usize = 32;
/// Longest redirect address in an ack, in bytes.
pub const MAX_REDIRECT_LEN: usize = 128;
/// Most sensors a [`Schedule`] names.
pub const MAX_SCHEDULED_SENSORS: usize = 16;
/// Longest sensor name in a [`Schedule`], in bytes.
pub const MAX_SENSOR_NAME_LEN: usize = 32;
/// Shortest beat period a [`Schedule`] may set, in milliseconds.
pub const MIN_SCHEDULE_PERIOD_MS: u32 = 10;
/// Shortest sensor interval a [`Schedule`] may set, in milliseconds.
pub const MIN_SENSOR_EVERY_MS: u32 = 100;

const FLAG_AUTH: u8 = 0x01;

/// Message kinds, the envelope's fourth byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A heartbeat.
    Beat = 1,
    /// A monitor's acknowledgement of a beat.
    Ack = 2,
    /// A graceful goodbye.
    Leave = 3,
    /// Peer mode: "every member of this group, say who you are".
    Identify = 4,
    /// Peer mode: a member's answer to an identify request.
    Member = 5,
}

/// Flags carried by a beat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeatFlags(pub u8);

impl BeatFlags {
    /// The sender wants an [`Ack`] for this beat.
    pub const ACK_WANTED: u8 = 0x01;
    /// The sender is shutting down; the monitor treats it as a [`Leave`].
    pub const LEAVING: u8 = 0x02;

    /// Whether all bits of `flag` are set.
    pub const fn has(self, flag: u8) -> bool {
        self.0 & flag == flag
    }
}

/// A heartbeat: "node `node`, incarnation `incarnation`, is alive; this is beat `seq`".
///
/// Encoded as a postcard struct of these fields in order (the readings as a postcard sequence).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Beat<'a> {
    /// The node's id (1–64 bytes UTF-8).
    #[serde(borrow)]
    pub node: &'a str,
    /// Grows across restarts of the node (hbnode uses its start time in µs since the Unix epoch).
    pub incarnation: u64,
    /// Grows by one per beat within an incarnation.
    pub seq: u64,
    /// The sender's beat period in milliseconds (0: unknown).
    pub period_ms: u32,
    /// See [`BeatFlags`].
    pub flags: BeatFlags,
    /// The sender's wall clock in µs since the Unix epoch. Informational only: detection uses
    /// the monitor's receive time.
    pub sent_at_us: u64,
    /// Hash of the peer group name (0 outside peer mode); other groups' beats are refused.
    pub group: u32,
    /// Version of the monitor-driven [`Schedule`] the sender runs (0: none, its own settings).
    /// A monitor whose rule for the node has another version sends it in the ack.
    pub schedule_version: u32,
    /// Sensor readings riding on this beat.
    pub readings: Readings<'a>,
}

impl<'a> Beat<'a> {
    /// Beat `seq` of `node`'s incarnation `incarnation`, every other field at its neutral
    /// value: period 0 (unknown), no flags, `sent_at_us` 0, group 0 (no peer group), schedule
    /// version 0 (none), no readings. Set the others with struct update syntax:
    ///
    /// ```
    /// use hb_core::wire::Beat;
    ///
    /// let beat = Beat { period_ms: 1000, ..Beat::new("web-1", 1, 42) };
    /// assert_eq!((beat.seq, beat.period_ms, beat.group), (42, 1000, 0));
    /// ```
    pub const fn new(node: &'a str, incarnation: u64, seq: u64) -> Self {
        Self {
            node,
            incarnation,
            seq,
            period_ms: 0,
            flags: BeatFlags(0),
            sent_at_us: 0,
            group: 0,
            schedule_version: 0,
            readings: Readings::EMPTY,
        }
    }
}

/// The fixed fields of a [`Beat`], decoded by postcard before the readings.
#[derive(Deserialize)]
struct BeatHeader<'a> {
    #[serde(borrow)]
    node: &'a str,
    incarnation: u64,
    seq: u64,
    period_ms: u32,
    flags: BeatFlags,
    sent_at_us: u64,
    group: u32,
    schedule_version: u32,
}

/// The sensor readings of a beat: at most [`MAX_READINGS`].
///
/// Decoded ones stay in the datagram's bytes (validated once, decoded again on iteration), so a
/// beat is small to move around and decoding allocates nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Readings<'a>(ReadingsRepr<'a>);

#[derive(Clone, Copy, Debug)]
enum ReadingsRepr<'a> {
    /// Validated postcard encodings of `len` readings, back to back.
    Encoded { bytes: &'a [u8], len: u8 },
    /// Readings to encode.
    Slice(&'a [Reading<'a>]),
}

impl Default for ReadingsRepr<'_> {
    fn default() -> Self {
        Self::Slice(&[])
    }
}

impl<'a> Readings<'a> {
    /// No readings.
    pub const EMPTY: Self = Self(ReadingsRepr::Slice(&[]));

    /// Readings to send (at most [`MAX_READINGS`], or encoding fails).
    pub const fn from_slice(readings: &'a [Reading<'a>]) -> Self {
        Self(ReadingsRepr::Slice(readings))
    }

    /// How many.
    pub fn len(&self) -> usize {
        match self.0 {
            ReadingsRepr::Encoded { len, .. } => usize::from(len),
            ReadingsRepr::Slice(s) => s.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The readings, in order.
    pub fn iter(&self) -> impl Iterator<Item = Reading<'a>> + 'a {
        let (mut bytes, slice) = match self.0 {
            ReadingsRepr::Encoded { bytes, .. } => (bytes, [].as_slice()),
            ReadingsRepr::Slice(s) => ([].as_slice(), s),
        };
        let decoded = core::iter::from_fn(move || {
            let (r, rest) = postcard::take_from_bytes::<Reading<'a>>(bytes).ok()?;
            bytes = rest;
            Some(r)
        });
        decoded.chain(slice.iter().copied())
    }

    /// Validates `len` encoded readings at the start of `bytes`; returns them and the rest.
    fn decode(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), DecodeError> {
        let (len, mut rest) =
            postcard::take_from_bytes::<usize>(bytes).map_err(|_| DecodeError::Malformed)?;
        if len > MAX_READINGS {
            return Err(DecodeError::InvalidField("too many readings"));
        }
        let start = rest;
        for _ in 0..len {
            let (r, next) = postcard::take_from_bytes::<Reading<'a>>(rest)
                .map_err(|_| DecodeError::Malformed)?;
            validate_reading(&r)?;
            rest = next;
        }
        let used = start.len() - rest.len();
        let len = len as u8; // ≤ MAX_READINGS
        Ok((
            Self(ReadingsRepr::Encoded {
                bytes: &start[..used],
                len,
            }),
            rest,
        ))
    }
}

impl PartialEq for Readings<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for Readings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for r in self.iter() {
            seq.serialize_element(&r)?;
        }
        seq.end()
    }
}

/// One sensor reading.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading<'a> {
    /// Probe name (1–32 bytes).
    pub probe: &'a str,
    /// The measured value.
    pub value: f64,
    /// Nagios-style status code: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub status: u8,
}

/// A monitor's answer to a beat that asked for one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack<'a> {
    /// The node whose beat this acknowledges.
    #[serde(borrow)]
    pub node: &'a str,
    /// The acknowledged beat's sequence number.
    pub seq: u64,
    /// The acknowledging monitor's id.
    pub monitor: &'a str,
    /// A schedule the monitor asks the node to adopt (sent when the beat's
    /// [`Beat::schedule_version`] differs from the monitor's).
    #[serde(borrow)]
    pub schedule: Option<Schedule<'a>>,
    /// Another monitor address the node should move to.
    pub redirect: Option<&'a str>,
}

/// A monitor-driven schedule: the beat period and which sensors run how often. Versioned, so
/// the beater adopts each version once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule<'a> {
    /// Changes whenever the monitor's rule for this node changes (hbnode: a hash of the rule,
    /// so it is the same across monitor restarts). 0: no rule; the node uses its own settings.
    pub version: u32,
    /// The beat period to use, in milliseconds (0: the node's own; otherwise at least
    /// [`MIN_SCHEDULE_PERIOD_MS`]).
    pub period_ms: u32,
    /// The sensors to run and how often (`None`: the node's own; at most
    /// [`MAX_SCHEDULED_SENSORS`]).
    #[serde(borrow)]
    pub sensors: Option<heapless::Vec<SensorEvery<'a>, MAX_SCHEDULED_SENSORS>>,
}

/// One sensor of a [`Schedule`]: run `sensor` every `every_ms` milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorEvery<'a> {
    /// The sensor's name on the node (`load`, `memory`, `processes`, or a `cmd:` sensor's
    /// name; 1–[`MAX_SENSOR_NAME_LEN`] bytes).
    pub sensor: &'a str,
    /// Its interval, in milliseconds (at least [`MIN_SENSOR_EVERY_MS`]).
    pub every_ms: u32,
}

impl Schedule<'_> {
    /// Checks the bounds a decoder enforces.
    fn validate(&self) -> Result<(), DecodeError> {
        if self.period_ms != 0 && self.period_ms < MIN_SCHEDULE_PERIOD_MS {
            return Err(DecodeError::InvalidField("schedule period"));
        }
        for s in self.sensors.iter().flatten() {
            if s.sensor.is_empty() || s.sensor.len() > MAX_SENSOR_NAME_LEN {
                return Err(DecodeError::InvalidField("scheduled sensor name"));
            }
            if s.every_ms < MIN_SENSOR_EVERY_MS {
                return Err(DecodeError::InvalidField("scheduled sensor interval"));
            }
        }
        Ok(())
    }
}

/// A graceful goodbye: the node is stopping on purpose and should not be reported down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leave<'a> {
    /// The node's id.
    #[serde(borrow)]
    pub node: &'a str,
    /// The node's incarnation.
    pub incarnation: u64,
    /// Sequence number, from the same counter as beats.
    pub seq: u64,
    /// Peer group hash, as in [`Beat::group`].
    pub group: u32,
}

/// Peer mode: asks every member of a group to answer with a [`Member`] (`hbnode peers`).
///
/// Sent to the group's multicast address; each member answers to the sender's address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identify {
    /// The group hash, as in [`Beat::group`]; members of other groups do not answer.
    pub group: u32,
    /// Echoed in the answers, so the asker takes only answers to this request.
    pub nonce: u64,
}

/// Peer mode: one member's answer to an [`Identify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member<'a> {
    /// The group hash.
    pub group: u32,
    /// The member's node id.
    #[serde(borrow)]
    pub node: &'a str,
    /// The member's incarnation.
    pub incarnation: u64,
    /// How long the member has been running, in ms.
    pub uptime_ms: u64,
    /// The request's nonce.
    pub nonce: u64,
}

/// Any message.
///
/// Lives on the stack for one datagram and is never stored in bulk, so the size of the beat
/// variant (its inline reading list) costs nothing worth an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Message<'a> {
    /// See [`Beat`].
    Beat(Beat<'a>),
    /// See [`Ack`].
    Ack(Ack<'a>),
    /// See [`Leave`].
    Leave(Leave<'a>),
    /// See [`Identify`].
    Identify(Identify),
    /// See [`Member`].
    Member(Member<'a>),
}

impl Message<'_> {
    /// The envelope kind of this message.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Beat(_) => Kind::Beat,
            Self::Ack(_) => Kind::Ack,
            Self::Leave(_) => Kind::Leave,
            Self::Identify(_) => Kind::Identify,
            Self::Member(_) => Kind::Member,
        }
    }
}

/// A decoded datagram.
#[derive(Clone, Debug, PartialEq)]
pub struct Datagram<'a> {
    /// The message.
    pub message: Message<'a>,
    /// The id of the key whose MAC verified, or `None` if the datagram was not authenticated.
    pub key_id: Option<u32>,
}

/// Why a datagram was refused. Each variant is also a rejection counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the envelope.
    #[error("datagram of {0} bytes is shorter than the header")]
    TooShort(usize),
    /// Longer than [`MAX_DATAGRAM`].
    #[error("datagram of {0} bytes exceeds the 1200-byte limit")]
    TooLarge(usize),
    /// Does not start with `HB`.
    #[error("bad magic bytes: not an hbnode datagram")]
    BadMagic,
    /// A version this build does not speak.
    #[error("unsupported wire version {0}")]
    UnsupportedVersion(u8),
    /// A kind byte this build does not know.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// Flag bits this build does not know.
    #[error("unknown envelope flags {0:#04x}")]
    UnknownFlags(u8),
    /// The body is not a valid postcard encoding of the kind's message.
    #[error("malformed message body")]
    Malformed,
    /// The body decoded but bytes were left over.
    #[error("{0} trailing bytes after the message body")]
    TrailingBytes(usize),
    /// A field is out of its bounds (empty or long id, control characters, …).
    #[error("invalid field: {0}")]
    InvalidField(&'static str),
    /// No MAC, and the keyring requires one.
    #[error("unauthenticated datagram refused: authentication is required")]
    Unauthenticated,
    /// The key id names no key in the keyring.
    #[error("datagram signed with unknown key id {0}")]
    UnknownKey(u32),
    /// The MAC does not verify.
    #[error("authentication tag does not verify")]
    BadMac,
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The encoding does not fit the buffer or [`MAX_DATAGRAM`].
    #[error("message does not fit in the datagram buffer")]
    TooLarge,
    /// A field is out of bounds (the receiver would refuse it).
    #[error("invalid field: {0}")]
    InvalidField(&'static str),
}

/// Encodes `msg` into `buf`, signed with `key` if given, and returns the datagram's length.
pub fn encode(msg: &Message<'_>, key: Option<&Key>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    validate(msg).map_err(|e| match e {
        DecodeError::InvalidField(f) => EncodeError::InvalidField(f),
        _ => EncodeError::InvalidField("message"),
    })?;
    let limit = buf.len().min(MAX_DATAGRAM);
    let buf = &mut buf[..limit];
    if buf.len() < HEADER_LEN {
        return Err(EncodeError::TooLarge);
    }
    buf[..2].copy_from_slice(&MAGIC);
    buf[2] = VERSION;
    buf[3] = msg.kind() as u8;
    buf[4] = if key.is_some() { FLAG_AUTH } else { 0 };
    let body = &mut buf[HEADER_LEN..];
    let body_len = match msg {
        Message::Beat(m) => postcard::to_slice(m, body).map(|s| s.len()),
        Message::Ack(m) => postcard::to_slice(m, body).map(|s| s.len()),
        Message::Leave(m) => postcard::to_slice(m, body).map(|s| s.len()),
        Message::Identify(m) => postcard::to_slice(m, body).map(|s| s.len()),
        Message::Member(m) => postcard::to_slice(m, body).map(|s| s.len()),
    }
    .map_err(|_| EncodeError::TooLarge)?;
    let mut len = HEADER_LEN + body_len;
    if let Some(key) = key {
        if len + TRAILER_LEN > buf.len() {
            return Err(EncodeError::TooLarge);
        }
        buf[len..len + 4].copy_from_slice(&key.id().to_le_bytes());
        len += 4;
        let tag = key.tag(&buf[..len]);
        buf[len..len + TAG_LEN].copy_from_slice(&tag);
        len += TAG_LEN;
    }
    Ok(len)
}

/// Decodes and authenticates one datagram against `keys`.
pub fn decode<'a>(bytes: &'a [u8], keys: &Keyring) -> Result<Datagram<'a>, DecodeError> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::TooShort(bytes.len()));
    }
    if bytes[..2] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if bytes[2] != VERSION {
        return Err(DecodeError::UnsupportedVersion(bytes[2]));
    }
    let kind = bytes[3];
    let flags = bytes[4];
    if flags & !FLAG_AUTH != 0 {
        return Err(DecodeError::UnknownFlags(flags));
    }
    let (body, key_id) = if flags & FLAG_AUTH != 0 {
        if bytes.len() < HEADER_LEN + TRAILER_LEN {
            return Err(DecodeError::TooShort(bytes.len()));
        }
        let tag_at = bytes.len() - TAG_LEN;
        let id_at = tag_at - 4;
        let mut id = [0; 4];
        id.copy_from_slice(&bytes[id_at..tag_at]);
        let id = u32::from_le_bytes(id);
        let key = keys.get(id).ok_or(DecodeError::UnknownKey(id))?;
        if !key.verify(&bytes[..tag_at], &bytes[tag_at..]) {
            return Err(DecodeError::BadMac);
        }
        (&bytes[HEADER_LEN..id_at], Some(id))
    } else {
        if keys.requires_auth() {
            return Err(DecodeError::Unauthenticated);
        }
        (&bytes[HEADER_LEN..], None)
    };
    let message = match kind {
        k if k == Kind::Beat as u8 => Message::Beat(beat_of(body)?),
        k if k == Kind::Ack as u8 => Message::Ack(body_of(body)?),
        k if k == Kind::Leave as u8 => Message::Leave(body_of(body)?),
        k if k == Kind::Identify as u8 => Message::Identify(body_of(body)?),
        k if k == Kind::Member as u8 => Message::Member(body_of(body)?),
        k => return Err(DecodeError::UnknownKind(k)),
    };
    validate(&message)?;
    Ok(Datagram { message, key_id })
}

fn beat_of(body: &[u8]) -> Result<Beat<'_>, DecodeError> {
    let (h, rest) =
        postcard::take_from_bytes::<BeatHeader<'_>>(body).map_err(|_| DecodeError::Malformed)?;
    let (readings, rest) = Readings::decode(rest)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(Beat {
        period_ms: h.period_ms,
        flags: h.flags,
        sent_at_us: h.sent_at_us,
        group: h.group,
        schedule_version: h.schedule_version,
        readings,
        ..Beat::new(h.node, h.incarnation, h.seq)
    })
}

fn validate_reading(r: &Reading<'_>) -> Result<(), DecodeError> {
    if r.probe.is_empty() || r.probe.len() > MAX_PROBE_LEN {
        return Err(DecodeError::InvalidField("probe name"));
    }
    Ok(())
}

fn body_of<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(body).map_err(|_| DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

fn validate(msg: &Message<'_>) -> Result<(), DecodeError> {
    let node_id = |s: &str| id::validate(s).map_err(|_| DecodeError::InvalidField("node id"));
    match msg {
        Message::Beat(b) => {
            node_id(b.node)?;
            if b.readings.len() > MAX_READINGS {
                return Err(DecodeError::InvalidField("too many readings"));
            }
            for r in b.readings.iter() {
                validate_reading(&r)?;
            }
        }
        Message::Ack(a) => {
            node_id(a.node)?;
            if a.monitor.len() > MAX_ID_LEN {
                return Err(DecodeError::InvalidField("monitor id"));
            }
            if a.redirect
                .is_some_and(|r| r.is_empty() || r.len() > MAX_REDIRECT_LEN)
            {
                return Err(DecodeError::InvalidField("redirect address"));
            }
            if let Some(s) = &a.schedule {
                s.validate()?;
            }
        }
        Message::Leave(l) => node_id(l.node)?,
        Message::Identify(_) => {}
        Message::Member(m) => node_id(m.node)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let rs = [
            Reading {
                probe: "load1",
                value: 0.5,
                status: 0,
            },
            Reading {
                probe: "disk",
                value: 91.0,
                status: 2,
            },
        ];
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
        let r = Reading {
            probe: "p",
            value: 1.0,
            status: 0,
        };
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
        let count_at = bytes.len() - (1 + 1 + 8 + 1) - 1;
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
        ok.push(0);
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
}
