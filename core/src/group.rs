//! Peer groups: a group name, hashed, gives every member the same multicast address, UDP port
//! and wire group hash, with no configuration but the name.
//!
//! Derivation, version 1 (pinned by tests: a change here splits every deployed group):
//!
//! ```text
//! d     = BLAKE3 derive_key("hbnode 2025 peer group v1", NAME as UTF-8)   (32 bytes)
//! hash  = u32 LE of d[0..4]; 0 becomes 1 (0 means "not in peer mode" on the wire)
//! v     = u16 LE of d[4..6] mod 65534 + 1          (1 ..= 65534)
//! addr  = 239.255.(v >> 8).(v & 255)               (never .0.0 nor .255.255)
//! port  = PORT_BASE + u16 LE of d[6..8] mod PORT_COUNT
//! ```
//!
//! 239.255.0.0/16 is the IPv4 Local Scope of administratively scoped multicast (RFC 2365),
//! meant for exactly this: organisation-local groups that routers at the boundary drop. The
//! ports lie below Linux's default ephemeral range (32768–60999), so a peer's fixed port does not
//! collide with the kernel's choice for some other program's outgoing socket.
//!
//! Two names may share an address or a port; their beats never mix because every beat carries
//! the full 32-bit hash and a monitor refuses other groups' beats (`wrong_group`).

use core::net::{Ipv4Addr, SocketAddrV4};

use crate::id::{self, IdError};

/// Version of the derivation, part of the BLAKE3 context string.
pub const DERIVATION_VERSION: u32 = 1;
/// Lowest UDP port a group can get.
pub const PORT_BASE: u16 = 24_000;
/// How many ports groups are spread over (24000–31999).
pub const PORT_COUNT: u16 = 8_000;

const CONTEXT: &str = "hbnode 2025 peer group v1";

/// A peer group: its name and what every member derives from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    name: String,
    hash: u32,
    addr: Ipv4Addr,
    port: u16,
}

/// Why a group name is unusable (the rules of a node id: 1–64 bytes, no control characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GroupNameError {
    /// The empty string.
    #[error("group name is empty")]
    Empty,
    /// Longer than 64 bytes.
    #[error("group name is {0} bytes long, the limit is 64")]
    TooLong(usize),
    /// Contains a control character.
    #[error("group name contains a control character")]
    ControlChar,
}

impl From<IdError> for GroupNameError {
    fn from(e: IdError) -> Self {
        match e {
            IdError::Empty => Self::Empty,
            IdError::TooLong(n) => Self::TooLong(n),
            IdError::ControlChar => Self::ControlChar,
        }
    }
}

impl Group {
    /// Derives the group called `name` (see the module docs).
    pub fn new(name: &str) -> Result<Self, GroupNameError> {
        id::validate(name)?;
        let d = blake3::derive_key(CONTEXT, name.as_bytes());
        let hash = u32::from_le_bytes([d[0], d[1], d[2], d[3]]).max(1);
        let v = u16::from_le_bytes([d[4], d[5]]) % 65_534 + 1;
        let [hi, lo] = v.to_be_bytes();
        let port = PORT_BASE + u16::from_le_bytes([d[6], d[7]]) % PORT_COUNT;
        Ok(Self {
            name: name.to_owned(),
            hash,
            addr: Ipv4Addr::new(239, 255, hi, lo),
            port,
        })
    }

    /// The name it was derived from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit hash carried in every beat, leave, identify and member message (never 0).
    pub fn hash(&self) -> u32 {
        self.hash
    }

    /// The multicast address, in 239.255.0.1–239.255.255.254.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The UDP port, in `PORT_BASE .. PORT_BASE + PORT_COUNT`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Address and port together: where members send beats.
    pub fn socket_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.addr, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixed expected values, computed independently (Python's `blake3` package with the same
    // context string): if one of these changes, groups of old and new versions no longer meet.
    // Bump DERIVATION_VERSION (and the context string) on purpose, never by accident.
    #[test]
    fn derivation_v1_is_pinned() {
        let g = Group::new("prod").unwrap();
        assert_eq!(
            (g.hash(), g.socket_addr().to_string()),
            (0xa78b_d40a, "239.255.140.43:28563".into())
        );
        let g = Group::new("lab-cluster-7").unwrap();
        assert_eq!(
            (g.hash(), g.socket_addr().to_string()),
            (0x1662_12a0, "239.255.39.104:29101".into())
        );
        assert_eq!(DERIVATION_VERSION, 1);
    }

    #[test]
    fn same_name_same_group_and_names_are_case_sensitive() {
        assert_eq!(Group::new("a").unwrap(), Group::new("a").unwrap());
        assert_ne!(
            Group::new("a").unwrap().hash(),
            Group::new("A").unwrap().hash()
        );
    }

    #[test]
    fn every_derived_value_is_in_its_range() {
        for i in 0..5_000 {
            let g = Group::new(&format!("group-{i}")).unwrap();
            let [a, b, c, d] = g.addr().octets();
            assert_eq!((a, b), (239, 255));
            assert!((c, d) != (0, 0) && (c, d) != (255, 255), "{}", g.addr());
            assert!((PORT_BASE..PORT_BASE + PORT_COUNT).contains(&g.port()));
            assert_ne!(g.hash(), 0);
        }
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(Group::new(""), Err(GroupNameError::Empty));
        assert_eq!(
            Group::new(&"x".repeat(65)),
            Err(GroupNameError::TooLong(65))
        );
        assert_eq!(
            Group::new("a\nb").unwrap_err().to_string(),
            "group name contains a control character"
        );
    }
}
