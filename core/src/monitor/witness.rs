//! Witness mode: a node is down only when enough monitors agree (see [`Quorum`]).
//!
//! Each monitor tells its witnesses which nodes it suspects ([`Verdicts`]): at once when a
//! verdict changes, and again every witness period (the repetition is also the monitor's beat
//! to its witnesses, and repairs lost messages). A received suspicion is a *vote* that counts
//! for 1.5 of its sender's periods unless repeated; a trust withdraws it at once.
//!
//! When this monitor's detector convicts a node (its deadline passes and the isolation guard
//! does not hold it), the node is down at once if enough votes are in (`needed − 1`, since this
//! monitor's own suspicion counts). Otherwise it is held unreachable, this monitor's suspicion
//! goes out, and the first vote that completes the quorum downs it: with every monitor's
//! deadline near the same instant, that is within a network delay of the K-th deadline. If no
//! quorum forms within one of the node's periods, the monitor reports
//! [`EventKind::Unreachable`], naming itself; the node stays held while the witnesses hear it,
//! and is alive again at its next beat here ([`EventKind::Reachable`]).
//!
//! Witnesses' messages are judged as beats by the monitor's own detector (so a witness is down
//! after the silence a node would be). With fewer than `needed` monitors up the monitor's own
//! verdicts are final ([`EventKind::QuorumLost`]); held nodes are then down at once.
//!
//! Votes are kept per node slot (with its generation, so a reused slot starts clean); this
//! monitor's own suspicions are kept while the node is held and for [`VOTE_MEMORY`] after it
//! was reported down, so a monitor whose deadline comes later still finds them.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::BTreeMap;

use compact_str::{CompactString, format_compact};

use super::config::{MAX_WITNESSES, Quorum};
use super::liveness::{deadline_after, first_arrival};
use super::registry::{NodeState, Vote};
use super::state::{Monitor, Pending};
use crate::detector::{Arrival, DetectorState};
use crate::event::{DownReason, Event, EventKind};
use crate::id::NodeId;
use crate::reject::Rejection;
use crate::time::Timestamp;
use crate::wire::{MAX_VERDICTS, Verdicts};

/// How long this monitor keeps voting for a node it reported down (so a witness whose own
/// deadline comes later still finds the vote).
pub const VOTE_MEMORY: Duration = Duration::from_secs(60);

/// Most datagrams of repeated suspicions per witness per period.
const MAX_REPEAT_DATAGRAMS: usize = 16;

/// Longest a vote counts without repetition, whatever the sender's period.
const MAX_VOTE_TTL: Duration = Duration::from_secs(3600);

/// `addr` with an IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 sender)
/// written as the IPv4 address, so a witness named `127.0.0.1:7000` matches either form.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Witness mode's state.
#[derive(Debug, Default)]
pub(super) struct Witnesses {
    peers: Vec<Peer>,
    /// Votes of the witnesses, by node slot.
    votes: BTreeMap<u32, Votes>,
    /// This monitor's own suspicions, by node slot.
    ours: BTreeMap<u32, Ours>,
    /// Suspicions and trusts to send at the end of the current input.
    new_suspect: Vec<NodeId>,
    new_trust: Vec<NodeId>,
    /// Nodes this monitor suspected and hears again, by slot: (generation, repeat the trust
    /// until). A trust is repeated for two periods, so one lost or overtaken (the replay check
    /// drops an older message whole) does not leave a stale vote behind.
    trusted: BTreeMap<u32, (u32, Timestamp)>,
    next_tick: Timestamp,
    /// Sequence number of the next message sent.
    seq: u64,
    /// Where the next periodic message's suspicions start in `ours` (a slot).
    cursor: u32,
    /// Fewer than `needed` monitors up: own verdicts are final.
    lost: bool,
    /// Nodes held unreachable for the witnesses.
    pub(super) held: usize,
    agreed: u64,
    reported: u64,
}

#[derive(Debug)]
struct Peer {
    addr: SocketAddr,
    /// The id it sends (its address until first heard).
    id: CompactString,
    incarnation: u64,
    seq: u64,
    heard: bool,
    up: bool,
    last: Timestamp,
    period: Duration,
    det: DetectorState,
    deadline: Timestamp,
    messages: u64,
}

#[derive(Clone, Copy, Debug)]
struct Votes {
    generation: u32,
    /// Until when each witness's suspicion counts (`Timestamp::ZERO`: none).
    until: [Timestamp; MAX_WITNESSES],
}

