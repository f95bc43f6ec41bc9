//! The monitor's actors, wired: binds every listener, opens the store, starts the sinks, the
//! Reporter, one Detector per detector configuration and one Receiver per UDP listener, and
//! the HTTP API; shuts them down in order. `hbnode monitor`, `peer` and `demo` run it.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::ServerHandle;
use anyhow::Context as _;
use hb_core::detector::DetectorConfig;
use hb_core::probe::ProbeConfig;
use hb_core::{Keyring, Monitor, MonitorConfig, PeerIdentity};

use crate::cli::values::EventFormat;
use crate::http::server::{self, HttpState};
use crate::legacy::tcp::TcpSettings;
use crate::legacy::udp::UdpFormat;
use crate::net::transport::{SendTo, Transport as _, Udp};
use crate::process::host::random_u64;
use crate::runtime::clock::Clock;
use crate::runtime::detector::{DetectorActor, FinalSnapshot, GetHealth};
use crate::runtime::listeners::{
    announce, bind_listener, receive, start_tcp, start_udp, watch_drops,
};
use crate::runtime::receiver::{Receiver, Speaks, StopReceiver};
use crate::runtime::recorder::{QUEUE, TraceRecorder};
use crate::runtime::reporter::{Flush, Published, Reporter};
use crate::runtime::stats::Stats;
use crate::sinks::alertmanager::{self, AlertmanagerSettings};
use crate::sinks::hooks::{self, HookSettings};
use crate::sinks::stream::{self, Stream};
use crate::sinks::webhook;
use crate::store::feed::StoreFeed;
use crate::store::writer::StoreWriter;

/// The final registry snapshot's share of [`SHUTDOWN_BUDGET`]: each Detector answers
/// [`FinalSnapshot`] after the batches already in its mailbox.
pub(crate) const SHUTDOWN_SNAPSHOT: Duration = Duration::from_secs(1);

/// The longest shutdown: HTTP, then the final snapshot, then the sinks (all at once) and the
/// store. The sinks and the store close concurrently, so this sum is an upper bound.
pub(crate) const SHUTDOWN_BUDGET: Duration = server::SHUTDOWN_WAIT
    .saturating_add(SHUTDOWN_SNAPSHOT)
    .saturating_add(crate::sinks::CLOSE_WAIT)
    .saturating_add(crate::store::writer::CLOSE_WAIT);

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
    /// The isolation guard (`None`: off).
    pub(crate) isolation: Option<hb_core::Isolation>,
    /// Zone rules (`--zone`).
    pub(crate) zones: Vec<hb_core::ZoneRule>,
    /// Witness mode (`--witness`; `None`: off). Applies to the main Detector, whose first
    /// `udp://` listener sends and receives the verdicts.
    pub(crate) quorum: Option<hb_core::Quorum>,
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

impl MonitorSettings {
    /// A monitor called `id` judging with `detector`, and nothing else: no listeners, no HTTP,
    /// no event output, no actions, no keys, no store; 2^20 nodes at most; events and
    /// readings would be kept 7 days.
    pub(crate) fn new(id: String, detector: DetectorConfig) -> Self {
        Self {
            listen: Vec::new(),
            detector,
            http: None,
            events: None,
            forget_after: None,
            isolation: Some(hb_core::Isolation::default()),
            zones: Vec::new(),
            quorum: None,
            recv_buffer: 0,
            id,
            record: None,
            legacy: Vec::new(),
            hooks: HookSettings::default(),
            alertmanager: AlertmanagerSettings::default(),
            webhooks: Vec::new(),
            extra: Vec::new(),
            keyring: Keyring::open(),
            max_nodes: 1 << 20,
            probes: ProbeConfig::default(),
            group: 0,
            peer: None,
            schedules: Vec::new(),
            db: None,
            retention: Duration::from_secs(7 * 86_400),
        }
    }
}

