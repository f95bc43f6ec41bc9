//! What arrives: datagrams, legacy beats, leaves and closed connections, and how a beat
//! joins, refreshes, restarts or brings back a node.

use core::net::SocketAddr;
use core::time::Duration;

use super::liveness::{deadline_after, first_arrival};
use super::registry::{Node, NodeState, Quiet, Vote};
use super::sequence::{Seq, sequence};
use super::state::Monitor;
use crate::detector::Arrival;
use crate::event::{DownReason, Event, EventKind};
use crate::id::{self, NodeId};
use crate::reject::Rejection;
use crate::time::{Timestamp, micros};
use crate::wire::{self, Beat, BeatFlags, Leave, Message};

impl Monitor {
    /// A datagram arrived from `from` at `now`.
    pub fn handle_datagram(&mut self, now: Timestamp, from: SocketAddr, bytes: &[u8]) {
        let now = self.advance(now);
        match wire::decode(bytes, &self.cfg.keyring) {
            Err(e) => self.rejections.add(e.into()),
            Ok(d) => match d.message {
                Message::Beat(b) => {
                    self.queue_arrival(now, &b);
                    self.on_beat(now, from, &b);
                }
                Message::Leave(l) => self.on_leave(now, &l),
                Message::Identify(i) => self.on_identify(from, &i),
                // With keys, a witness's verdicts are signed (monitors sign with their first
                // key) even where unsigned beats are still accepted: an unsigned one is forged.
                Message::Verdicts(_) if d.key_id.is_none() && !self.cfg.keyring.is_empty() => {
                    self.rejections.add(Rejection::Unauthenticated);
                }
                Message::Verdicts(v) => self.on_verdicts(now, from, &v),
                Message::Ack(_) | Message::Member(_) => {
                    self.rejections.add(Rejection::UnexpectedKind);
                }
            },
        }
        self.finish();
    }

    /// A beat that arrived by other means than a native datagram (legacy listeners build one
    /// after parsing their own format). Authentication is the caller's business.
    pub fn handle_beat(&mut self, now: Timestamp, from: SocketAddr, beat: &Beat<'_>) {
        let now = self.advance(now);
        if id::validate(beat.node).is_err() {
            self.rejections.add(Rejection::InvalidField);
        } else {
            self.queue_arrival(now, beat);
            self.on_beat(now, from, beat);
        }
        self.finish();
    }

    /// Counts an input refused before it reached the monitor (a legacy listener's parse error).
    pub fn handle_rejection(&mut self, why: Rejection) {
        self.rejections.add(why);
    }

    /// The stream connection that carried `node`'s beats closed or was reset: if the node is
    /// alive it is down at once, with reason [`DownReason::ConnectionClosed`]. Unknown, down or
    /// departed nodes are left as they are (a later beat on a new connection brings it back).
    pub fn handle_disconnect(&mut self, now: Timestamp, node: &str) {
        let now = self.advance(now);
        if let Some(slot) = self.nodes.find(node)
            && self.nodes.get_mut(slot).state == NodeState::Alive
        {
            self.go_down(slot, now, now, DownReason::ConnectionClosed);
        }
        self.finish();
    }

    pub(super) fn period_us(&self, beat_period_ms: u32) -> u32 {
        let us = if beat_period_ms == 0 {
            micros(self.cfg.default_period)
        } else {
            u64::from(beat_period_ms) * 1000
        };
        u32::try_from(us).unwrap_or(u32::MAX)
    }

    /// Peer mode: whether a beat or leave from `node` (of `incarnation`) is this member's own,
    /// looped back, and so to be ignored. Another incarnation under our id is a second process
    /// using the same id: refused and counted, so the clash shows in the metrics.
    fn is_own(&mut self, node: &str, incarnation: u64) -> bool {
        match &self.cfg.peer {
            Some(me) if me.id.as_str() == node => {
                if me.incarnation != incarnation {
                    self.rejections.add(Rejection::IdConflict);
                }
                true
            }
            _ => false,
        }
    }

