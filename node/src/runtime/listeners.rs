//! Binding the monitor's listeners: UDP sockets (with their receive buffer, `/metrics`
//! registration and kernel-drop watch) and their Receivers, and the TCP/JSON legacy listener.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use anyhow::Context as _;

use crate::legacy::tcp::TcpSettings;
use crate::net::transport::{Transport as _, Udp, bind_udp};
use crate::runtime::clock::Clock;
use crate::runtime::detector::DetectorActor;
use crate::runtime::receiver::{Receiver, Speaks};
use crate::runtime::stats::Stats;
use crate::runtime::wiring::MonitorSettings;

/// Logs the receive buffer the kernel granted, warning when it is less than asked.
pub(super) fn report_buffer(addr: SocketAddr, asked: usize, reported: usize) {
    if asked == 0 {
        return;
    }
    // Linux reports twice the usable size (it counts its bookkeeping).
    let usable = if cfg!(target_os = "linux") {
        reported / 2
    } else {
        reported
    };
    if usable < asked {
        // Once per process: every listener gets the same cap, and one fix serves them all.
        static WARNED: std::sync::Once = std::sync::Once::new();
        let mut first = false;
        WARNED.call_once(|| first = true);
        if first {
            tracing::warn!(
                %addr, asked, granted = usable,
                "the kernel granted a smaller UDP receive buffer than asked, so bursts of beats \
                 may be dropped; fix: sysctl -w net.core.rmem_max={asked} (and put \
                 net.core.rmem_max={asked} in /etc/sysctl.d/ to keep it), or ask for less with \
                 --recv-buffer"
            );
        } else {
            tracing::info!(%addr, asked, granted = usable, "UDP receive buffer (capped, see above)");
        }
    } else {
        tracing::info!(%addr, granted = usable, "UDP receive buffer");
    }
}

/// Registers a listener for `/metrics` (`hbnode_listener_unauthenticated`) and says at start
/// when it accepts beats without a MAC: a legacy listener always (under `--require-auth` it was
/// opted out with `unauthenticated=yes`), a native one without `--require-auth`.
pub(super) fn announce(stats: &Stats, url: String, unauthenticated: bool) {
    let legacy = !url.starts_with("udp://");
    if legacy {
        tracing::warn!(listener = %url,
            "listening for legacy beats, unauthenticated: the protocol carries no MAC, so \
             anyone who can reach this listener can report nodes alive or make them look alive");
    } else {
        tracing::info!(listener = %url, unauthenticated, "listening for beats");
    }
    stats.listener(url, unauthenticated);
}

/// Registers a UDP listener's socket for `hbnode_receive_buffer_drops_total` (the kernel's
/// count of datagrams it dropped because the socket's receive buffer was full).
pub(super) fn watch_drops(stats: &Stats, url: String, socket: &Udp) {
    match socket.inode() {
        Some(inode) => stats.udp_socket(url, inode),
        None => {
            tracing::debug!(listener = %url, "cannot find the socket's inode: its kernel drops are not exported")
        }
    }
}

/// Binds a UDP listener (native or legacy) and starts its Receiver; returns the bound address.
pub(super) fn start_udp(
    addr: SocketAddr,
    speaks: Speaks,
    s: &MonitorSettings,
    detector: &Addr<DetectorActor>,
    clock: Clock,
    stats: &Arc<Stats>,
) -> anyhow::Result<(SocketAddr, Addr<Receiver<Udp>>)> {
    let (local, socket) = bind_listener(addr, &speaks, s, stats)?;
    Ok((local, receive(socket, speaks, detector, clock, stats)))
}

/// Binds a UDP listener, logging its buffer and counting its kernel drops.
pub(super) fn bind_listener(
    addr: SocketAddr,
    speaks: &Speaks,
    s: &MonitorSettings,
    stats: &Arc<Stats>,
) -> anyhow::Result<(SocketAddr, Rc<Udp>)> {
    let recv_buffer = s.recv_buffer;
    let bound = bind_udp(addr, recv_buffer)?;
    let local = bound.socket.local_addr()?;
    report_buffer(local, recv_buffer, bound.recv_buffer);
    let (url, unauthenticated) = match speaks {
        Speaks::Native => (format!("udp://{local}"), !s.keyring.requires_auth()),
        Speaks::Legacy(f) => (format!("{}://{local}", f.scheme()), true),
    };
    announce(stats, url.clone(), unauthenticated);
    watch_drops(stats, url, &bound.socket);
    Ok((local, Rc::new(bound.socket)))
}

/// Starts the Receiver of a bound socket.
pub(super) fn receive(
    socket: Rc<Udp>,
    speaks: Speaks,
    detector: &Addr<DetectorActor>,
    clock: Clock,
    stats: &Arc<Stats>,
) -> Addr<Receiver<Udp>> {
    Receiver::shared(socket, speaks, detector.clone(), clock, Arc::clone(stats)).start()
}

/// Binds a TCP/JSON legacy listener and spawns its task.
pub(super) fn start_tcp(
    addr: SocketAddr,
    settings: &TcpSettings,
    detector: &Addr<DetectorActor>,
    clock: Clock,
    stats: &Arc<Stats>,
) -> anyhow::Result<actix_rt::task::JoinHandle<()>> {
    let tcp =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot bind TCP {addr}"))?;
    tcp.set_nonblocking(true)?;
    let tcp = tokio::net::TcpListener::from_std(tcp).context("cannot register the TCP listener")?;
    let local = tcp.local_addr()?;
    announce(stats, format!("json+tcp://{local}"), true);
    let fut = crate::legacy::tcp::run(
        tcp,
        settings.clone(),
        detector.clone(),
        clock,
        Arc::clone(stats),
    );
    Ok(actix_rt::spawn(fut))
}
