//! The fleet engine: N beaters → N×M links → M monitors, in virtual time, driven exactly as the
//! single-trace engine drives one pair (`handle_*` in, `poll_*` drained after every input).
//!
//! One agenda of `(time, seq)` events. Each node owns a `ChaCha8Rng` derived from the run seed
//! (its phase, its beater's jitter seed, its paths' and NIC's loss draws, its random crashes),
//! so a seed and a plan reproduce the run's event log exactly.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use hb_core::wire::MAX_DATAGRAM;
use hb_core::{Beater, BeaterConfig, Keyring, Monitor, MonitorConfig, NodeId, Quorum, Timestamp};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use super::resolve::Resolved;
use super::{CrashRecord, Fleet, FleetOutcome, MonitorCounters};
use crate::agenda::{Agenda, mix};
use crate::engine::Violation;
use crate::link::{Link, LinkState};
use crate::scenario::{splitmix64, trace_seed};

/// Largest datagram carried inline (beats are ~30 bytes).
pub(super) const INLINE: usize = 64;

#[derive(Clone, Copy, Debug)]
pub(super) enum Ev {
    /// A node (re)starts its beater with a new incarnation.
    Start(u32),
    Wake(u32),
    Deliver(u32),
    MonitorWake(u16),
    /// A scheduled crash: (node, index of its fault).
    Crash(u32, usize),
    /// A random crash of (node, incarnation).
    RandomCrash(u32, u64),
    StallStart(u16),
    StallEnd(u16),
    /// A witness datagram (slot in `Sim::verdicts`) reaches its monitor.
    Verdicts(u32),
}

/// A datagram a stalled monitor's socket buffered.
#[derive(Clone, Copy, Debug)]
pub(super) enum Held {
    /// A node's (slot in `Sim::packets`).
    Beat(u32),
    /// A witness's (slot in `Sim::verdicts`).
    Verdicts(u32),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Packet {
    pub(super) node: u32,
    pub(super) monitor: u16,
    pub(super) len: u8,
    pub(super) bytes: [u8; INLINE],
}

pub(super) struct NodeSim {
    beater: Option<Beater>,
    incarnation: u64,
    wake: Option<u64>,
    rng: ChaCha8Rng,
    nic: LinkState,
    /// Index into the crash records while crashed.
    crashed: Option<usize>,
}

pub(super) struct MonSim {
    pub(super) monitor: Monitor,
    pub(super) armed: Option<u64>,
    pub(super) stall_depth: u32,
    pub(super) held: Vec<Held>,
    pub(super) last_input: u64,
    pub(super) counters: MonitorCounters,
    /// Zones this monitor reported out (`zone_down` without `zone_up` yet), by zone index.
    pub(super) zones_out: Vec<bool>,
    /// Draws of its outgoing monitor-to-monitor links.
    pub(super) rng: ChaCha8Rng,
    /// Its outgoing monitor-to-monitor links, by destination.
    pub(super) links: Vec<LinkState>,
}

pub(super) struct Sim<'a> {
    pub(super) fleet: &'a Fleet,
    pub(super) plan: &'a Resolved,
    pub(super) agenda: Agenda<Ev>,
    pub(super) now: u64,
    pub(super) end: u64,
    pub(super) nodes: Vec<NodeSim>,
    pub(super) monitors: Vec<MonSim>,
    pub(super) paths: Vec<LinkState>,
    pub(super) nic: Option<Link>,
    pub(super) packets: Vec<Packet>,
    pub(super) free: Vec<u32>,
    pub(super) verdicts: Vec<super::witness::InFlight>,
    pub(super) verdicts_free: Vec<u32>,
    pub(super) buf: [u8; MAX_DATAGRAM],
    pub(super) out: FleetOutcome,
}

pub(super) fn node_addr(i: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0A00_0001 + i)), 9000)
}

pub(super) fn monitor_addr(m: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 254, 0, m as u8)), 4000)
}

pub(super) fn monitor_of(addr: SocketAddr) -> u16 {
    match addr.ip() {
        IpAddr::V4(ip) => u16::from(ip.octets()[3]),
        IpAddr::V6(_) => u16::MAX,
    }
}

/// Runs `fleet` once with run seed `seed`.
pub fn run_fleet(fleet: &Fleet, seed: u64) -> FleetOutcome {
    let mut sim = Sim::new(fleet, seed);
    sim.run();
    sim.out
}

