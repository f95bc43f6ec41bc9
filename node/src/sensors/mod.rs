//! Sensors on the beater: `hbnode beat --sensor load --sensor 'cmd:disk=check_disk -w 10% /'`.
//!
//! The Sensors actor runs each sensor every interval (its spec's `@DUR`, else
//! [`spec::DEFAULT_EVERY`]; or what a monitor's schedule says) and hands the readings to the
//! Beater actor, whose core queues them for the next beats. Built-ins read /proc on the actor
//! (a few small reads); plugins run as child processes awaited on the runtime, never blocking
//! beats, one run per sensor at a time (a run still going when the next is due skips it).

pub(crate) mod perfdata;
mod plugin;
mod procfs;
pub(crate) mod spec;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;
use hb_core::probe::ProbeMeta;
use hb_core::schedule::SensorInterval;

use spec::{DEFAULT_EVERY, SensorKind, SensorSpec};

/// One reading for the beater.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reading {
    /// Probe name.
    pub(crate) probe: String,
    /// Value.
    pub(crate) value: f64,
    /// 0 ok, 1 warning, 2 critical, 3 unknown.
    pub(crate) status: u8,
    /// Unit, the plugin's own ranges, min and max (empty for built-ins).
    pub(crate) meta: ProbeMeta,
}

impl Reading {
    /// A reading without meta.
    pub(crate) fn new(probe: &str, value: f64, status: u8) -> Self {
        Self {
            probe: probe.to_owned(),
            value,
            status,
            meta: ProbeMeta::default(),
        }
    }
}

/// Readings for the Beater actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct PushReadings(pub(crate) Vec<Reading>);

/// A monitor's sensor schedule (`None`: back to the `--sensor` flags).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct SetSchedule(pub(crate) Option<Vec<SensorInterval>>);

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Sensors {
    local: Vec<SensorSpec>,
    active: Vec<(SensorSpec, Duration)>,
    timers: Vec<SpawnHandle>,
    running: BTreeSet<String>,
    out: Recipient<PushReadings>,
    timeout: Duration,
    proc: PathBuf,
    dropped: u64,
}

impl Sensors {
    /// Sensors `local` (from the flags), plugins killed after `timeout`, readings to `out`.
    pub(crate) fn new(
        local: Vec<SensorSpec>,
        timeout: Duration,
        out: Recipient<PushReadings>,
    ) -> Self {
        Self {
            local,
            active: Vec::new(),
            timers: Vec::new(),
            running: BTreeSet::new(),
            out,
            timeout,
            proc: PathBuf::from("/proc"),
            dropped: 0,
        }
    }

    /// Runs `active` from now on, each at once and then every interval.
    fn apply(&mut self, active: Vec<(SensorSpec, Duration)>, ctx: &mut Context<Self>) {
        for t in self.timers.drain(..) {
            ctx.cancel_future(t);
        }
        self.active = active;
        for i in 0..self.active.len() {
            let every = self.active[i].1;
            self.run(i, ctx);
            self.timers
                .push(ctx.run_interval(every, move |act, ctx| act.run(i, ctx)));
        }
    }

    /// The flags' sensors with their intervals.
    fn local_schedule(&self) -> Vec<(SensorSpec, Duration)> {
        self.local
            .iter()
            .map(|s| (s.clone(), s.every.unwrap_or(DEFAULT_EVERY)))
            .collect()
    }

    fn run(&mut self, i: usize, ctx: &mut Context<Self>) {
        let Some((spec, _)) = self.active.get(i) else {
            return;
        };
        let readings = match &spec.kind {
            SensorKind::Load => procfs::load(&self.proc),
            SensorKind::Memory => procfs::memory(&self.proc),
            SensorKind::Processes => procfs::processes(&self.proc),
            SensorKind::Cmd(argv) => {
                if !self.running.insert(spec.name.clone()) {
                    tracing::debug!(sensor = %spec.name, "plugin still running; this run skipped");
                    return;
                }
                let (name, argv, timeout) = (spec.name.clone(), argv.clone(), self.timeout);
                let fut = async move {
                    let outcome = plugin::run(&argv, timeout).await;
                    (plugin::readings(&name, &outcome), name)
                };
                ctx.spawn(fut.into_actor(self).map(|(readings, name), act, _| {
                    act.running.remove(&name);
                    act.send(readings);
                }));
                return;
            }
        };
        self.send(readings);
    }

