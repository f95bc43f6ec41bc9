//! The datagram legacy protocols, `pyhb+udp://` and `text+udp://`: how their datagrams decode.
//! The datagrams are read by the one read loop every UDP listener uses
//! ([`crate::runtime::receiver`]).

use std::net::SocketAddr;
use std::sync::Arc;

use hb_core::legacy::{LegacyBeat, LegacyError, TextFormat, parse_pyhb};

use super::LegacyInput;
use crate::runtime::batch::Batch;

/// How a datagram listener decodes its datagrams.
#[derive(Clone, Debug)]
pub(crate) enum UdpFormat {
    /// PyHeartbeat: exactly `PyHB`, named by the source IP.
    PyHb,
    /// One line per datagram, parsed by a regex.
    Text(Arc<TextFormat>),
}

impl UdpFormat {
    /// The listen URL's scheme (`pyhb+udp`, `text+udp`).
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Self::PyHb => "pyhb+udp",
            Self::Text(_) => "text+udp",
        }
    }

    fn parse(&self, bytes: &[u8], from: SocketAddr) -> Result<LegacyBeat, LegacyError> {
        match self {
            Self::PyHb => parse_pyhb(bytes, from),
            Self::Text(f) => f.parse(bytes, from),
        }
    }

    /// The batch's datagrams, decoded (refused ones as [`LegacyInput::Rejected`]).
    pub(crate) fn inputs(&self, batch: &Batch) -> Vec<LegacyInput> {
        batch
            .iter()
            .map(|(at, from, bytes)| match self.parse(bytes, from) {
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
            })
            .collect()
    }
}
