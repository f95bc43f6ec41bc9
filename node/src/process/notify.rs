//! systemd integration for `hbnode monitor` under `Type=notify`.
//!
//! - `READY=1` once every socket is bound and the actors run;
//! - `STATUS=` a one-line summary ("3 nodes: 2 alive, 1 down, 0 left"), refreshed every tick;
//! - `WATCHDOG=1` every half of `WATCHDOG_USEC`, *only* when the Detector answered a snapshot
//!   request within that tick. A stuck Detector (or a starved actix runtime) therefore stops
//!   the pings and systemd restarts the service (`WatchdogSec=` in the unit);
//! - `STOPPING=1` when shutdown begins.
//!
//! Without `NOTIFY_SOCKET` every message is a no-op (sd-notify checks the variable), so the same
//! binary runs under any supervisor.

use std::time::Duration;

use actix::Recipient;
use sd_notify::NotifyState;

use hb_core::NodeState;

use crate::runtime::detector::{GetHealth, Health};

/// How often the status line is refreshed when systemd has no watchdog configured.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// Where notifications go: systemd's socket in production, a recorder in tests.
pub(crate) type Notify = Box<dyn FnMut(&[NotifyState<'_>])>;

/// Sends to `$NOTIFY_SOCKET`; a failure is logged, never fatal.
pub(crate) fn systemd() -> Notify {
    Box::new(|states| {
        if let Err(e) = sd_notify::notify(states) {
            tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
        }
    })
}

/// The one-line summary sent as `STATUS=`.
pub(crate) fn summary(h: &Health) -> String {
    let mut s = format!(
        "{} nodes: {} alive, {} down, {} left",
        h.nodes(),
        h.count(NodeState::Alive),
        h.count(NodeState::Down),
        h.count(NodeState::Left)
    );
    let held = h.count(NodeState::Unreachable);
    if h.isolated > 0 {
        s.push_str(&format!(
            ", {held} unreachable; ISOLATED: this monitor seems cut off from its nodes"
        ));
    } else if held > 0 {
        // Witness mode: held while the witnesses still hear them.
        s.push_str(&format!(", {held} unreachable"));
    }
    if let Some((up, needed)) = h.quorum
        && up < needed
    {
        s.push_str(&format!(
            "; QUORUM LOST: {up} of {needed} needed monitors up, own verdicts are final"
        ));
    }
    s
}

/// Asks every Detector how many nodes it has in each state; an error if any fails to answer
/// within `wait`.
async fn health(
    detectors: &[Recipient<GetHealth>],
    wait: Duration,
) -> Result<Health, actix::MailboxError> {
    let mut total = Health::default();
    for d in detectors {
        total.merge(d.send(GetHealth).timeout(wait).await?);
    }
    Ok(total)
}

/// Sends `READY=1` and a first status, then every tick (half the watchdog interval, or
/// [`STATUS_EVERY`]) asks every Detector how many nodes it has in each state (O(1)); when it answers within the tick, sends
/// `STATUS=` and, if `watchdog` is set, `WATCHDOG=1`. Runs until dropped.
pub(crate) async fn run(
    detectors: Vec<Recipient<GetHealth>>,
    watchdog: Option<Duration>,
    mut send: Notify,
) {
    let tick = watchdog.map_or(STATUS_EVERY, |w| (w / 2).max(Duration::from_millis(1)));
    let first = health(&detectors, tick).await.ok();
    let status = first
        .as_ref()
        .map_or_else(|| "starting".to_owned(), summary);
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        match health(&detectors, tick).await {
            Ok(h) => {
                let status = summary(&h);
                if watchdog.is_some() {
                    send(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
                } else {
                    send(&[NotifyState::Status(&status)]);
                }
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "the Detector did not answer within {tick:?}; withholding the watchdog ping"
                );
            }
        }
    }
}

/// Serves systemd (readiness, status, watchdog gated on `detector`) until SIGINT or SIGTERM,
/// then says `STOPPING=1`; returns the signal's name. What `monitor` and `peer` run between
/// start and shutdown.
pub(crate) async fn serve_until_signal(
    detectors: Vec<Recipient<GetHealth>>,
) -> anyhow::Result<&'static str> {
    let task = actix_rt::spawn(run(detectors, sd_notify::watchdog_enabled(), systemd()));
    let sig = crate::process::signals::shutdown_signal().await;
    task.abort();
    if let Ok(sig) = sig {
        stopping(&mut systemd(), sig);
    }
    sig
}