    fn on_beat(&mut self, now: Timestamp, from: SocketAddr, b: &Beat<'_>) {
        if b.group != self.cfg.group {
            self.rejections.add(Rejection::WrongGroup);
            return;
        }
        if self.is_own(b.node, b.incarnation) {
            return;
        }
        if b.flags.has(BeatFlags::LEAVING) {
            let l = Leave {
                node: b.node,
                incarnation: b.incarnation,
                seq: b.seq,
                group: b.group,
            };
            return self.on_leave(now, &l);
        }
        let ack = b.flags.has(BeatFlags::ACK_WANTED);
        let period_us = self.period_us(b.period_ms);
        let Some(slot) = self.nodes.find(b.node) else {
            return self.join(now, from, b, period_us, ack);
        };
        let n = self.nodes.get_mut(slot);
        if b.incarnation < n.incarnation {
            self.rejections.add(Rejection::StaleIncarnation);
            return;
        }
        let prev_state = n.state;
        let (prev_vote, prev_since) = (n.vote(), n.since);
        let event;
        if b.incarnation > n.incarnation {
            event = Some(if prev_state == NodeState::Left {
                EventKind::Joined
            } else {
                EventKind::Restarted {
                    previous: n.incarnation,
                    was_down: prev_state == NodeState::Down,
                }
            });
            n.incarnation = b.incarnation;
            n.seq = b.seq;
            n.window = 0;
            n.period_us = period_us;
            n.det = first_arrival(&self.cfg.detector, now, n.period(), self.links.side(slot));
        } else {
            // Same incarnation: the sequence number decides.
            let advance = match sequence(n, b.seq) {
                Seq::Fresh(advance) => advance,
                Seq::Reordered => {
                    n.reordered = n.reordered.saturating_add(1);
                    n.lost = n.lost.saturating_sub(1);
                    if ack {
                        self.queue_ack(from, b.node, b.seq, b.schedule_version);
                    }
                    return;
                }
                Seq::Duplicate => {
                    n.duplicates = n.duplicates.saturating_add(1);
                    self.rejections.add(Rejection::Duplicate);
                    if ack {
                        self.queue_ack(from, b.node, b.seq, b.schedule_version);
                    }
                    return;
                }
                Seq::TooOld => {
                    self.rejections.add(Rejection::Replayed);
                    return;
                }
            };
            n.lost = n
                .lost
                .saturating_add(u32::try_from(advance - 1).unwrap_or(u32::MAX));
            n.period_us = period_us;
            // An outage, or a stall of ours, is not an inter-arrival sample.
            let resumed = prev_state != NodeState::Alive || n.last < self.rearm_at;
            let arrival = Arrival {
                at: now,
                prev: Some(n.last),
                seq_advance: advance,
                period: n.period(),
                resumed,
            };
            self.cfg
                .detector
                .observe_with(&mut n.det, self.links.side(slot), &arrival);
            event = match prev_state {
                // A held node beating again is alive, without an event: it was never reported.
                NodeState::Alive | NodeState::Unreachable => None,
                NodeState::Down => Some(EventKind::Up {
                    down_for: now - n.since,
                }),
                NodeState::Left => Some(EventKind::Joined),
            };
        }
        n.last = now;
        n.deadline = deadline_after(&self.cfg.detector, &n.det, now, n.period());
        n.addr = from;
        n.beats += 1;
        self.beats_received += 1;
        if self.links.sweep_due() {
            self.sweep_step();
        }
        self.set_quiet(slot, false);
        self.set_state(slot, NodeState::Alive, now);
        self.take_readings(now, slot, b);
        if prev_state != NodeState::Alive {
            self.heard(slot, now, prev_vote, prev_since);
        }
        if prev_state == NodeState::Unreachable && prev_vote == Vote::No {
            self.on_return(now);
        }
        if prev_state != NodeState::Alive {
            let zone = self.nodes.get(slot).expect("present").zone;
            self.zone_returned(zone, now);
        }
        if let Some(kind) = event {
            let n = self.nodes.get(slot).expect("present");
            let ev = Event {
                at: now,
                node: n.id.clone(),
                addr: from,
                incarnation: n.incarnation,
                kind,
            };
            self.events.push_back(ev);
        }
        self.arm(slot);
        if ack {
            self.queue_ack(from, b.node, b.seq, b.schedule_version);
        }
    }

