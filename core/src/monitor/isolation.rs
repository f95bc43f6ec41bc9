//! The monitor's own blindness: quiet marks, the isolation check at a deadline, held
//! (unreachable) nodes, and how an episode ends.
//!
//! Each alive node has two marks in the deadline heap, one after the other: its *quiet mark*
//! (`min(T/2, 1.5 periods)` before its deadline `T`), where it joins the count of quiet nodes,
//! and its deadline. A beat clears the quiet flag. So when a deadline passes, the number of
//! nodes already unusually silent is a counter, read in O(1), and the verdict is immediate:
//! an ordinary crash is reported down at its deadline exactly as without the guard. The rule
//! itself is [`Isolation`]'s documentation.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::collections::VecDeque;

use super::config::Isolation;
use super::registry::{Node, NodeState, Quiet, Vote};
use super::state::Monitor;
use crate::detector::Detector;
use crate::event::{DownReason, Event, EventKind};
use crate::id::NodeId;
use crate::time::Timestamp;

/// Most recent silence-downs remembered for the count (older ones are dropped first).
const MAX_RECENT_DOWNS: usize = 65_536;

/// The isolation guard's bookkeeping.
#[derive(Debug, Default)]
pub(super) struct Guard {
    /// Alive nodes whose `quiet` flag is set.
    pub(super) quiet: usize,
    /// Instants of downs by silence, oldest first, within the last `hold`.
    recent_downs: VecDeque<Timestamp>,
    /// The current episode, if the monitor thinks it is cut off.
    episode: Option<Episode>,
    /// Episodes begun so far.
    episodes: u64,
    /// Verdicts deferred by one period (half the rule met).
    deferrals: u64,
}

#[derive(Clone, Copy, Debug)]
struct Episode {
    since: Timestamp,
    returned: u32,
}

/// The isolation guard as of now, for status pages and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IsolationView {
    /// When the current episode began, if the monitor thinks it is cut off.
    pub isolated_since: Option<Timestamp>,
    /// Nodes held unreachable.
    pub held: usize,
    /// Alive nodes past their quiet mark.
    pub quiet: usize,
    /// Episodes begun since the monitor started.
    pub episodes: u64,
    /// Down verdicts deferred by one period because half the rule was met (each such node was
    /// then held, or reported down one period late).
    pub deferrals: u64,
}

impl Monitor {
    /// The isolation guard's state (all zero when it is disabled).
    pub fn isolation(&self) -> IsolationView {
        IsolationView {
            isolated_since: self.guard.episode.map(|e| e.since),
            held: self.isolation_held(),
            quiet: self.guard.quiet,
            episodes: self.guard.episodes,
            deferrals: self.guard.deferrals,
        }
    }

    /// An alive node's detector deadline: from its last beat, or from the resume instant of a
    /// stall (or of a reconnection) of ours if that is later.
    pub(super) fn deadline_of(&self, n: &Node) -> Timestamp {
        if n.last >= self.rearm_at {
            n.deadline
        } else {
            self.cfg
                .detector
                .deadline(&n.det, self.rearm_at, n.period())
        }
    }

    /// When an alive node with `deadline` becomes quiet.
    pub(super) fn quiet_mark(&self, n: &Node, deadline: Timestamp) -> Timestamp {
        let base = n.last.max(self.rearm_at);
        let timeout = deadline - base;
        deadline - (timeout / 2).min(n.period().mul_f64(1.5))
    }

    /// Sets or clears `slot`'s quiet flag (clearing also ends a deferral), keeping the count.
    /// A held node's witness vote, which shares the field, is left alone.
    pub(super) fn set_quiet(&mut self, slot: u32, quiet: bool) {
        let n = self.nodes.get_mut(slot);
        let was = n.quiet.is();
        if !quiet {
            if was {
                n.quiet = Quiet::No;
            }
        } else if !was {
            n.quiet = Quiet::Yes;
        }
        if was != quiet {
            let zone = n.zone;
            self.zone_quiet(zone, quiet);
            if quiet {
                self.guard.quiet += 1;
            } else {
                self.guard.quiet -= 1;
            }
        }
    }

