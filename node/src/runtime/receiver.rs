//! The Receiver actor: one per UDP listener, native or legacy — the one datagram read loop.
//! Owns the socket, reads datagrams in batches, hands each batch to its Detector, and sends
//! the acks that come back with it. No detector logic.
//!
//! Mailbox policy: the read loop awaits each batch's handling (`send().await`), so at most one
//! batch per Receiver is in flight; while the Detector is busy, datagrams wait in the kernel
//! buffer (`--recv-buffer`). Acks are sent with a non-blocking `sendto`; a full socket send
//! buffer drops and counts them (acks are advisory; beats are not retransmitted).

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::prelude::*;

use crate::legacy::LegacyIngest;
use crate::legacy::udp::UdpFormat;
use crate::net::transport::Transport;
use crate::runtime::batch::{Batch, SLOT};
use crate::runtime::clock::Clock;
use crate::runtime::detector::{DetectorActor, Ingest};
use crate::runtime::stats::{Stats, inc};

/// Most datagrams per batch.
pub(crate) const MAX_BATCH: usize = 256;

/// A legacy datagram is a short line; anything longer than a UDP payload cannot arrive anyway.
const LEGACY_SLOT: usize = 65_536;

/// What a Receiver's datagrams are.
#[derive(Clone, Debug)]
pub(crate) enum Speaks {
    /// hbnode's wire format: batches go to the Detector as they are, acks come back.
    Native,
    /// A legacy protocol (`pyhb+udp`, `text+udp`): decoded here, no acks.
    Legacy(UdpFormat),
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Receiver<T: Transport> {
    transport: Rc<T>,
    speaks: Speaks,
    detector: Addr<DetectorActor>,
    clock: Clock,
    stats: Arc<Stats>,
}

impl<T: Transport> Receiver<T> {
    /// A receiver reading `speaks` datagrams from `transport` into `detector`.
    pub(crate) fn new(
        transport: T,
        speaks: Speaks,
        detector: Addr<DetectorActor>,
        clock: Clock,
        stats: Arc<Stats>,
    ) -> Self {
        Self::shared(Rc::new(transport), speaks, detector, clock, stats)
    }

    /// As [`Receiver::new`], on a transport the Detector also sends from (witness verdicts).
    pub(crate) fn shared(
        transport: Rc<T>,
        speaks: Speaks,
        detector: Addr<DetectorActor>,
        clock: Clock,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            transport,
            speaks,
            detector,
            clock,
            stats,
        }
    }
}

/// Reads batches until the Detector goes away.
async fn read_loop<T: Transport>(
    transport: Rc<T>,
    speaks: Speaks,
    detector: Addr<DetectorActor>,
    clock: Clock,
    stats: Arc<Stats>,
) {
    let slot = match speaks {
        Speaks::Native => SLOT,
        Speaks::Legacy(_) => LEGACY_SLOT,
    };
    let mut batch = Batch::with_capacity(MAX_BATCH, slot);
    loop {
        if let Err(e) = batch.recv(&*transport, &clock).await {
            if e.kind() == io::ErrorKind::NotConnected {
                return;
            }
            inc(&stats.recv_errors);
            tracing::debug!(error = %e, "receive error");
            // Do not spin on a persistent error.
            actix_rt::time::sleep(std::time::Duration::from_millis(1)).await;
            continue;
        }
        while batch.len() < MAX_BATCH {
            match batch.try_recv(&*transport, &clock) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    inc(&stats.recv_errors);
                    tracing::debug!(error = %e, "receive error");
                    break;
                }
            }
        }
        stats
            .datagrams
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch = match &speaks {
            Speaks::Native => match detector.send(Ingest(batch)).await {
                Ok(b) => b,
                Err(_) => return,
            },
            Speaks::Legacy(format) => {
                let items = format.inputs(&batch);
                batch.clear();
                if detector.send(LegacyIngest(items)).await.is_err() {
                    return;
                }
                batch
            }
        };
        for (to, ack) in batch.acks() {
            match transport.try_send_to(ack, to) {
                Ok(_) => inc(&stats.acks_sent),
                Err(e) => {
                    inc(&stats.acks_dropped);
                    tracing::debug!(%to, error = %e, "cannot send ack");
                }
            }
        }
        batch.clear();
    }
}

impl<T: Transport> Actor for Receiver<T> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let fut = read_loop(
            Rc::clone(&self.transport),
            self.speaks.clone(),
            self.detector.clone(),
            self.clock,
            Arc::clone(&self.stats),
        );
        ctx.spawn(fut.into_actor(self).map(|(), _, ctx| ctx.stop()));
    }
}

/// Stops a Receiver.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct StopReceiver;

impl<T: Transport> Handler<StopReceiver> for Receiver<T> {
    type Result = ();
    fn handle(&mut self, _: StopReceiver, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
