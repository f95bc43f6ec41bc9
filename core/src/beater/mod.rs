//! The beater: when to send the next beat, to which monitors, and whether they still answer;
//! the sensor readings beats carry; the schedule and redirects monitors send back.
//!
//! Trust: an ack changes what the beater does — its period, its sensors, its monitor — only
//! if it is signed with a key the beater holds (its [`Keyring`](crate::Keyring)). An unsigned
//! ack still counts as an answer (monitor loss and return), but the schedule and redirect it
//! carries are ignored, counted ([`Beater::unsigned_acks_ignored`]) and reported once
//! ([`BeaterEvent::UnsignedIgnored`]): anyone who can spoof the monitor's address could send
//! them. [`Beater::trust_unsigned_acks`] is the opt-in for closed networks.
//!
//! Files: this one (the struct, its inputs and outputs, the beat itself), `answers.rs` (acks,
//! monitor loss and failover, schedules, redirects), `readings.rs`, `config.rs`.

mod answers;
mod config;
mod readings;

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::VecDeque;
use std::sync::Arc;

pub use config::{
    BeaterConfig, BeaterConfigError, BeaterEvent, MonitorStatus, REDIRECT_RETRY, REDIRECT_TIMEOUT,
    SCHEDULE_POLL,
};
pub use readings::{MAX_PENDING_READINGS, ReadingError};
use readings::{OwnedReading, Pending};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::probe::ProbeMeta;
use crate::reject::{Rejection, Rejections};
use crate::schedule::SensorInterval;
use crate::time::{Timestamp, micros};
use crate::transmit::Transmit;
use crate::wire::{self, Ack, Beat, BeatFlags, Leave, MAX_READINGS, Message, Readings};

#[derive(Clone, Debug)]
struct Target {
    addr: SocketAddr,
    status: MonitorStatus,
    /// Last ack, or when we started expecting one.
    since: Timestamp,
}

#[derive(Clone, Debug)]
enum Out {
    Beat {
        seq: u64,
        sent_at: u64,
        ack: bool,
        readings: Arc<[OwnedReading]>,
    },
    Leave {
        seq: u64,
    },
}

/// A redirect in progress: beats go to `to` too until it answers or `since + timeout`.
#[derive(Clone, Copy, Debug)]
struct Redirect {
    from: SocketAddr,
    to: SocketAddr,
    since: Timestamp,
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
    readings: Pending,
    /// The beat period in force: the configured one, or a monitor schedule's.
    period: Duration,
    schedule_version: u32,
    /// When a beat last asked for an ack in fire-and-forget mode.
    last_poll: Option<Timestamp>,
    redirect: Option<Redirect>,
    /// The latest redirect target that did not answer, and when it gave up.
    failed_redirect: Option<(SocketAddr, Timestamp)>,
    /// Follow schedules and redirects of unsigned acks too.
    trust_unsigned: bool,
    /// Unsigned acks whose schedule or redirect was ignored.
    unsigned_ignored: u64,
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
            period: cfg.period,
            readings: Pending::default(),
            schedule_version: 0,
            last_poll: None,
            redirect: None,
            failed_redirect: None,
            trust_unsigned: false,
            unsigned_ignored: 0,
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

    /// The beat period in force (the configured one, or the adopted schedule's).
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The version of the monitor schedule in force (0: none).
    pub fn schedule_version(&self) -> u32 {
        self.schedule_version
    }

    /// Readings waiting for a beat.
    pub fn pending_readings(&self) -> usize {
        self.readings.len()
    }

    /// Readings dropped because more than [`MAX_PENDING_READINGS`] waited.
    pub fn readings_dropped(&self) -> u64 {
        self.readings.dropped()
    }

    /// The redirect target being tried, if any.
    pub fn redirecting_to(&self) -> Option<SocketAddr> {
        self.redirect.map(|r| r.to)
    }

    /// Unsigned acks whose schedule or redirect was ignored (see the module docs); the first
    /// one is also a [`BeaterEvent::UnsignedIgnored`].
    pub fn unsigned_acks_ignored(&self) -> u64 {
        self.unsigned_ignored
    }

    // ---- mutators ----

    /// Follows the schedules and redirects of unsigned acks too (hbnode's
    /// `--trust-unsigned-acks`): for closed networks only, where no one can spoof a monitor's
    /// address. Off by default.
    pub fn trust_unsigned_acks(&mut self, trust: bool) {
        self.trust_unsigned = trust;
    }

    /// Queues a sensor reading for the next beats. Each beat carries up to
    /// [`wire::MAX_READINGS`] waiting readings, oldest first, as many as fit
    /// [`wire::MAX_DATAGRAM`] (readings with meta are larger: at least 9 of the largest fit);
    /// the rest wait for the following beats. A newer reading of a probe still waiting
    /// replaces the older one; beyond [`MAX_PENDING_READINGS`] the oldest waiting reading is
    /// dropped and counted ([`Self::readings_dropped`]).
    pub fn push_reading(
        &mut self,
        probe: &str,
        value: f64,
        status: u8,
    ) -> Result<(), ReadingError> {
        self.readings
            .push(probe, value, status, ProbeMeta::default())
    }

    /// [`Self::push_reading`] with the unit, ranges, min and max the sensor gave (a plugin's
    /// performance data); an empty `meta` is sent as none.
    pub fn push_reading_with_meta(
        &mut self,
        probe: &str,
        value: f64,
        status: u8,
        meta: ProbeMeta,
    ) -> Result<(), ReadingError> {
        self.readings.push(probe, value, status, meta)
    }

