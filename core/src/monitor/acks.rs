//! What the monitor sends back: acks (with the schedule and redirect a node needs) and, in
//! peer mode, member answers to identify requests.

use core::net::SocketAddr;

use super::state::{Monitor, Pending};
use crate::id::NodeId;
use crate::reject::Rejection;
use crate::schedule;
use crate::transmit::Transmit;
use crate::wire::{self, Ack, Identify, MAX_VERDICTS, Member, Message, Verdicts};

impl Monitor {
    /// Acks and member answers dropped: the transmit queue was full, or the datagram could not
    /// be encoded (a buffer shorter than [`wire::MAX_DATAGRAM`]).
    pub fn acks_dropped(&self) -> u64 {
        self.acks_dropped
    }

    /// The next datagram to send (an ack, or a member answer in peer mode), written into `buf`
    /// (give it [`wire::MAX_DATAGRAM`] bytes).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(p) = self.acks.pop_front() {
            let (to, msg) = match &p {
                Pending::Ack {
                    to,
                    node,
                    seq,
                    have,
                } => {
                    let (schedule, redirect) = self.schedule_for(node.as_str(), *have);
                    (
                        *to,
                        Message::Ack(Ack {
                            node: node.as_str(),
                            seq: *seq,
                            monitor: &self.cfg.id,
                            schedule,
                            redirect,
                        }),
                    )
                }
                Pending::Member { to, nonce } => {
                    let Some(me) = &self.cfg.peer else { continue };
                    (
                        *to,
                        Message::Member(Member {
                            group: self.cfg.group,
                            node: me.id.as_str(),
                            incarnation: me.incarnation,
                            uptime_ms: u64::try_from((self.now - self.started).as_millis())
                                .unwrap_or(u64::MAX),
                            nonce: *nonce,
                        }),
                    )
                }
                Pending::Verdicts { to, suspect, trust } => {
                    let Some(q) = &self.cfg.quorum else { continue };
                    let (incarnation, period_ms) = (q.incarnation, q.period.as_millis());
                    let seq = self.next_verdict_seq();
                    (
                        *to,
                        Message::Verdicts(Verdicts {
                            monitor: &self.cfg.id,
                            incarnation,
                            seq,
                            period_ms: u32::try_from(period_ms).unwrap_or(u32::MAX),
                            suspect: suspect
                                .iter()
                                .map(NodeId::as_str)
                                .take(MAX_VERDICTS)
                                .collect(),
                            trust: trust
                                .iter()
                                .map(NodeId::as_str)
                                .take(MAX_VERDICTS)
                                .collect(),
                        }),
                    )
                }
            };
            let encoded = wire::encode(&msg, self.cfg.keyring.signing_key(), buf).ok();
            drop(msg);
            if let Some(len) = encoded {
                return Some(Transmit { to, len });
            }
            self.acks_dropped += 1;
        }
        None
    }

    /// The schedule (if `node`, running version `have`, needs another) and redirect its ack
    /// carries: the first matching rule's, or, with no rule, a reset to the node's own settings
    /// if it still runs an old schedule.
    fn schedule_for(&self, node: &str, have: u32) -> (Option<wire::Schedule<'_>>, Option<&str>) {
        match schedule::first_match(&self.cfg.schedules, node) {
            Some((i, rule)) => {
                let version = self.schedule_versions[i];
                let schedule = (version != have).then(|| rule.wire(version));
                (schedule, rule.redirect.as_deref())
            }
            None => {
                let reset = wire::Schedule {
                    version: 0,
                    period_ms: 0,
                    sensors: None,
                };
                ((have != 0).then_some(reset), None)
            }
        }
    }

    pub(super) fn queue(&mut self, p: Pending) {
        if self.acks.len() >= self.cfg.max_pending_acks {
            self.acks_dropped += 1;
            return;
        }
        self.acks.push_back(p);
    }

    pub(super) fn queue_ack(&mut self, to: SocketAddr, node: &str, seq: u64, have: u32) {
        if let Ok(node) = NodeId::new(node) {
            self.queue(Pending::Ack {
                to,
                node,
                seq,
                have,
            });
        }
    }

    pub(super) fn on_identify(&mut self, from: SocketAddr, i: &Identify) {
        if self.cfg.peer.is_none() {
            self.rejections.add(Rejection::UnexpectedKind);
        } else if i.group != self.cfg.group {
            self.rejections.add(Rejection::WrongGroup);
        } else {
            self.queue(Pending::Member {
                to: from,
                nonce: i.nonce,
            });
        }
    }
}
