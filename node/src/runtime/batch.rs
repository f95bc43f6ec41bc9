//! A batch of received datagrams in one buffer, recycled between Receiver and Detector.

use std::net::SocketAddr;
use std::ops::Range;

use hb_core::{Timestamp, wire};

use crate::net::transport::Transport;
use crate::runtime::clock::Clock;

/// Bytes reserved per datagram: one more than the wire limit, so an oversized datagram is seen
/// as such (and counted `too_large`) rather than silently truncated to a valid size.
pub(crate) const SLOT: usize = wire::MAX_DATAGRAM + 1;

/// Datagrams with their receive times and sources, stored back to back.
#[derive(Debug)]
pub(crate) struct Batch {
    data: Vec<u8>,
    items: Vec<(Timestamp, SocketAddr, Range<usize>)>,
    /// Receive buffer; each datagram is copied out at its real length.
    scratch: Box<[u8; SLOT]>,
}

impl Batch {
    /// An empty batch with room for `n` datagrams.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            data: Vec::with_capacity(n * 64),
            items: Vec::with_capacity(n),
            scratch: Box::new([0; SLOT]),
        }
    }

    /// Number of datagrams.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Empties the batch, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.items.clear();
    }

    /// Waits for one datagram and appends it, stamped with its receive time.
    pub(crate) async fn recv<T: Transport>(&mut self, t: &T, clock: &Clock) -> std::io::Result<()> {
        let res = t.recv_from(&mut self.scratch[..]).await;
        self.finish(res, clock)
    }

    /// Appends one datagram if one is ready (`WouldBlock` otherwise).
    pub(crate) fn try_recv<T: Transport>(&mut self, t: &T, clock: &Clock) -> std::io::Result<()> {
        let res = t.try_recv_from(&mut self.scratch[..]);
        self.finish(res, clock)
    }

    fn finish(
        &mut self,
        res: std::io::Result<(usize, SocketAddr)>,
        clock: &Clock,
    ) -> std::io::Result<()> {
        let (n, from) = res?;
        let start = self.data.len();
        self.data.extend_from_slice(&self.scratch[..n]);
        self.items.push((clock.now(), from, start..start + n));
        Ok(())
    }

    /// The datagrams, in arrival order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Timestamp, SocketAddr, &[u8])> {
        self.items
            .iter()
            .map(|(at, from, r)| (*at, *from, &self.data[r.clone()]))
    }
}
