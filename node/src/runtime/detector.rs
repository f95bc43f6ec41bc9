//! The Detector actor: owns one `hb_core::Monitor` and drives it — datagrams and time in,
//! events, readings, arrivals and acks out — with exactly one timer, re-armed after every input
//! so it never fires later than `poll_timeout()` (no periodic sweep; see
//! [`DetectorActor::rearm`]). It does nothing else: what the outputs become belongs to their
//! owners (events to the Reporter, rows to [`StoreFeed`], arrivals to the [`TraceRecorder`],
//! views to [`crate::http::views`], legacy identities to [`LegacyState`]).
//!
//! Mailbox policy: Receivers hand over one [`Ingest`] batch at a time with `send().await`, so
//! each Receiver has at most one batch in flight and the kernel socket buffer absorbs bursts
//! (its overflow is the only place beats can drop, and the kernel counts it). The acks ride
//! back in the reply with the batch; events leave with `try_send` to the Reporter: the
//! Detector never waits on anyone.
//!
//! Witness mode: the core also queues verdicts for the other monitors on its own timer (every
//! witness period, and when a deadline passes), when no datagram arrives. After a timeout or a
//! legacy batch the Detector sends what is queued itself, with a non-blocking `sendto` on its
//! first listener's socket ([`DetectorActor::with_sender`]: witnesses know a monitor by the
//! source address of its datagrams), and so are verdicts written during an [`Ingest`] batch,
//! whichever listener it came from; a full send buffer drops and counts them like acks.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::prelude::*;
use hb_core::detector::Detector as _;
use hb_core::wire::Kind;
use hb_core::{EventKind, Monitor, NodeState, Timestamp};
use tokio::time::Instant;

use crate::http::views::{self, NodeView, Snapshot};
use crate::legacy::LegacyIngest;
use crate::legacy::owner::PidChecked;
use crate::legacy::state::LegacyState;
use crate::net::transport::SendTo;
use crate::runtime::batch::Batch;
use crate::runtime::clock::Clock;
use crate::runtime::record::EventRecord;
use crate::runtime::recorder::TraceRecorder;
use crate::runtime::reporter::{Report, report};
use crate::runtime::stats::Stats;
use crate::store::feed::{SNAPSHOT_EVERY, StoreFeed};

/// Messages the Detector's mailbox holds (one batch per Receiver in flight, plus queries).
pub(crate) const DETECTOR_MAILBOX: usize = 64;

/// A batch of datagrams from a Receiver. Replies with the batch, emptied of datagrams and
/// carrying the acks to send.
#[derive(Debug, Message)]
#[rtype(result = "Batch")]
pub(crate) struct Ingest(pub(crate) Batch);

/// Asks for this Detector's nodes and counters.
#[derive(Debug, Message)]
#[rtype(result = "Snapshot")]
pub(crate) struct GetSnapshot;

/// Shutdown: offers the whole registry to the store (every node's seq and last-seen as of now,
/// not as of the last periodic chunk); replies with how many rows were offered (0 without a
/// store). Sent after the Receivers stop and before the store closes.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub(crate) struct FinalSnapshot;

/// Asks for one node of this Detector.
#[derive(Debug, Message)]
#[rtype(result = "Option<NodeView>")]
pub(crate) struct GetNode(pub(crate) String);

/// Asks how many nodes are in each state: the systemd watchdog's question, answered in O(1).
#[derive(Debug, Message)]
#[rtype(result = "Health")]
pub(crate) struct GetHealth;

/// Nodes by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Health {
    /// Nodes in each state, indexed like [`NodeState::ALL`].
    pub(crate) states: [usize; NodeState::ALL.len()],
    /// Detectors whose monitor thinks it is cut off (an isolation episode is open).
    pub(crate) isolated: usize,
    /// Witness mode: monitors up and needed (`None`: off).
    pub(crate) quorum: Option<(usize, usize)>,
}

