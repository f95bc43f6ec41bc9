//! The Beater actor: drives `hb_core::Beater` for `hbnode beat` (and the demo's nodes).
//!
//! One timer, re-armed to the core's `poll_timeout()`. Acks are read by a loop that hands each
//! to the actor with `send().await` (one in flight). Sends never wait: a full socket buffer
//! loses that beat, and the monitor's sequence numbers count the gap.

use std::net::SocketAddr;
use std::rc::Rc;

use actix::prelude::*;
use hb_core::{Beater, BeaterEvent, Timestamp, wire};
use tokio::time::Instant;

use crate::net::transport::Transport;
use crate::runtime::clock::Clock;
use crate::sensors::{self, PushReadings, SetSchedule};
use crate::sinks::beat_hooks::BeatHooks;

/// A datagram for the beater (an ack, normally).
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Incoming {
    at: Timestamp,
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// Graceful stop: send a Leave to every monitor, then stop the actor. Replies once the Leave
/// datagrams are handed to the socket.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Leave;

/// Stops the actor without a Leave, as a crash would.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Crash;

/// Demo only: cut (`true`) or restore (`false`) the network, as a partition would. The beater
/// keeps beating; while cut, its datagrams are lost.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Cut(pub(crate) bool);

/// See the module docs.
#[derive(Debug)]
pub(crate) struct BeaterActor<T: Transport> {
    beater: Beater,
    transport: Rc<T>,
    clock: Clock,
    timer: Option<SpawnHandle>,
    buf: Vec<u8>,
    cut: bool,
    send_errors: u64,
    hooks: Option<BeatHooks>,
    sensors: Option<Recipient<SetSchedule>>,
    readings_refused: u64,
}

impl<T: Transport> BeaterActor<T> {
    /// An actor driving `beater` over `transport`.
    pub(crate) fn new(beater: Beater, transport: T, clock: Clock) -> Self {
        Self {
            beater,
            transport: Rc::new(transport),
            clock,
            timer: None,
            buf: vec![0; wire::MAX_DATAGRAM],
            cut: false,
            send_errors: 0,
            hooks: None,
            sensors: None,
            readings_refused: 0,
        }
    }

    /// Also tells the Sensors actor the sensor schedules monitors send.
    pub(crate) fn with_sensors(mut self, sensors: Recipient<SetSchedule>) -> Self {
        self.sensors = Some(sensors);
        self
    }

    /// Also runs `--on` hooks on monitor loss and return.
    pub(crate) fn with_hooks(mut self, hooks: Option<BeatHooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// After every input: send, report, re-arm.
    fn drain(&mut self, ctx: &mut Context<Self>) {
        while let Some(t) = self.beater.poll_transmit(&mut self.buf) {
            if self.cut {
                continue;
            }
            if let Err(e) = self.transport.try_send_to(&self.buf[..t.len], t.to) {
                self.send_errors += 1;
                // Quiet on repeats: a missing route fails every beat.
                if self.send_errors.is_power_of_two() {
                    tracing::warn!(to = %t.to, error = %e, failures = self.send_errors, "cannot send beat");
                }
            }
        }
        while let Some(ev) = self.beater.poll_event() {
            if let Some(h) = &self.hooks {
                h.on_event(&ev, &self.clock);
            }
            match ev {
                BeaterEvent::MonitorLost { monitor, silence } => tracing::warn!(
                    %monitor, silence = %humantime::format_duration(silence), "monitor stopped acknowledging beats"
                ),
                BeaterEvent::MonitorBack { monitor } => {
                    tracing::info!(%monitor, "monitor acknowledges beats again");
                }
                BeaterEvent::Active { monitor } => {
                    tracing::info!(%monitor, "beating to monitor");
                }
                BeaterEvent::ScheduleAdopted {
                    monitor,
                    addr,
                    version,
                    previous_period,
                    period,
                    sensors,
                } => {
                    let what = match &sensors {
                        Some(list) => sensors::describe(list),
                        None => "sensors as configured".into(),
                    };
                    tracing::info!(
                        "schedule v{version} from monitor {monitor} ({addr}): period {} → {}; {what}",
                        humantime::format_duration(previous_period),
                        humantime::format_duration(period),
                    );
                    if let Some(s) = &self.sensors
                        && s.try_send(SetSchedule(sensors)).is_err()
                    {
                        tracing::warn!(
                            "the sensors did not take the new schedule (busy or stopped)"
                        );
                    }
                }
                BeaterEvent::RedirectStarted { from, to } => tracing::warn!(
                    %from, %to, "monitor redirects this node; beating to both until the new one answers"
                ),
                BeaterEvent::UnsignedIgnored { monitor } => tracing::warn!(
                    %monitor,
                    "ignoring the schedule or redirect of an unsigned ack: only acks signed with \
                     one of this node's keys may change it (--key-file; --trust-unsigned-acks on \
                     closed networks); logged for the first such ack only"
                ),
                BeaterEvent::Redirected { from, to } => tracing::warn!(
                    %from, %to, "redirected: the new monitor answered; left the old one"
                ),
                BeaterEvent::RedirectFailed { from, to, waited } => tracing::warn!(
                    %from, %to, waited = %humantime::format_duration(waited),
                    "redirect target did not answer; staying with the current monitor"
                ),
            }
        }
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        if let Some(at) = self.beater.poll_timeout() {
            let delay = self
                .clock
                .instant(at)
                .saturating_duration_since(Instant::now());
            self.timer = Some(ctx.run_later(delay, |act, ctx| {
                act.timer = None;
                act.beater.handle_timeout(act.clock.now());
                act.drain(ctx);
            }));
        }
    }
}

async fn ack_loop<T: Transport>(transport: Rc<T>, me: Addr<BeaterActor<T>>, clock: Clock) {
    let mut buf = vec![0; wire::MAX_DATAGRAM + 1];
    loop {
        match transport.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let msg = Incoming {
                    at: clock.now(),
                    from,
                    bytes: buf[..n].to_vec(),
                };
                if me.send(msg).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return,
            // ICMP errors surface here on some systems; the ack deadline reports the outcome.
            Err(e) => tracing::debug!(error = %e, "receive error"),
        }
    }
}

impl<T: Transport> Actor for BeaterActor<T> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(16);
        let fut = ack_loop(Rc::clone(&self.transport), ctx.address(), self.clock);
        ctx.spawn(fut.into_actor(self));
        self.beater.handle_timeout(self.clock.now());
        self.drain(ctx);
    }
}

