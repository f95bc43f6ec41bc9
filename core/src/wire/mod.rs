//! Wire format v1: a fixed envelope around a postcard-encoded body, optionally authenticated.
//!
//! ```text
//! offset  size  field
//! 0       2     magic "HB"
//! 2       1     version (1)
//! 3       1     kind: 1 beat, 2 ack, 3 leave, 4 identify, 5 member, 6 verdicts
//! 4       1     flags: bit 0 = authenticated (trailer present); other bits must be 0
//! 5       n     body: postcard 1.x encoding of Beat / Ack / Leave / Identify / Member /
//!                     Verdicts
//! 5+n     4     key id, u32 little-endian        } only when authenticated
//! 9+n     16    BLAKE3 keyed MAC of bytes 0..9+n } only when authenticated
//! ```
//!
//! Decoding rules (see docs/adr/0001-wire-format-postcard.md): datagrams over
//! [`MAX_DATAGRAM`] bytes are refused before anything is parsed; the MAC is checked before the
//! body is decoded; the body must use every byte (trailing bytes are refused); strings and
//! readings are borrowed from the datagram and counts are bounded, so decoding allocates nothing.
//! A reading's optional meta (unit, the sender's ranges, min, max; `meta.rs`) is validated the
//! same way: non-finite numbers and reversed ranges are invalid fields.

mod ack;
mod beat;
mod envelope;
mod error;
mod message;
mod meta;
mod peer;
mod readings;
mod verdict;

pub use ack::{
    Ack, MAX_REDIRECT_LEN, MAX_SCHEDULED_SENSORS, MAX_SENSOR_NAME_LEN, MIN_SCHEDULE_PERIOD_MS,
    MIN_SENSOR_EVERY_MS, Schedule, SensorEvery,
};
pub use beat::{Beat, BeatFlags, Leave};
pub use envelope::{
    Datagram, HEADER_LEN, MAGIC, MAX_DATAGRAM, TRAILER_LEN, VERSION, decode, encode,
};
pub use error::{DecodeError, EncodeError};
pub use message::{Kind, Message};
pub use meta::{MAX_UNIT_LEN, ReadingMeta, WireRange, valid_unit};
pub use peer::{Identify, Member};
pub use readings::{MAX_PROBE_LEN, MAX_READINGS, Reading, Readings};
pub use verdict::{MAX_VERDICTS, Verdicts};

#[cfg(test)]
mod tests;
