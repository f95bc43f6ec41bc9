//! `hbnode monitor`: Receivers → Detector → Reporter, plus the HTTP API.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::ServerHandle;
use anyhow::{Context as _, bail};
use hb_core::detector::{Chen, DetectorConfig, Fixed, Phi};
use hb_core::probe::ProbeConfig;
use hb_core::{Keyring, Monitor, MonitorConfig, PeerIdentity};

use crate::process::host::{hostname, random_u64};

use crate::cli::listener::DetectorFlags;
use crate::cli::monitor::{DetectorArgs, MonitorArgs};
use crate::cli::values::{DetectorKind, EventFormat};
use crate::cli::values::{ListenKind, ListenUrl};
use crate::http::server::{self, HttpState};
use crate::legacy;
use crate::legacy::tcp::TcpSettings;
use crate::legacy::udp::UdpFormat;
use crate::net::transport::{Transport as _, Udp, bind_udp};
use crate::runtime::clock::Clock;
use crate::runtime::detector::Detector;
use crate::runtime::receiver::{Receiver, StopReceiver};
use crate::runtime::recorder::TraceRecorder;
use crate::runtime::reporter::{Flush, Published, Reporter};
use crate::runtime::stats::Stats;
use crate::sinks::alertmanager::{self, AlertmanagerSettings};
use crate::sinks::hooks::{self, HookSettings};
use crate::sinks::webhook;
use crate::sinks::{Sink, SinkKind};
use crate::store::writer::StoreWriter;
use hb_core::legacy::TextFormat;
use std::sync::atomic::AtomicU64;

/// What `hbnode monitor` runs with.
#[derive(Clone, Debug)]
pub(crate) struct MonitorSettings {
    /// UDP listen addresses.
    pub(crate) listen: Vec<SocketAddr>,
    /// The detector.
    pub(crate) detector: DetectorConfig,
    /// HTTP API address, if any.
    pub(crate) http: Option<SocketAddr>,
    /// Event format on stdout, if events go to stdout.
    pub(crate) events: Option<EventFormat>,
    /// Forget nodes down or gone this long.
    pub(crate) forget_after: Option<Duration>,
    /// Receive buffer to ask for.
    pub(crate) recv_buffer: usize,
    /// Monitor id sent in acks.
    pub(crate) id: String,
    /// Where to record arrivals, if anywhere.
    pub(crate) record: Option<std::path::PathBuf>,
    /// Legacy listeners (`pyhb+udp`, `text+udp`, `json+tcp`).
    pub(crate) legacy: Vec<LegacyListen>,
    /// Exec hooks (`--on`).
    pub(crate) hooks: HookSettings,
    /// The Alertmanager action (off when it has no URL).
    pub(crate) alertmanager: AlertmanagerSettings,
    /// Webhook URLs.
    pub(crate) webhooks: Vec<String>,
    /// `--listener`s, grouped by their detector configuration.
    pub(crate) extra: Vec<(DetectorConfig, Vec<Listen>)>,
    /// Keys accepted on beats (the first signs acks), and whether unsigned beats are refused.
    pub(crate) keyring: Keyring,
    /// Most nodes held; further new ids are refused and counted.
    pub(crate) max_nodes: usize,
    /// Thresholds and hysteresis for sensor readings.
    pub(crate) probes: ProbeConfig,
    /// Peer group hash (0 outside peer mode): beats of other groups are refused.
    pub(crate) group: u32,
    /// Peer mode: who this process is in its group (its own beats are ignored, identify
    /// requests answered).
    pub(crate) peer: Option<PeerIdentity>,
    /// Central schedules, redirects resolved to IP:PORT.
    pub(crate) schedules: Vec<hb_core::schedule::ScheduleRule>,
    /// The store (`--db`), if any.
    pub(crate) db: Option<std::path::PathBuf>,
    /// How long the store keeps events and readings.
    pub(crate) retention: Duration,
}

/// A listener of either kind.
#[derive(Clone, Debug)]
pub(crate) enum Listen {
    /// `udp://`: hbnode beats.
    Native(SocketAddr),
    /// A legacy protocol.
    Legacy(LegacyListen),
}

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
            },
        )),
    })
}

/// One legacy listener to start.
#[derive(Clone, Debug)]
pub(crate) enum LegacyListen {
    /// A datagram listener.
    Udp(SocketAddr, UdpFormat),
    /// A TCP/JSON listener.
    Tcp(SocketAddr, TcpSettings),
}