impl Health {
    /// Nodes in `state`.
    pub(crate) fn count(&self, state: NodeState) -> usize {
        self.states[state as usize]
    }

    /// Every node.
    pub(crate) fn nodes(&self) -> usize {
        self.states.iter().sum()
    }

    /// Adds `other`'s counts.
    pub(crate) fn merge(&mut self, other: Self) {
        for (n, m) in self.states.iter_mut().zip(other.states) {
            *n += m;
        }
        self.isolated += other.isolated;
        self.quorum = self.quorum.or(other.quorum);
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct DetectorActor {
    monitor: Monitor,
    clock: Clock,
    reporter: Recipient<Report>,
    stats: Arc<Stats>,
    timer: Option<(Timestamp, SpawnHandle)>,
    /// Event numbers, shared with the other Detectors of this process (per-listener detector
    /// settings), so `event_id` stays unique and increasing.
    event_ids: Arc<AtomicU64>,
    recorder: Option<TraceRecorder>,
    stalls_logged: u64,
    legacy: LegacyState,
    store: Option<StoreFeed>,
    /// The core's `samples_dropped` already added to the shared counter.
    samples_dropped: u64,
    /// The core's `arrivals_dropped` already added to the shared counter.
    arrivals_dropped: u64,
    /// Where transmits queued outside an [`Ingest`], and every verdict, go out from (witness
    /// mode).
    sender: Option<Rc<dyn SendTo>>,
}

impl DetectorActor {
    /// A Detector around `monitor`, reading time from `clock`.
    pub(crate) fn new(
        monitor: Monitor,
        clock: Clock,
        reporter: Recipient<Report>,
        stats: Arc<Stats>,
    ) -> Self {
        let max_nodes = monitor.config().max_nodes;
        Self {
            monitor,
            clock,
            reporter,
            stats,
            timer: None,
            event_ids: Arc::default(),
            recorder: None,
            stalls_logged: 0,
            legacy: LegacyState::new(max_nodes),
            store: None,
            samples_dropped: 0,
            arrivals_dropped: 0,
            sender: None,
        }
    }

    /// Sends the datagrams the core queues on its own (witness verdicts) from `sender`, the
    /// socket of the listener whose address the witnesses name.
    pub(crate) fn with_sender(mut self, sender: Rc<dyn SendTo>) -> Self {
        self.sender = Some(sender);
        self
    }

    /// Sends every queued transmit from [`Self::sender`] (none without one: they wait for the
    /// next [`Ingest`] batch, which carries them).
    fn send_transmits(&mut self) {
        let Some(sender) = &self.sender else { return };
        let mut buf = [0u8; hb_core::wire::MAX_DATAGRAM];
        while let Some(t) = self.monitor.poll_transmit(&mut buf) {
            send_one(&**sender, &self.stats, &buf, t);
        }
    }

    /// Writes events, readings and the registry to the store.
    pub(crate) fn with_store(mut self, store: Option<StoreFeed>) -> Self {
        self.store = store;
        self
    }

    /// Also records every beat's arrival (`--record`).
    pub(crate) fn with_recorder(mut self, recorder: Option<TraceRecorder>) -> Self {
        self.recorder = recorder;
        self
    }

    /// Numbers events from `ids`, a counter shared with other Detectors.
    pub(crate) fn with_event_ids(mut self, ids: Arc<AtomicU64>) -> Self {
        self.event_ids = ids;
        self
    }

    /// Drains every output of the core but acks (those ride back with a batch).
    fn drain(&mut self) {
        self.log_stalls();
        self.drain_events();
        self.drain_samples();
        self.drain_arrivals();
    }

    /// Every authenticated beat's arrival, to the recorder (`--record`; the core queues none
    /// without it).
    fn drain_arrivals(&mut self) {
        while let Some(a) = self.monitor.poll_arrival() {
            if let Some(r) = &self.recorder {
                r.offer(a);
            }
        }
        let dropped = self.monitor.arrivals_dropped();
        if dropped > self.arrivals_dropped {
            self.stats
                .arrivals_dropped
                .fetch_add(dropped - self.arrivals_dropped, Ordering::Relaxed);
            self.arrivals_dropped = dropped;
        }
    }

    /// Events to the Reporter (and the store), in decision order.
    fn drain_events(&mut self) {
        let name = self.monitor.config().detector.name();
        let mut out = Vec::new();
        while let Some(ev) = self.monitor.poll_event() {
            let id = self.event_ids.fetch_add(1, Ordering::Relaxed) + 1;
            let mut r = EventRecord::new(&ev, id, name, &self.clock);
            // A monitor-level event names the monitor, which may share an id with a node.
            if !ev.kind.is_monitor_level() {
                r.zone = self.monitor.zone_of(ev.node.as_str()).map(str::to_owned);
                self.legacy.annotate(&mut r, &ev.node);
            }
            let r = Arc::new(r);
            if let Some(store) = &self.store {
                store.event(&self.monitor, &self.clock, &ev, &r);
            }
            if ev.kind == EventKind::Forgotten {
                self.legacy.forget(&ev.node);
            }
            out.push(r);
        }
        report(&self.reporter, &self.stats, out);
    }

    /// The readings of the beats just accepted, to the store (or nowhere).
    fn drain_samples(&mut self) {
        while let Some(s) = self.monitor.poll_sample() {
            if let Some(store) = &self.store {
                store.reading(&self.clock, s);
            }
        }
        let dropped = self.monitor.samples_dropped();
        if dropped > self.samples_dropped {
            self.stats
                .samples_dropped
                .fetch_add(dropped - self.samples_dropped, Ordering::Relaxed);
            self.samples_dropped = dropped;
        }
    }

    /// Logs each stall of the monitor itself (stopped process, starved loop) once, as the
    /// core's local-pause guard detects it.
    fn log_stalls(&mut self) {
        let (count, last) = self.monitor.stalls();
        if count > self.stalls_logged {
            self.stalls_logged = count;
            tracing::warn!(
                stall = %humantime::format_duration(Duration::from_millis(
                    u64::try_from(last.as_millis()).unwrap_or(u64::MAX)
                )),
                stalls = count,
                "the monitor itself was stalled past a deadline (stopped, swapped or starved); \
                 silence during the stall was not observed, so alive nodes were re-armed from \
                 now instead of being declared down"
            );
        }
    }

    /// Keeps exactly one timer, never later than `poll_timeout()`.
    ///
    /// A beat usually moves the earliest deadline *later* (the node that was due beat again).
    /// Re-creating the timer on every beat would cost a timer-wheel removal and insertion per
    /// datagram, so a timer that is now early is kept: it fires, `handle_timeout` finds nothing
    /// due, and the timer is re-armed to the then-earliest deadline. A deadline earlier than the
    /// armed timer always re-arms it, so no node is ever reported late.
    fn rearm(&mut self, ctx: &mut Context<Self>) {
        let next = self.monitor.poll_timeout();
        if let Some((at, handle)) = self.timer {
            if next.is_none_or(|n| n >= at) {
                return;
            }
            ctx.cancel_future(handle);
            self.timer = None;
        }
        if let Some(at) = next {
            let delay = self
                .clock
                .instant(at)
                .saturating_duration_since(Instant::now());
            let handle = ctx.run_later(delay, |act, ctx| {
                act.timer = None;
                act.monitor.handle_timeout(act.clock.now());
                act.drain();
                act.send_transmits();
                act.rearm(ctx);
            });
            self.timer = Some((at, handle));
        }
    }
}

/// Sends one transmit written in `buf` from `sender`, counting it sent or dropped.
fn send_one(sender: &dyn SendTo, stats: &Stats, buf: &[u8], t: hb_core::Transmit) {
    match sender.send_to(&buf[..t.len], t.to) {
        Ok(_) => crate::runtime::stats::inc(&stats.acks_sent),
        Err(e) => {
            crate::runtime::stats::inc(&stats.acks_dropped);
            tracing::debug!(to = %t.to, error = %e, "cannot send a verdict");
        }
    }
}

impl Actor for DetectorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(DETECTOR_MAILBOX);
        if self.store.is_some() {
            ctx.run_interval(SNAPSHOT_EVERY, |act, _| {
                if let Some(store) = &mut act.store {
                    store.snapshot(&act.monitor, &act.clock);
                }
            });
        }
        self.rearm(ctx);
    }
}

