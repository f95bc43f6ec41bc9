//! Datagram transports: real UDP sockets, and an in-memory network for actor tests.
//!
//! The Receiver and Beater actors are generic over [`Transport`], so the same actor code runs
//! on a kernel socket in production and on [`MemNet`] under a paused tokio clock in tests
//! (paused time and real sockets must never be mixed).

#[cfg(test)]
use std::cell::RefCell;
#[cfg(test)]
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
#[cfg(test)]
use std::rc::Rc;

use anyhow::Context as _;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
#[cfg(test)]
use tokio::sync::{Mutex, mpsc};

/// A datagram socket as the actors use it. Sends never wait: a full send buffer is an error
/// (`WouldBlock`) that the caller counts.
pub(crate) trait Transport: 'static {
    /// The address this transport receives on.
    fn local_addr(&self) -> io::Result<SocketAddr>;
    /// Waits for one datagram.
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    /// Takes one datagram if one is ready (`WouldBlock` otherwise).
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    /// Sends one datagram without waiting.
    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;
}

/// What can send a datagram without waiting: the Detector's handle on its listener's socket,
/// for the witness verdicts it sends on its own timer (see `runtime::detector`).
pub(crate) trait SendTo: std::fmt::Debug {
    /// Sends one datagram without waiting (a full buffer is `WouldBlock`).
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;
}

impl<T: Transport + std::fmt::Debug> SendTo for T {
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.try_send_to(buf, to)
    }
}

/// A UDP socket: receives through tokio, sends with a direct non-blocking `sendto` on a clone
/// of the same socket (tokio's `try_send_to` refuses until the reactor has seen the socket
/// writable, which would lose a beater's first beat).
#[derive(Debug)]
pub(crate) struct Udp {
    rx: UdpSocket,
    tx: std::net::UdpSocket,
}

impl Transport for Udp {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.rx.local_addr()
    }
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.rx.recv_from(buf).await
    }
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.rx.try_recv_from(buf)
    }
    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.tx.send_to(buf, to)
    }
}

/// A bound UDP socket and the receive buffer the kernel granted.
#[derive(Debug)]
pub(crate) struct BoundUdp {
    /// The socket, registered with the current tokio runtime.
    pub(crate) socket: Udp,
    /// Receive buffer size as the kernel reports it.
    pub(crate) recv_buffer: usize,
}

/// Binds a non-blocking UDP socket to `addr`, asking for a `recv_buffer`-byte receive buffer
/// (0: leave the system default). Must run inside a tokio runtime.
pub(crate) fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> anyhow::Result<BoundUdp> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .context("cannot create a UDP socket")?;
    if recv_buffer > 0
        && let Err(e) = socket.set_recv_buffer_size(recv_buffer)
    {
        tracing::warn!(requested = recv_buffer, error = %e, "cannot set the UDP receive buffer size");
    }
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot bind UDP {addr}"))?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok(BoundUdp {
        socket: Udp::from_socket(socket)?,
        recv_buffer: granted,
    })
}

impl Udp {
    /// The socket's inode (what `/proc/net/udp` lists it by), from `fstat` on a duplicate of
    /// its descriptor; `None` if it cannot be duplicated.
    pub(crate) fn inode(&self) -> Option<u64> {
        use std::os::fd::AsFd as _;
        use std::os::unix::fs::MetadataExt as _;
        let fd = self.tx.as_fd().try_clone_to_owned().ok()?;
        std::fs::File::from(fd).metadata().ok().map(|m| m.ino())
    }

    /// Wraps a bound socket (made non-blocking here). Must run inside a tokio runtime.
    pub(crate) fn from_socket(socket: Socket) -> anyhow::Result<Self> {
        socket.set_nonblocking(true)?;
        let tx = socket.try_clone().context("cannot clone the UDP socket")?;
        let rx = UdpSocket::from_std(socket.into()).context("cannot register the UDP socket")?;
        Ok(Self { rx, tx: tx.into() })
    }
}

#[cfg(test)]
type Datagram = (Vec<u8>, SocketAddr);

/// An in-memory datagram network: sockets are bounded queues keyed by address; a datagram to
/// an unbound address, or to a full queue, is lost (as UDP would lose it).
#[cfg(test)]
#[derive(Clone, Debug, Default)]
pub(crate) struct MemNet {
    sockets: Rc<RefCell<HashMap<SocketAddr, mpsc::Sender<Datagram>>>>,
}

#[cfg(test)]
impl MemNet {
    /// Binds a socket at `addr` with room for `capacity` queued datagrams.
    pub(crate) fn bind(&self, addr: SocketAddr, capacity: usize) -> MemSocket {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.sockets.borrow_mut().insert(addr, tx);
        MemSocket {
            addr,
            net: self.clone(),
            rx: Mutex::new(rx),
        }
    }

    /// Unbinds `addr`: datagrams to it are lost from now on (a crashed host).
    pub(crate) fn unbind(&self, addr: SocketAddr) {
        self.sockets.borrow_mut().remove(&addr);
    }
}

/// One socket of a [`MemNet`].
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct MemSocket {
    addr: SocketAddr,
    net: MemNet,
    rx: Mutex<mpsc::Receiver<Datagram>>,
}

#[cfg(test)]
fn deliver(buf: &mut [u8], (bytes, from): Datagram) -> (usize, SocketAddr) {
    let n = bytes.len().min(buf.len());
    buf[..n].copy_from_slice(&bytes[..n]);
    (n, from)
}

#[cfg(test)]
impl Transport for MemSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut rx = self.rx.lock().await;
        match rx.recv().await {
            Some(d) => Ok(deliver(buf, d)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut rx = self
            .rx
            .try_lock()
            .map_err(|_| io::Error::from(io::ErrorKind::WouldBlock))?;
        match rx.try_recv() {
            Ok(d) => Ok(deliver(buf, d)),
            Err(_) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        if let Some(tx) = self.net.sockets.borrow().get(&to) {
            // A full queue loses the datagram, like a full kernel buffer.
            let _ = tx.try_send((buf.to_vec(), self.addr));
        }
        Ok(buf.len())
    }
}
