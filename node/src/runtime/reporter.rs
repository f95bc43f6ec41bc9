//! The Reporter actor: fans events out to sinks, counts them, keeps the recent ring.
//!
//! Mailbox policy: the Detector hands events over with `try_send` (never waiting); the mailbox
//! holds [`REPORTER_MAILBOX`] batches, and a batch that does not fit is dropped and counted
//! under sink `reporter`. Handling a batch only queues it to each sink (bounded, see
//! [`crate::sinks`]), so the mailbox drains at memory speed.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix::dev::SendError;
use actix::prelude::*;

use crate::runtime::record::EventRecord;
use crate::runtime::stats::Stats;
use crate::sinks::kind::SinkKind;
use crate::sinks::{Offer, Sink};

/// Event batches the Reporter's mailbox holds.
pub(crate) const REPORTER_MAILBOX: usize = 1024;

/// Events from the Detector, in decision order.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Report(pub(crate) Vec<Arc<EventRecord>>);

/// Hands `events` to the Reporter without waiting; a full mailbox loses the whole batch, and
/// every event of it is counted under sink `reporter`.
pub(crate) fn report(reporter: &Recipient<Report>, stats: &Stats, events: Vec<Arc<EventRecord>>) {
    if events.is_empty() {
        return;
    }
    if let Err(SendError::Full(Report(lost)) | SendError::Closed(Report(lost))) =
        reporter.try_send(Report(events))
    {
        stats.sinks_dropped(SinkKind::Reporter, lost.len());
    }
}

/// One event for an in-process collector (the demo's director, tests).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Published(pub(crate) Arc<EventRecord>);

/// Writes out everything queued and closes the sinks; replies when done.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Flush;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Reporter {
    sinks: Vec<Sink>,
    collector: Option<Recipient<Published>>,
    stats: Arc<Stats>,
}

impl Reporter {
    /// A reporter over started `sinks`, plus an optional in-process collector (offered each
    /// event with `try_send`: a full collector mailbox drops and counts).
    pub(crate) fn new(
        sinks: Vec<Sink>,
        collector: Option<Recipient<Published>>,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            sinks,
            collector,
            stats,
        }
    }
}

impl Actor for Reporter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(REPORTER_MAILBOX);
    }
}

impl Handler<Report> for Reporter {
    type Result = ();

    fn handle(&mut self, Report(records): Report, _: &mut Self::Context) {
        for r in records {
            self.stats.record(&r);
            for s in &self.sinks {
                if s.offer(&r) == Offer::Dropped {
                    self.stats.sink_dropped(s.kind);
                }
            }
            if let Some(c) = &self.collector
                && c.try_send(Published(Arc::clone(&r))).is_err()
            {
                self.stats.sink_dropped(SinkKind::Collector);
            }
        }
    }
}

impl Handler<Flush> for Reporter {
    type Result = ();

    fn handle(&mut self, _: Flush, _: &mut Self::Context) {
        crate::sinks::close_all(&mut self.sinks);
    }
}

/// An in-process sink that keeps every event it is offered (the demo's director, actor tests).
#[derive(Debug)]
pub(crate) struct Collector(Rc<RefCell<Vec<Arc<EventRecord>>>>);

impl Collector {
    /// A collector appending to `events`.
    pub(crate) fn new(events: Rc<RefCell<Vec<Arc<EventRecord>>>>) -> Self {
        Self(events)
    }
}

impl Actor for Collector {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<Published> for Collector {
    type Result = ();
    fn handle(&mut self, Published(r): Published, _: &mut Self::Context) {
        self.0.borrow_mut().push(r);
    }
}

#[cfg(test)]
mod tests {
    use hb_core::{Event, EventKind, NodeId, Timestamp};

    use super::*;
    use crate::runtime::clock::Clock;

    fn batch(n: usize) -> Vec<Arc<EventRecord>> {
        let ev = Event {
            at: Timestamp::ZERO,
            node: NodeId::new("a").unwrap(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: 1,
            kind: EventKind::Joined,
        };
        let r = Arc::new(EventRecord::new(&ev, 1, "fixed", &Clock::new()));
        vec![r; n]
    }

    /// Holds whatever it is sent, never handling it while the test runs.
    struct Full;
    impl Actor for Full {
        type Context = Context<Self>;
    }
    impl Handler<Report> for Full {
        type Result = ();
        fn handle(&mut self, _: Report, _: &mut Self::Context) {}
    }

    #[test]
    fn a_batch_the_reporter_has_no_room_for_counts_every_event_it_held() {
        System::new().block_on(async {
            let stats = Stats::default();
            let full = Full.start().recipient();
            // The default mailbox (16) fills without the actor running in between.
            for _ in 0..16 {
                report(&full, &stats, batch(1));
            }
            report(&full, &stats, batch(5));
            let dropped: Vec<_> = stats.sink_drops().collect();
            assert!(dropped.contains(&("reporter", 5)), "{dropped:?}");
        });
    }
}
