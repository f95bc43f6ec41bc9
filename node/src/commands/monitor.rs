//! `hbnode monitor`: validates its flags into [`MonitorSettings`] and runs the wired actors
//! ([`crate::runtime::wiring`]) until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use actix::prelude::*;
use anyhow::{Context as _, bail};
use hb_core::Keyring;
use hb_core::detector::DetectorConfig;
use hb_core::legacy::TextFormat;
use hb_core::probe::ProbeConfig;

use crate::cli::detector::DetectorFlags;
use crate::cli::monitor::MonitorArgs;
use crate::cli::values::{ListenKind, ListenUrl};
use crate::legacy::tcp::TcpSettings;
use crate::legacy::udp::UdpFormat;
use crate::process::host::hostname;
use crate::runtime::clock::Clock;
/// What `hbnode monitor` runs with (defined with the wiring that runs it).
pub(crate) use crate::runtime::wiring::MonitorSettings;
use crate::runtime::wiring::{LegacyListen, Listen, start};
use crate::sinks::alertmanager::AlertmanagerSettings;
use crate::sinks::hooks::HookSettings;

/// What a `--listen` URL starts; `text` caches the compiled `--msg-regex`.
fn classify(
    url: &ListenUrl,
    a: &MonitorArgs,
    text: &mut Option<Arc<TextFormat>>,
) -> anyhow::Result<Listen> {
    Ok(match url.kind {
        ListenKind::Udp => Listen::Native(url.addr),
        ListenKind::PyHb => Listen::Legacy(LegacyListen::Udp(url.addr, UdpFormat::PyHb)),
        ListenKind::Text => {
            let format = match text {
                Some(f) => Arc::clone(f),
                None => {
                    let f = Arc::new(TextFormat::new(&a.msg_regex).with_context(|| {
                        format!("--msg-regex `{}` is not a valid regex", a.msg_regex)
                    })?);
                    *text = Some(Arc::clone(&f));
                    f
                }
            };
            Listen::Legacy(LegacyListen::Udp(url.addr, UdpFormat::Text(format)))
        }
        ListenKind::JsonTcp => Listen::Legacy(LegacyListen::Tcp(
            url.addr,
            TcpSettings {
                greeting: a.greeting.clone(),
                max_connections: a.max_connections as usize,
                idle_timeout: a.tcp_idle_timeout,
            },
        )),
    })
}

/// Refuses, under `--require-auth`, a listener whose protocol has no MAC unless it was opted
/// out explicitly (`--listener 'URL unauthenticated=yes'`): such a listener would otherwise
/// accept unsigned beats silently.
fn check_auth(url: &ListenUrl, require_auth: bool, opted_out: bool) -> anyhow::Result<()> {
    if require_auth && !url.kind.has_mac() && !opted_out {
        bail!(
            "--require-auth: the {url} listener's protocol carries no MAC, so anyone who can \
             reach it could report nodes alive; remove it, or opt this one listener out \
             explicitly with --listener '{url} unauthenticated=yes'"
        );
    }
    Ok(())
}