    // ---- inputs ----

    /// Time passed: queues a beat if one is due and checks monitors' ack deadlines.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.stopped {
            return;
        }
        self.check_acks(now);
        self.check_redirect(now);
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

    /// A datagram arrived (an ack, normally). Only a signed ack (or any, with
    /// [`Self::trust_unsigned_acks`]) may change the schedule or the monitor.
    pub fn handle_datagram(&mut self, now: Timestamp, from: SocketAddr, bytes: &[u8]) {
        let (ack, signed) = match wire::decode(bytes, &self.cfg.keyring) {
            Ok(wire::Datagram {
                message: Message::Ack(a),
                key_id,
            }) => (a, key_id.is_some()),
            Ok(_) => return self.rejections.add(Rejection::UnexpectedKind),
            Err(e) => return self.rejections.add(e.into()),
        };
        if ack.node != self.cfg.id.as_str() || ack.seq > self.seq {
            return self.rejections.add(Rejection::InvalidField);
        }
        if self.stopped {
            return;
        }
        let trusted = signed || self.trust_unsigned;
        if self.redirect.is_some_and(|r| r.to == from) {
            if !trusted {
                // Only a signed answer from the target may move this beater there.
                return self.ignore_unsigned(from);
            }
            self.acks += 1;
            self.finish_redirect(now);
        } else if !self.on_ack_from_target(now, from) {
            return self.rejections.add(Rejection::UnknownNode);
        }
        let new_schedule = ack
            .schedule
            .as_ref()
            .is_some_and(|s| s.version != self.schedule_version);
        if !trusted {
            if new_schedule || ack.redirect.is_some() {
                self.ignore_unsigned(from);
            }
            return;
        }
        self.adopt_schedule(now, from, &ack);
        if let Some(to) = ack.redirect {
            self.start_redirect(now, from, to);
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
        if let Some(r) = self.redirect.take() {
            self.out.push_back((r.to, Out::Leave { seq: self.seq }));
        }
    }

    // ---- outputs ----

    /// The next datagram to send, written into `buf` (give it [`wire::MAX_DATAGRAM`] bytes).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some((to, out)) = self.out.pop_front() {
            let wire_readings: Vec<wire::Reading<'_>>;
            let msg = match &out {
                Out::Beat {
                    seq,
                    sent_at,
                    ack,
                    readings,
                } => {
                    wire_readings = readings.iter().map(OwnedReading::as_wire).collect();
                    Message::Beat(Beat {
                        period_ms: u32::try_from(self.period.as_millis()).unwrap_or(u32::MAX),
                        flags: BeatFlags(if *ack { BeatFlags::ACK_WANTED } else { 0 }),
                        sent_at_us: *sent_at,
                        group: self.cfg.group,
                        schedule_version: self.schedule_version,
                        readings: Readings::from_slice(&wire_readings),
                        ..Beat::new(self.cfg.id.as_str(), self.cfg.incarnation, *seq)
                    })
                }
                Out::Leave { seq } => Message::Leave(Leave {
                    node: self.cfg.id.as_str(),
                    incarnation: self.cfg.incarnation,
                    seq: *seq,
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

    /// When [`Self::handle_timeout`] must next be called: the next beat, ack or redirect
    /// deadline.
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
        let redirect = self.redirect.map(|r| r.since + self.redirect_timeout());
        Some(
            [acks, redirect]
                .into_iter()
                .flatten()
                .fold(self.next_beat, Timestamp::min),
        )
    }

    // ---- internals ----

    fn interval(&mut self) -> Duration {
        let j = self.cfg.jitter;
        if j == 0.0 {
            return self.period;
        }
        let u: f64 = self.rng.random_range(-j..=j);
        let us = micros(self.period) as f64 * (1.0 + u);
        Duration::from_micros(us.round() as u64)
    }

    fn beat(&mut self, now: Timestamp) {
        self.seq += 1;
        self.beats_sent += 1;
        let sent_at = self.cfg.unix_offset_us.saturating_add(now.as_micros());
        let poll = self.cfg.ack_timeout.is_none()
            && self
                .cfg
                .schedule_poll
                .is_some_and(|p| self.last_poll.is_none_or(|at| now >= at + p));
        if poll {
            self.last_poll = Some(now);
        }
        let out = Out::Beat {
            seq: self.seq,
            sent_at,
            ack: self.cfg.ack_timeout.is_some() || poll,
            readings: self.readings.take(MAX_READINGS).into(),
        };
        let all_lost = self.targets.iter().all(|t| t.status == MonitorStatus::Lost);
        for (i, t) in self.targets.iter().enumerate() {
            let send = !self.cfg.failover
                || all_lost
                || i == self.active
                || (i < self.active && t.status == MonitorStatus::Lost);
            if send {
                self.out.push_back((t.addr, out.clone()));
            }
        }
        if let Some(r) = self.redirect
            && let Out::Beat {
                seq,
                sent_at,
                readings,
                ..
            } = out
        {
            // The trial beat always asks for an ack: the answer is what the switch waits for.
            let trial = Out::Beat {
                seq,
                sent_at,
                ack: true,
                readings,
            };
            self.out.push_back((r.to, trial));
        }
    }
}

#[cfg(test)]
mod tests;