    /// The alive node in `slot` reached its deadline (`fired`: that instant, or one period
    /// later for a deferred verdict): down, or held if the monitor looks cut off.
    ///
    /// When the rule is not met but half of it is (half as many silent nodes would meet it),
    /// fleet-wide or — with at least two silent — in the node's zone, the verdict waits one
    /// period, once: the first node to reach its deadline in a cut may
    /// be one that lost a beat just before, when only some of the others are quiet yet. An
    /// ordinary crash, with next to nobody else silent, is decided at its deadline.
    pub(super) fn on_deadline(&mut self, slot: u32, fired: Timestamp, now: Timestamp) {
        let Some(iso) = self.cfg.isolation else {
            return self.convict(slot, fired, now);
        };
        if self.guard.episode.is_some() {
            return self.hold(slot, now);
        }
        let n = self.nodes.get(slot).expect("firing node exists");
        let deadline = self.deadline_of(n);
        let timeout = deadline - n.last.max(self.rearm_at);
        let recent = self.recent_downs(now, timeout);
        let silent = self.guard.quiet + recent;
        let watched = self.count(NodeState::Alive) + recent;
        if !iso.is_met(silent, watched) {
            let zone = n.zone;
            let deferred = n.quiet == Quiet::Deferred;
            let zs = self.zone_silence(zone, now, timeout);
            let rule = |s: usize, w: usize| super::zones::zone_rule(s, w, iso.min_share);
            let zone_out = zs.filter(|&(s, w)| rule(s, w));
            let zone_half = zs.is_some_and(|(s, w)| s >= 2 && rule(2 * s, w));
            let half = iso.is_met(2 * silent, watched) || (zone_half && zone_out.is_none());
            if !deferred && half {
                self.nodes.get_mut(slot).quiet = Quiet::Deferred;
                self.guard.deferrals += 1;
                self.arm(slot);
                return;
            }
            self.zone_down(zone, now, zone_out);
            self.convict(slot, deadline, now);
            self.note_down(now, iso);
            return;
        }
        self.guard.episode = Some(Episode {
            since: now,
            returned: 0,
        });
        self.guard.episodes += 1;
        self.monitor_event(
            now,
            EventKind::Isolated {
                silent: saturate(silent),
                watched: saturate(watched),
            },
        );
        let quiet: Vec<u32> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.state == NodeState::Alive && n.quiet.is())
            .map(|(s, _)| s)
            .collect();
        for s in quiet {
            self.hold(s, now);
        }
    }

    /// A held node beat again (it is alive already); ends the episode if few enough are left.
    pub(super) fn on_return(&mut self, now: Timestamp) {
        if let Some(e) = &mut self.guard.episode {
            e.returned = e.returned.saturating_add(1);
        }
        self.maybe_reconnect(now);
    }

    /// Ends the episode with `reconnected` if the nodes still held no longer meet the rule.
    pub(super) fn maybe_reconnect(&mut self, now: Timestamp) {
        let (Some(iso), Some(e)) = (self.cfg.isolation, self.guard.episode) else {
            return;
        };
        let held = self.isolation_held();
        if iso.is_met(held, held + self.count(NodeState::Alive)) {
            return;
        }
        self.guard.episode = None;
        self.monitor_event(
            now,
            EventKind::Reconnected {
                returned: e.returned,
                still_silent: saturate(held),
                lasted: now - e.since,
            },
        );
        // Their silence while we were cut off was not observed: it counts from now.
        self.rearm_at = now;
        for s in self.held_slots() {
            self.set_state(s, NodeState::Alive, now);
            self.arm(s);
        }
    }

    /// A held node's hold passed: every node still held is down, at once — or, in witness
    /// mode with a quorum up, held for the witnesses, down now only where they agree.
    pub(super) fn expire(&mut self, now: Timestamp) {
        let held = self.held_slots();
        let since = self.guard.episode.take().map_or(now, |e| e.since);
        let witnesses = self.quorum_active();
        if witnesses {
            for &s in &held {
                self.hold_for_witnesses(s, now, Vote::Reported);
            }
        }
        let down: Vec<u32> = held
            .into_iter()
            .filter(|&s| !witnesses || self.agreed_now(s, now))
            .collect();
        self.monitor_event(
            now,
            EventKind::IsolationExpired {
                down: saturate(down.len()),
                lasted: now - since,
            },
        );
        let reason = if witnesses {
            DownReason::Agreed
        } else {
            DownReason::Isolation
        };
        for s in down {
            self.go_down(s, now, now, reason);
        }
    }

    /// Nodes held by the isolation guard (not those held for the witnesses).
    pub(super) fn isolation_held(&self) -> usize {
        self.count(NodeState::Unreachable) - self.witness.held
    }

    fn hold(&mut self, slot: u32, now: Timestamp) {
        self.set_state(slot, NodeState::Unreachable, now);
        self.arm(slot);
    }

    fn held_slots(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.state == NodeState::Unreachable && n.vote() == Vote::No)
            .map(|(s, _)| s)
            .collect()
    }

    /// Downs by silence within `window` before `now`.
    fn recent_downs(&self, now: Timestamp, window: Duration) -> usize {
        let from = now - window;
        let d = &self.guard.recent_downs;
        d.len() - d.partition_point(|&at| at < from)
    }

    fn note_down(&mut self, now: Timestamp, iso: Isolation) {
        let d = &mut self.guard.recent_downs;
        let from = now - iso.hold;
        while d.front().is_some_and(|&at| at < from) || d.len() >= MAX_RECENT_DOWNS {
            d.pop_front();
        }
        d.push_back(now);
    }

    pub(super) fn monitor_event(&mut self, now: Timestamp, kind: EventKind) {
        let node = NodeId::new(&self.cfg.id).expect("validated at construction");
        self.events.push_back(Event {
            at: now,
            node,
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            incarnation: 0,
            kind,
        });
    }

    /// The guard's part of [`Self::check_invariants`].
    pub(super) fn check_guard(&self) -> Result<(), String> {
        let mut quiet = 0;
        for (_, n) in self.nodes.iter() {
            if n.quiet.is() {
                if n.state != NodeState::Alive {
                    return Err(format!("node {} is quiet but {}", n.id, n.state.as_str()));
                }
                quiet += 1;
            }
        }
        if quiet != self.guard.quiet {
            return Err(format!(
                "quiet count {} but {quiet} quiet nodes",
                self.guard.quiet
            ));
        }
        self.check_zones()?;
        if self.guard.episode.is_none() && self.isolation_held() > 0 {
            return Err("nodes held unreachable outside an isolation episode".into());
        }
        Ok(())
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
