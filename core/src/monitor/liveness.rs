//! Time and liveness: moving the clock, firing deadlines, down and forget transitions, the
//! timer output, and the invariants that tie them together.

use core::time::Duration;

use super::deadlines::Entry;
use super::registry::{Node, NodeState, Quiet, Vote};
use super::state::Monitor;
use crate::detector::{
    Arrival, Detector, DetectorConfig, DetectorState, LinkClasses, LinkEstimate,
};
use crate::event::{DownReason, Event, EventKind};
use crate::time::Timestamp;

impl Monitor {
    /// The timer armed for [`Self::poll_timeout`] fired (calling it at any time is harmless).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.advance(now);
        self.finish();
    }

    /// Ends every input: corrects the heap top and sends the verdicts the input changed.
    pub(super) fn finish(&mut self) {
        self.settle();
        self.flush_verdicts();
    }

    /// The earliest instant at which some node's deadline falls, exactly; `None` when nothing
    /// is scheduled. Changed by every `handle_*` call and by nothing else.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let heap = self.deadlines.peek().map(|e| e.at);
        match (heap, self.witness_due()) {
            (Some(h), Some(w)) => Some(h.min(w)),
            (h, w) => h.or(w),
        }
    }

    /// Checks the monitor's internal invariants, in O(nodes); for tests and the simulator.
    ///
    /// - the per-state counts match the registry;
    /// - every alive node has a live deadline no later than its true deadline;
    /// - [`Self::poll_timeout`] is exactly the earliest true deadline, and lies after `now`;
    /// - the quiet count matches the quiet flags, only alive nodes are quiet, and nodes are
    ///   held unreachable only during an isolation episode.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut counts = [0usize; 4];
        let mut earliest = Timestamp::MAX;
        for (slot, n) in self.nodes.iter() {
            counts[n.state as usize] += 1;
            let due = self.due(n);
            earliest = earliest.min(due);
            if n.scheduled > due {
                return Err(format!(
                    "node {} (slot {slot}) scheduled {:?} after due {due:?}",
                    n.id, n.scheduled
                ));
            }
            if self.nodes.find(n.id.as_str()) != Some(slot) {
                return Err(format!("node {} not found at its slot {slot}", n.id));
            }
        }
        if counts != self.counts {
            return Err(format!(
                "state counts {:?} but registry has {counts:?}",
                self.counts
            ));
        }
        let top = self.deadlines.peek().map_or(Timestamp::MAX, |e| e.at);
        if top != earliest {
            return Err(format!(
                "heap top {top:?} but earliest true deadline {earliest:?}"
            ));
        }
        if top <= self.now {
            return Err(format!("heap top {top:?} not after now {:?}", self.now));
        }
        self.check_witnesses()?;
        self.check_guard()
    }

    /// Moves time forward and fires every deadline up to `now`.
    pub(super) fn advance(&mut self, now: Timestamp) -> Timestamp {
        let now = now.max(self.now);
        self.now = now;
        if let (Some(threshold), Some(due)) = (self.cfg.stall_threshold, self.poll_timeout())
            && now > due + threshold
        {
            // We were not running when we should have been: forgive the gap.
            self.stalls += 1;
            self.last_stall = now - due;
            self.rearm_at = now;
        }
        loop {
            self.settle();
            let heap = self.deadlines.peek();
            let witness = self.witness_due();
            if let Some(w) = witness
                && w <= now
                && heap.is_none_or(|e| w <= e.at)
            {
                self.fire_witness(w);
                continue;
            }
            let Some(e) = heap else {
                break;
            };
            if e.at > now {
                break;
            }
            self.deadlines.pop();
            self.fire(e.slot, e.at, now);
        }
        now
    }

    /// Corrects the heap top until it is a true deadline (see [`deadlines`]).
    pub(super) fn settle(&mut self) {
        while let Some(e) = self.deadlines.peek() {
            let due = match self.nodes.get(e.slot) {
                Some(n) if n.generation == e.generation && n.scheduled == e.at => self.due(n),
                _ => {
                    self.deadlines.pop();
                    continue;
                }
            };
            if due == e.at {
                return;
            }
            self.deadlines.pop();
            self.nodes.get_mut(e.slot).scheduled = due;
            if due != Timestamp::MAX {
                let entry = Entry {
                    at: due,
                    slot: e.slot,
                    generation: e.generation,
                };
                self.deadlines.push(entry);
            }
        }
    }

    /// When `n` next needs attention: if alive, its quiet mark (isolation guard on, not yet
    /// quiet) or its detector deadline; if held, the end of its hold; else its forget time.
    pub(super) fn due(&self, n: &Node) -> Timestamp {
        match n.state {
            NodeState::Alive => {
                let deadline = self.deadline_of(n);
                match self.cfg.isolation {
                    Some(_) if !n.quiet.is() => self.quiet_mark(n, deadline),
                    Some(_) if n.quiet == Quiet::Deferred => deadline + n.period(),
                    _ => deadline,
                }
            }
            NodeState::Unreachable => match (n.vote(), self.cfg.isolation) {
                (Vote::Confirming, _) => n.since + n.period(),
                (Vote::Reported, _) => Timestamp::MAX,
                (Vote::No, Some(iso)) => n.since + iso.hold,
                (Vote::No, None) => Timestamp::MAX,
            },
            NodeState::Down | NodeState::Left => match self.cfg.forget_after {
                Some(f) => n.since + f,
                None => Timestamp::MAX,
            },
        }
    }

    /// Makes sure `slot` has a heap entry no later than its due time.
    pub(super) fn arm(&mut self, slot: u32) {
        let Some(n) = self.nodes.get(slot) else {
            return;
        };
        let due = self.due(n);
        if due < n.scheduled {
            let generation = n.generation;
            self.nodes.get_mut(slot).scheduled = due;
            self.deadlines.push(Entry {
                at: due,
                slot,
                generation,
            });
        }
    }

    fn fire(&mut self, slot: u32, deadline: Timestamp, now: Timestamp) {
        let n = self.nodes.get_mut(slot);
        n.scheduled = Timestamp::MAX;
        match n.state {
            NodeState::Alive if self.cfg.isolation.is_some() && !n.quiet.is() => {
                self.set_quiet(slot, true);
                self.arm(slot);
            }
            NodeState::Alive => self.on_deadline(slot, deadline, now),
            NodeState::Unreachable if n.vote() == Vote::Confirming => self.confirm_end(slot, now),
            NodeState::Unreachable => self.expire(now),
            NodeState::Down | NodeState::Left => {
                let (addr, incarnation, zone, state) = (n.addr, n.incarnation, n.zone, n.state);
                self.zone_leave(zone, state);
                self.counts[state as usize] -= 1;
                self.forget_votes(slot);
                let node = self.nodes.remove(slot);
                self.forget_probes(&node);
                self.events.push_back(Event {
                    at: now,
                    node,
                    addr,
                    incarnation,
                    kind: EventKind::Forgotten,
                });
            }
        }
    }

    /// Declares the alive node in `slot` down at `now` (its detector crossed the line at
    /// `deadline`) and arms its forget time.
    pub(super) fn go_down(
        &mut self,
        slot: u32,
        deadline: Timestamp,
        now: Timestamp,
        reason: DownReason,
    ) {
        let n = self.nodes.get_mut(slot);
        let value = self.cfg.detector.value(&n.det, n.last, n.period(), now);
        let ev = Event {
            at: now,
            node: n.id.clone(),
            addr: n.addr,
            incarnation: n.incarnation,
            kind: EventKind::Down {
                silence: now - n.last,
                value,
                deadline,
                reason,
            },
        };
        self.set_state(slot, NodeState::Down, now);
        self.events.push_back(ev);
        if reason != DownReason::ConnectionClosed {
            self.suspect(slot, Some(now));
        }
        self.arm(slot);
    }

    pub(super) fn set_state(&mut self, slot: u32, state: NodeState, now: Timestamp) {
        if state != NodeState::Alive {
            self.set_quiet(slot, false);
        }
        let n = self.nodes.get_mut(slot);
        if state != NodeState::Unreachable && n.vote() != Vote::No {
            n.set_vote(Vote::No);
            self.witness.held -= 1;
        }
        let n = self.nodes.get_mut(slot);
        if n.state != state {
            let (zone, from) = (n.zone, n.state);
            self.zone_state(zone, from, state);
            let n = self.nodes.get_mut(slot);
            self.counts[n.state as usize] -= 1;
            self.counts[state as usize] += 1;
            n.state = state;
            n.since = now;
        }
    }
}

/// The detector's deadline for a node that beat at `now`, never at or before `now`: a beat
/// always buys at least a microsecond, so `poll_timeout` stays in the future.
pub(super) fn deadline_after(
    d: &DetectorConfig,
    st: &DetectorState,
    now: Timestamp,
    p: Duration,
) -> Timestamp {
    d.deadline(st, now, p).max(now + Duration::from_micros(1))
}

/// A node's detector state after its first beat (of an incarnation, or after a restore) at `at`;
/// `link` is the node's link estimate when the detector keeps one (it survives a restart).
pub(super) fn first_arrival(
    detector: &DetectorConfig,
    at: Timestamp,
    period: Duration,
    link: Option<(&mut LinkEstimate, &LinkClasses)>,
) -> DetectorState {
    let mut det = DetectorState::default();
    let arrival = Arrival {
        at,
        prev: None,
        seq_advance: 1,
        period,
        resumed: false,
    };
    detector.observe_with(&mut det, link, &arrival);
    det
}