#[derive(Clone, Copy, Debug)]
struct Ours {
    generation: u32,
    /// When this monitor reported the node down (`None`: held, not down).
    down_at: Option<Timestamp>,
}

/// One witness as this monitor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessView {
    /// Its address, as configured.
    pub addr: SocketAddr,
    /// Its id (its address until first heard).
    pub id: CompactString,
    /// Whether it is heard within the detector's bound (true before its first deadline).
    pub up: bool,
    /// Whether any message of it was accepted yet.
    pub heard: bool,
    /// When its latest message arrived (the monitor's start before the first).
    pub last: Timestamp,
    /// Messages accepted from it.
    pub messages: u64,
}

/// Witness mode as of now, for status pages and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessesView {
    /// Monitors that must suspect a node for it to be down (this one included).
    pub needed: usize,
    /// Monitors up: this one and the witnesses heard.
    pub up: usize,
    /// Whether fewer than `needed` are up, so this monitor's own verdicts are final.
    pub fallback: bool,
    /// Nodes held unreachable for the witnesses.
    pub held: usize,
    /// Downs the witnesses agreed to.
    pub agreed: u64,
    /// Nodes reported unreachable (convicted here, not by enough witnesses).
    pub unreachable_reported: u64,
    /// The witnesses, in configured order.
    pub witnesses: Vec<WitnessView>,
}

impl Witnesses {
    pub(super) fn new(
        q: Option<&Quorum>,
        detector: &crate::detector::DetectorConfig,
        now: Timestamp,
    ) -> Self {
        let Some(q) = q else {
            return Self::default();
        };
        let peers = q
            .witnesses
            .iter()
            .map(|&addr| {
                let det = first_arrival(detector, now, q.period, None);
                Peer {
                    addr,
                    id: format_compact!("{addr}"),
                    incarnation: 0,
                    seq: 0,
                    heard: false,
                    up: true,
                    last: now,
                    period: q.period,
                    deadline: deadline_after(detector, &det, now, q.period),
                    det,
                    messages: 0,
                }
            })
            .collect();
        Self {
            peers,
            next_tick: now,
            ..Self::default()
        }
    }
}

impl Monitor {
    /// Witness mode's state (`needed` 0 and no witnesses when it is off).
    pub fn witnesses(&self) -> WitnessesView {
        let w = &self.witness;
        let Some(q) = &self.cfg.quorum else {
            return WitnessesView::default();
        };
        WitnessesView {
            needed: q.needed,
            up: self.monitors_up(),
            fallback: w.lost,
            held: w.held,
            agreed: w.agreed,
            unreachable_reported: w.reported,
            witnesses: w
                .peers
                .iter()
                .map(|p| WitnessView {
                    addr: p.addr,
                    id: p.id.clone(),
                    up: p.up,
                    heard: p.heard,
                    last: p.last,
                    messages: p.messages,
                })
                .collect(),
        }
    }

    fn monitors_up(&self) -> usize {
        1 + self.witness.peers.iter().filter(|p| p.up).count()
    }

    /// Whether a conviction here needs the witnesses' agreement right now.
    pub(super) fn quorum_active(&self) -> bool {
        self.cfg.quorum.as_ref().is_some_and(|q| q.needed >= 2) && !self.witness.lost
    }

    /// Monitors that suspect the node in `slot` at `now`, this one included.
    fn suspecting(&self, slot: u32, now: Timestamp) -> usize {
        let generation = self.nodes.get(slot).map(|n| n.generation);
        let votes = match self.witness.votes.get(&slot) {
            Some(v) if Some(v.generation) == generation => {
                v.until.iter().filter(|&&u| u > now).count()
            }
            _ => 0,
        };
        1 + votes
    }

    pub(super) fn agreed_now(&self, slot: u32, now: Timestamp) -> bool {
        let needed = self.cfg.quorum.as_ref().map_or(1, |q| q.needed);
        self.suspecting(slot, now) >= needed
    }

    /// The alive node in `slot` crossed its detector's line at `deadline` (and the isolation
    /// guard does not hold it): down, or held for the witnesses.
    pub(super) fn convict(&mut self, slot: u32, deadline: Timestamp, now: Timestamp) {
        if !self.quorum_active() {
            return self.go_down(slot, deadline, now, DownReason::Silence);
        }
        if self.agreed_now(slot, now) {
            self.witness.agreed += 1;
            return self.go_down(slot, deadline, now, DownReason::Agreed);
        }
        self.hold_for_witnesses(slot, now, Vote::Confirming);
    }