/// Sends `STOPPING=1` with a status saying why.
pub(crate) fn stopping(send: &mut Notify, why: &str) {
    let status = format!("stopping ({why})");
    send(&[NotifyState::Stopping, NotifyState::Status(&status)]);
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use actix::prelude::*;

    use super::*;

    /// A stand-in Detector that answers until told to hang (then never answers again).
    struct FakeDetector {
        stuck: Rc<RefCell<bool>>,
    }

    impl Actor for FakeDetector {
        type Context = Context<Self>;
    }

    impl Handler<GetHealth> for FakeDetector {
        type Result = ResponseActFuture<Self, Health>;

        fn handle(&mut self, _: GetHealth, _: &mut Self::Context) -> Self::Result {
            let stuck = *self.stuck.borrow();
            Box::pin(
                async move {
                    if stuck {
                        std::future::pending::<()>().await;
                    }
                    Health {
                        states: [2, 1, 0, 0],
                        isolated: 0,
                        quorum: None,
                    }
                }
                .into_actor(self),
            )
        }
    }

    fn recorder() -> (Notify, Rc<RefCell<Vec<String>>>) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = Rc::clone(&log);
        let send: Notify = Box::new(move |states| {
            let msg: Vec<String> = states.iter().map(ToString::to_string).collect();
            l.borrow_mut().push(msg.join("\n"));
        });
        (send, log)
    }

    fn pings(log: &[String]) -> usize {
        log.iter().filter(|m| m.contains("WATCHDOG=1")).count()
    }

    #[test]
    fn status_says_when_the_monitor_is_isolated() {
        let calm = Health {
            states: [3, 1, 0, 0],
            isolated: 0,
            quorum: None,
        };
        assert_eq!(summary(&calm), "4 nodes: 3 alive, 1 down, 0 left");
        let cut_off = Health {
            states: [1, 0, 0, 20],
            isolated: 1,
            quorum: None,
        };
        assert_eq!(
            summary(&cut_off),
            "21 nodes: 1 alive, 0 down, 0 left, 20 unreachable; ISOLATED: this monitor seems \
             cut off from its nodes"
        );
    }

    #[test]
    fn status_says_when_nodes_are_held_for_the_witnesses_or_the_quorum_is_lost() {
        let held = Health {
            states: [3, 0, 0, 1],
            isolated: 0,
            quorum: Some((3, 2)),
        };
        assert_eq!(
            summary(&held),
            "4 nodes: 3 alive, 0 down, 0 left, 1 unreachable"
        );
        let alone = Health {
            states: [3, 1, 0, 0],
            isolated: 0,
            quorum: Some((1, 2)),
        };
        assert_eq!(
            summary(&alone),
            "4 nodes: 3 alive, 1 down, 0 left; QUORUM LOST: 1 of 2 needed monitors up, own \
             verdicts are final"
        );
    }

    #[test]
    fn watchdog_pings_only_while_the_detector_answers() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        System::with_tokio_rt(|| rt).block_on(async {
            let stuck = Rc::new(RefCell::new(false));
            let det = FakeDetector {
                stuck: Rc::clone(&stuck),
            }
            .start();
            let (send, log) = recorder();
            let task = actix_rt::spawn(run(
                vec![det.recipient()],
                Some(Duration::from_secs(2)),
                send,
            ));
            tokio::time::sleep(Duration::from_millis(5500)).await;
            let healthy = pings(&log.borrow());
            assert!(
                log.borrow()[0].starts_with("READY=1\nSTATUS="),
                "{:?}",
                log.borrow()
            );
            assert!(
                healthy >= 4,
                "a ping per second while healthy: {:?}",
                log.borrow()
            );
            assert!(
                log.borrow()
                    .iter()
                    .any(|m| m.contains("STATUS=3 nodes: 2 alive, 1 down, 0 left"))
            );

            *stuck.borrow_mut() = true;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let at_hang = pings(&log.borrow());
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(
                pings(&log.borrow()),
                at_hang,
                "a stuck Detector must stop the pings"
            );
            task.abort();
        });
    }

    #[test]
    fn stopping_says_stopping() {
        let (mut send, log) = recorder();
        stopping(&mut send, "SIGTERM");
        assert_eq!(log.borrow()[0], "STOPPING=1\nSTATUS=stopping (SIGTERM)");
    }
}
