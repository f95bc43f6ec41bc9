//! Actor tests: the real Receiver, Detector, Reporter and Beater actors on a paused tokio
//! clock, over the in-memory network. Time only moves when every actor is idle, so detection
//! instants are exact.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use hb_core::detector::{DetectorConfig, Fixed};
use hb_core::{Beater, Monitor, MonitorConfig, NodeId, Timestamp};

use crate::commands::beat::BeatSettings;
use crate::net::transport::{MemNet, MemSocket};
use crate::runtime::beater::{BeaterActor, Crash, Leave};
use crate::runtime::clock::Clock;
use crate::runtime::detector::{DetectorActor, GetSnapshot};
use crate::runtime::receiver::{Receiver, Speaks};
use crate::runtime::record::EventRecord;
use crate::runtime::reporter::{Collector, Reporter};
use crate::runtime::stats::Stats;

type Events = Rc<RefCell<Vec<Arc<EventRecord>>>>;

const MONITOR: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
    43278,
);

/// Runs `f` on an actix System whose tokio clock starts paused.
fn paused<F: Future<Output = ()>>(f: impl FnOnce() -> F) {
    let sys = System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime")
    });
    sys.block_on(f());
}

struct World {
    clock: Clock,
    net: MemNet,
    events: Events,
    detector: Addr<DetectorActor>,
}

impl World {
    fn start(timeout: Duration) -> Self {
        Self::start_with(timeout, None)
    }

    fn start_with(timeout: Duration, forget_after: Option<Duration>) -> Self {
        Self::start_clocked(timeout, forget_after, Clock::new())
    }

    fn start_clocked(timeout: Duration, forget_after: Option<Duration>, clock: Clock) -> Self {
        let net = MemNet::default();
        let events: Events = Rc::default();
        let stats = Arc::new(Stats::default());
        let collector = Collector::new(Rc::clone(&events)).start();
        let reporter =
            Reporter::new(Vec::new(), Some(collector.recipient()), Arc::clone(&stats)).start();
        let cfg = MonitorConfig {
            detector: DetectorConfig::Fixed(Fixed { timeout }),
            forget_after,
            ..MonitorConfig::default()
        };
        let monitor = Monitor::new(cfg, clock.now()).expect("monitor");
        let detector =
            DetectorActor::new(monitor, clock, reporter.recipient(), Arc::clone(&stats)).start();
        let socket = net.bind(MONITOR, 1024);
        Receiver::new(socket, Speaks::Native, detector.clone(), clock, stats).start();
        Self {
            clock,
            net,
            events,
            detector,
        }
    }

    fn beater(&self, id: &str, port: u16, incarnation: u64) -> Addr<BeaterActor<MemSocket>> {
        let settings = BeatSettings {
            ack_timeout: Some(Duration::from_secs(1)),
            ..BeatSettings::new(
                NodeId::new(id).expect("id"),
                vec![MONITOR],
                Duration::from_millis(200),
            )
        };
        let mut cfg = settings.beater_config(&self.clock);
        cfg.incarnation = incarnation;
        let beater = Beater::new(cfg, self.clock.now()).expect("beater");
        let socket = self.net.bind(SocketAddr::from(([10, 0, 0, 2], port)), 64);
        BeaterActor::new(beater, socket, self.clock).start()
    }

    async fn until(&self, secs_ms: u64) {
        let at = self.clock.instant(Timestamp::from_micros(secs_ms * 1000));
        tokio::time::sleep_until(at).await;
    }

    fn names(&self) -> Vec<(String, &'static str)> {
        self.events
            .borrow()
            .iter()
            .map(|e| (e.node.clone(), e.event))
            .collect()
    }
}

#[test]
fn silent_node_is_down_exactly_at_its_deadline() {
    paused(|| async {
        let w = World::start(Duration::from_secs(1));
        let a = w.beater("a", 5000, 1);
        let _b = w.beater("b", 5001, 1);
        // Beats at 0, 200, …, 1000 ms; the crash comes before the 1200 ms beat.
        w.until(1100).await;
        a.do_send(Crash);
        w.until(5000).await;
        let events = w.events.borrow();
        let downs: Vec<_> = events.iter().filter(|e| e.event == "down").collect();
        assert_eq!(downs.len(), 1, "{:?}", w.names());
        let d = downs[0];
        assert_eq!(d.node, "a");
        assert_eq!(
            d.at_us, 2_000_000,
            "down exactly timeout after the last beat"
        );
        assert_eq!(d.slack_us, Some(0));
        assert_eq!(d.silence_ms, Some(1000));
    });
}

#[test]
fn graceful_stop_reports_left_and_never_down() {
    paused(|| async {
        let w = World::start(Duration::from_secs(1));
        let a = w.beater("a", 5000, 1);
        w.until(700).await;
        a.send(Leave).await.expect("leave");
        w.until(10_000).await;
        assert_eq!(w.names(), [("a".into(), "joined"), ("a".into(), "left")]);
        let left = &w.events.borrow()[1];
        assert_eq!(left.at_us, 700_000);
    });
}