impl MonitorSettings {
    /// Validates the arguments.
    pub(crate) fn from_args(a: MonitorArgs) -> anyhow::Result<Self> {
        let detector = DetectorFlags::from_args(&a.detector)?;
        for url in &a.listen {
            check_auth(url, a.require_auth, false)?;
        }
        for spec in &a.listener {
            check_auth(&spec.url, a.require_auth, spec.unauthenticated)?;
        }
        let mut listen = Vec::new();
        let mut legacy = Vec::new();
        let mut text: Option<Arc<TextFormat>> = None;
        for url in &a.listen {
            match classify(url, &a, &mut text)? {
                Listen::Native(addr) => listen.push(addr),
                Listen::Legacy(l) => legacy.push(l),
            }
        }
        let base = DetectorFlags::from(&a.detector);
        let mut extra: Vec<(DetectorConfig, Vec<Listen>)> = Vec::new();
        for spec in &a.listener {
            let d = spec
                .detector
                .or(base)
                .build()
                .with_context(|| format!("--listener {}", spec.url.addr))?;
            let l = classify(&spec.url, &a, &mut text)?;
            match extra.iter_mut().find(|(c, _)| *c == d) {
                Some((_, ls)) => ls.push(l),
                None => extra.push((d, vec![l])),
            }
        }
        let hooks = HookSettings {
            hooks: a.on,
            timeout: a.hook_timeout,
            concurrency: a.hook_concurrency as usize,
        };
        if a.alertmanager_resend.is_zero() {
            bail!("--alertmanager-resend must be more than 0s");
        }
        let keyring = match &a.key_file {
            Some(path) => crate::commands::keys::load(path, a.require_auth)?,
            None if a.require_auth => {
                bail!("--require-auth needs --key-file: without keys every beat would be refused")
            }
            None => Keyring::open(),
        };
        let max_nodes = usize::try_from(a.max_nodes).unwrap_or(usize::MAX);
        let mut schedules = a.schedule;
        for rule in &mut schedules {
            if let Some(to) = &rule.redirect {
                use std::net::ToSocketAddrs as _;
                let addr = to
                    .to_socket_addrs()
                    .with_context(|| {
                        format!("--schedule {}: redirect {to} is not HOST:PORT", rule.nodes)
                    })?
                    .next()
                    .with_context(|| {
                        format!(
                            "--schedule {}: redirect {to} resolves to no address",
                            rule.nodes
                        )
                    })?;
                rule.redirect = Some(addr.to_string());
            }
        }
        let id = a.id.unwrap_or_else(hostname);
        let alertmanager = AlertmanagerSettings {
            urls: a.alertmanager,
            resend: a.alertmanager_resend,
            labels: a.alertmanager_label,
            monitor: id.clone(),
        };
        let probes = ProbeConfig {
            rules: a.threshold,
            hysteresis: a.probe_hysteresis,
        };
        let db = crate::store::resolve(a.db.as_ref())?;
        let quorum = a.witness.config(&listen)?;
        Ok(Self {
            quorum,
            schedules,
            db,
            retention: a.retention,
            keyring,
            max_nodes,
            probes,
            extra,
            legacy,
            hooks,
            alertmanager,
            webhooks: a.webhook,
            listen,
            http: a.http.0,
            events: Some(a.events),
            forget_after: a.forget_after,
            isolation: a.isolation.config()?,
            zones: a.isolation.zones_checked()?,
            recv_buffer: a.recv_buffer,
            record: a.record,
            ..Self::new(id, detector)
        })
    }
}

/// Runs `hbnode monitor` until SIGINT or SIGTERM.
pub(crate) fn run(s: MonitorSettings) -> anyhow::Result<ExitCode> {
    System::new().block_on(async move {
        let clock = Clock::new();
        if s.keyring.is_empty() {
            tracing::warn!(
                "beats are unauthenticated: anyone who can reach the listeners can report a node \
                 alive; give a --key-file (see `hbnode keygen`) and --require-auth"
            );
            if s.quorum.is_some() {
                tracing::warn!(
                    "witness verdicts are unsigned: anyone who can reach the listen port can \
                     forge a witness's suspicions (from its address) and hold or down nodes; \
                     give every monitor the same --key-file"
                );
            }
        }
        if let Some(q) = &s.quorum {
            tracing::info!(
                witnesses = ?q.witnesses,
                needed = q.needed,
                period = %humantime::format_duration(q.period),
                "witness mode: a node is down only when {} of {} monitors suspect it",
                q.needed,
                q.witnesses.len() + 1
            );
        }
        let running = start(&s, clock, None)?;
        let sig = crate::process::notify::serve_until_signal(running.health_probes()).await?;
        tracing::info!(signal = sig, "shutting down");
        running.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
