//! Why a datagram was refused, or a message could not be encoded.

/// Why a datagram was refused. Each variant is also a rejection counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the envelope.
    #[error("datagram of {0} bytes is shorter than the header")]
    TooShort(usize),
    /// Longer than [`MAX_DATAGRAM`](super::MAX_DATAGRAM).
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
    /// The encoding does not fit the buffer or [`MAX_DATAGRAM`](super::MAX_DATAGRAM).
    #[error("message does not fit in the datagram buffer")]
    TooLarge,
    /// A field is out of bounds (the receiver would refuse it).
    #[error("invalid field: {0}")]
    InvalidField(&'static str),
}
