//! The beater: when to send the next beat, to which monitors, and whether they still answer.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::auth::Keyring;
use crate::id::NodeId;
use crate::reject::{Rejection, Rejections};
use crate::time::{Timestamp, micros};
use crate::transmit::Transmit;
use crate::wire::{self, Beat, BeatFlags, Leave, Message};

/// How a [`Beater`] behaves.
#[derive(Clone, Debug)]
pub struct BeaterConfig {
    /// This node's id.
    pub id: NodeId,
    /// This run's incarnation; must grow across restarts (hbnode: start time, µs since the
    /// Unix epoch).
    pub incarnation: u64,
    /// Beat period.
    pub period: Duration,
    /// Each interval is `period × (1 + u)` with u uniform in `[−jitter, +jitter]` (0 to 0.5),
    /// so a fleet started together does not beat in lockstep.
    pub jitter: f64,
    /// Seed of the jitter's random generator (ChaCha8).
    pub seed: u64,
    /// Monitors, in priority order.
    pub monitors: Vec<SocketAddr>,
    /// Send to the first healthy monitor only (and probe higher-priority lost ones) instead of
    /// to all. Needs `ack_timeout`.
    pub failover: bool,
    /// Ask for acks; a monitor silent this long is lost. `None`: fire and forget.
    pub ack_timeout: Option<Duration>,
    /// Signing key (the first) and keys accepted on acks.
    pub keyring: Keyring,
    /// Peer group hash (0 outside peer mode).
    pub group: u32,
    /// Wall-clock time (µs since the Unix epoch) at `Timestamp::ZERO`; beats carry
    /// `unix_offset_us + now` as their informational send time.
    pub unix_offset_us: u64,
}

/// What the beater tells its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeaterEvent {
    /// A monitor stopped acknowledging beats for `ack_timeout`.
    MonitorLost {
        /// The monitor.
        monitor: SocketAddr,
        /// How long since its last ack (or since we started sending to it).
        silence: Duration,
    },
    /// A lost monitor acknowledged again.
    MonitorBack {
        /// The monitor.
        monitor: SocketAddr,
    },
    /// In failover mode: beats now go to this monitor.
    Active {
        /// The monitor.
        monitor: SocketAddr,
    },
}

/// A monitor as the beater sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorStatus {
    /// Being sent beats and acking (or not yet overdue).
    Healthy,
    /// Overdue: no ack for `ack_timeout`. Still probed.
    Lost,
    /// Failover mode: a backup not currently sent beats.
    Standby,
}

#[derive(Clone, Debug)]
struct Target {
    addr: SocketAddr,
    status: MonitorStatus,
    /// Last ack, or when we started expecting one.
    since: Timestamp,
}

#[derive(Clone, Copy, Debug)]
enum Out {
    Beat { seq: u64, sent_at: u64 },
    Leave { seq: u64 },
}

/// The beater state machine. Same run loop as [`crate::Monitor`]: after every input drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event), then wait for
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct Beater {
    cfg: BeaterConfig,
    seq: u64,
    next_beat: Timestamp,
    rng: ChaCha8Rng,
    targets: Vec<Target>,
    active: usize,
    out: VecDeque<(SocketAddr, Out)>,
    events: VecDeque<BeaterEvent>,
    stopped: bool,
    beats_sent: u64,
    acks: u64,
    rejections: Rejections,
}

/// Why a [`BeaterConfig`] is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BeaterConfigError {
    /// No monitor address.
    #[error("at least one monitor address is needed")]
    NoMonitors,
    /// Zero period.
    #[error("the beat period must be greater than zero")]
    ZeroPeriod,
    /// Jitter outside 0–0.5.
    #[error("jitter must be between 0% and 50%")]
    Jitter,
    /// Failover without acks cannot tell a healthy monitor from a dead one.
    #[error("failover needs an ack timeout")]
    FailoverWithoutAcks,
}