/// A listener of either kind.
#[derive(Clone, Debug)]
pub(crate) enum Listen {
    /// `udp://`: hbnode beats.
    Native(SocketAddr),
    /// A legacy protocol.
    Legacy(LegacyListen),
}

/// One legacy listener to start.
#[derive(Clone, Debug)]
pub(crate) enum LegacyListen {
    /// A datagram listener.
    Udp(SocketAddr, UdpFormat),
    /// A TCP/JSON listener.
    Tcp(SocketAddr, TcpSettings),
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
    /// Every Detector, the main one first (systemd's watchdog probes them).
    pub(crate) detectors: Vec<Addr<DetectorActor>>,
    /// The monitor's clock: the one given, reaching back as far as the store's rows need, so
    /// its events' times are this clock's, not necessarily the caller's.
    pub(crate) clock: Clock,
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
        isolation: s.isolation,
        zones: s.zones.clone(),
        hash_seed: random_u64(),
        keyring: s.keyring.clone(),
        max_nodes: s.max_nodes,
        probes: s.probes.clone(),
        group: s.group,
        peer: s.peer.clone(),
        schedules: s.schedules.clone(),
        ..MonitorConfig::default()
    };
    // The main Detector records arrivals (`--record`): the core queues them for it; it alone
    // runs witness mode (the witnesses' verdicts arrive at its first listener).
    let main_config = MonitorConfig {
        max_pending_arrivals: if s.record.is_some() { QUEUE } else { 0 },
        quorum: s.quorum.clone(),
        ..core_config(s.detector)
    };
    let stats = Arc::new(Stats::default());
    // The store first: a file that is not ours stops the start before any socket is bound.
    let (store, mut stored, probes) = match &s.db {
        Some(path) => {
            let mut opened = crate::store::open(path)?;
            let nodes = std::mem::take(&mut opened.nodes);
            let probes = std::mem::take(&mut opened.probes);
            tracing::info!(db = %path.display(), nodes = nodes.len(), "store opened");
            let writer = StoreWriter::start(opened, s.retention, Arc::clone(&stats))
                .context("cannot start the store's writer thread")?;
            (Some(writer), nodes, probes)
        }
        None => (None, Vec::new(), Vec::new()),
    };
    // Stored times (a node down since yesterday) need a place on this run's clock.
    let clock = clock.reaching_back(crate::store::reach_back(
        &stored,
        &probes,
        crate::store::unix_ms(clock.wall(clock.now())),
    ));
    let mut monitor = Monitor::new(main_config, clock.now()).context("invalid monitor settings")?;
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
            .filter_map(|n| n.restored(&clock));
        let r = m.restore(nodes, clock.now());
        // The budget detector's link estimates, once their nodes are back.
        let links = stored
            .iter()
            .filter(|n| n.detector == index)
            .filter_map(|n| Some((n.id.as_str(), *n.link.as_deref()?)))
            .filter(|(id, est)| m.restore_link_estimate(id, *est))
            .count();
        if links > 0 {
            tracing::info!(links, "link estimates restored from the store");
        }
        // Each probe goes to the Detector holding its node; the others skip it.
        m.restore_probes(
            probes.iter().filter_map(|p| p.restored(&clock)),
            clock.now(),
        );
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
    let mut extra_monitors = Vec::new();
    for (i, (d, _)) in s.extra.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut m = Monitor::new(core_config(*d), clock.now())
            .context("invalid listener detector settings")?;
        restore(&mut m, index, &stored);
        extra_monitors.push(m);
    }
    // What was firing when the previous run stopped fires again at once, before its old
    // alerts can expire.
    let restored_alerts: Vec<_> = std::iter::once(&monitor)
        .chain(&extra_monitors)
        .flat_map(|m| alertmanager::firing(m, &clock))
        .collect();
    let store_tx = store.as_ref().map(StoreWriter::sender);
    let mut sinks = vec![stream::start(Stream::Log).context("cannot start the log sink")?];
    if let Some(format) = s.events {
        sinks.push(stream::start(Stream::Stdout(format)).context("cannot start the stdout sink")?);
    }
    if !s.hooks.hooks.is_empty() {
        sinks.push(hooks::start(&s.hooks, &stats).context("cannot start the hook runner")?);
    }
    if !s.alertmanager.urls.is_empty() {
        sinks.push(
            alertmanager::start(&s.alertmanager, &stats, restored_alerts)
                .context("cannot start the Alertmanager action")?,
        );
    }
    if !s.webhooks.is_empty() {
        sinks.push(webhook::start(&s.webhooks, &stats).context("cannot start the webhook action")?);
    }
    let reporter = Reporter::new(sinks, collector, Arc::clone(&stats)).start();
    let recorder = s
        .record
        .as_deref()
        .map(|p| TraceRecorder::start(p, Arc::clone(&stats)))
        .transpose()?;
    // One Detector per detector configuration: the main one, then each `--listener` group
    // (cli::listener), all numbering events from one counter.
    let event_ids = Arc::new(AtomicU64::new(0));
    // The main listeners are bound first: the Detector sends its witness verdicts from the
    // first one, the address its witnesses name.
    let mut main_sockets = Vec::new();
    for &addr in &s.listen {
        main_sockets.push(bind_listener(addr, &Speaks::Native, s, &stats)?);
    }
    let mut detector = DetectorActor::new(
        monitor,
        clock,
        reporter.clone().recipient(),
        Arc::clone(&stats),
    )
    .with_recorder(recorder)
    .with_store(store_tx.clone().map(|tx| StoreFeed::new(tx, 0)))
    .with_event_ids(Arc::clone(&event_ids));
    if s.quorum.is_some()
        && let Some((_, socket)) = main_sockets.first()
    {
        detector = detector.with_sender(Rc::clone(socket) as Rc<dyn SendTo>);
    }
    let detector = detector.start();
    let mut detectors = vec![detector.clone()];
    let mut receivers = Vec::new();
    let mut legacy_tasks = Vec::new();
    let mut listening = Vec::new();
    for (local, socket) in main_sockets {
        listening.push(local);
        receivers.push(receive(socket, Speaks::Native, &detector, clock, &stats));
    }
    for socket in bound {
        let local = socket.local_addr()?;
        listening.push(local);
        announce(&stats, format!("udp://{local}"), !s.keyring.requires_auth());
        watch_drops(&stats, format!("udp://{local}"), &socket);
        let r = Receiver::new(
            socket,
            Speaks::Native,
            detector.clone(),
            clock,
            Arc::clone(&stats),
        );
        receivers.push(r.start());
    }
    let mut start_listen = |l: &Listen, d: &Addr<DetectorActor>| -> anyhow::Result<()> {
        match l {
            Listen::Native(addr) => {
                receivers.push(start_udp(*addr, Speaks::Native, s, d, clock, &stats)?.1);
            }
            Listen::Legacy(LegacyListen::Udp(addr, format)) => {
                let speaks = Speaks::Legacy(format.clone());
                receivers.push(start_udp(*addr, speaks, s, d, clock, &stats)?.1);
            }
            Listen::Legacy(LegacyListen::Tcp(addr, settings)) => {
                legacy_tasks.push(start_tcp(*addr, settings, d, clock, &stats)?);
            }
        }
        Ok(())
    };
    for l in &s.legacy {
        start_listen(&Listen::Legacy(l.clone()), &detector)?;
    }
    for (i, ((_, listens), m)) in s.extra.iter().zip(extra_monitors).enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let addr = DetectorActor::new(m, clock, reporter.clone().recipient(), Arc::clone(&stats))
            .with_event_ids(Arc::clone(&event_ids))
            .with_store(store_tx.clone().map(|tx| StoreFeed::new(tx, index)))
            .start();
        for l in listens {
            start_listen(l, &addr)?;
        }
        detectors.push(addr);
    }
    let http = match s.http {
        Some(addr) => {
            let state = HttpState {
                detectors: detectors.clone(),
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
        detectors,
        clock,
        store,
    })
}

