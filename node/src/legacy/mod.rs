//! Legacy listeners: the protocols of the tools hbnode replaces, so their clients work
//! unchanged.
//!
//! - `pyhb+udp://`: PyHeartbeat — a datagram of exactly `PyHB` is a beat from the node named
//!   by its source IP ([`udp`]).
//! - `text+udp://`: one line per datagram, parsed by `--msg-regex` (Circus's watchdog format by
//!   default) ([`udp`]).
//! - `json+tcp://`: the TCP/JSON heartbeat — a greeting line, then JSON objects; a closed
//!   connection is down at once ([`tcp`]).
//!
//! Listeners decode with `hb_core::legacy` and hand [`LegacyInput`]s to the Detector, which
//! gives each beat the identity a legacy sender cannot ([`state::LegacyState`]). Like the
//! native Receiver, each listener has at most one batch in flight (`send().await`): while the
//! Detector is busy, bytes wait in the kernel.

pub(crate) mod owner;
pub(crate) mod state;
pub(crate) mod tcp;
pub(crate) mod udp;

use std::net::SocketAddr;

use actix::Message;
use hb_core::legacy::LegacyBeat;
use hb_core::{NodeId, Timestamp};

/// One input from a legacy listener.
#[derive(Debug)]
pub(crate) enum LegacyInput {
    /// A decoded beat, received at `at` from `from` (over TCP connection `conn`).
    Beat {
        /// Receive time.
        at: Timestamp,
        /// Source address.
        from: SocketAddr,
        /// What it said.
        beat: LegacyBeat,
        /// The TCP connection that carried it (stream listeners only).
        conn: Option<u64>,
    },
    /// A datagram, line or frame that did not decode (counted as `bad_legacy_format`).
    Rejected,
    /// TCP connection `conn` closed; `nodes` are the nodes whose beats it carried.
    Closed {
        /// When the close was seen.
        at: Timestamp,
        /// The connection.
        conn: u64,
        /// Nodes it carried (at most [`tcp::MAX_NODES_PER_CONNECTION`]).
        nodes: Vec<NodeId>,
    },
}

/// A batch of legacy inputs for the Detector.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct LegacyIngest(pub(crate) Vec<LegacyInput>);
