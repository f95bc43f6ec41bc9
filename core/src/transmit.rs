//! Outgoing datagrams.

use core::net::SocketAddr;

/// A datagram to send: `len` bytes at the start of the buffer given to `poll_transmit`, to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// Length of the datagram in the caller's buffer.
    pub len: usize,
}
