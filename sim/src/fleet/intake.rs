//! The fleet engine's monitor side: datagrams into each `hb_core::Monitor` (or into its socket
//! buffer while it is stalled), its timer, its resume after a stall, and draining its outputs
//! into the run's log after every input.

use hb_core::{EventKind, Timestamp};

use super::Logged;
use super::engine::{Ev, Held, Sim, node_addr};
use super::faults::STALL_BUFFER;
use super::pages::{Seen, seen};
use crate::agenda::mix;

impl Sim<'_> {
    pub(super) fn deliver(&mut self, slot: u32) {
        let m = self.packets[slot as usize].monitor;
        let ms = &mut self.monitors[usize::from(m)];
        if ms.stall_depth > 0 {
            if ms.held.len() < STALL_BUFFER {
                ms.held.push(Held::Beat(slot));
            } else {
                ms.counters.stall_dropped += 1;
                self.free.push(slot);
            }
            return;
        }
        self.input(m, slot);
    }

    /// Hands the datagram in `slot` to its monitor now.
    pub(super) fn input(&mut self, m: u16, slot: u32) {
        let p = self.packets[slot as usize];
        self.free.push(slot);
        let ms = &mut self.monitors[usize::from(m)];
        ms.counters.delivered += 1;
        let quiet = self.now - ms.last_input;
        if quiet > ms.counters.longest_quiet_us.1 - ms.counters.longest_quiet_us.0 {
            ms.counters.longest_quiet_us = (ms.last_input, self.now);
        }
        ms.last_input = self.now;
        ms.monitor.handle_datagram(
            Timestamp::from_micros(self.now),
            node_addr(p.node),
            &p.bytes[..usize::from(p.len)],
        );
        self.after_input(m);
    }

    pub(super) fn monitor_wake(&mut self, m: u16, at: u64) {
        let ms = &mut self.monitors[usize::from(m)];
        if ms.armed != Some(at) {
            return;
        }
        ms.armed = None;
        if ms.stall_depth > 0 {
            // Frozen: no timer runs; the resume re-arms.
            return;
        }
        ms.monitor.handle_timeout(Timestamp::from_micros(at));
        self.after_input(m);
    }

    pub(super) fn resume(&mut self, m: u16) {
        let ms = &mut self.monitors[usize::from(m)];
        ms.stall_depth = ms.stall_depth.saturating_sub(1);
        if ms.stall_depth > 0 {
            return;
        }
        let held = core::mem::take(&mut ms.held);
        if held.is_empty() {
            ms.monitor.handle_timeout(Timestamp::from_micros(self.now));
            self.after_input(m);
        }
        for h in held {
            match h {
                Held::Beat(slot) => self.input(m, slot),
                Held::Verdicts(slot) => self.input_verdicts(slot),
            }
        }
    }

    /// Drains monitor `m`'s outputs after an input, logs its events and re-arms its timer.
    pub(super) fn after_input(&mut self, m: u16) {
        let now = self.now;
        let check = self.fleet.topology.check_invariants;
        let mut failures = Vec::new();
        let ms = &mut self.monitors[usize::from(m)];
        while let Some(e) = ms.monitor.poll_event() {
            let mut s = seen(&e.kind);
            let node = match s {
                Seen::MonitorLevel | Seen::MonitorResolved => None,
                _ => self.fleet.topology.node_index(e.node.as_str()),
            };
            // A zone this monitor reported out: its nodes' downs are that one page.
            match &e.kind {
                EventKind::ZoneDown { zone, .. } | EventKind::ZoneUp { zone, .. } => {
                    if let Some(z) = self.fleet.topology.zone_index(zone) {
                        ms.zones_out[usize::from(z)] = e.kind.name() == "zone_down";
                    }
                }
                _ => {}
            }
            if let (Seen::Down { silence_us, .. }, Some(i)) = (s, node)
                && ms.zones_out[usize::from(self.fleet.zone_of(i))]
            {
                s = Seen::Down {
                    silence_us,
                    grouped: true,
                };
            }
            if e.at.as_micros() != now {
                failures.push(format!(
                    "event {} stamped {:?}, expected now",
                    e.kind.name(),
                    e.at
                ));
            }
            let h = mix(
                mix(self.out.hash, now),
                u64::from(m) << 32 | u64::from(node.unwrap_or(u32::MAX)),
            );
            self.out.hash = mix(mix(h, s.code()), e.incarnation);
            self.out.log.push(Logged {
                at_us: now,
                monitor: m,
                node,
                name: e.kind.name(),
                seen: s,
                incarnation: e.incarnation,
            });
        }
        let mut outgoing = Vec::new();
        while let Some(tx) = ms.monitor.poll_transmit(&mut self.buf) {
            outgoing.push((tx.to, self.buf[..tx.len].to_vec()));
        }
        if check && let Err(e) = ms.monitor.check_invariants() {
            failures.push(format!("monitor {m} invariant: {e}"));
        }
        if let Some(t) = ms.monitor.poll_timeout() {
            let t = t.as_micros().max(now);
            if ms.armed.is_none_or(|armed| t < armed) {
                ms.armed = Some(t);
                self.agenda.push(t, Ev::MonitorWake(m));
            }
        }
        for (to, bytes) in outgoing {
            if let Err(f) = self.route(m, to, bytes) {
                failures.push(f);
            }
        }
        for f in failures {
            self.fail(f);
        }
    }
}
