//! The identity legacy senders do not send: incarnation and sequence number, synthesised by
//! the Detector, plus the little it remembers per legacy node (pid, owning TCP connection).
//!
//! Rule (also in docs/events.md): a node the monitor does not know gets incarnation = the
//! monitor's wall clock in µs since the Unix epoch and sequence 1; a known node keeps its
//! incarnation and gets `seq = current + 1`; a node whose beat carries a pid different from the
//! one remembered restarted, and gets incarnation `max(current + 1, wall clock µs)`, sequence 1.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use hb_core::legacy::LegacyBeat;
use hb_core::{Monitor, NodeId, NodeState, Rejection, Timestamp, wire};

use super::LegacyInput;
use std::sync::Arc;

use actix::Recipient;

use super::owner::{Claim, PidChecked, Proto, Verifier};
use crate::runtime::clock::Clock;
use crate::runtime::record::EventRecord;
use crate::runtime::stats::Stats;

/// Most labels kept per node (TCP/JSON fields other than `id`, `ip`, `pid`; plus `status`).
pub(crate) const MAX_LABELS: usize = 16;

/// Longest label name kept, in bytes.
pub(crate) const MAX_LABEL_NAME: usize = 64;

/// Longest label value kept, in bytes.
pub(crate) const MAX_LABEL_VALUE: usize = 256;

/// Whether the latest pid a node claimed is verified ([`super::owner`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum PidCheck {
    /// Not asked (no pid, or the verifier's queue was full: the next beat asks again).
    #[default]
    Unchecked,
    /// Asked; waiting for the answer.
    Pending,
    /// The claimed process owns the sending socket; it started at this tick.
    Verified(u64),
    /// Not verified (cached until the node claims another pid).
    Refused,
}

/// What the Detector remembers about one legacy node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Side {
    /// The latest pid the node reported.
    pid: Option<u32>,
    /// Whether `pid` is verified.
    check: PidCheck,
    /// The TCP connection whose beats it last arrived on.
    conn: Option<u64>,
    /// The latest beat's labels, bounded (see [`MAX_LABELS`]); empty for most nodes.
    labels: BTreeMap<String, String>,
}