    /// Holds `slot` unreachable until the witnesses agree, and tells them.
    pub(super) fn hold_for_witnesses(&mut self, slot: u32, now: Timestamp, vote: Vote) {
        self.set_state(slot, NodeState::Unreachable, now);
        self.nodes.get_mut(slot).set_vote(vote);
        self.witness.held += 1;
        self.suspect(slot, None);
        self.arm(slot);
    }

    /// Records this monitor's suspicion of `slot` (reported down at `down_at`, or held) and
    /// queues it for the witnesses if it is new.
    pub(super) fn suspect(&mut self, slot: u32, down_at: Option<Timestamp>) {
        if self.cfg.quorum.is_none() {
            return;
        }
        let n = self.nodes.get(slot).expect("suspected node exists");
        let (generation, id) = (n.generation, n.id.clone());
        let fresh = match self.witness.ours.get_mut(&slot) {
            Some(o) if o.generation == generation => {
                o.down_at = down_at;
                false
            }
            _ => true,
        };
        if fresh {
            self.witness.trusted.remove(&slot);
            self.witness.ours.insert(
                slot,
                Ours {
                    generation,
                    down_at,
                },
            );
            self.witness.new_suspect.push(id);
        }
    }

    /// The node in `slot` beat again: withdraw this monitor's suspicion; `vote` is how it was
    /// held before the beat made it alive.
    pub(super) fn heard(&mut self, slot: u32, now: Timestamp, vote: Vote, held_since: Timestamp) {
        if self.cfg.quorum.is_none() {
            return;
        }
        // A trust even when our suspicion was already forgotten (a down older than
        // VOTE_MEMORY): the witnesses still count its last repeat for 1.5 periods.
        self.witness.ours.remove(&slot);
        let n = self.nodes.get(slot).expect("present");
        let (id, generation) = (n.id.clone(), n.generation);
        self.witness.new_trust.push(id);
        let period = self
            .cfg
            .quorum
            .as_ref()
            .map_or(Duration::ZERO, |q| q.period);
        self.witness
            .trusted
            .insert(slot, (generation, now + period * 2));
        if vote == Vote::Reported {
            self.node_event(
                slot,
                now,
                EventKind::Reachable {
                    lasted: now - held_since,
                },
            );
        }
    }

    /// A held node's confirmation window passed without a quorum: report it unreachable.
    pub(super) fn confirm_end(&mut self, slot: u32, now: Timestamp) {
        let n = self.nodes.get_mut(slot);
        n.set_vote(Vote::Reported);
        let silence = now - n.last;
        self.witness.reported += 1;
        let by = CompactString::from(self.cfg.id.as_str());
        self.node_event(slot, now, EventKind::Unreachable { silence, by });
        self.arm(slot);
    }

    /// The node in `slot` is gone from the registry: drop its votes.
    pub(super) fn forget_votes(&mut self, slot: u32) {
        self.witness.votes.remove(&slot);
        self.witness.ours.remove(&slot);
        self.witness.trusted.remove(&slot);
    }

    fn node_event(&mut self, slot: u32, now: Timestamp, kind: EventKind) {
        let n = self.nodes.get(slot).expect("present");
        self.events.push_back(Event {
            at: now,
            node: n.id.clone(),
            addr: n.addr,
            incarnation: n.incarnation,
            kind,
        });
    }

