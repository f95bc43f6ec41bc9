//! The sensor readings a beat carries: borrowed from the datagram, bounded, validated once.

use serde::{Deserialize, Serialize};

use super::error::DecodeError;
use super::meta::{ReadingMeta, validate_meta};

/// Most sensor readings one beat carries.
pub const MAX_READINGS: usize = 16;
/// Longest probe name in a reading, in bytes.
pub const MAX_PROBE_LEN: usize = 32;

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
    pub(super) fn decode(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), DecodeError> {
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
///
/// Encoded as a postcard struct of these fields in order; `meta` is a postcard `Option` (one
/// byte `0` when absent).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading<'a> {
    /// Probe name (1–32 bytes).
    pub probe: &'a str,
    /// The measured value.
    pub value: f64,
    /// Nagios-style status code: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub status: u8,
    /// Unit, the sender's own ranges, min and max, if it has any (plugin performance data).
    #[serde(borrow)]
    pub meta: Option<ReadingMeta<'a>>,
}

impl<'a> Reading<'a> {
    /// A reading of `probe` with no meta. Add one with struct update syntax:
    ///
    /// ```
    /// use hb_core::wire::{Reading, ReadingMeta};
    ///
    /// let r = Reading {
    ///     meta: Some(ReadingMeta { unit: "s", ..ReadingMeta::default() }),
    ///     ..Reading::new("rtt", 0.25, 0)
    /// };
    /// assert_eq!(r.meta.map(|m| m.unit), Some("s"));
    /// ```
    pub const fn new(probe: &'a str, value: f64, status: u8) -> Self {
        Self {
            probe,
            value,
            status,
            meta: None,
        }
    }
}

/// Checks one reading's probe name and meta.
pub(super) fn validate_reading(r: &Reading<'_>) -> Result<(), DecodeError> {
    if r.probe.is_empty() || r.probe.len() > MAX_PROBE_LEN {
        return Err(DecodeError::InvalidField("probe name"));
    }
    if let Some(m) = &r.meta {
        validate_meta(m)?;
    }
    Ok(())
}