impl Handler<Ingest> for DetectorActor {
    type Result = MessageResult<Ingest>;

    fn handle(&mut self, Ingest(mut batch): Ingest, ctx: &mut Self::Context) -> Self::Result {
        for (at, from, bytes) in batch.iter() {
            self.monitor.handle_datagram(at, from, bytes);
        }
        self.drain();
        batch.clear();
        // Verdicts to a witness leave from the sender socket, whatever listener this batch
        // came in on: the witness knows this monitor by that address.
        let Self {
            monitor,
            sender,
            stats,
            ..
        } = self;
        while batch.push_ack(|buf| {
            loop {
                let t = monitor.poll_transmit(buf)?;
                match sender {
                    Some(s) if Kind::of(&buf[..t.len]) == Some(Kind::Verdicts) => {
                        send_one(&**s, stats, buf, t);
                    }
                    _ => return Some((t.to, t.len)),
                }
            }
        }) {}
        self.rearm(ctx);
        MessageResult(batch)
    }
}

impl Handler<LegacyIngest> for DetectorActor {
    type Result = ();

    fn handle(&mut self, LegacyIngest(items): LegacyIngest, ctx: &mut Self::Context) {
        let claims = self.legacy.feed(&mut self.monitor, &self.clock, items);
        self.drain();
        self.send_transmits();
        self.rearm(ctx);
        let reply = ctx.address().recipient();
        self.legacy.verify(claims, self.clock, &self.stats, &reply);
    }
}

