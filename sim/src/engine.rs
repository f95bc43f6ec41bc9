//! The discrete-event engine: one [`Beater`] → a [`Link`](crate::Link) → one [`Monitor`], in
//! virtual time.
//!
//! Events live in a min-heap keyed by `(time, seq)`: `seq` is the insertion counter, so two
//! events at the same microsecond run in the order they were scheduled, on every machine. All
//! randomness comes from one `ChaCha8Rng` seeded with the trace seed. Beats travel the real
//! path: `Beater::poll_transmit` encodes bytes, the link delays/drops/duplicates them, and
//! `Monitor::handle_datagram` decodes them. After every monitor input the engine drains events,
//! updates the QoS bookkeeping, folds each event into the trace's event-log hash, and (if the
//! scenario asks) calls `Monitor::check_invariants`.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use hb_core::detector::DetectorConfig;
use hb_core::wire::MAX_DATAGRAM;
use hb_core::{
    Beater, BeaterConfig, EventKind, Keyring, Monitor, MonitorConfig, NodeId, Timestamp,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use crate::agenda::{Agenda, mix};
use crate::link::LinkState;
use crate::qos::TraceStats;
use crate::scenario::{Scenario, splitmix64};

/// Largest datagram the engine carries inline in an event (beats are ~30 bytes).
const INLINE: usize = 64;

/// A check that failed inside a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Virtual time, µs.
    pub at_us: u64,
    /// What went wrong.
    pub what: String,
}

/// The result of one trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceOutcome {
    /// The trace's RNG seed (replay it with `SIM_SEED=<seed>`).
    pub seed: u64,
    /// Hash of the event log: every delivery and every monitor event with its time.
    pub hash: u64,
    /// Measurements.
    pub stats: TraceStats,
    /// The first failed check, if any.
    pub violation: Option<Violation>,
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    BeaterWake,
    /// Index into the packet slab.
    Deliver(u32),
    MonitorWake,
    Crash,
    Restart,
    StallStart,
    StallEnd,
}

/// A datagram in flight.
#[derive(Clone, Copy, Debug)]
struct Packet {
    len: u8,
    /// Send order over the whole trace (see `Sim::newest`).
    idx: u64,
    /// The incarnation that sent it.
    incarnation: u64,
    bytes: [u8; INLINE],
}

/// Ground truth about the sender process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proc {
    Up,
    Crashed { at: u64, detected: bool },
}

const NODE: &str = "n1";
const BEATER_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 9000);
const MONITOR_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254)), 4000);

struct Sim<'a> {
    sc: &'a Scenario,
    rng: ChaCha8Rng,
    heap: Agenda<Ev>,
    now: u64,
    end: u64,
    monitor: Monitor,
    beater: Option<Beater>,
    incarnation: u64,
    beater_wake: Option<u64>,
    mon_armed: Option<u64>,
    link: LinkState,
    proc: Proc,
    stalled: bool,
    observing: bool,
    /// The monitor has heard of the node (any incarnation): only then can it detect a crash.
    known: bool,
    suspected: bool,
    mistake_since: Option<u64>,
    acct_at: u64,
    hash: u64,
    stats: TraceStats,
    violation: Option<Violation>,
    buf: [u8; MAX_DATAGRAM],
    /// In-flight datagrams, referenced by `Ev::Deliver`; slots are reused.
    packets: Vec<Packet>,
    /// Datagrams sent so far (all incarnations): the next one's [`Packet::idx`].
    sent: u64,
    /// The newest datagram delivered so far: (index, incarnation, delivery time). A delivery
    /// with a higher index is fresh to the monitor (beat sequence numbers grow per datagram
    /// and a new incarnation's datagrams come after the old one's).
    newest: Option<(u64, u64, u64)>,
    free: Vec<u32>,
    drift: f64,
}

/// Runs one trace of `scenario` with RNG seed `seed`.
pub fn run_trace(scenario: &Scenario, seed: u64) -> TraceOutcome {
    let mut sim = Sim::new(scenario, seed);
    sim.run();
    TraceOutcome {
        seed,
        hash: sim.hash,
        stats: sim.stats,
        violation: sim.violation,
    }
}