    fn join(&mut self, now: Timestamp, from: SocketAddr, b: &Beat<'_>, period_us: u32, ack: bool) {
        if self.nodes.len() >= self.cfg.max_nodes {
            self.rejections.add(Rejection::RegistryFull);
            return;
        }
        let Ok(id) = NodeId::new(b.node) else {
            self.rejections.add(Rejection::InvalidField);
            return;
        };
        let period = Duration::from_micros(u64::from(period_us));
        let zone = self.zone_for(b.node);
        let mut link = self.links.fresh();
        let det = first_arrival(
            &self.cfg.detector,
            now,
            period,
            self.links.with_classes(link.as_mut()),
        );
        let slot = self.nodes.insert(Node {
            id: id.clone(),
            addr: from,
            incarnation: b.incarnation,
            seq: b.seq,
            window: 0,
            last: now,
            since: now,
            scheduled: Timestamp::MAX,
            deadline: deadline_after(&self.cfg.detector, &det, now, period),
            det,
            beats: 1,
            lost: 0,
            duplicates: 0,
            reordered: 0,
            period_us,
            generation: 0,
            state: NodeState::Alive,
            quiet: Quiet::No,
            zone,
            occupied: true,
        });
        self.links.put(slot, link);
        self.counts[NodeState::Alive as usize] += 1;
        self.zone_join(zone, NodeState::Alive);
        self.beats_received += 1;
        self.events.push_back(Event {
            at: now,
            node: id,
            addr: from,
            incarnation: b.incarnation,
            kind: EventKind::Joined,
        });
        self.take_readings(now, slot, b);
        self.arm(slot);
        if ack {
            self.queue_ack(from, b.node, b.seq, b.schedule_version);
        }
    }

    fn on_leave(&mut self, now: Timestamp, l: &Leave<'_>) {
        if l.group != self.cfg.group {
            self.rejections.add(Rejection::WrongGroup);
            return;
        }
        if self.is_own(l.node, l.incarnation) {
            return;
        }
        let Some(slot) = self.nodes.find(l.node) else {
            self.rejections.add(Rejection::UnknownNode);
            return;
        };
        let n = self.nodes.get_mut(slot);
        if l.incarnation < n.incarnation {
            self.rejections.add(Rejection::StaleIncarnation);
            return;
        }
        if l.incarnation == n.incarnation {
            match sequence(n, l.seq) {
                Seq::Fresh(_) | Seq::Reordered => {}
                Seq::Duplicate => {
                    self.rejections.add(Rejection::Duplicate);
                    return;
                }
                Seq::TooOld => {
                    self.rejections.add(Rejection::Replayed);
                    return;
                }
            }
        } else {
            n.incarnation = l.incarnation;
            n.seq = l.seq;
            n.window = 0;
        }
        if n.state == NodeState::Left {
            return;
        }
        let ev = Event {
            at: now,
            node: n.id.clone(),
            addr: n.addr,
            incarnation: n.incarnation,
            kind: EventKind::Left,
        };
        let was_held = n.state == NodeState::Unreachable;
        self.set_state(slot, NodeState::Left, now);
        self.nodes.get_mut(slot).scheduled = Timestamp::MAX;
        self.events.push_back(ev);
        self.arm(slot);
        if was_held {
            self.maybe_reconnect(now);
        }
    }
}