impl<'a> Sim<'a> {
    fn new(fleet: &'a Fleet, seed: u64) -> Self {
        let t = &fleet.topology;
        let n = t.node_count();
        let monitors = t
            .monitors
            .iter()
            .enumerate()
            .map(|(m, spec)| {
                let cfg = MonitorConfig {
                    id: spec.name.clone(),
                    detector: spec.detector,
                    hash_seed: splitmix64(seed ^ ((m as u64) << 32)),
                    default_period: t.period,
                    stall_threshold: spec.stall_threshold,
                    isolation: spec.isolation,
                    zones: if spec.zones {
                        t.zone_rules()
                    } else {
                        Vec::new()
                    },
                    quorum: spec.quorum.map(|w| Quorum {
                        witnesses: (0..t.monitors.len() as u16)
                            .filter(|&o| o != m as u16)
                            .map(monitor_addr)
                            .collect(),
                        needed: w.needed,
                        period: w.period,
                        incarnation: 1,
                    }),
                    ..MonitorConfig::default()
                };
                MonSim {
                    monitor: Monitor::with_capacity(cfg, Timestamp::ZERO, n as usize)
                        .expect("validated by Fleet::new"),
                    armed: None,
                    stall_depth: 0,
                    held: Vec::new(),
                    last_input: 0,
                    counters: MonitorCounters::default(),
                    zones_out: vec![false; t.zones.len()],
                    rng: ChaCha8Rng::seed_from_u64(splitmix64(
                        seed ^ 0x5EED_0000_0000_0000 ^ m as u64,
                    )),
                    links: vec![LinkState::default(); t.monitors.len()],
                }
            })
            .collect();
        let nodes = (0..n)
            .map(|i| NodeSim {
                beater: None,
                incarnation: 0,
                wake: None,
                rng: ChaCha8Rng::seed_from_u64(trace_seed(seed, u64::from(i))),
                nic: LinkState::default(),
                crashed: None,
            })
            .collect();
        Self {
            fleet,
            plan: &fleet.resolved,
            agenda: Agenda::with_capacity(4 * n as usize + 64),
            now: 0,
            end: t.duration.as_micros() as u64,
            nodes,
            monitors,
            paths: vec![LinkState::default(); n as usize * t.monitors.len()],
            nic: t.shared_loss.map(|loss| Link {
                loss,
                ..Link::default()
            }),
            packets: Vec::new(),
            free: Vec::new(),
            verdicts: Vec::new(),
            verdicts_free: Vec::new(),
            buf: [0; MAX_DATAGRAM],
            out: FleetOutcome {
                seed,
                hash: 0xCBF2_9CE4_8422_2325,
                ..FleetOutcome::default()
            },
        }
    }

    pub(super) fn fail(&mut self, what: String) {
        if self.out.violation.is_none() {
            self.out.violation = Some(Violation {
                at_us: self.now,
                what,
            });
        }
    }

    fn run(&mut self) {
        let period = self.fleet.topology.period.as_micros() as u64;
        for i in 0..self.nodes.len() as u32 {
            let phase = self.nodes[i as usize].rng.random_range(0..period.max(1));
            let zone = &self.fleet.topology.zones[usize::from(self.fleet.zones_of[i as usize])];
            self.agenda
                .push(zone.joins_at.as_micros() as u64 + phase, Ev::Start(i));
        }
        for &(fault, node, at, _) in &self.plan.crashes {
            self.agenda.push(at, Ev::Crash(node, fault));
        }
        for &(_, m, (a, b)) in &self.plan.stalls {
            self.agenda.push(a, Ev::StallStart(m));
            self.agenda.push(b, Ev::StallEnd(m));
        }
        while let Some(item) = self.agenda.pop() {
            if item.at > self.end {
                break;
            }
            self.now = item.at;
            match item.ev {
                Ev::Start(i) => self.start(i),
                Ev::Wake(i) => self.wake(i, item.at),
                Ev::Deliver(slot) => self.deliver(slot),
                Ev::MonitorWake(m) => self.monitor_wake(m, item.at),
                Ev::Crash(i, fault) => {
                    let restart = self.plan.crashes.iter().find(|c| c.0 == fault).map(|c| c.3);
                    self.crash(i, Some(fault), restart.unwrap_or(0));
                }
                Ev::RandomCrash(i, inc) => {
                    if self.nodes[i as usize].incarnation == inc
                        && let Some((_, restart)) = self.plan.crash_every
                    {
                        self.crash(i, None, restart);
                    }
                }
                Ev::StallStart(m) => self.monitors[usize::from(m)].stall_depth += 1,
                Ev::StallEnd(m) => self.resume(m),
                Ev::Verdicts(slot) => self.deliver_verdicts(slot),
            }
        }
        self.now = self.end;
        self.out.simulated_us = self.end;
        for (m, ms) in self.monitors.iter_mut().enumerate() {
            let quiet = self.end - ms.last_input;
            if quiet > ms.counters.longest_quiet_us.1 - ms.counters.longest_quiet_us.0 {
                ms.counters.longest_quiet_us = (ms.last_input, self.end);
            }
            ms.counters.stalls = ms.monitor.stalls().0;
            self.out.hash = mix(mix(self.out.hash, m as u64), ms.counters.delivered);
            self.out.monitors.push(ms.counters.clone());
        }
    }

