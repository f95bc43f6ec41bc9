//! Node identity: an explicit, validated name — never the source address.

use core::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Longest node id, in bytes of UTF-8.
pub const MAX_ID_LEN: usize = 64;

/// A node's id: 1 to 64 bytes of UTF-8 with no control characters.
///
/// Ids of up to 24 bytes are stored inline (no heap allocation), which keeps the registry small.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NodeId(CompactString);

/// Why a string is not a valid [`NodeId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is the empty string.
    #[error("node id is empty")]
    Empty,
    /// The id is longer than [`MAX_ID_LEN`] bytes.
    #[error("node id is {0} bytes long, the limit is 64")]
    TooLong(usize),
    /// The id contains a control character (which would corrupt logs and tables).
    #[error("node id contains a control character")]
    ControlChar,
}

impl NodeId {
    /// Validates `s` and makes it an id.
    pub fn new(s: &str) -> Result<Self, IdError> {
        validate(s)?;
        Ok(Self(CompactString::new(s)))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks that `s` would be a valid [`NodeId`] without allocating.
pub(crate) fn validate(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong(s.len()));
    }
    if s.chars().any(char::is_control) {
        return Err(IdError::ControlChar);
    }
    Ok(())
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::str::FromStr for NodeId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = CompactString::deserialize(d)?;
        validate(&s).map_err(serde::de::Error::custom)?;
        Ok(Self(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert_eq!(NodeId::new(""), Err(IdError::Empty));
        assert_eq!(NodeId::new(&"x".repeat(65)), Err(IdError::TooLong(65)));
        assert_eq!(NodeId::new("a\nb"), Err(IdError::ControlChar));
        assert_eq!(NodeId::new(&"é".repeat(32)).unwrap().as_str().len(), 64);
        assert_eq!(NodeId::new("web-1").unwrap().to_string(), "web-1");
    }
}
