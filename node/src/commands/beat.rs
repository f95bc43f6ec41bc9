//! `hbnode beat`: beat to monitors until SIGINT/SIGTERM, then say goodbye.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::process::ExitCode;
use std::time::Duration;

use actix::prelude::*;
use anyhow::{Context as _, bail};
use hb_core::{Beater, BeaterConfig, Keyring, NodeId};

use crate::cli::beat::BeatArgs;
use crate::net::transport::bind_udp;
use crate::process::host::{hostname, random_u64};
use crate::process::signals::shutdown_signal;
use crate::runtime::beater::{BeaterActor, Leave};
use crate::runtime::clock::Clock;
use crate::sensors::Sensors;
use crate::sensors::spec::SensorSpec;
use crate::sinks::beat_hooks::BeatHooks;

/// What `hbnode beat` runs with.
#[derive(Clone, Debug)]
pub(crate) struct BeatSettings {
    /// Monitors, resolved.
    pub(crate) monitors: Vec<SocketAddr>,
    /// Beat period.
    pub(crate) period: Duration,
    /// Node id.
    pub(crate) id: NodeId,
    /// Jitter as a fraction (0–0.5).
    pub(crate) jitter: f64,
    /// Ack timeout, if acks are wanted.
    pub(crate) ack_timeout: Option<Duration>,
    /// Keys: beats are signed with the first, acks accepted under any.
    pub(crate) keyring: Keyring,
    /// Beat to the first healthy monitor only.
    pub(crate) failover: bool,
    /// `--on` hooks.
    pub(crate) hooks: Vec<crate::cli::values::HookSpec>,
    /// Hook timeout.
    pub(crate) hook_timeout: Duration,
    /// Where monitor_lost / monitor_back events are printed, if anywhere.
    pub(crate) events: Option<crate::cli::values::EventFormat>,
    /// `--sensor`s.
    pub(crate) sensors: Vec<SensorSpec>,
    /// `--sensor-timeout`.
    pub(crate) sensor_timeout: Duration,
    /// `--trust-unsigned-acks`: follow unsigned acks' schedules and redirects.
    pub(crate) trust_unsigned_acks: bool,
}

impl BeatSettings {
    /// Node `id` beating every `period` to `monitors`, and nothing else: no jitter, no acks
    /// wanted, no keys, no hooks, no event output, no sensors.
    pub(crate) fn new(id: NodeId, monitors: Vec<SocketAddr>, period: Duration) -> Self {
        Self {
            monitors,
            period,
            id,
            jitter: 0.0,
            ack_timeout: None,
            keyring: Keyring::open(),
            failover: false,
            hooks: Vec::new(),
            hook_timeout: Duration::ZERO,
            events: None,
            sensors: Vec::new(),
            sensor_timeout: Duration::ZERO,
            trust_unsigned_acks: false,
        }
    }

    /// Validates the arguments and resolves monitor names.
    pub(crate) fn from_args(a: BeatArgs) -> anyhow::Result<Self> {
        let mut monitors = Vec::new();
        for to in &a.to {
            let addr = to
                .to_socket_addrs()
                .with_context(|| format!("--to {to}: expected HOST:PORT of a monitor"))?
                .next()
                .with_context(|| format!("--to {to}: the name resolves to no address"))?;
            monitors.push(addr);
        }
        if monitors.iter().any(SocketAddr::is_ipv4) && monitors.iter().any(SocketAddr::is_ipv6) {
            bail!("--to: monitors must all be IPv4 or all IPv6, not a mix");
        }
        if a.period.is_zero() {
            bail!("--period must be greater than zero");
        }
        let id = a.id.unwrap_or_else(hostname);
        let id = NodeId::new(&id).with_context(|| format!("--id `{id}` is not a valid node id"))?;
        if a.ack_timeout.is_some_and(|t| t.is_zero()) {
            bail!("--ack-timeout must be greater than zero");
        }
        if a.failover && a.ack_timeout.is_none() {
            bail!(
                "--failover needs --ack-timeout: a monitor is only known lost by its missing acks"
            );
        }
        if !a.on.is_empty() && a.ack_timeout.is_none() {
            bail!("--on needs --ack-timeout: monitor_lost is decided by missing acks");
        }
        if a.events.is_some() && a.ack_timeout.is_none() {
            bail!("--events needs --ack-timeout: monitor_lost is decided by missing acks");
        }
        let keyring = match &a.key_file {
            Some(path) => crate::commands::keys::load(path, true)?,
            None => Keyring::open(),
        };
        for (i, s) in a.sensor.iter().enumerate() {
            if a.sensor[..i].iter().any(|o| o.name == s.name) {
                bail!("--sensor: two sensors are named `{}`", s.name);
            }
        }
        if a.sensor_timeout.is_zero() {
            bail!("--sensor-timeout must be greater than zero");
        }
        Ok(Self {
            sensors: a.sensor,
            sensor_timeout: a.sensor_timeout,
            keyring,
            failover: a.failover,
            hooks: a.on,
            hook_timeout: a.hook_timeout,
            events: a.events,
            monitors,
            period: a.period,
            id,
            jitter: a.jitter,
            ack_timeout: a.ack_timeout,
            trust_unsigned_acks: a.trust_unsigned_acks,
        })
    }

