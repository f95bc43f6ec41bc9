//! Fault verbs (turmoil / FoundationDB style): named, timed, composable, printable and parseable
//! from a compact text form so a failing run replays from the command line.
//!
//! Text form: faults separated by `;`, each `VERB=ARG,ARG,…` with positional arguments (times
//! from the run's start):
//!
//! | verb | arguments | effect |
//! |---|---|---|
//! | `partition_monitor` | `MONITOR,AT,FOR` | every path into that monitor drops (its uplink) |
//! | `zone_outage` | `ZONE,AT,FOR` | the zone's nodes unreachable by every monitor; they keep running |
//! | `switch_flap` | `ZONE,AT,DOWN,UP,TIMES` | the zone's switch is down `DOWN` then up `UP`, `TIMES` times |
//! | `stall_monitor` | `MONITOR,AT,FOR` | the monitor gets no input and its clock is frozen, then resumes |
//! | `crash` | `NODE,AT,RESTART_AFTER` | the node's process dies and restarts with a new incarnation |
//! | `crash_every` | `MEAN,RESTART_AFTER` | every node crashes independently, exponential up-times |
//! | `cut_path` | `NODE,MONITOR,AT,FOR` | one node's path to one monitor drops |
//!
//! Datagrams are dropped by their send time (a datagram sent before a partition still
//! arrives). A stalled monitor's socket keeps up to [`STALL_BUFFER`] datagrams, read at resume.

use core::fmt;
use core::time::Duration;

use crate::parse::{self, fmt_duration};

/// Datagrams a stalled monitor's socket buffer holds (about a 208 KiB `rmem_default` of
/// ~800-byte kernel buffers); further ones are dropped and counted.
pub const STALL_BUFFER: usize = 256;

/// One fault verb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every path into `monitor` drops for `dur` from `at`.
    PartitionMonitor {
        /// The monitor's name.
        monitor: String,
        /// Start.
        at: Duration,
        /// Length.
        dur: Duration,
    },
    /// Every path from `zone`'s nodes drops for `dur` from `at`.
    ZoneOutage {
        /// The zone's name.
        zone: String,
        /// Start.
        at: Duration,
        /// Length.
        dur: Duration,
    },
    /// `zone`'s switch goes down for `down`, comes up for `up`, `times` times from `at`.
    SwitchFlap {
        /// The zone's name.
        zone: String,
        /// First failure.
        at: Duration,
        /// Each outage.
        down: Duration,
        /// Each recovery between outages.
        up: Duration,
        /// How many outages.
        times: u32,
    },
    /// `monitor` is stopped (no input, clock frozen) for `dur` from `at`.
    StallMonitor {
        /// The monitor's name.
        monitor: String,
        /// Start.
        at: Duration,
        /// Length.
        dur: Duration,
    },
    /// `node` crashes at `at` and restarts `restart_after` later. Ignored if the node is down
    /// already (an earlier crash) or has not started yet (each node starts at a random phase in
    /// the first period).
    Crash {
        /// The node's name.
        node: String,
        /// When.
        at: Duration,
        /// Down-time before the restart.
        restart_after: Duration,
    },
    /// Every node crashes independently after exponential up-times of mean `mean`.
    CrashEvery {
        /// Mean up-time.
        mean: Duration,
        /// Down-time before each restart.
        restart_after: Duration,
    },
    /// `node`'s path to `monitor` drops for `dur` from `at`.
    CutPath {
        /// The node's name.
        node: String,
        /// The monitor's name.
        monitor: String,
        /// Start.
        at: Duration,
        /// Length.
        dur: Duration,
    },
}

/// The verbs, for help texts.
pub const VERBS: [&str; 7] = [
    "partition_monitor=MONITOR,AT,FOR",
    "zone_outage=ZONE,AT,FOR",
    "switch_flap=ZONE,AT,DOWN,UP,TIMES",
    "stall_monitor=MONITOR,AT,FOR",
    "crash=NODE,AT,RESTART_AFTER",
    "crash_every=MEAN,RESTART_AFTER",
    "cut_path=NODE,MONITOR,AT,FOR",
];