impl<'a> Sim<'a> {
    fn new(sc: &'a Scenario, seed: u64) -> Self {
        let cfg = MonitorConfig {
            detector: sc.detector,
            hash_seed: splitmix64(seed),
            default_period: sc.period,
            ..MonitorConfig::default()
        };
        let monitor = Monitor::with_capacity(cfg, Timestamp::ZERO, 1)
            .expect("scenario detector was validated by its builder");
        let end = sc.duration.as_micros() as u64;
        Self {
            sc,
            rng: ChaCha8Rng::seed_from_u64(seed),
            heap: Agenda::with_capacity(64),
            now: 0,
            end,
            monitor,
            beater: None,
            incarnation: 0,
            beater_wake: None,
            mon_armed: None,
            link: LinkState::default(),
            proc: Proc::Up,
            stalled: false,
            observing: false,
            known: false,
            suspected: false,
            mistake_since: None,
            acct_at: 0,
            hash: 0xCBF2_9CE4_8422_2325,
            stats: TraceStats::default(),
            violation: None,
            buf: [0; MAX_DATAGRAM],
            packets: Vec::with_capacity(16),
            sent: 0,
            newest: None,
            free: Vec::with_capacity(16),
            drift: sc.drift_ppm * 1e-6,
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.heap.push(at, ev);
    }

    fn fail(&mut self, what: String) {
        if self.violation.is_none() {
            self.violation = Some(Violation {
                at_us: self.now,
                what,
            });
        }
    }

    fn exp_us(&mut self, mean: core::time::Duration) -> u64 {
        let m = mean.as_secs_f64();
        if m <= 0.0 {
            return 0;
        }
        let x: f64 = Exp::new(1.0 / m).map_or(m, |e| e.sample(&mut self.rng));
        (x * 1e6).round() as u64
    }

    /// The sender's clock reading at true time `t`.
    fn local(&self, t: u64) -> u64 {
        if self.drift == 0.0 {
            t
        } else {
            (t as f64 * (1.0 + self.drift)).round() as u64
        }
    }

    /// The first true time at which the sender's clock reads at least `l`.
    fn true_of(&self, l: u64) -> u64 {
        if self.drift == 0.0 {
            return l;
        }
        let mut t = (l as f64 / (1.0 + self.drift)).floor() as u64;
        while self.local(t) < l {
            t += 1;
        }
        t
    }

    fn run(&mut self) {
        self.start_beater();
        if let Some(every) = self.sc.crash_every {
            let at = self.exp_us(every);
            self.push(at, Ev::Crash);
        }
        if let Some(st) = self.sc.stalls {
            let at = self.exp_us(st.every);
            self.push(at, Ev::StallStart);
        }
        while let Some(item) = self.heap.pop() {
            if item.at > self.end {
                break;
            }
            self.now = item.at;
            match item.ev {
                Ev::BeaterWake => self.on_beater_wake(item.at),
                Ev::Deliver(slot) => {
                    self.stats.delivered += 1;
                    let p = self.packets[slot as usize];
                    self.hash = mix(mix(self.hash, item.at), u64::from(p.len));
                    let sample = self.sample_gap(&p);
                    self.monitor.handle_datagram(
                        Timestamp::from_micros(item.at),
                        BEATER_ADDR,
                        &p.bytes[..usize::from(p.len)],
                    );
                    self.free.push(slot);
                    let events = self.after_monitor_input();
                    // A fresh beat that changed nothing (no down fired first, no up) was an
                    // inter-arrival sample to the detector.
                    if let Some(gap) = sample.filter(|_| events == 0) {
                        self.stats.max_sample_gap_us = self.stats.max_sample_gap_us.max(gap);
                    }
                }
                Ev::MonitorWake => {
                    if self.mon_armed != Some(item.at) {
                        continue;
                    }
                    self.mon_armed = None;
                    if self
                        .monitor
                        .poll_timeout()
                        .is_some_and(|t| t.as_micros() <= item.at)
                    {
                        self.monitor.handle_timeout(Timestamp::from_micros(item.at));
                    }
                    self.after_monitor_input();
                }
                Ev::Crash => self.on_crash(),
                Ev::Restart => self.on_restart(),
                Ev::StallStart => {
                    let st = self.sc.stalls.expect("stall events need a stall model");
                    self.stalled = true;
                    let len = st.length.as_micros() as u64;
                    self.push(self.now + len, Ev::StallEnd);
                    let next = self.now + len + self.exp_us(st.every);
                    self.push(next, Ev::StallStart);
                }
                Ev::StallEnd => {
                    self.stalled = false;
                    if self.beater.is_some() && self.beater_wake.is_none() {
                        self.beater_wake = Some(self.now);
                        self.push(self.now, Ev::BeaterWake);
                    }
                }
            }
        }
        self.now = self.end;
        self.account();
        self.stats.simulated_us = self.end;
        if let Proc::Crashed {
            at,
            detected: false,
        } = self.proc
        {
            self.not_detected(at);
        }
        self.hash = mix(self.hash, self.stats.mistakes);
    }

    fn start_beater(&mut self) {
        self.incarnation += 1;
        let cfg = BeaterConfig {
            id: NodeId::new(NODE).expect("valid id"),
            incarnation: self.incarnation,
            period: self.sc.period,
            jitter: self.sc.jitter,
            seed: self.rng.random(),
            monitors: vec![MONITOR_ADDR],
            failover: false,
            ack_timeout: None,
            schedule_poll: None,
            keyring: Keyring::open(),
            group: 0,
            unix_offset_us: 0,
        };
        let b = Beater::new(cfg, Timestamp::from_micros(self.local(self.now)))
            .expect("scenario beater config is valid");
        self.beater = Some(b);
        if !self.stalled {
            self.beater_wake = Some(self.now);
            self.push(self.now, Ev::BeaterWake);
        } else {
            self.beater_wake = None;
        }
    }

    fn on_beater_wake(&mut self, at: u64) {
        if self.beater_wake != Some(at) {
            return;
        }
        self.beater_wake = None;
        if self.stalled {
            return;
        }
        let local = Timestamp::from_micros(self.local(at));
        let Some(b) = self.beater.as_mut() else {
            return;
        };
        let before = b.beats_sent();
        b.handle_timeout(local);
        self.stats.beats_sent += b.beats_sent() - before;
        let mut oversized = None;
        while let Some(tx) = b.poll_transmit(&mut self.buf) {
            self.sent += 1;
            let copies = self.sc.link.transmit(&mut self.link, &mut self.rng, at);
            let Ok(len) = u8::try_from(tx.len)
                .map_err(drop)
                .and_then(|l| if tx.len <= INLINE { Ok(l) } else { Err(()) })
            else {
                oversized = Some(tx.len);
                continue;
            };
            for &d in copies.as_slice() {
                self.stats.max_delay_us = self.stats.max_delay_us.max(d);
                let slot = match self.free.pop() {
                    Some(s) => s,
                    None => {
                        self.packets.push(Packet {
                            len: 0,
                            idx: 0,
                            incarnation: 0,
                            bytes: [0; INLINE],
                        });
                        u32::try_from(self.packets.len() - 1).expect("bounded by the heap")
                    }
                };
                let p = &mut self.packets[slot as usize];
                p.len = len;
                p.idx = self.sent;
                p.incarnation = self.incarnation;
                p.bytes[..tx.len].copy_from_slice(&self.buf[..tx.len]);
                self.heap.push(at + d, Ev::Deliver(slot));
            }
        }
        let next = b.poll_timeout();
        if let Some(len) = oversized {
            self.fail(format!(
                "beat of {len} bytes exceeds the engine's inline buffer"
            ));
        }
        if let Some(next) = next.map(|t| self.true_of(t.as_micros()).max(at + 1)) {
            self.beater_wake = Some(next);
            self.push(next, Ev::BeaterWake);
        }
    }

    fn on_crash(&mut self) {
        if self.proc != Proc::Up {
            return;
        }
        self.account();
        self.beater = None;
        self.beater_wake = None;
        self.stats.crashes += 1;
        self.hash = mix(self.hash, 0xC0 ^ self.now);
        // A mistake in progress ends here: from now on suspicion is correct.
        self.mistake_since = None;
        self.observing = false;
        self.proc = Proc::Crashed {
            at: self.now,
            detected: self.suspected,
        };
        if self.suspected {
            self.stats.detection_us.push(0);
        }
        let at = self.now + self.sc.restart_after.as_micros() as u64;
        self.push(at, Ev::Restart);
    }

    fn on_restart(&mut self) {
        let Proc::Crashed { at, detected } = self.proc else {
            return;
        };
        if !detected {
            self.not_detected(at);
        }
        self.proc = Proc::Up;
        self.start_beater();
        if let Some(every) = self.sc.crash_every {
            let next = self.now + self.exp_us(every);
            self.push(next, Ev::Crash);
        }
    }

    /// Records `p`'s delivery; if it is fresh and follows a fresh arrival of the same
    /// incarnation while the node was trusted, the gap between the two.
    fn sample_gap(&mut self, p: &Packet) -> Option<u64> {
        if self.newest.is_some_and(|(idx, _, _)| p.idx <= idx) {
            return None;
        }
        let prev = self.newest.replace((p.idx, p.incarnation, self.now));
        let (_, inc, at) = prev?;
        (inc == p.incarnation && !self.suspected).then(|| self.now - at)
    }

    /// A crash at `crash_at` ends (restart or trace end) without a down: undetected, or
    /// unobserved if no beat of the node ever reached the monitor.
    fn not_detected(&mut self, crash_at: u64) {
        if !self.known {
            self.stats.unobserved += 1;
            return;
        }
        self.stats.undetected += 1;
        self.stats.undetected_watched_us.push(self.now - crash_at);
        if let Some(bound) = self.bound()
            && self.now - crash_at > bound
        {
            self.fail(format!(
                "crash at {crash_at} µs not detected within the bound of {bound} µs"
            ));
        }
    }

    /// The scenario's detection bound given what this trace has seen so far.
    fn bound(&self) -> Option<u64> {
        self.sc
            .detection_bound_us(self.stats.max_delay_us, self.stats.max_sample_gap_us)
    }

    /// Adds the time since the last accounting point to the up/suspected totals.
    fn account(&mut self) {
        let dt = self.now - self.acct_at;
        self.acct_at = self.now;
        if self.proc == Proc::Up && self.observing {
            self.stats.up_us += dt;
            if self.suspected {
                self.stats.suspected_up_us += dt;
            }
        }
    }

    /// Drains the monitor's outputs after an input and runs the per-step checks; returns how
    /// many events the input produced.
    fn after_monitor_input(&mut self) -> usize {
        self.stats.steps += 1;
        let mut events = 0;
        while let Some(e) = self.monitor.poll_event() {
            events += 1;
            let at = e.at.as_micros();
            if at != self.now {
                self.fail(format!(
                    "event {} stamped {at} µs, expected now",
                    e.kind.name()
                ));
            }
            self.account();
            let code = match e.kind {
                EventKind::Joined => {
                    self.known = true;
                    self.observing = self.proc == Proc::Up;
                    self.suspected = false;
                    1
                }
                EventKind::Down {
                    silence, deadline, ..
                } => {
                    self.on_down(silence.as_micros() as u64, deadline.as_micros());
                    2
                }
                EventKind::Up { .. } => {
                    self.suspected = false;
                    self.undo_detection();
                    if let Some(since) = self.mistake_since.take() {
                        self.stats.mistake_durations_us.push(self.now - since);
                    }
                    3
                }
                EventKind::Restarted { .. } => {
                    self.suspected = false;
                    self.undo_detection();
                    self.mistake_since = None;
                    self.observing = self.proc == Proc::Up;
                    4
                }
                EventKind::Left
                | EventKind::Forgotten
                | EventKind::Probe { .. }
                | EventKind::Isolated { .. }
                | EventKind::Reconnected { .. }
                | EventKind::IsolationExpired { .. }
                | EventKind::ZoneDown { .. }
                | EventKind::ZoneUp { .. }
                | EventKind::Unreachable { .. }
                | EventKind::Reachable { .. }
                | EventKind::WitnessDown { .. }
                | EventKind::WitnessUp { .. }
                | EventKind::QuorumLost { .. }
                | EventKind::QuorumRegained { .. } => {
                    self.fail(format!("unexpected {} event", e.kind.name()));
                    5
                }
            };
            self.hash = mix(mix(mix(self.hash, at), code), e.incarnation);
        }
        while self.monitor.poll_transmit(&mut self.buf).is_some() {
            self.fail("monitor sent an ack nobody asked for".into());
        }
        if self.sc.check_invariants
            && let Err(e) = self.monitor.check_invariants()
        {
            self.fail(format!("monitor invariant: {e}"));
        }
        if let Some(t) = self.monitor.poll_timeout() {
            // Never schedule into the past (a deadline at `now` fires at `now`).
            let t = t.as_micros().max(self.now);
            // An armed wake earlier than the deadline stays: it re-arms when it fires.
            if self.mon_armed.is_none_or(|armed| t < armed) {
                self.mon_armed = Some(t);
                self.push(t, Ev::MonitorWake);
            }
        }
        events
    }

    /// The monitor trusts the node again while it is crashed: a beat sent before the crash
    /// arrived late (Up), or a beat of the incarnation before a quick second crash arrived
    /// (Restarted). Suspicion was not permanent, so T_D is measured again from the next down.
    fn undo_detection(&mut self) {
        if let Proc::Crashed { at, detected: true } = self.proc {
            self.stats.detection_us.pop();
            self.proc = Proc::Crashed {
                at,
                detected: false,
            };
        }
    }

    fn on_down(&mut self, silence_us: u64, deadline: u64) {
        if deadline != self.now {
            self.fail(format!(
                "down fired at {} µs, its deadline was {deadline} µs",
                self.now
            ));
        }
        if let DetectorConfig::Fixed(f) = self.sc.detector
            && silence_us != f.timeout.as_micros() as u64
        {
            self.fail(format!(
                "fixed detector fired after {silence_us} µs of silence, timeout is {} µs",
                f.timeout.as_micros()
            ));
        }
        self.suspected = true;
        match self.proc {
            Proc::Up => {
                if self.observing {
                    self.stats.mistakes += 1;
                    self.mistake_since = Some(self.now);
                }
            }
            Proc::Crashed {
                at,
                detected: false,
            } => {
                let t_d = self.now - at;
                self.stats.detection_us.push(t_d);
                self.proc = Proc::Crashed { at, detected: true };
                if let Some(bound) = self.bound()
                    && t_d > bound
                {
                    self.fail(format!(
                        "detection time {t_d} µs exceeds the bound of {bound} µs"
                    ));
                }
            }
            Proc::Crashed { detected: true, .. } => {
                self.fail("node declared down twice for one crash".into());
            }
        }
    }
}