/// The labels kept from `beat`: `status` and its other fields, within the bounds.
fn labels_of(beat: &LegacyBeat) -> BTreeMap<String, String> {
    let status = beat.status.iter().map(|s| ("status", s.as_str()));
    let rest = beat.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    status
        .chain(rest)
        .filter(|(k, v)| k.len() <= MAX_LABEL_NAME && v.len() <= MAX_LABEL_VALUE)
        .take(MAX_LABELS)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Side state of legacy nodes, bounded by the monitor's `max_nodes`; entries go when the
/// monitor forgets the node.
#[derive(Debug)]
pub(crate) struct LegacyState {
    nodes: HashMap<NodeId, Side>,
    max: usize,
    /// Checks pid claims off the Detector (started at the first claim).
    verifier: Option<Verifier>,
}

impl LegacyState {
    /// Room for `max` nodes.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            nodes: HashMap::new(),
            max,
            verifier: None,
        }
    }

    /// Hands pid claims to the verifier thread (started at the first claim), whose answers
    /// come back to `reply` as [`PidChecked`] (give them to [`Self::checked`]); a claim it has
    /// no room for is asked again at the node's next beat.
    pub(crate) fn verify(
        &mut self,
        claims: Vec<Claim>,
        clock: Clock,
        stats: &Arc<Stats>,
        reply: &Recipient<PidChecked>,
    ) {
        if claims.is_empty() {
            return;
        }
        if self.verifier.is_none() {
            match Verifier::start(clock, Arc::clone(stats)) {
                Ok(v) => self.verifier = Some(v),
                Err(e) => tracing::warn!(error = %e, "cannot start the pid verifier"),
            }
        }
        for c in claims {
            let node = c.node.clone();
            let queued = self
                .verifier
                .as_ref()
                .is_some_and(|v| v.offer(c, reply.clone()));
            if !queued {
                self.unchecked(&node);
            }
        }
    }

    /// Adds what is known of the node's pid to its event: the claim, and whether (and with
    /// which start time) it was verified.
    pub(crate) fn annotate(&self, r: &mut EventRecord, node: &NodeId) {
        r.pid = self.pid(node);
        if r.pid.is_some() {
            let verified = self.verified_pid(node);
            r.pid_verified = Some(verified.is_some());
            r.pid_start = verified.map(|(_, start)| start);
        }
    }

    /// The incarnation and sequence number to feed the monitor for `beat`, and remembers its
    /// pid and connection.
    pub(crate) fn identity(
        &mut self,
        monitor: &Monitor,
        now: Timestamp,
        wall_us: u64,
        beat: &LegacyBeat,
        conn: Option<u64>,
    ) -> (u64, u64) {
        let prev = self.nodes.get(&beat.node);
        let prev_pid = prev.and_then(|s| s.pid);
        let prev_conn = prev.and_then(|s| s.conn);
        let known = prev.is_some();
        let restarted = matches!((prev_pid, beat.pid), (Some(a), Some(b)) if a != b);
        let id = match monitor.node(beat.node.as_str(), now) {
            None => (wall_us.max(1), 1),
            Some(n) if restarted || n.state == NodeState::Left => {
                (n.incarnation.saturating_add(1).max(wall_us), 1)
            }
            Some(n) => (n.incarnation, n.seq.saturating_add(1)),
        };
        let pid = beat.pid.or(prev_pid);
        let check = match prev {
            Some(s) if s.pid == pid => s.check,
            _ => PidCheck::Unchecked,
        };
        let side = Side {
            pid,
            check,
            conn: conn.or(prev_conn),
            labels: labels_of(beat),
        };
        if known || self.nodes.len() < self.max {
            self.nodes.insert(beat.node.clone(), side);
        }
        id
    }

    /// Whether `node` last beat over connection `conn`; if so, forgets the connection.
    pub(crate) fn take_connection(&mut self, node: &NodeId, conn: u64) -> bool {
        match self.nodes.get_mut(node) {
            Some(s) if s.conn == Some(conn) => {
                s.conn = None;
                true
            }
            _ => false,
        }
    }

    /// The node's pid, if a legacy beat reported one (a claim).
    pub(crate) fn pid(&self, node: &NodeId) -> Option<u32> {
        self.nodes.get(node).and_then(|s| s.pid)
    }

    /// The node's pid and its start time (clock ticks since boot), if verified.
    pub(crate) fn verified_pid(&self, node: &NodeId) -> Option<(u32, u64)> {
        let s = self.nodes.get(node)?;
        match (s.pid, s.check) {
            (Some(pid), PidCheck::Verified(start)) => Some((pid, start)),
            _ => None,
        }
    }

    /// The verifier's answer for `node`'s claim of `pid` (ignored if it claims another by now).
    pub(crate) fn checked(&mut self, node: &NodeId, pid: u32, start: Option<u64>) {
        if let Some(s) = self.nodes.get_mut(node)
            && s.pid == Some(pid)
            && s.check == PidCheck::Pending
        {
            s.check = start.map_or(PidCheck::Refused, PidCheck::Verified);
        }
    }

    /// The claim of `node` could not be queued: the next beat claims again.
    pub(crate) fn unchecked(&mut self, node: &NodeId) {
        if let Some(s) = self.nodes.get_mut(node)
            && s.check == PidCheck::Pending
        {
            s.check = PidCheck::Unchecked;
        }
    }

    /// Marks `node`'s pid claim asked for, and returns it, if it has one not yet asked for.
    fn claim(
        &mut self,
        node: &NodeId,
        from: SocketAddr,
        conn: Option<u64>,
        at: Timestamp,
    ) -> Option<Claim> {
        let s = self.nodes.get_mut(node)?;
        let pid = s.pid?;
        if s.check != PidCheck::Unchecked {
            return None;
        }
        s.check = PidCheck::Pending;
        Some(Claim {
            node: node.clone(),
            pid,
            from,
            proto: if conn.is_some() {
                Proto::Tcp
            } else {
                Proto::Udp
            },
            at,
        })
    }

    /// The node's labels from its latest legacy beat (empty if none).
    pub(crate) fn labels(&self, node: &NodeId) -> BTreeMap<String, String> {
        self.nodes
            .get(node)
            .map(|s| s.labels.clone())
            .unwrap_or_default()
    }

    /// Drops what is remembered about `node` (the monitor forgot it).
    pub(crate) fn forget(&mut self, node: &NodeId) {
        self.nodes.remove(node);
    }

    /// Feeds a listener's inputs to `monitor`: beats with their synthesised identity, refused
    /// input counted as `bad_legacy_format`, closed TCP connections' nodes taken down. Returns
    /// the pid claims to verify (one per new (node, pid), see [`super::owner`]).
    pub(crate) fn feed(
        &mut self,
        monitor: &mut Monitor,
        clock: &Clock,
        items: Vec<LegacyInput>,
    ) -> Vec<Claim> {
        let group = monitor.config().group;
        let mut claims = Vec::new();
        for item in items {
            match item {
                LegacyInput::Beat {
                    at,
                    from,
                    beat,
                    conn,
                } => {
                    let wall_us = clock.unix_offset_us().saturating_add(at.as_micros());
                    let (incarnation, seq) = self.identity(monitor, at, wall_us, &beat, conn);
                    let b = synthesised(beat.node.as_str(), incarnation, seq, group);
                    monitor.handle_beat(at, from, &b);
                    claims.extend(self.claim(&beat.node, from, conn, at));
                }
                LegacyInput::Rejected => monitor.handle_rejection(Rejection::BadLegacyFormat),
                LegacyInput::Closed { at, conn, nodes } => {
                    for node in &nodes {
                        if self.take_connection(node, conn) {
                            monitor.handle_disconnect(at, node.as_str());
                        }
                    }
                }
            }
        }
        claims
    }
}

/// The native beat a legacy beat becomes, once given an identity.
fn synthesised(node: &str, incarnation: u64, seq: u64, group: u32) -> wire::Beat<'_> {
    wire::Beat {
        group,
        ..wire::Beat::new(node, incarnation, seq)
    }
}