/// The detector `--detector` and its settings describe; settings of another kind are an error.
pub(crate) fn detector_config(a: &DetectorArgs) -> anyhow::Result<DetectorConfig> {
    let only = |set: bool, flag: &str, kind: &str| -> anyhow::Result<()> {
        if set {
            bail!("{flag} applies to --detector {kind} only");
        }
        Ok(())
    };
    let detector = match a.kind {
        DetectorKind::Fixed => {
            only(a.phi_threshold.is_some(), "--phi-threshold", "phi")?;
            only(a.acceptable_pause.is_some(), "--acceptable-pause", "phi")?;
            only(a.chen_margin.is_some(), "--chen-margin", "chen")?;
            DetectorConfig::Fixed(Fixed {
                timeout: a.timeout.unwrap_or(Duration::from_secs(5)),
            })
        }
        DetectorKind::Phi => {
            only(a.timeout.is_some(), "--timeout", "fixed")?;
            only(a.chen_margin.is_some(), "--chen-margin", "chen")?;
            DetectorConfig::Phi(Phi::new(
                a.phi_threshold.unwrap_or(8.0),
                a.acceptable_pause.unwrap_or(Duration::ZERO),
                Duration::from_millis(100),
            ))
        }
        DetectorKind::Chen => {
            only(a.timeout.is_some(), "--timeout", "fixed")?;
            only(a.phi_threshold.is_some(), "--phi-threshold", "phi")?;
            only(a.acceptable_pause.is_some(), "--acceptable-pause", "phi")?;
            DetectorConfig::Chen(Chen {
                margin: a.chen_margin.unwrap_or(Duration::from_millis(500)),
                ..Chen::default()
            })
        }
    };
    detector.validate().context("invalid detector settings")?;
    Ok(detector)
}

impl MonitorSettings {
    /// Validates the arguments.
    pub(crate) fn from_args(a: MonitorArgs) -> anyhow::Result<Self> {
        let detector = detector_config(&a.detector)?;
        let mut listen = Vec::new();
        let mut legacy = Vec::new();
        let mut text: Option<Arc<TextFormat>> = None;
        for url in &a.listen {
            match classify(url, &a, &mut text)? {
                Listen::Native(addr) => listen.push(addr),
                Listen::Legacy(l) => legacy.push(l),
            }
        }
        let base = DetectorFlags {
            kind: Some(a.detector.kind),
            timeout: a.detector.timeout,
            phi_threshold: a.detector.phi_threshold,
            acceptable_pause: a.detector.acceptable_pause,
            chen_margin: a.detector.chen_margin,
        };
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
        Ok(Self {
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
            detector,
            http: a.http.0,
            events: Some(a.events),
            forget_after: a.forget_after,
            recv_buffer: a.recv_buffer,
            record: a.record,
            id,
            group: 0,
            peer: None,
        })
    }
}

/// A started monitor.
#[derive(Debug)]
pub(crate) struct RunningMonitor {
    /// The Reporter.
    pub(crate) reporter: Addr<Reporter>,
    /// Bound UDP addresses, in `--listen` order.
    pub(crate) listening: Vec<SocketAddr>,
    /// The HTTP server and its bound address.
    pub(crate) http: Option<(ServerHandle, SocketAddr)>,
    receivers: Vec<Addr<Receiver<Udp>>>,
    legacy_tasks: Vec<actix_rt::task::JoinHandle<()>>,
    /// The Detector (systemd's watchdog probes it).
    pub(crate) detector: Addr<Detector>,
    store: Option<StoreWriter>,
}

/// Binds every socket and starts the actors on the current actix System.
pub(crate) fn start(
    s: &MonitorSettings,
    clock: Clock,
    collector: Option<Recipient<Published>>,
) -> anyhow::Result<RunningMonitor> {
    start_with(s, clock, collector, Vec::new())
}

