//! The Receiver actor: one per listener. Owns the socket, reads datagrams in batches, hands
//! them to the Detector, and sends the acks the Detector hands back. No detector logic.
//!
//! Mailbox policy: the read loop awaits each batch's handling (`send().await`), so at most one
//! batch per Receiver is in flight; while the Detector is busy, datagrams wait in the kernel
//! buffer (`--recv-buffer`). Acks arrive with `try_send` into a mailbox of
//! [`RECEIVER_MAILBOX`] messages; when full they are dropped and counted, and a full socket
//! send buffer drops and counts too (acks are advisory; beats are not retransmitted).

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::prelude::*;

use crate::net::transport::Transport;
use crate::runtime::batch::Batch;
use crate::runtime::clock::Clock;
use crate::runtime::detector::{Detector, Ingest, Outgoing};
use crate::runtime::stats::{Stats, inc};

/// Most datagrams per batch.
pub(crate) const MAX_BATCH: usize = 256;

/// Ack messages the Receiver's mailbox holds.
pub(crate) const RECEIVER_MAILBOX: usize = 256;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Receiver<T: Transport> {
    transport: Rc<T>,
    detector: Addr<Detector>,
    clock: Clock,
    stats: Arc<Stats>,
}

impl<T: Transport> Receiver<T> {
    /// A receiver reading from `transport` into `detector`.
    pub(crate) fn new(
        transport: T,
        detector: Addr<Detector>,
        clock: Clock,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            transport: Rc::new(transport),
            detector,
            clock,
            stats,
        }
    }
}

/// Reads batches until the Detector goes away.
async fn read_loop<T: Transport>(
    transport: Rc<T>,
    detector: Addr<Detector>,
    reply: Recipient<Outgoing>,
    clock: Clock,
    stats: Arc<Stats>,
) {
    let mut batch = Batch::with_capacity(MAX_BATCH);
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
        match detector
            .send(Ingest {
                batch,
                reply: reply.clone(),
            })
            .await
        {
            Ok(b) => batch = b,
            Err(_) => return,
        }
    }
}

impl<T: Transport> Actor for Receiver<T> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(RECEIVER_MAILBOX);
        let fut = read_loop(
            Rc::clone(&self.transport),
            self.detector.clone(),
            ctx.address().recipient(),
            self.clock,
            Arc::clone(&self.stats),
        );
        ctx.spawn(fut.into_actor(self).map(|(), _, ctx| ctx.stop()));
    }
}

impl<T: Transport> Handler<Outgoing> for Receiver<T> {
    type Result = ();

    fn handle(&mut self, out: Outgoing, _: &mut Self::Context) {
        for (to, range) in out.items {
            match self.transport.try_send_to(&out.data[range], to) {
                Ok(_) => inc(&self.stats.acks_sent),
                Err(e) => {
                    inc(&self.stats.acks_dropped);
                    tracing::debug!(%to, error = %e, "cannot send ack");
                }
            }
        }
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