impl Handler<PidChecked> for DetectorActor {
    type Result = ();

    fn handle(&mut self, c: PidChecked, _: &mut Self::Context) {
        self.legacy.checked(&c.node, c.pid, c.start);
    }
}

impl Handler<FinalSnapshot> for DetectorActor {
    type Result = usize;

    fn handle(&mut self, _: FinalSnapshot, _: &mut Self::Context) -> usize {
        match &mut self.store {
            Some(store) => store.snapshot_all(&self.monitor, &self.clock),
            None => 0,
        }
    }
}

impl Handler<GetSnapshot> for DetectorActor {
    type Result = MessageResult<GetSnapshot>;

    fn handle(&mut self, _: GetSnapshot, _: &mut Self::Context) -> Self::Result {
        MessageResult(views::snapshot(&self.monitor, &self.clock, &self.legacy))
    }
}

impl Handler<GetNode> for DetectorActor {
    type Result = Option<NodeView>;

    fn handle(&mut self, GetNode(id): GetNode, _: &mut Self::Context) -> Self::Result {
        let n = self.monitor.node(&id, self.clock.now())?;
        Some(views::node_detail(
            &self.monitor,
            &self.clock,
            &self.legacy,
            &n,
        ))
    }
}

impl Handler<GetHealth> for DetectorActor {
    type Result = MessageResult<GetHealth>;

    fn handle(&mut self, _: GetHealth, _: &mut Self::Context) -> Self::Result {
        MessageResult(Health {
            states: NodeState::ALL.map(|s| self.monitor.count(s)),
            isolated: usize::from(self.monitor.isolation().isolated_since.is_some()),
            quorum: self.monitor.config().quorum.as_ref().map(|_| {
                let w = self.monitor.witnesses();
                (w.up, w.needed)
            }),
        })
    }
}
