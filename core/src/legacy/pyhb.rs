//! PyHeartbeat: a UDP datagram whose payload is exactly `PyHB`.

use core::net::SocketAddr;

use super::beat::{LegacyBeat, LegacyError};
use crate::id::NodeId;

/// Decodes a PyHeartbeat datagram from `from`: the node is the source IP as text
/// (`127.0.0.1`, `::1`).
pub fn parse_pyhb(payload: &[u8], from: SocketAddr) -> Result<LegacyBeat, LegacyError> {
    if payload != b"PyHB" {
        return Err(LegacyError::NotPyHb);
    }
    Ok(LegacyBeat::new(NodeId::new(&from.ip().to_string())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyhb_beat_is_named_by_source_ip() {
        let from: SocketAddr = "10.1.2.3:5555".parse().unwrap();
        assert_eq!(parse_pyhb(b"PyHB", from).unwrap().node.as_str(), "10.1.2.3");
        let v6: SocketAddr = "[::1]:5555".parse().unwrap();
        assert_eq!(parse_pyhb(b"PyHB", v6).unwrap().node.as_str(), "::1");
        for bad in [&b"PyHB\n"[..], b"pyhb", b"", b"PyHBx"] {
            assert_eq!(parse_pyhb(bad, from), Err(LegacyError::NotPyHb));
        }
    }
}
