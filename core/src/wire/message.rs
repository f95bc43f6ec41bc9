//! Any message: its kind byte, and the bounds every decoded or encoded message must meet.

use super::ack::{Ack, MAX_REDIRECT_LEN};
use super::beat::{Beat, Leave};
use super::error::DecodeError;
use super::peer::{Identify, Member};
use super::readings::{MAX_READINGS, validate_reading};
use super::verdict::Verdicts;
use crate::id::{self, MAX_ID_LEN};

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
    /// Witness mode: a monitor's verdicts, to the other monitors.
    Verdicts = 6,
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
    /// See [`Verdicts`].
    Verdicts(Verdicts<'a>),
}

impl Kind {
    /// The kind of an encoded datagram, read from its envelope without decoding the body (for
    /// a sender routing its own datagrams); `None` for bytes that are not an hbnode datagram
    /// of a known kind.
    pub fn of(datagram: &[u8]) -> Option<Self> {
        let header = datagram.get(..super::HEADER_LEN)?;
        if header[..2] != super::MAGIC || header[2] != super::VERSION {
            return None;
        }
        [
            Self::Beat,
            Self::Ack,
            Self::Leave,
            Self::Identify,
            Self::Member,
            Self::Verdicts,
        ]
        .into_iter()
        .find(|k| *k as u8 == header[3])
    }
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
            Self::Verdicts(_) => Kind::Verdicts,
        }
    }
}

/// Checks the bounds a receiver enforces (an encoder refuses what a decoder would).
pub(super) fn validate(msg: &Message<'_>) -> Result<(), DecodeError> {
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
        Message::Verdicts(v) => {
            id::validate(v.monitor).map_err(|_| DecodeError::InvalidField("monitor id"))?;
            if v.period_ms < 10 {
                return Err(DecodeError::InvalidField("verdict period"));
            }
            for n in v.suspect.iter().chain(v.trust.iter()) {
                node_id(n)?;
            }
        }
    }
    Ok(())
}