impl<T: Transport> Handler<Incoming> for BeaterActor<T> {
    type Result = ();

    fn handle(&mut self, m: Incoming, ctx: &mut Self::Context) {
        self.beater.handle_datagram(m.at, m.from, &m.bytes);
        self.drain(ctx);
    }
}

impl<T: Transport> Handler<PushReadings> for BeaterActor<T> {
    type Result = ();

    fn handle(&mut self, PushReadings(readings): PushReadings, _: &mut Self::Context) {
        for r in readings {
            if let Err(e) = self
                .beater
                .push_reading_with_meta(&r.probe, r.value, r.status, r.meta)
            {
                self.readings_refused += 1;
                if self.readings_refused.is_power_of_two() {
                    tracing::warn!(probe = %r.probe, error = %e, refused = self.readings_refused,
                        "sensor reading refused");
                }
            }
        }
    }
}

impl<T: Transport> Handler<Leave> for BeaterActor<T> {
    type Result = ();

    fn handle(&mut self, _: Leave, ctx: &mut Self::Context) {
        self.beater.leave(self.clock.now());
        self.drain(ctx);
        ctx.stop();
    }
}

impl<T: Transport> Handler<Cut> for BeaterActor<T> {
    type Result = ();

    fn handle(&mut self, Cut(cut): Cut, _: &mut Self::Context) {
        self.cut = cut;
    }
}

impl<T: Transport> Handler<Crash> for BeaterActor<T> {
    type Result = ();

    fn handle(&mut self, _: Crash, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