impl Beater {
    /// A beater whose first beat is due at `now`.
    pub fn new(cfg: BeaterConfig, now: Timestamp) -> Result<Self, BeaterConfigError> {
        if cfg.monitors.is_empty() {
            return Err(BeaterConfigError::NoMonitors);
        }
        if cfg.period.is_zero() {
            return Err(BeaterConfigError::ZeroPeriod);
        }
        if !(0.0..=0.5).contains(&cfg.jitter) {
            return Err(BeaterConfigError::Jitter);
        }
        if cfg.failover && cfg.ack_timeout.is_none() {
            return Err(BeaterConfigError::FailoverWithoutAcks);
        }
        let targets = cfg
            .monitors
            .iter()
            .enumerate()
            .map(|(i, &addr)| Target {
                addr,
                status: if cfg.failover && i > 0 {
                    MonitorStatus::Standby
                } else {
                    MonitorStatus::Healthy
                },
                since: now,
            })
            .collect();
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg,
            seq: 0,
            next_beat: now,
            targets,
            active: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
            stopped: false,
            beats_sent: 0,
            acks: 0,
            rejections: Rejections::default(),
        })
    }

    // ---- getters ----

    /// The configuration.
    pub fn config(&self) -> &BeaterConfig {
        &self.cfg
    }

    /// Sequence number of the last beat queued.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Beats queued so far (one per beat, however many monitors it goes to).
    pub fn beats_sent(&self) -> u64 {
        self.beats_sent
    }

    /// Valid acks received.
    pub fn acks_received(&self) -> u64 {
        self.acks
    }

    /// Refused incoming datagrams, by reason.
    pub fn rejections(&self) -> &Rejections {
        &self.rejections
    }

    /// Each monitor with its status.
    pub fn monitors(&self) -> impl Iterator<Item = (SocketAddr, MonitorStatus)> + '_ {
        self.targets.iter().map(|t| (t.addr, t.status))
    }

    /// Whether [`Self::leave`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    // ---- inputs ----

    /// Time passed: queues a beat if one is due and checks monitors' ack deadlines.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.stopped {
            return;
        }
        self.check_acks(now);
        if now >= self.next_beat {
            self.beat(now);
            let mut next = self.next_beat + self.interval();
            if next <= now {
                // We stalled past a whole period: resume from now rather than bursting.
                next = now + self.interval();
            }
            self.next_beat = next;
        }
    }

    /// A datagram arrived (an ack, normally).
    pub fn handle_datagram(&mut self, now: Timestamp, from: SocketAddr, bytes: &[u8]) {
        let ack = match wire::decode(bytes, &self.cfg.keyring) {
            Ok(wire::Datagram {
                message: Message::Ack(a),
                ..
            }) => a,
            Ok(_) => return self.rejections.add(Rejection::UnexpectedKind),
            Err(e) => return self.rejections.add(e.into()),
        };
        if ack.node != self.cfg.id.as_str() || ack.seq > self.seq {
            return self.rejections.add(Rejection::InvalidField);
        }
        let Some(i) = self.targets.iter().position(|t| t.addr == from) else {
            return self.rejections.add(Rejection::UnknownNode);
        };
        self.acks += 1;
        let t = &mut self.targets[i];
        t.since = now;
        if t.status == MonitorStatus::Lost {
            t.status = MonitorStatus::Healthy;
            self.events
                .push_back(BeaterEvent::MonitorBack { monitor: from });
            if self.cfg.failover
                && (i < self.active || self.targets[self.active].status == MonitorStatus::Lost)
            {
                if self.targets[self.active].status == MonitorStatus::Healthy {
                    self.targets[self.active].status = MonitorStatus::Standby;
                }
                self.active = i;
                self.events.push_back(BeaterEvent::Active { monitor: from });
            }
        }
    }

    /// Graceful shutdown: queues a [`Leave`] to every monitor and stops beating.
    pub fn leave(&mut self, _now: Timestamp) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.seq += 1;
        for t in &self.targets {
            self.out.push_back((t.addr, Out::Leave { seq: self.seq }));
        }
    }

    // ---- outputs ----

    /// The next datagram to send, written into `buf` (give it [`wire::MAX_DATAGRAM`] bytes).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some((to, out)) = self.out.pop_front() {
            let msg = match out {
                Out::Beat { seq, sent_at } => Message::Beat(Beat {
                    node: self.cfg.id.as_str(),
                    incarnation: self.cfg.incarnation,
                    seq,
                    period_ms: u32::try_from(self.cfg.period.as_millis()).unwrap_or(u32::MAX),
                    flags: BeatFlags(if self.cfg.ack_timeout.is_some() {
                        BeatFlags::ACK_WANTED
                    } else {
                        0
                    }),
                    sent_at_us: sent_at,
                    group: self.cfg.group,
                    readings: Default::default(),
                }),
                Out::Leave { seq } => Message::Leave(Leave {
                    node: self.cfg.id.as_str(),
                    incarnation: self.cfg.incarnation,
                    seq,
                    group: self.cfg.group,
                }),
            };
            if let Ok(len) = wire::encode(&msg, self.cfg.keyring.signing_key(), buf) {
                return Some(Transmit { to, len });
            }
        }
        None
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<BeaterEvent> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called: the next beat or ack deadline.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.stopped {
            return None;
        }
        let acks = self.cfg.ack_timeout.and_then(|timeout| {
            self.targets
                .iter()
                .filter(|t| t.status == MonitorStatus::Healthy)
                .map(|t| t.since + timeout)
                .min()
        });
        Some(acks.map_or(self.next_beat, |a| a.min(self.next_beat)))
    }

    // ---- internals ----

    fn interval(&mut self) -> Duration {
        let j = self.cfg.jitter;
        if j == 0.0 {
            return self.cfg.period;
        }
        let u: f64 = self.rng.random_range(-j..=j);
        let us = micros(self.cfg.period) as f64 * (1.0 + u);
        Duration::from_micros(us.round() as u64)
    }

    fn beat(&mut self, now: Timestamp) {
        self.seq += 1;
        self.beats_sent += 1;
        let sent_at = self.cfg.unix_offset_us.saturating_add(now.as_micros());
        let out = Out::Beat {
            seq: self.seq,
            sent_at,
        };
        let all_lost = self.targets.iter().all(|t| t.status == MonitorStatus::Lost);
        for (i, t) in self.targets.iter().enumerate() {
            let send = !self.cfg.failover
                || all_lost
                || i == self.active
                || (i < self.active && t.status == MonitorStatus::Lost);
            if send {
                self.out.push_back((t.addr, out));
            }
        }
    }

    fn check_acks(&mut self, now: Timestamp) {
        let Some(timeout) = self.cfg.ack_timeout else {
            return;
        };
        for t in &mut self.targets {
            if t.status == MonitorStatus::Healthy && now >= t.since + timeout {
                t.status = MonitorStatus::Lost;
                self.events.push_back(BeaterEvent::MonitorLost {
                    monitor: t.addr,
                    silence: now - t.since,
                });
            }
        }
        if self.cfg.failover && self.targets[self.active].status == MonitorStatus::Lost {
            let next = self
                .targets
                .iter()
                .position(|t| t.status != MonitorStatus::Lost);
            if let Some(i) = next {
                let t = &mut self.targets[i];
                if t.status == MonitorStatus::Standby {
                    t.status = MonitorStatus::Healthy;
                    t.since = now;
                }
                self.active = i;
                self.events
                    .push_back(BeaterEvent::Active { monitor: t.addr });
            }
        }
    }
}

#[cfg(test)]
mod tests;