/// As [`start`], with Receivers also on `bound`, sockets the caller set up (peer mode's
/// multicast socket).
pub(crate) fn start_with(
    s: &MonitorSettings,
    clock: Clock,
    collector: Option<Recipient<Published>>,
    bound: Vec<Udp>,
) -> anyhow::Result<RunningMonitor> {
    let core_config = |detector| MonitorConfig {
        id: s.id.clone(),
        detector,
        forget_after: s.forget_after,
        hash_seed: random_u64(),
        keyring: s.keyring.clone(),
        max_nodes: s.max_nodes,
        probes: s.probes.clone(),
        group: s.group,
        peer: s.peer.clone(),
        schedules: s.schedules.clone(),
        ..MonitorConfig::default()
    };
    let mut monitor =
        Monitor::new(core_config(s.detector), clock.now()).context("invalid monitor settings")?;
    let stats = Arc::new(Stats::default());
    // The store first: a file that is not ours stops the start before any socket is bound.
    let (store, mut stored) = match &s.db {
        Some(path) => {
            let mut opened = crate::store::open(path)?;
            let nodes = std::mem::take(&mut opened.nodes);
            tracing::info!(db = %path.display(), nodes = nodes.len(), "store opened");
            let writer = StoreWriter::start(opened, s.retention, Arc::clone(&stats))
                .context("cannot start the store's writer thread")?;
            (Some(writer), nodes)
        }
        None => (None, Vec::new()),
    };
    // Stored nodes go back to the Detector that held them (its `--listener` group, by
    // position); groups that no longer exist hand theirs to the main Detector.
    for n in &mut stored {
        if n.detector as usize > s.extra.len() {
            n.detector = 0;
        }
    }
    let restore = |m: &mut Monitor, index: u32, stored: &[crate::store::NodeRow]| {
        let nodes = stored
            .iter()
            .filter(|n| n.detector == index)
            .filter_map(crate::store::NodeRow::restored);
        let r = m.restore(nodes, clock.now());
        if r.restored + r.skipped > 0 {
            tracing::info!(
                restored = r.restored,
                skipped = r.skipped,
                alive = m.count(hb_core::NodeState::Alive),
                "registry restored from the store: alive nodes silent for one detector bound \
                 from now will be reported down"
            );
        }
    };
    restore(&mut monitor, 0, &stored);
    let store_tx = store.as_ref().map(StoreWriter::sender);
    let mut sinks = vec![Sink::start(SinkKind::Log).context("cannot start the log sink")?];
    if let Some(format) = s.events {
        sinks.push(Sink::start(SinkKind::Stdout(format)).context("cannot start the stdout sink")?);
    }
    if !s.hooks.hooks.is_empty() {
        sinks.push(hooks::start(&s.hooks, &stats).context("cannot start the hook runner")?);
    }
    if !s.alertmanager.urls.is_empty() {
        sinks.push(
            alertmanager::start(&s.alertmanager, &stats)
                .context("cannot start the Alertmanager action")?,
        );
    }
    if !s.webhooks.is_empty() {
        sinks.push(webhook::start(&s.webhooks, &stats).context("cannot start the webhook action")?);
    }
    let reporter = Reporter::new(sinks, collector, Arc::clone(&stats)).start();
    let recorder = s.record.as_deref().map(TraceRecorder::start).transpose()?;
    // `--listener`s with their own detector settings: one Detector each (listener::spec).
    let event_ids = (!s.extra.is_empty()).then(|| Arc::new(AtomicU64::new(0)));
    let mut extra_detectors = Vec::new();
    for (i, (d, listens)) in s.extra.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut m = Monitor::new(core_config(*d), clock.now())
            .context("invalid listener detector settings")?;
        restore(&mut m, index, &stored);
        let addr = Detector::new(m, clock, reporter.clone().recipient(), Arc::clone(&stats))
            .with_event_ids(event_ids.clone())
            .with_store(store_tx.clone(), index)
            .start();
        extra_detectors.push((addr, listens.clone()));
    }
    let detector = Detector::new(
        monitor,
        clock,
        reporter.clone().recipient(),
        Arc::clone(&stats),
    )
    .with_recorder(recorder)
    .with_store(store_tx, 0)
    .with_event_ids(event_ids)
    .with_siblings(extra_detectors.iter().map(|(d, _)| d.clone()).collect())
    .start();
    let mut receivers = Vec::new();
    let mut listening = Vec::new();
    for &addr in &s.listen {
        let bound = bind_udp(addr, s.recv_buffer)?;
        let local = bound.socket.local_addr()?;
        report_buffer(local, s.recv_buffer, bound.recv_buffer);
        listening.push(local);
        let receiver = Receiver::new(bound.socket, detector.clone(), clock, Arc::clone(&stats));
        receivers.push(receiver.start());
        tracing::info!(addr = %local, "listening for beats");
    }
    for socket in bound {
        listening.push(socket.local_addr()?);
        receivers.push(Receiver::new(socket, detector.clone(), clock, Arc::clone(&stats)).start());
    }
    let mut legacy_tasks = Vec::new();
    for l in &s.legacy {
        legacy_tasks.push(start_legacy(l, s.recv_buffer, &detector, clock, &stats)?);
    }
    for (d, listens) in &extra_detectors {
        for l in listens {
            match l {
                Listen::Native(addr) => {
                    receivers.push(start_native(*addr, s.recv_buffer, d, clock, &stats)?);
                }
                Listen::Legacy(l) => {
                    legacy_tasks.push(start_legacy(l, s.recv_buffer, d, clock, &stats)?);
                }
            }
        }
    }
    let http = match s.http {
        Some(addr) => {
            let state = HttpState {
                detector: detector.clone(),
                stats,
                db: s.db.clone(),
            };
            let (handle, bound) = server::start(addr, state)?;
            tracing::info!(addr = %bound, "HTTP API listening");
            Some((handle, bound))
        }
        None => None,
    };
    Ok(RunningMonitor {
        reporter,
        listening,
        http,
        receivers,
        legacy_tasks,
        detector,
        store,
    })
}