    /// Verdicts from another monitor arrived.
    pub(super) fn on_verdicts(&mut self, now: Timestamp, from: SocketAddr, v: &Verdicts<'_>) {
        let Some(q) = &self.cfg.quorum else {
            return self.rejections.add(Rejection::UnknownWitness);
        };
        let needed = q.needed;
        let from = canonical(from);
        let Some(w) = self
            .witness
            .peers
            .iter()
            .position(|p| canonical(p.addr) == from)
        else {
            return self.rejections.add(Rejection::UnknownWitness);
        };
        let p = &mut self.witness.peers[w];
        if p.heard && (v.incarnation, v.seq) <= (p.incarnation, p.seq) {
            let why = if v.incarnation < p.incarnation {
                Rejection::StaleIncarnation
            } else {
                Rejection::Replayed
            };
            return self.rejections.add(why);
        }
        let period = Duration::from_millis(u64::from(v.period_ms));
        let arrival = Arrival {
            at: now,
            prev: p.heard.then_some(p.last),
            seq_advance: if p.heard && v.incarnation == p.incarnation {
                v.seq - p.seq
            } else {
                1
            },
            period,
            resumed: !p.up,
        };
        if p.heard {
            self.cfg.detector.observe_with(&mut p.det, None, &arrival);
        } else {
            p.det = first_arrival(&self.cfg.detector, now, period, None);
        }
        p.deadline = deadline_after(&self.cfg.detector, &p.det, now, period);
        p.id = CompactString::from(v.monitor);
        (p.incarnation, p.seq, p.last, p.period) = (v.incarnation, v.seq, now, period);
        p.heard = true;
        p.messages += 1;
        let was_up = p.up;
        p.up = true;
        if !was_up {
            let (witness, addr) = (p.id.clone(), p.addr);
            self.monitor_event(now, EventKind::WitnessUp { witness, addr });
            self.update_quorum(now);
        }
        let ttl = period.mul_f64(1.5).min(MAX_VOTE_TTL);
        for node in v.trust.iter() {
            if let Some(slot) = self.nodes.find(node)
                && let Some(votes) = self.witness.votes.get_mut(&slot)
            {
                votes.until[w] = Timestamp::ZERO;
            }
        }
        for node in v.suspect.iter() {
            let Some(slot) = self.nodes.find(node) else {
                continue;
            };
            let generation = self.nodes.get(slot).expect("found").generation;
            let votes = self.witness.votes.entry(slot).or_insert(Votes {
                generation,
                until: [Timestamp::ZERO; MAX_WITNESSES],
            });
            if votes.generation != generation {
                *votes = Votes {
                    generation,
                    until: [Timestamp::ZERO; MAX_WITNESSES],
                };
            }
            votes.until[w] = now + ttl;
            let n = self.nodes.get(slot).expect("found");
            if n.state == NodeState::Unreachable
                && n.vote() != Vote::No
                && self.quorum_active()
                && self.suspecting(slot, now) >= needed
            {
                let since = n.since;
                self.witness.agreed += 1;
                self.go_down(slot, since, now, DownReason::Agreed);
            }
        }
    }

    /// The earliest witness-mode timer: the next periodic message or a witness's deadline.
    pub(super) fn witness_due(&self) -> Option<Timestamp> {
        self.cfg.quorum.as_ref()?;
        let w = &self.witness;
        let peers = w.peers.iter().filter(|p| p.up).map(|p| p.deadline);
        peers.chain([w.next_tick]).min()
    }

    /// Witness-mode timers due at `at` (no later than now) fired.
    pub(super) fn fire_witness(&mut self, at: Timestamp) {
        let now = self.now;
        let Some(q) = &self.cfg.quorum else { return };
        let period = q.period;
        if self.witness.next_tick <= at {
            // The next round a period on; after a stall of ours, a period from now (one
            // round, not one per missed period).
            let next = self.witness.next_tick + period;
            self.witness.next_tick = if next > now { next } else { now + period };
            self.repeat_verdicts(now);
        }
        let mut changed = false;
        for i in 0..self.witness.peers.len() {
            let p = &mut self.witness.peers[i];
            if p.up && p.deadline <= at {
                p.up = false;
                let (witness, addr) = (p.id.clone(), p.addr);
                self.monitor_event(now, EventKind::WitnessDown { witness, addr });
                changed = true;
            }
        }
        if changed {
            self.update_quorum(now);
        }
    }

