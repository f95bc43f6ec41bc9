//! A batch of received datagrams in one buffer, recycled between Receiver and Detector; it
//! comes back to the Receiver carrying the acks the Detector wrote for it.

use std::net::SocketAddr;
use std::ops::Range;

use hb_core::{Timestamp, wire};

use crate::net::transport::Transport;
use crate::runtime::clock::Clock;

/// Bytes reserved per native datagram: one more than the wire limit, so an oversized datagram
/// is seen as such (and counted `too_large`) rather than silently truncated to a valid size.
pub(crate) const SLOT: usize = wire::MAX_DATAGRAM + 1;

/// Datagrams with their receive times and sources, stored back to back; and the acks to send
/// back, stored the same way.
#[derive(Debug)]
pub(crate) struct Batch {
    data: Vec<u8>,
    items: Vec<(Timestamp, SocketAddr, Range<usize>)>,
    /// Receive buffer; each datagram is copied out at its real length.
    scratch: Box<[u8]>,
    ack_data: Vec<u8>,
    acks: Vec<(SocketAddr, Range<usize>)>,
}

impl Batch {
    /// An empty batch with room for `n` datagrams of up to `slot - 1` bytes (a datagram of
    /// `slot` bytes or more is cut to `slot`).
    pub(crate) fn with_capacity(n: usize, slot: usize) -> Self {
        Self {
            data: Vec::with_capacity(n * 64),
            items: Vec::with_capacity(n),
            scratch: vec![0; slot].into_boxed_slice(),
            ack_data: Vec::new(),
            acks: Vec::new(),
        }
    }

    /// Number of datagrams.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Empties the batch (datagrams and acks), keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.items.clear();
        self.ack_data.clear();
        self.acks.clear();
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

    /// Appends the ack `write` produces into a [`wire::MAX_DATAGRAM`]-byte buffer (its
    /// destination and length), if it produces one; returns whether it did.
    pub(crate) fn push_ack(
        &mut self,
        write: impl FnOnce(&mut [u8]) -> Option<(SocketAddr, usize)>,
    ) -> bool {
        let start = self.ack_data.len();
        self.ack_data.resize(start + wire::MAX_DATAGRAM, 0);
        let made = write(&mut self.ack_data[start..]);
        let end = made.map_or(start, |(_, len)| start + len.min(wire::MAX_DATAGRAM));
        self.ack_data.truncate(end);
        if let Some((to, _)) = made {
            self.acks.push((to, start..end));
        }
        made.is_some()
    }

    /// The acks to send, in the order the Detector wrote them.
    pub(crate) fn acks(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.acks
            .iter()
            .map(|(to, r)| (*to, &self.ack_data[r.clone()]))
    }
}