    /// The core configuration for a run whose clock is `clock`. The incarnation is the start
    /// time in µs since the Unix epoch.
    pub(crate) fn beater_config(&self, clock: &Clock) -> BeaterConfig {
        BeaterConfig {
            id: self.id.clone(),
            incarnation: clock.unix_offset_us(),
            period: self.period,
            jitter: self.jitter,
            seed: random_u64(),
            monitors: self.monitors.clone(),
            failover: self.failover,
            ack_timeout: self.ack_timeout,
            schedule_poll: Some(hb_core::SCHEDULE_POLL),
            keyring: self.keyring.clone(),
            group: 0,
            unix_offset_us: clock.unix_offset_us(),
        }
    }
}

/// The unspecified address of the monitors' family, port 0.
pub(crate) fn local_any(monitors: &[SocketAddr]) -> SocketAddr {
    if monitors.first().is_some_and(SocketAddr::is_ipv6) {
        SocketAddr::from(([0u16; 8], 0))
    } else {
        SocketAddr::from(([0u8; 4], 0))
    }
}

/// Runs `hbnode beat` until SIGINT or SIGTERM.
pub(crate) fn run(s: BeatSettings) -> anyhow::Result<ExitCode> {
    System::new().block_on(async move {
        let clock = Clock::new();
        let cfg = s.beater_config(&clock);
        let incarnation = cfg.incarnation;
        let mut beater = Beater::new(cfg, clock.now()).context("invalid beat settings")?;
        beater.trust_unsigned_acks(s.trust_unsigned_acks);
        if s.keyring.is_empty() {
            tracing::warn!(
                "beats and acks are unauthenticated: anyone who can reach the monitor can report \
                 this node alive, and anyone who can spoof the monitor's address can fake its \
                 acks; give a --key-file (see `hbnode keygen`)"
            );
        }
        if s.trust_unsigned_acks {
            tracing::warn!(
                "--trust-unsigned-acks: schedules and redirects of unsigned acks are followed; \
                 anyone who can spoof a monitor's address can reschedule or move this node"
            );
        }
        let socket = bind_udp(local_any(&s.monitors), 0)?.socket;
        let hooks = BeatHooks::start(s.id.as_str(), &s.hooks, s.hook_timeout, s.events)?;
        let (local, timeout) = (s.sensors.clone(), s.sensor_timeout);
        let actor = BeaterActor::create(move |ctx| {
            let sensors = Sensors::new(local, timeout, ctx.address().recipient()).start();
            BeaterActor::new(beater, socket, clock)
                .with_hooks(hooks)
                .with_sensors(sensors.recipient())
        });
        tracing::info!(id = %s.id, incarnation, period = %humantime::format_duration(s.period),
            monitors = ?s.monitors, sensors = ?s.sensors.iter().map(|x| &x.name).collect::<Vec<_>>(),
            "beating");
        let sig = shutdown_signal().await?;
        tracing::info!(signal = sig, "leaving");
        actor
            .send(Leave)
            .await
            .context("the beater stopped unexpectedly")?;
        Ok(ExitCode::SUCCESS)
    })
}
