//! Rejected input is counted by reason, never reported one event per packet.

use core::fmt;

use crate::wire::DecodeError;

/// Why an input was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Rejection {
    /// Shorter than the envelope.
    TooShort,
    /// Over the datagram size limit.
    TooLarge,
    /// Not an hbnode datagram.
    BadMagic,
    /// Unsupported wire version.
    UnsupportedVersion,
    /// Unknown message kind or envelope flags.
    UnknownKind,
    /// Body does not decode.
    Malformed,
    /// Bytes after the body.
    TrailingBytes,
    /// A field out of bounds.
    InvalidField,
    /// No MAC where one is required.
    Unauthenticated,
    /// MAC under a key id the keyring does not hold.
    UnknownKey,
    /// MAC does not verify.
    BadMac,
    /// A message kind this side does not accept (an ack sent to a monitor).
    UnexpectedKind,
    /// A beat from another peer group.
    WrongGroup,
    /// An incarnation older than the node's current one (a replay, or a clock gone backwards).
    StaleIncarnation,
    /// A sequence number older than the reorder window (a replay).
    Replayed,
    /// A sequence number already seen.
    Duplicate,
    /// A leave from a node the monitor does not know.
    UnknownNode,
    /// A new node while the registry is at `max_nodes`.
    RegistryFull,
    /// An unparseable line or frame on a legacy listener.
    BadLegacyFormat,
    /// Peer mode: a beat or leave carrying this member's own id from another process (two
    /// members of a group share an id).
    IdConflict,
    /// Witness mode: verdicts from an address no `--witness` names (or to a monitor with no
    /// witnesses).
    UnknownWitness,
}

impl Rejection {
    /// Every reason, in counter order.
    pub const ALL: [Self; 21] = [
        Self::TooShort,
        Self::TooLarge,
        Self::BadMagic,
        Self::UnsupportedVersion,
        Self::UnknownKind,
        Self::Malformed,
        Self::TrailingBytes,
        Self::InvalidField,
        Self::Unauthenticated,
        Self::UnknownKey,
        Self::BadMac,
        Self::UnexpectedKind,
        Self::WrongGroup,
        Self::StaleIncarnation,
        Self::Replayed,
        Self::Duplicate,
        Self::UnknownNode,
        Self::RegistryFull,
        Self::BadLegacyFormat,
        Self::IdConflict,
        Self::UnknownWitness,
    ];

    /// The stable snake_case name used as the `reason` label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLarge => "too_large",
            Self::BadMagic => "bad_magic",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownKind => "unknown_kind",
            Self::Malformed => "malformed",
            Self::TrailingBytes => "trailing_bytes",
            Self::InvalidField => "invalid_field",
            Self::Unauthenticated => "unauthenticated",
            Self::UnknownKey => "unknown_key",
            Self::BadMac => "bad_mac",
            Self::UnexpectedKind => "unexpected_kind",
            Self::WrongGroup => "wrong_group",
            Self::StaleIncarnation => "stale_incarnation",
            Self::Replayed => "replayed",
            Self::Duplicate => "duplicate",
            Self::UnknownNode => "unknown_node",
            Self::RegistryFull => "registry_full",
            Self::BadLegacyFormat => "bad_legacy_format",
            Self::IdConflict => "id_conflict",
            Self::UnknownWitness => "unknown_witness",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<DecodeError> for Rejection {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::TooShort(_) => Self::TooShort,
            DecodeError::TooLarge(_) => Self::TooLarge,
            DecodeError::BadMagic => Self::BadMagic,
            DecodeError::UnsupportedVersion(_) => Self::UnsupportedVersion,
            DecodeError::UnknownKind(_) | DecodeError::UnknownFlags(_) => Self::UnknownKind,
            DecodeError::Malformed => Self::Malformed,
            DecodeError::TrailingBytes(_) => Self::TrailingBytes,
            DecodeError::InvalidField(_) => Self::InvalidField,
            DecodeError::Unauthenticated => Self::Unauthenticated,
            DecodeError::UnknownKey(_) => Self::UnknownKey,
            DecodeError::BadMac => Self::BadMac,
        }
    }
}

/// Counters of rejected inputs, one per [`Rejection`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rejections([u64; Rejection::ALL.len()]);

impl Rejections {
    /// Counts one rejection.
    pub fn add(&mut self, why: Rejection) {
        self.0[why as usize] += 1;
    }

    /// The count for one reason.
    pub fn get(&self, why: Rejection) -> u64 {
        self.0[why as usize]
    }

    /// All rejections.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every reason with its count, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (Rejection, u64)> + '_ {
        Rejection::ALL.iter().map(|&r| (r, self.get(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_in_discriminant_order() {
        for (i, r) in Rejection::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