    fn send(&mut self, readings: Vec<Reading>) {
        if self.out.try_send(PushReadings(readings)).is_err() {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = self.dropped,
                    "beater busy: sensor readings dropped"
                );
            }
        }
    }
}

impl Actor for Sensors {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let local = self.local_schedule();
        self.apply(local, ctx);
    }
}

impl Handler<SetSchedule> for Sensors {
    type Result = ();

    fn handle(&mut self, SetSchedule(schedule): SetSchedule, ctx: &mut Self::Context) {
        let active = match schedule {
            None => self.local_schedule(),
            Some(list) => list
                .iter()
                .filter_map(|s| {
                    let spec = self
                        .local
                        .iter()
                        .find(|l| l.name == s.sensor.as_str())
                        .cloned()
                        .or_else(|| SensorSpec::builtin(&s.sensor));
                    if spec.is_none() {
                        tracing::warn!(sensor = %s.sensor,
                            "the monitor's schedule names a sensor this node does not define; ignored");
                    }
                    Some((spec?, s.every))
                })
                .collect(),
        };
        self.apply(active, ctx);
    }
}

/// How a sensor schedule reads in the log: `load every 10s, memory every 30s`.
pub(crate) fn describe(list: &[SensorInterval]) -> String {
    if list.is_empty() {
        return "no sensors".into();
    }
    list.iter()
        .map(|s| format!("{} every {}", s.sensor, humantime::format_duration(s.every)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    type Batches = Rc<RefCell<Vec<Vec<String>>>>;

    /// Records each batch's probe names.
    struct Collect(Batches);

    impl Actor for Collect {
        type Context = Context<Self>;
    }

    impl Handler<PushReadings> for Collect {
        type Result = ();
        fn handle(&mut self, PushReadings(r): PushReadings, _: &mut Self::Context) {
            self.0
                .borrow_mut()
                .push(r.into_iter().map(|r| r.probe).collect());
        }
    }

    fn every(sensor: &str, secs: u64) -> SensorInterval {
        SensorInterval {
            sensor: sensor.into(),
            every: Duration::from_secs(secs),
        }
    }

    /// The first probe of each batch recorded since the last call.
    fn firsts(b: &Batches) -> Vec<String> {
        b.borrow_mut().drain(..).map(|x| x[0].clone()).collect()
    }

    #[test]
    fn sensors_run_every_interval_and_follow_the_monitors_schedule() {
        let sys = System::with_tokio_rt(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .expect("runtime")
        });
        sys.block_on(async {
            let batches = Batches::default();
            let out = Collect(Rc::clone(&batches)).start();
            let local = vec![spec::parse_sensor("load@1s").unwrap()];
            let s = Sensors::new(local, Duration::from_secs(10), out.recipient()).start();
            let step = |ms| tokio::time::sleep(Duration::from_millis(ms));
            step(2500).await;
            assert_eq!(firsts(&batches), ["load1"; 3], "at 0, 1 and 2 s");
            // The monitor's schedule: a built-in the flags did not name, and an unknown one.
            s.send(SetSchedule(Some(vec![
                every("memory", 2),
                every("nope", 1),
            ])))
            .await
            .unwrap();
            step(4100).await;
            assert_eq!(
                firsts(&batches),
                ["mem_used_bytes"; 3],
                "at 2.5, 4.5 and 6.5 s"
            );
            s.send(SetSchedule(Some(Vec::new()))).await.unwrap();
            step(5000).await;
            assert!(
                firsts(&batches).is_empty(),
                "an empty schedule runs nothing"
            );
            s.send(SetSchedule(None)).await.unwrap();
            step(1500).await;
            assert_eq!(firsts(&batches), ["load1"; 2], "back to the flags");
        });
    }
}