impl RunningMonitor {
    /// What systemd's watchdog asks: every Detector.
    pub(crate) fn health_probes(&self) -> Vec<Recipient<GetHealth>> {
        self.detectors
            .iter()
            .map(|d| d.clone().recipient())
            .collect()
    }

    /// Stops receiving and serving, writes every Detector's whole registry to the store, then
    /// closes the sinks (each drains what it holds, counting what it cannot send) and the
    /// store (committing what is queued) together; within [`SHUTDOWN_BUDGET`].
    pub(crate) async fn shutdown(self) {
        let started = std::time::Instant::now();
        if let Some((handle, _)) = &self.http {
            // `stop(true)` waits for requests in flight for at most SHUTDOWN_WAIT (server.rs).
            handle.stop(true).await;
        }
        for r in &self.receivers {
            r.do_send(StopReceiver);
        }
        for t in &self.legacy_tasks {
            t.abort();
        }
        if self.store.is_some() {
            let deadline = tokio::time::Instant::now() + SHUTDOWN_SNAPSHOT;
            let mut rows = 0;
            for d in &self.detectors {
                match tokio::time::timeout_at(deadline, d.send(FinalSnapshot)).await {
                    Ok(Ok(n)) => rows += n,
                    _ => tracing::warn!("a Detector did not answer for its final snapshot"),
                }
            }
            tracing::info!(rows, "final registry snapshot queued for the store");
        }
        let store = self.store.map(|store| {
            // Blocking for at most the store's CLOSE_WAIT, at shutdown only.
            actix_web::rt::task::spawn_blocking(move || drop(store))
        });
        let _ = self.reporter.send(Flush).await;
        if let Some(store) = store {
            let _ = store.await;
        }
        let took = started.elapsed();
        if took > SHUTDOWN_BUDGET {
            tracing::warn!(?took, budget = ?SHUTDOWN_BUDGET, "shutdown took longer than its budget");
        } else {
            tracing::info!(?took, "stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the shipped units' `TimeoutStopSec` must leave beyond [`SHUTDOWN_BUDGET`] (the
    /// runtime's own exit, a loaded host), so systemd never kills a monitor still committing.
    pub(crate) const SHUTDOWN_MARGIN: Duration = Duration::from_secs(3);

    /// `TimeoutStopSec=` of a unit file, in seconds (`10s`, `10`, `1min`).
    fn timeout_stop(unit: &str) -> Option<Duration> {
        let v = unit
            .lines()
            .find_map(|l| l.trim().strip_prefix("TimeoutStopSec="))?;
        let v = v.trim();
        let (n, scale) = if let Some(n) = v.strip_suffix("min") {
            (n, 60)
        } else {
            (v.strip_suffix('s').unwrap_or(v), 1)
        };
        Some(Duration::from_secs(n.trim().parse::<u64>().ok()? * scale))
    }

    #[test]
    fn shutdown_budget_is_the_sum_of_its_parts_and_fits_every_shipped_unit() {
        assert_eq!(SHUTDOWN_BUDGET, Duration::from_secs(7));
        assert!(crate::sinks::DRAIN < crate::sinks::CLOSE_WAIT);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/systemd");
        let mut units = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "service") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let limit = timeout_stop(&text)
                .unwrap_or_else(|| panic!("{} sets no TimeoutStopSec", path.display()));
            assert!(
                SHUTDOWN_BUDGET + SHUTDOWN_MARGIN <= limit,
                "{}: TimeoutStopSec={limit:?} < budget {SHUTDOWN_BUDGET:?} + margin \
                 {SHUTDOWN_MARGIN:?}",
                path.display()
            );
            units += 1;
        }
        assert!(units >= 2, "no units found in {}", dir.display());
        assert_eq!(
            timeout_stop("TimeoutStopSec=1min\n"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            timeout_stop("[Service]\nTimeoutStopSec=10s\n"),
            Some(Duration::from_secs(10))
        );
    }
}