#[cfg(test)]
mod tests {
    use hb_core::MonitorConfig;

    use super::*;

    fn beat(node: &str, pid: Option<u32>) -> LegacyBeat {
        let mut b = hb_core::legacy::JsonStream::new("127.0.0.1:1".parse().unwrap(), 1024);
        b.handle_bytes(format!("{{\"id\":\"{node}\"}}").as_bytes());
        let mut b = b.poll_beat().unwrap().unwrap();
        b.pid = pid;
        b
    }

    fn b(id: &str) -> NodeId {
        NodeId::new(id).unwrap()
    }

    fn feed(m: &mut Monitor, s: &mut LegacyState, at: u64, b: &LegacyBeat) -> (u64, u64) {
        let now = Timestamp::from_micros(at);
        let (incarnation, seq) = s.identity(m, now, 1_000 + at, b, None);
        let w = synthesised(b.node.as_str(), incarnation, seq, 0);
        m.handle_beat(now, "127.0.0.1:1".parse().unwrap(), &w);
        (incarnation, seq)
    }

    #[test]
    fn sequence_grows_and_a_new_pid_is_a_restart() {
        let mut m = Monitor::new(MonitorConfig::default(), Timestamp::ZERO).unwrap();
        let mut s = LegacyState::new(2);
        assert_eq!(feed(&mut m, &mut s, 1, &beat("a", Some(7))), (1_001, 1));
        assert_eq!(feed(&mut m, &mut s, 2, &beat("a", Some(7))), (1_001, 2));
        assert_eq!(feed(&mut m, &mut s, 3, &beat("a", None)), (1_001, 3));
        assert_eq!(s.pid(&b("a")), Some(7));
        assert_eq!(feed(&mut m, &mut s, 4, &beat("a", Some(8))), (1_004, 1));
        let kinds: Vec<_> = std::iter::from_fn(|| m.poll_event())
            .map(|e| e.kind.name())
            .collect();
        assert_eq!(kinds, ["joined", "restarted"]);
        assert_eq!(
            m.beats_received(),
            4,
            "no beat refused as stale or duplicate"
        );
    }

    #[test]
    fn labels_are_kept_within_bounds() {
        let mut b = beat("a", None);
        b.status = Some("ok".into());
        for i in 0..40 {
            b.labels.insert(format!("k{i:02}"), "v".into());
        }
        b.labels
            .insert("big".into(), "x".repeat(MAX_LABEL_VALUE + 1));
        let l = labels_of(&b);
        assert_eq!(l.len(), MAX_LABELS);
        assert_eq!(l.get("status").map(String::as_str), Some("ok"));
        assert!(!l.contains_key("big"));
    }

    #[test]
    fn a_pid_is_claimed_once_and_verified_only_while_it_is_the_one_claimed() {
        let mut m = Monitor::new(MonitorConfig::default(), Timestamp::ZERO).unwrap();
        let mut s = LegacyState::new(4);
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let input = |pid| LegacyInput::Beat {
            at: Timestamp::from_micros(1),
            from,
            beat: beat("a", Some(pid)),
            conn: None,
        };
        let clock = Clock::new();
        let claims = s.feed(&mut m, &clock, vec![input(7), input(7)]);
        assert_eq!(claims.len(), 1, "one claim per new (node, pid)");
        assert_eq!((claims[0].pid, claims[0].proto), (7, Proto::Udp));
        assert_eq!(s.verified_pid(&b("a")), None, "pending is not verified");
        s.checked(&b("a"), 7, Some(99));
        assert_eq!(s.verified_pid(&b("a")), Some((7, 99)));
        assert!(s.feed(&mut m, &clock, vec![input(7)]).is_empty(), "cached");
        // A new pid is a new claim; a late answer for the old one changes nothing.
        let claims = s.feed(&mut m, &clock, vec![input(8)]);
        assert_eq!(claims.len(), 1);
        s.checked(&b("a"), 7, Some(99));
        assert_eq!(s.verified_pid(&b("a")), None);
        // A dropped claim is asked again by the next beat; a refusal is cached.
        s.unchecked(&b("a"));
        assert_eq!(s.feed(&mut m, &clock, vec![input(8)]).len(), 1);
        s.checked(&b("a"), 8, None);
        assert!(s.feed(&mut m, &clock, vec![input(8)]).is_empty());
        assert_eq!(s.verified_pid(&b("a")), None);
        assert_eq!(s.pid(&b("a")), Some(8), "the claim is still known");
    }

    #[test]
    fn side_state_is_bounded() {
        let mut m = Monitor::new(MonitorConfig::default(), Timestamp::ZERO).unwrap();
        let mut s = LegacyState::new(1);
        feed(&mut m, &mut s, 1, &beat("a", Some(1)));
        feed(&mut m, &mut s, 2, &beat("b", Some(2)));
        assert_eq!((s.pid(&b("a")), s.pid(&b("b"))), (Some(1), None));
        s.forget(&b("a"));
        feed(&mut m, &mut s, 3, &beat("b", Some(2)));
        assert_eq!(s.pid(&b("b")), Some(2));
    }
}