    fn start(&mut self, i: u32) {
        let t = &self.fleet.topology;
        let now = self.now;
        let n = &mut self.nodes[i as usize];
        if let Some(c) = n.crashed.take() {
            self.out.crashes[c].restart_us = Some(now);
        }
        n.incarnation += 1;
        let cfg = BeaterConfig {
            id: NodeId::new(&super::Topology::node_name(i)).expect("valid id"),
            incarnation: n.incarnation,
            period: t.period,
            jitter: t.jitter,
            seed: n.rng.random(),
            monitors: (0..t.monitors.len() as u16).map(monitor_addr).collect(),
            failover: false,
            ack_timeout: None,
            schedule_poll: None,
            keyring: Keyring::open(),
            group: 0,
            unix_offset_us: 0,
        };
        n.beater = Some(Beater::new(cfg, Timestamp::from_micros(now)).expect("valid beater"));
        n.wake = Some(now);
        let inc = n.incarnation;
        let next_crash = self.plan.crash_every.map(|(mean, _)| {
            let mean = mean as f64 / 1e6;
            let x: f64 = Exp::new(1.0 / mean).map_or(mean, |e| e.sample(&mut n.rng));
            // At least 1 µs on: time moves on between a restart and the next crash.
            now + ((x * 1e6).round() as u64).max(1)
        });
        self.agenda.push(now, Ev::Wake(i));
        if let Some(at) = next_crash {
            self.agenda.push(at, Ev::RandomCrash(i, inc));
        }
    }

    fn crash(&mut self, i: u32, fault: Option<usize>, restart_after: u64) {
        let n = &mut self.nodes[i as usize];
        if n.crashed.is_some() || n.beater.is_none() {
            return;
        }
        n.beater = None;
        n.wake = None;
        n.crashed = Some(self.out.crashes.len());
        self.out.crashes.push(CrashRecord {
            node: i,
            at_us: self.now,
            restart_us: None,
            fault,
        });
        self.out.hash = mix(mix(self.out.hash, 0xC0 ^ self.now), u64::from(i));
        self.agenda.push(self.now + restart_after, Ev::Start(i));
    }

    fn wake(&mut self, i: u32, at: u64) {
        let zone = self.fleet.zones_of[i as usize];
        let monitors = self.monitors.len();
        let link = self.fleet.topology.zone_link(zone);
        let n = &mut self.nodes[i as usize];
        if n.wake != Some(at) {
            return;
        }
        n.wake = None;
        let Some(b) = n.beater.as_mut() else {
            return;
        };
        let before = b.beats_sent();
        b.handle_timeout(Timestamp::from_micros(at));
        let beats = b.beats_sent() - before;
        self.out.beats_sent += beats;
        // The NIC's draw: once per beat, before the paths'.
        let nic_lost = beats > 0
            && self
                .nic
                .as_ref()
                .is_some_and(|l| l.transmit(&mut n.nic, &mut n.rng, at).as_slice().is_empty());
        while let Some(tx) = b.poll_transmit(&mut self.buf) {
            let m = monitor_of(tx.to);
            if usize::from(m) >= monitors || tx.len > INLINE {
                self.out.violation.get_or_insert(Violation {
                    at_us: at,
                    what: format!("unexpected transmit of {} bytes to {}", tx.len, tx.to),
                });
                continue;
            }
            let path = i as usize * monitors + usize::from(m);
            let copies = link.transmit(&mut self.paths[path], &mut n.rng, at);
            let c = &mut self.monitors[usize::from(m)].counters;
            if self.plan.blocked(i, zone, m, at) {
                c.blocked += 1;
                continue;
            }
            if nic_lost || copies.as_slice().is_empty() {
                c.lost += 1;
                continue;
            }
            for &d in copies.as_slice() {
                self.out.max_delay_us = self.out.max_delay_us.max(d);
                let p = Packet {
                    node: i,
                    monitor: m,
                    len: tx.len as u8,
                    bytes: {
                        let mut bytes = [0; INLINE];
                        bytes[..tx.len].copy_from_slice(&self.buf[..tx.len]);
                        bytes
                    },
                };
                let slot = match self.free.pop() {
                    Some(s) => {
                        self.packets[s as usize] = p;
                        s
                    }
                    None => {
                        self.packets.push(p);
                        (self.packets.len() - 1) as u32
                    }
                };
                self.agenda.push(at + d, Ev::Deliver(slot));
            }
        }
        if let Some(next) = b.poll_timeout().map(|t| t.as_micros().max(at + 1)) {
            n.wake = Some(next);
            self.agenda.push(next, Ev::Wake(i));
        }
    }
}