#[test]
fn restart_after_down_reports_restarted_with_previous_incarnation() {
    paused(|| async {
        let w = World::start(Duration::from_secs(1));
        let a = w.beater("a", 5000, 1);
        w.until(500).await;
        a.do_send(Crash);
        w.net.unbind(SocketAddr::from(([10, 0, 0, 2], 5000)));
        w.until(3000).await;
        let _a2 = w.beater("a", 5002, 2);
        w.until(3500).await;
        assert_eq!(
            w.names(),
            [
                ("a".into(), "joined"),
                ("a".into(), "down"),
                ("a".into(), "restarted")
            ]
        );
        let events = w.events.borrow();
        assert_eq!(events[1].at_us, 1_400_000);
        assert_eq!(events[2].previous_incarnation, Some(1));
        assert_eq!(events[2].was_down, Some(true));
        assert_eq!(events[2].incarnation, 2);
    });
}

#[test]
fn snapshot_shows_alive_nodes_with_acks_flowing() {
    paused(|| async {
        let w = World::start(Duration::from_secs(1));
        let _a = w.beater("a", 5000, 1);
        w.until(2100).await;
        let snap = w.detector.send(GetSnapshot).await.expect("snapshot");
        assert_eq!(snap.nodes.len(), 1);
        assert_eq!(snap.nodes[0].state, "alive");
        assert_eq!(snap.nodes[0].beats, 11);
        assert_eq!(snap.beats_received, 11);
        assert!(snap.rejections.iter().all(|(_, n)| *n == 0));
    });
}

#[test]
fn node_down_for_forget_after_is_forgotten_and_leaves_the_snapshot() {
    paused(|| async {
        let w = World::start_with(Duration::from_secs(1), Some(Duration::from_secs(5)));
        let a = w.beater("a", 5000, 1);
        w.until(100).await;
        a.do_send(Crash);
        w.until(10_000).await;
        assert_eq!(
            w.names(),
            [
                ("a".into(), "joined"),
                ("a".into(), "down"),
                ("a".into(), "forgotten")
            ]
        );
        assert_eq!(
            w.events.borrow()[2].at_us,
            6_000_000,
            "down at 1 s, forgotten 5 s later"
        );
        let snap = w.detector.send(GetSnapshot).await.expect("snapshot");
        assert!(snap.nodes.is_empty());
    });
}

/// Issue 8: only the monotonic clock drives detection. The sender's wall clock (`sent_at_us`)
/// jumps by days between beats and the monitor's wall clock is a year off; every event lands at
/// the same monotonic instant as in an undisturbed run.
#[test]
fn wall_clock_jumps_change_no_detection_instant() {
    use hb_core::wire::{self, Beat, Message};

    fn run(jumpy: bool) -> Vec<(String, &'static str, u64, Option<u64>)> {
        let out = Rc::new(RefCell::new(Vec::new()));
        let got = Rc::clone(&out);
        paused(move || async move {
            const DAY_US: u64 = 86_400_000_000;
            let clock = if jumpy {
                Clock::with_unix_at_start(Duration::from_secs(4_000_000_000))
            } else {
                Clock::new()
            };
            let w = World::start_clocked(Duration::from_secs(1), None, clock);
            let sock = w.net.bind(SocketAddr::from(([10, 0, 0, 9], 7000)), 64);
            let mut buf = vec![0; wire::MAX_DATAGRAM];
            for seq in 1..=10u64 {
                let sent_at_us = if jumpy {
                    // Forwards a day, back two, to zero, to the far future.
                    [DAY_US * 400, DAY_US * 398, 0, u64::MAX / 2][(seq % 4) as usize]
                } else {
                    clock.unix_offset_us() + seq * 100_000
                };
                let beat = Message::Beat(Beat {
                    period_ms: 100,
                    sent_at_us,
                    ..Beat::new("n", 1, seq)
                });
                let n = wire::encode(&beat, None, &mut buf).expect("encode");
                sock.try_send_to(&buf[..n], MONITOR).expect("send");
                w.until(seq * 100).await;
            }
            w.until(5000).await;
            *got.borrow_mut() = w
                .events
                .borrow()
                .iter()
                .map(|e| (e.node.clone(), e.event, e.at_us, e.silence_ms))
                .collect();
        });
        out.take()
    }
    use crate::net::transport::Transport as _;
    let steady = run(false);
    assert_eq!(
        steady,
        [
            ("n".into(), "joined", 0, None),
            ("n".into(), "down", 1_900_000, Some(1000))
        ],
        "the last beat arrives at 900 ms, so down is due at 1.9 s"
    );
    assert_eq!(run(true), steady);
}

