//! The envelope: magic, version, kind and flags around a postcard body, the optional MAC
//! trailer, and [`encode`]/[`decode`] of whole datagrams.

use serde::Deserialize;

use super::beat::beat_of;
use super::error::{DecodeError, EncodeError};
use super::message::{Kind, Message, validate};
use crate::auth::{Key, Keyring, TAG_LEN};

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

pub(super) const FLAG_AUTH: u8 = 0x01;

/// A decoded datagram.
#[derive(Clone, Debug, PartialEq)]
pub struct Datagram<'a> {
    /// The message.
    pub message: Message<'a>,
    /// The id of the key whose MAC verified, or `None` if the datagram was not authenticated.
    pub key_id: Option<u32>,
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
        Message::Verdicts(m) => postcard::to_slice(m, body).map(|s| s.len()),
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
        k if k == Kind::Verdicts as u8 => Message::Verdicts(body_of(body)?),
        k => return Err(DecodeError::UnknownKind(k)),
    };
    validate(&message)?;
    Ok(Datagram { message, key_id })
}

fn body_of<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(body).map_err(|_| DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(value)
}