/// Logs the receive buffer the kernel granted, warning when it is less than asked.
fn report_buffer(addr: SocketAddr, asked: usize, reported: usize) {
    if asked == 0 {
        return;
    }
    // Linux reports twice the usable size (it counts its bookkeeping).
    let usable = if cfg!(target_os = "linux") {
        reported / 2
    } else {
        reported
    };
    if usable < asked {
        tracing::warn!(
            %addr, asked, granted = usable,
            "the kernel granted a smaller UDP receive buffer than asked; raise net.core.rmem_max \
             (sysctl) or bursts of beats may be dropped"
        );
    } else {
        tracing::info!(%addr, granted = usable, "UDP receive buffer");
    }
}

impl RunningMonitor {
    /// Stops receiving and serving, then writes out every queued event.
    pub(crate) async fn shutdown(self) {
        if let Some((handle, _)) = &self.http {
            handle.stop(true).await;
        }
        for r in &self.receivers {
            r.do_send(StopReceiver);
        }
        for t in &self.legacy_tasks {
            t.abort();
        }
        let _ = self.reporter.send(Flush).await;
        if let Some(store) = self.store {
            // Blocking for at most a few seconds, at shutdown only.
            let _ = actix_web::rt::task::spawn_blocking(move || drop(store)).await;
        }
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
        }
        let running = start(&s, clock, None)?;
        let sig = crate::process::notify::serve_until_signal(running.detector.clone().recipient())
            .await?;
        tracing::info!(signal = sig, "shutting down");
        running.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Binds a `udp://` listener and starts its Receiver.
fn start_native(
    addr: SocketAddr,
    recv_buffer: usize,
    detector: &Addr<Detector>,
    clock: Clock,
    stats: &Arc<Stats>,
) -> anyhow::Result<Addr<Receiver<Udp>>> {
    let bound = bind_udp(addr, recv_buffer)?;
    let local = bound.socket.local_addr()?;
    report_buffer(local, recv_buffer, bound.recv_buffer);
    tracing::info!(addr = %local, "listening for beats");
    Ok(Receiver::new(bound.socket, detector.clone(), clock, Arc::clone(stats)).start())
}

/// Binds a legacy listener and spawns its task.
fn start_legacy(
    l: &LegacyListen,
    recv_buffer: usize,
    detector: &Addr<Detector>,
    clock: Clock,
    stats: &Arc<Stats>,
) -> anyhow::Result<actix_rt::task::JoinHandle<()>> {
    let (local, task) = match l {
        LegacyListen::Udp(addr, format) => {
            let bound = bind_udp(*addr, recv_buffer)?;
            let local = bound.socket.local_addr()?;
            report_buffer(local, recv_buffer, bound.recv_buffer);
            let fut = legacy::udp::run(
                bound.socket,
                format.clone(),
                detector.clone(),
                clock,
                Arc::clone(stats),
            );
            (local, actix_rt::spawn(fut))
        }
        LegacyListen::Tcp(addr, settings) => {
            let tcp = std::net::TcpListener::bind(addr)
                .with_context(|| format!("cannot bind TCP {addr}"))?;
            tcp.set_nonblocking(true)?;
            let tcp = tokio::net::TcpListener::from_std(tcp)
                .context("cannot register the TCP listener")?;
            let local = tcp.local_addr()?;
            let fut = legacy::tcp::run(
                tcp,
                settings.clone(),
                detector.clone(),
                clock,
                Arc::clone(stats),
            );
            (local, actix_rt::spawn(fut))
        }
    };
    tracing::info!(addr = %local, "listening for legacy beats");
    Ok(task)
}
