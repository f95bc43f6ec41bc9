//! Sensor readings riding on beats: judged per probe (with hysteresis), queued as samples.

use core::net::SocketAddr;

use compact_str::CompactString;

use super::state::Monitor;
use crate::event::{Event, EventKind};
use crate::id::NodeId;
use crate::probe::{
    ProbeMeta, ProbeState, ProbeStatus, Ranges, ReadingRefusal, ReadingRefusals, Sample,
};
use crate::time::Timestamp;
use crate::wire::{self, Beat};

/// Most distinct probes tracked per node; readings of further probes are counted
/// ([`Monitor::probes_refused`]) and still handed on as samples.
pub const MAX_PROBES_PER_NODE: usize = 64;

impl Monitor {
    /// Readings of probes beyond [`MAX_PROBES_PER_NODE`] for their node (not judged).
    pub fn probes_refused(&self) -> u64 {
        self.probes_refused
    }

    /// Readings refused by reason (a value no probe or store can hold, such as NaN): neither
    /// judged nor handed on as samples. The beats that carried them were accepted.
    pub fn readings_refused(&self) -> &ReadingRefusals {
        &self.readings_refused
    }

    /// Every tracked probe of `node`, by name.
    pub fn probes(&self, node: &str) -> impl Iterator<Item = (&str, &ProbeState)> + '_ {
        let node = NodeId::new(node).ok();
        node.into_iter().flat_map(move |id| {
            let lo = (id.clone(), CompactString::default());
            self.probes
                .range(lo..)
                .take_while(move |((n, _), _)| *n == id)
                .map(|((_, p), s)| (p.as_str(), s))
        })
    }

    /// The ranges judging `probe` of `node` now (a monitor rule, else the sender's own from its
    /// latest reading; `None`: the sender's status decides), for showing with its state.
    pub fn ranges_in_force(&self, node: &str, probe: &str, state: &ProbeState) -> Option<Ranges> {
        Ranges::in_force(self.cfg.probes.rule(node, probe), &state.meta)
    }

    /// Every tracked probe of every node, ordered by node then probe.
    pub fn all_probes(&self) -> impl Iterator<Item = (&NodeId, &str, &ProbeState)> + '_ {
        self.probes.iter().map(|((n, p), s)| (n, p.as_str(), s))
    }

    /// Readings dropped because the sample queue was full (`max_pending_samples`).
    pub fn samples_dropped(&self) -> u64 {
        self.samples_dropped
    }

    /// The next sensor reading accepted from a fresh beat, if any (see [`crate::probe`]).
    pub fn poll_sample(&mut self) -> Option<Sample> {
        self.samples.pop_front()
    }

    /// Judges and queues the readings of the fresh beat just accepted from the node in `slot`;
    /// refuses (and counts) readings whose value is not a finite number, keeping the beat.
    pub(super) fn take_readings(&mut self, now: Timestamp, slot: u32, b: &Beat<'_>) {
        if b.readings.is_empty() {
            return;
        }
        let n = self.nodes.get(slot).expect("present");
        let (node, addr, incarnation) = (n.id.clone(), n.addr, n.incarnation);
        for r in b.readings.iter() {
            if let Some(why) = ReadingRefusal::of(r.value) {
                self.readings_refused.add(why);
                continue;
            }
            self.judge(now, &node, addr, incarnation, &r);
            if self.cfg.max_pending_samples == 0 {
                continue;
            }
            if self.samples.len() >= self.cfg.max_pending_samples {
                self.samples_dropped += 1;
                continue;
            }
            self.samples.push_back(Sample {
                at: now,
                node: node.clone(),
                probe: r.probe.into(),
                value: r.value,
                status: r.status,
            });
        }
    }

    /// Updates the probe's state from one reading, with an event if the state changed.
    fn judge(
        &mut self,
        now: Timestamp,
        node: &NodeId,
        addr: SocketAddr,
        incarnation: u64,
        r: &wire::Reading<'_>,
    ) {
        let key = (node.clone(), CompactString::from(r.probe));
        if !self.probes.contains_key(&key) {
            if self.probes(node.as_str()).count() >= MAX_PROBES_PER_NODE {
                self.probes_refused += 1;
                return;
            }
            self.probes.insert(key.clone(), ProbeState::new(now));
        }
        let rule = self.cfg.probes.rule(node.as_str(), r.probe);
        // Precedence: monitor rule > the sender's own ranges > the sender's status.
        let meta = r
            .meta
            .as_ref()
            .map(ProbeMeta::from_wire)
            .unwrap_or_default();
        let status = match Ranges::in_force(rule, &meta) {
            Some(ranges) => ranges.evaluate(r.value),
            None if r.value.is_nan() => ProbeStatus::Unknown,
            None => ProbeStatus::from_code(r.status),
        };
        let hysteresis = rule
            .and_then(|r| r.hysteresis)
            .unwrap_or(self.cfg.probes.hysteresis);
        let state = self.probes.get_mut(&key).expect("inserted above");
        state.meta = meta;
        if let Some(previous) = state.observe(now, r.value, status, hysteresis) {
            self.events.push_back(Event {
                at: now,
                node: node.clone(),
                addr,
                incarnation,
                kind: EventKind::Probe {
                    probe: key.1,
                    status,
                    previous,
                    value: r.value,
                },
            });
        }
    }

    pub(super) fn forget_probes(&mut self, node: &NodeId) {
        let lo = (node.clone(), CompactString::default());
        let gone: Vec<_> = self
            .probes
            .range(lo..)
            .take_while(|((n, _), _)| n == node)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.probes.remove(&k);
        }
    }
}