const HINT: &str = "faults separated by ';', each one of partition_monitor=MONITOR,AT,FOR, \
                    zone_outage=ZONE,AT,FOR, switch_flap=ZONE,AT,DOWN,UP,TIMES, \
                    stall_monitor=MONITOR,AT,FOR, crash=NODE,AT,RESTART_AFTER, \
                    crash_every=MEAN,RESTART_AFTER, cut_path=NODE,MONITOR,AT,FOR \
                    (or `none`)";

/// A list of faults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// The faults, in the order given.
    pub faults: Vec<Fault>,
}

pub(super) fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

impl Fault {
    /// The verb.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::PartitionMonitor { .. } => "partition_monitor",
            Self::ZoneOutage { .. } => "zone_outage",
            Self::SwitchFlap { .. } => "switch_flap",
            Self::StallMonitor { .. } => "stall_monitor",
            Self::Crash { .. } => "crash",
            Self::CrashEvery { .. } => "crash_every",
            Self::CutPath { .. } => "cut_path",
        }
    }

    fn parse(item: &str) -> Result<Self, parse::SpecError> {
        let bad = || parse::SpecError::Spec {
            what: "fault",
            spec: item.into(),
            hint: HINT,
        };
        let (verb, args) = item.split_once('=').ok_or_else(bad)?;
        let a: Vec<&str> = args.split(',').map(str::trim).collect();
        let d = |s: &str| parse::duration(s);
        let name = |s: &str| {
            if s.is_empty() {
                Err(bad())
            } else {
                Ok(s.to_owned())
            }
        };
        Ok(match (verb.trim(), a.as_slice()) {
            ("partition_monitor", [m, at, dur]) => Self::PartitionMonitor {
                monitor: name(m)?,
                at: d(at)?,
                dur: d(dur)?,
            },
            ("zone_outage", [z, at, dur]) => Self::ZoneOutage {
                zone: name(z)?,
                at: d(at)?,
                dur: d(dur)?,
            },
            ("switch_flap", [z, at, down, up, times]) => Self::SwitchFlap {
                zone: name(z)?,
                at: d(at)?,
                down: d(down)?,
                up: d(up)?,
                times: times
                    .parse()
                    .map_err(|_| parse::SpecError::Number((*times).into()))?,
            },
            ("stall_monitor", [m, at, dur]) => Self::StallMonitor {
                monitor: name(m)?,
                at: d(at)?,
                dur: d(dur)?,
            },
            ("crash", [n, at, r]) => Self::Crash {
                node: name(n)?,
                at: d(at)?,
                restart_after: d(r)?,
            },
            ("crash_every", [mean, r]) => Self::CrashEvery {
                mean: d(mean)?,
                restart_after: d(r)?,
            },
            ("cut_path", [n, m, at, dur]) => Self::CutPath {
                node: name(n)?,
                monitor: name(m)?,
                at: d(at)?,
                dur: d(dur)?,
            },
            _ => return Err(bad()),
        })
    }

    /// The windows `[start, end)` (µs) in which this fault is in force; a crash's window is its
    /// down-time; random crashes have none.
    pub fn windows(&self) -> Vec<(u64, u64)> {
        let w = |at: Duration, dur: Duration| vec![(us(at), us(at) + us(dur))];
        match self {
            Self::PartitionMonitor { at, dur, .. }
            | Self::ZoneOutage { at, dur, .. }
            | Self::StallMonitor { at, dur, .. }
            | Self::CutPath { at, dur, .. } => w(*at, *dur),
            Self::Crash {
                at, restart_after, ..
            } => w(*at, *restart_after),
            Self::SwitchFlap {
                at,
                down,
                up,
                times,
                ..
            } => (0..u64::from(*times))
                .map(|k| {
                    let s = us(*at) + k * (us(*down) + us(*up));
                    (s, s + us(*down))
                })
                .collect(),
            Self::CrashEvery { .. } => Vec::new(),
        }
    }
}

