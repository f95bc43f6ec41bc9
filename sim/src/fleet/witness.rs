//! The fleet engine's monitor-to-monitor side: what a monitor's `poll_transmit` sends to a
//! witness (its `Verdicts`, wire kind 6) travels over [`Topology::monitor_link`] with the
//! sending monitor's own seeded draws, and arrives from the sender's address, which is the
//! address its witnesses know it by. Anything else a monitor sends (an ack: the beaters ask for
//! none) is a violation of the run.
//!
//! [`Topology::monitor_link`]: super::Topology::monitor_link

use core::net::SocketAddr;

use hb_core::Timestamp;
use hb_core::wire::Kind;

use super::engine::{Ev, Held, Sim, monitor_addr, monitor_of};
use super::faults::STALL_BUFFER;

/// A witness datagram on its way.
#[derive(Clone, Debug)]
pub(super) struct InFlight {
    from: u16,
    to: u16,
    bytes: Vec<u8>,
}

impl Sim<'_> {
    /// Sends one datagram of monitor `m` to `to`: over the monitor link if `to` is another
    /// monitor and the datagram is a `Verdicts`, else an error naming it.
    pub(super) fn route(&mut self, m: u16, to: SocketAddr, bytes: Vec<u8>) -> Result<(), String> {
        let dest = monitor_of(to);
        let monitors = self.monitors.len();
        if usize::from(dest) >= monitors || monitor_addr(dest) != to || dest == m {
            return Err(format!(
                "monitor {m} sent {} bytes to {to}, not a witness (an ack nobody asked for?)",
                bytes.len()
            ));
        }
        let kind = Kind::of(&bytes);
        if kind != Some(Kind::Verdicts) {
            return Err(format!(
                "monitor {m} sent a datagram of kind {kind:?} to witness {dest}"
            ));
        }
        let now = self.now;
        let link = &self.fleet.topology.monitor_link;
        let ms = &mut self.monitors[usize::from(m)];
        ms.counters.verdicts_sent += 1;
        let copies = link.transmit(&mut ms.links[usize::from(dest)], &mut ms.rng, now);
        if self.plan.monitors_cut(m, dest, now) || copies.as_slice().is_empty() {
            ms.counters.verdicts_lost += 1;
            return Ok(());
        }
        for &d in copies.as_slice() {
            self.out.max_vote_delay_us = self.out.max_vote_delay_us.max(d);
            let p = InFlight {
                from: m,
                to: dest,
                bytes: bytes.clone(),
            };
            let slot = match self.verdicts_free.pop() {
                Some(s) => {
                    self.verdicts[s as usize] = p;
                    s
                }
                None => {
                    self.verdicts.push(p);
                    (self.verdicts.len() - 1) as u32
                }
            };
            self.agenda.push(now + d, Ev::Verdicts(slot));
        }
        Ok(())
    }

    /// A witness datagram arrives: into the monitor now, or into its socket buffer while it
    /// is stalled (the same buffer as the beats').
    pub(super) fn deliver_verdicts(&mut self, slot: u32) {
        let to = self.verdicts[slot as usize].to;
        let ms = &mut self.monitors[usize::from(to)];
        if ms.stall_depth > 0 {
            if ms.held.len() < STALL_BUFFER {
                ms.held.push(Held::Verdicts(slot));
            } else {
                ms.counters.stall_dropped += 1;
                self.verdicts_free.push(slot);
            }
            return;
        }
        self.input_verdicts(slot);
    }

    /// Hands the witness datagram in `slot` to its monitor now.
    pub(super) fn input_verdicts(&mut self, slot: u32) {
        let p = core::mem::replace(
            &mut self.verdicts[slot as usize],
            InFlight {
                from: 0,
                to: 0,
                bytes: Vec::new(),
            },
        );
        self.verdicts_free.push(slot);
        let ms = &mut self.monitors[usize::from(p.to)];
        ms.counters.verdicts_delivered += 1;
        ms.monitor.handle_datagram(
            Timestamp::from_micros(self.now),
            monitor_addr(p.from),
            &p.bytes,
        );
        self.after_input(p.to);
    }
}
