//! The datagram legacy listeners: `pyhb+udp://` and `text+udp://`.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::Addr;
use hb_core::legacy::{LegacyBeat, LegacyError, TextFormat, parse_pyhb};

use super::{LegacyIngest, LegacyInput};
use crate::net::transport::{Transport, Udp};
use crate::runtime::clock::Clock;
use crate::runtime::detector::Detector;
use crate::runtime::receiver::MAX_BATCH;
use crate::runtime::stats::{Stats, inc};

/// How a datagram listener decodes its datagrams.
#[derive(Clone, Debug)]
pub(crate) enum UdpFormat {
    /// PyHeartbeat: exactly `PyHB`, named by the source IP.
    PyHb,
    /// One line per datagram, parsed by a regex.
    Text(Arc<TextFormat>),
}

impl UdpFormat {
    fn parse(&self, bytes: &[u8], from: std::net::SocketAddr) -> Result<LegacyBeat, LegacyError> {
        match self {
            Self::PyHb => parse_pyhb(bytes, from),
            Self::Text(f) => f.parse(bytes, from),
        }
    }
}

/// Reads datagrams from `socket`, decodes them with `format` and feeds the Detector, until the
/// Detector goes away.
pub(crate) async fn run(
    socket: Udp,
    format: UdpFormat,
    detector: Addr<Detector>,
    clock: Clock,
    stats: Arc<Stats>,
) {
    // A legacy line is short; anything longer than a UDP payload cannot arrive anyway.
    let mut buf = vec![0u8; 65_536];
    loop {
        let mut items = Vec::new();
        let first = socket.recv_from(&mut buf).await;
        let mut next = Some(first);
        while let Some(res) = next.take() {
            match res {
                Ok((n, from)) => {
                    let at = clock.now();
                    items.push(match format.parse(&buf[..n], from) {
                        Ok(beat) => LegacyInput::Beat {
                            at,
                            from,
                            beat,
                            conn: None,
                        },
                        Err(e) => {
                            tracing::debug!(%from, error = %e, "legacy datagram refused");
                            LegacyInput::Rejected
                        }
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => {
                    inc(&stats.recv_errors);
                    tracing::debug!(error = %e, "receive error");
                    if items.is_empty() {
                        // Do not spin on a persistent error.
                        actix_rt::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                    break;
                }
            }
            if items.len() < MAX_BATCH {
                next = Some(socket.try_recv_from(&mut buf));
            }
        }
        if items.is_empty() {
            continue;
        }
        stats
            .datagrams
            .fetch_add(items.len() as u64, Ordering::Relaxed);
        if detector.send(LegacyIngest(items)).await.is_err() {
            return;
        }
    }
}
