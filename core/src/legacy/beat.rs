//! What every legacy decoder yields: a [`LegacyBeat`], or a [`LegacyError`] saying why not.

use std::collections::BTreeMap;

use crate::id::{IdError, NodeId};

/// A beat decoded from a legacy protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyBeat {
    /// Who beat.
    pub node: NodeId,
    /// The process id the sender reported, if any (Circus, TCP/JSON).
    pub pid: Option<u32>,
    /// The `status` field of a TCP/JSON beat, if any.
    pub status: Option<String>,
    /// Other fields the sender included (TCP/JSON), kept as text labels.
    pub labels: BTreeMap<String, String>,
}

impl LegacyBeat {
    pub(super) fn new(node: NodeId) -> Self {
        Self {
            node,
            pid: None,
            status: None,
            labels: BTreeMap::new(),
        }
    }
}

/// Why legacy input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LegacyError {
    /// A PyHeartbeat listener got something other than `PyHB`.
    #[error("not a PyHeartbeat datagram (expected exactly \"PyHB\")")]
    NotPyHb,
    /// The payload is not UTF-8 text.
    #[error("payload is not UTF-8 text")]
    NotUtf8,
    /// The line does not match the listener's regex.
    #[error("line does not match the message regex")]
    NoMatch,
    /// The derived node id is not valid.
    #[error("node id: {0}")]
    Id(#[from] IdError),
    /// The JSON stream holds something that is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A JSON value that is not an object.
    #[error("JSON beat is not an object")]
    NotAnObject,
    /// A field has the wrong type (e.g. a non-numeric `pid`).
    #[error("field {0:?} has the wrong type")]
    FieldType(&'static str),
    /// More buffered bytes than allowed without a complete object.
    #[error("more than {0} bytes without a complete JSON object")]
    BufferFull(usize),
}