/// Two Detectors in witness mode on one in-memory network: m0 at [`MONITOR`] (and, with
/// `second`, also listening at `second`), m1 at `M1`, each the other's witness.
fn witness_pair(
    clock: Clock,
    net: &MemNet,
    events: &Events,
    second: Option<SocketAddr>,
) -> Vec<Addr<DetectorActor>> {
    let stats = Arc::new(Stats::default());
    let collector = Collector::new(Rc::clone(events)).start();
    let reporter =
        Reporter::new(Vec::new(), Some(collector.recipient()), Arc::clone(&stats)).start();
    let mut detectors = Vec::new();
    for (id, me, witness) in [("m0", MONITOR, M1), ("m1", M1, MONITOR)] {
        let cfg = MonitorConfig {
            id: id.into(),
            detector: DetectorConfig::Fixed(Fixed {
                timeout: Duration::from_secs(1),
            }),
            quorum: Some(hb_core::Quorum {
                witnesses: vec![witness],
                needed: 2,
                period: Duration::from_millis(200),
                incarnation: 1,
            }),
            ..MonitorConfig::default()
        };
        let monitor = Monitor::new(cfg, clock.now()).expect("monitor");
        let socket = Rc::new(net.bind(me, 64));
        let sender: Rc<dyn crate::net::transport::SendTo> = Rc::clone(&socket) as _;
        let reporter = reporter.clone().recipient();
        let d = DetectorActor::new(monitor, clock, reporter, Arc::clone(&stats))
            .with_sender(sender)
            .start();
        Receiver::shared(socket, Speaks::Native, d.clone(), clock, Arc::clone(&stats)).start();
        if let (Some(addr), "m0") = (second, id) {
            let other = net.bind(addr, 64);
            Receiver::new(other, Speaks::Native, d.clone(), clock, Arc::clone(&stats)).start();
        }
        detectors.push(d);
    }
    detectors
}

/// m1's address in [`witness_pair`].
const M1: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 5)),
    43278,
);

/// Witness mode: two monitors that hear no node at all still exchange their verdicts every
/// witness period (the Detector sends them on its own timer, from its listener's socket), so
/// neither thinks the other is down.
#[test]
fn witness_verdicts_flow_with_no_beats_at_all() {
    paused(|| async {
        let clock = Clock::new();
        let (net, events) = (MemNet::default(), Events::default());
        let detectors = witness_pair(clock, &net, &events, None);
        let at = clock.instant(Timestamp::from_micros(3_100_000));
        tokio::time::sleep_until(at).await;
        for d in &detectors {
            let snap = d.send(GetSnapshot).await.expect("snapshot");
            let w = snap.witnesses.expect("witness mode");
            assert!(snap.nodes.is_empty());
            assert_eq!((w.up, w.fallback), (2, false), "{w:?}");
            let peer = &w.witnesses[0];
            assert!(peer.up && peer.last_heard.is_some(), "{peer:?}");
            // Every 200 ms for 3.1 s: 15 or 16 messages.
            assert!((15..=16).contains(&peer.messages), "{peer:?}");
        }
        let names: Vec<_> = events.borrow().iter().map(|e| e.event).collect();
        assert!(names.is_empty(), "{names:?}");
    });
}

/// Verdicts the core writes while it handles a batch from a second listener still leave from
/// the first listener's socket: the witness knows the monitor by that address only.
#[test]
fn verdicts_leave_from_the_first_listener_whatever_listener_the_batch_came_in_on() {
    paused(|| async {
        let clock = Clock::new();
        let (net, events) = (MemNet::default(), Events::default());
        let second = SocketAddr::from(([10, 0, 0, 1], 43279));
        let detectors = witness_pair(clock, &net, &events, Some(second));
        // A node beating to the second listener only, crashed at 500 ms: m0 suspects it at
        // its deadline (a timer) and holds it; its restart at 2.5 s withdraws the suspicion
        // while m0 handles that batch.
        let node = |incarnation: u64, port: u16| {
            let settings = BeatSettings::new(
                NodeId::new("n").expect("id"),
                vec![second],
                Duration::from_millis(100),
            );
            let mut cfg = settings.beater_config(&clock);
            cfg.incarnation = incarnation;
            let beater = Beater::new(cfg, clock.now()).expect("beater");
            let socket = net.bind(SocketAddr::from(([10, 0, 0, 2], port)), 64);
            BeaterActor::new(beater, socket, clock).start()
        };
        let first = node(1, 5000);
        tokio::time::sleep_until(clock.instant(Timestamp::from_micros(500_000))).await;
        first.do_send(Crash);
        tokio::time::sleep_until(clock.instant(Timestamp::from_micros(2_500_000))).await;
        let _again = node(2, 5001);
        let at = clock.instant(Timestamp::from_micros(3_100_000));
        tokio::time::sleep_until(at).await;
        let seen: Vec<_> = events.borrow().iter().map(|e| e.event).collect();
        assert!(
            seen.contains(&"unreachable") && seen.contains(&"restarted"),
            "{seen:?}"
        );
        let m1 = detectors[1].send(GetSnapshot).await.expect("snapshot");
        let unknown = m1.rejections.iter().find(|(r, _)| *r == "unknown_witness");
        assert_eq!(unknown.map(|(_, n)| *n), Some(0), "{:?}", m1.rejections);
        let peer = &m1.witnesses.expect("witness mode").witnesses[0];
        assert!(peer.messages >= 15, "{peer:?}");
    });
}