impl fmt::Display for Fault {
    /// The text form that parses back to this fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |x: &Duration| fmt_duration(*x);
        write!(f, "{}=", self.verb())?;
        match self {
            Self::PartitionMonitor { monitor, at, dur }
            | Self::StallMonitor { monitor, at, dur } => {
                write!(f, "{monitor},{},{}", d(at), d(dur))
            }
            Self::ZoneOutage { zone, at, dur } => write!(f, "{zone},{},{}", d(at), d(dur)),
            Self::SwitchFlap {
                zone,
                at,
                down,
                up,
                times,
            } => write!(f, "{zone},{},{},{},{times}", d(at), d(down), d(up)),
            Self::Crash {
                node,
                at,
                restart_after,
            } => write!(f, "{node},{},{}", d(at), d(restart_after)),
            Self::CrashEvery {
                mean,
                restart_after,
            } => write!(f, "{},{}", d(mean), d(restart_after)),
            Self::CutPath {
                node,
                monitor,
                at,
                dur,
            } => write!(f, "{node},{monitor},{},{}", d(at), d(dur)),
        }
    }
}

impl fmt::Display for FaultPlan {
    /// The text form that parses back to this plan (`none` when empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            return f.write_str("none");
        }
        for (i, fault) in self.faults.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{fault}")?;
        }
        Ok(())
    }
}

impl FaultPlan {
    /// Parses the text form (see the module docs); `none` or an empty string is no fault.
    pub fn parse(s: &str) -> Result<Self, parse::SpecError> {
        let mut faults = Vec::new();
        for item in s.split(';').map(str::trim) {
            if item.is_empty() || item == "none" {
                continue;
            }
            faults.push(Fault::parse(item)?);
        }
        Ok(Self { faults })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Topology;

    const PLAN: &str = "partition_monitor=m0,2m,30s;zone_outage=z1,3m,1m;\
                        switch_flap=z2,4m,5s,10s,3;stall_monitor=m1,5m,10s;crash=n3,100s,1m;\
                        crash_every=30m,1m;cut_path=n4,m2,90s,20s";

    #[test]
    fn plans_print_back_to_their_text_form() {
        let p = FaultPlan::parse(PLAN).unwrap();
        assert_eq!(p.faults.len(), 7);
        assert_eq!(p.to_string(), PLAN);
        assert_eq!(FaultPlan::parse(&p.to_string()).unwrap(), p);
        assert_eq!(FaultPlan::parse("none").unwrap().to_string(), "none");
        assert_eq!(FaultPlan::parse("").unwrap(), FaultPlan::default());
    }

    #[test]
    fn bad_plans_are_errors() {
        for bad in [
            "partition_monitor=m0,2m",
            "zone_outage=z1,3m,fast",
            "switch_flap=z2,4m,5s,10s,many",
            "meteor=z1,1s,1s",
            "crash",
            "cut_path=,m0,1s,1s",
        ] {
            assert!(FaultPlan::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolving_names_what_is_missing() {
        let topo = Topology::uniform(6, 2, 2).unwrap();
        let p = FaultPlan::parse("zone_outage=z5,1s,1s").unwrap();
        let e = p.resolve(&topo).unwrap_err().to_string();
        assert!(e.contains("z5") && e.contains("zones: z0, z1"), "{e}");
        let p = FaultPlan::parse("cut_path=n6,m0,1s,1s").unwrap();
        assert!(p.resolve(&topo).unwrap_err().to_string().contains("n0…n5"));
        for bad in [
            "crash_every=0,1s",
            "crash_every=10ms,1s",
            "crash_every=1m,1s;crash_every=2m,1s",
        ] {
            let p = FaultPlan::parse(bad).unwrap();
            assert!(p.resolve(&topo).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_flap_is_times_windows_of_down_then_up() {
        let p = FaultPlan::parse("switch_flap=z0,10s,2s,3s,3").unwrap();
        let r = p.resolve(&Topology::uniform(4, 1, 2).unwrap()).unwrap();
        let w: Vec<_> = r.blocks.iter().map(|b| b.2).collect();
        assert_eq!(
            w,
            [
                (10_000_000, 12_000_000),
                (15_000_000, 17_000_000),
                (20_000_000, 22_000_000)
            ]
        );
        assert!(r.blocked(0, 0, 0, 10_000_000));
        assert!(!r.blocked(0, 0, 0, 12_000_000));
        assert!(
            !r.blocked(3, 1, 0, 10_000_000),
            "other zones keep their paths"
        );
    }
}
