//! Peer mode's messages: the identify request and a member's answer.

use serde::{Deserialize, Serialize};

/// Peer mode: asks every member of a group to answer with a [`Member`] (`hbnode peers`).
///
/// Sent to the group's multicast address; each member answers to the sender's address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identify {
    /// The group hash, as in [`Beat::group`](super::Beat::group); members of other groups do not answer.
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