    /// Falls back to own verdicts, or back to agreement, when the monitors up cross `needed`.
    fn update_quorum(&mut self, now: Timestamp) {
        let Some(q) = &self.cfg.quorum else { return };
        let (needed, up) = (q.needed, self.monitors_up());
        let counts = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        if up < needed && !self.witness.lost {
            self.witness.lost = true;
            self.monitor_event(
                now,
                EventKind::QuorumLost {
                    up: counts(up),
                    needed: counts(needed),
                },
            );
            let held: Vec<(u32, Timestamp)> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.state == NodeState::Unreachable && n.vote() != Vote::No)
                .map(|(s, n)| (s, n.since))
                .collect();
            for (s, since) in held {
                self.go_down(s, since, now, DownReason::Silence);
            }
        } else if up >= needed && self.witness.lost {
            self.witness.lost = false;
            self.monitor_event(
                now,
                EventKind::QuorumRegained {
                    up: counts(up),
                    needed: counts(needed),
                },
            );
        }
    }

    /// The periodic messages to every witness: this monitor's suspicions (and its trusts of
    /// the last two periods), [`MAX_VERDICTS`] of each per datagram, at most [`MAX_REPEAT_DATAGRAMS`] datagrams (beyond that, round-robin from
    /// where the last round stopped). Suspicions of nodes no longer held or down, and downs
    /// older than [`VOTE_MEMORY`], are dropped first. With nothing to say, one empty message:
    /// the beat.
    fn repeat_verdicts(&mut self, now: Timestamp) {
        let nodes = &self.nodes;
        self.witness.ours.retain(|&slot, o| {
            let Some(n) = nodes.get(slot).filter(|n| n.generation == o.generation) else {
                return false;
            };
            match (n.state, o.down_at) {
                (NodeState::Unreachable, _) => true,
                (NodeState::Down, Some(at)) => now < at + VOTE_MEMORY,
                _ => false,
            }
        });
        self.witness
            .trusted
            .retain(|&slot, &mut (generation, until)| {
                now < until && nodes.get(slot).is_some_and(|n| n.generation == generation)
            });
        let w = &self.witness;
        let most = MAX_VERDICTS * MAX_REPEAT_DATAGRAMS;
        let mut ids: Vec<NodeId> = Vec::new();
        let mut next = 0;
        let order = w.ours.range(w.cursor..).chain(w.ours.range(..w.cursor));
        for (&slot, _) in order.take(most) {
            ids.push(nodes.get(slot).expect("retained").id.clone());
            next = slot + 1;
        }
        let trusts: Vec<NodeId> = (w.trusted.keys().take(most))
            .map(|&slot| nodes.get(slot).expect("retained").id.clone())
            .collect();
        self.witness.cursor = next;
        let datagrams = ids.len().max(trusts.len()).div_ceil(MAX_VERDICTS).max(1);
        for i in 0..datagrams {
            let part = |v: &[NodeId]| {
                let from = (i * MAX_VERDICTS).min(v.len());
                v[from..(from + MAX_VERDICTS).min(v.len())].to_vec()
            };
            self.queue_verdicts(part(&ids), part(&trusts));
        }
    }

    /// Sends the suspicions and trusts queued during this input.
    pub(super) fn flush_verdicts(&mut self) {
        let w = &mut self.witness;
        if w.new_suspect.is_empty() && w.new_trust.is_empty() {
            return;
        }
        let mut suspect = core::mem::take(&mut w.new_suspect);
        let mut trust = core::mem::take(&mut w.new_trust);
        // Convicted and heard again within one input (a late timer, then the beat): the
        // trust is the newer word, and the suspicion was never sent.
        suspect.retain(|id| !trust.contains(id));
        while !suspect.is_empty() || !trust.is_empty() {
            let s: Vec<NodeId> = suspect.drain(..suspect.len().min(MAX_VERDICTS)).collect();
            let t: Vec<NodeId> = trust.drain(..trust.len().min(MAX_VERDICTS)).collect();
            self.queue_verdicts(s, t);
        }
    }

    fn queue_verdicts(&mut self, suspect: Vec<NodeId>, trust: Vec<NodeId>) {
        for i in 0..self.witness.peers.len() {
            let to = self.witness.peers[i].addr;
            self.queue(Pending::Verdicts {
                to,
                suspect: suspect.clone(),
                trust: trust.clone(),
            });
        }
    }

    /// The next message's sequence number.
    pub(super) fn next_verdict_seq(&mut self) -> u64 {
        self.witness.seq += 1;
        self.witness.seq
    }

    /// Witness mode's part of [`Self::check_invariants`].
    pub(super) fn check_witnesses(&self) -> Result<(), String> {
        let held = self
            .nodes
            .iter()
            .filter(|(_, n)| n.vote() != Vote::No)
            .count();
        if held != self.witness.held {
            return Err(format!(
                "witness-held count {} but {held} held nodes",
                self.witness.held
            ));
        }
        for (_, n) in self.nodes.iter() {
            if n.vote() != Vote::No && n.state != NodeState::Unreachable {
                return Err(format!(
                    "node {} held for witnesses but {}",
                    n.id,
                    n.state.as_str()
                ));
            }
        }
        // (A new monitor's first message is due at its creation instant.)
        if self.witness_due().is_some_and(|at| at < self.now) {
            return Err("a witness timer is past but was not fired".into());
        }
        Ok(())
    }
}
