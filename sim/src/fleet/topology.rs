//! A fleet's shape: zones of nodes, monitors, the link of every (node, monitor) path and the
//! loss a node's paths share.

use core::time::Duration;

use hb_core::detector::{DetectorConfig, Fixed};

use crate::link::{Link, Loss};

/// A named group of nodes (a rack, a room, an availability zone) whose paths may share a link
/// spec and fail together ([`crate::fleet::Fault::ZoneOutage`], [`crate::fleet::Fault::SwitchFlap`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// The zone's name, as fault plans name it (`z0`, `z1`, …).
    pub name: String,
    /// How many nodes it holds.
    pub nodes: u32,
    /// The link of its nodes' paths; `None`: the fleet-wide [`Topology::link`].
    pub link: Option<Link>,
    /// When its nodes first start beating (0: at once): nodes that join a monitor which
    /// already knows the others.
    pub joins_at: Duration,
}

/// One monitor: its name and the knobs of its own `hb_core::MonitorConfig`.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorSpec {
    /// The monitor's name, as fault plans name it (`m0`, `m1`, …), also its `MonitorConfig::id`.
    pub name: String,
    /// Its failure detector.
    pub detector: DetectorConfig,
    /// Its local-pause guard (`MonitorConfig::stall_threshold`).
    pub stall_threshold: Option<Duration>,
    /// Its isolation guard (`MonitorConfig::isolation`; on by default, as in `hbnode`).
    pub isolation: Option<hb_core::Isolation>,
    /// Whether it knows the zones (`MonitorConfig::zones`, one rule per node from
    /// [`Topology::zone_rules`]), and so reports a zone's outage once.
    pub zones: bool,
    /// Witness mode (`MonitorConfig::quorum`): the other monitors are its witnesses, reached
    /// over [`Topology::monitor_link`]. `None`: its own verdicts are final.
    pub quorum: Option<WitnessSpec>,
}

/// A monitor's witness mode in the fleet: every other monitor is a witness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WitnessSpec {
    /// Monitors, this one included, that must suspect a node for it to be down (K).
    pub needed: usize,
    /// How often it repeats its verdicts to each witness (`Quorum::period`).
    pub period: Duration,
}

/// The fleet: N nodes in zones, each an `hb_core::Beater` sending every beat to every monitor
/// (as `hbnode beat --to A --to B …` does), and M monitors, each an `hb_core::Monitor`.
///
/// Node `i` is named `n{i}`; nodes fill the zones in order (zone 0 gets the first
/// `zones[0].nodes`, and so on). Each node starts at a random phase in `[0, period)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// The zones, in order.
    pub zones: Vec<Zone>,
    /// The monitors, in order.
    pub monitors: Vec<MonitorSpec>,
    /// The link of every (node, monitor) path whose zone sets none.
    pub link: Link,
    /// The link of every monitor-to-monitor path (witness verdicts), each direction drawn on
    /// its own; by default [`Link::lan`].
    pub monitor_link: Link,
    /// Loss at each node's own NIC or switch, shared by all its paths: one draw per beat,
    /// applied before the per-path draws, so every monitor misses that beat together. `None`:
    /// the paths fail independently.
    pub shared_loss: Option<Loss>,
    /// The beat period η of every node.
    pub period: Duration,
    /// The beaters' period jitter, 0–0.5 (`hb_core::BeaterConfig::jitter`).
    pub jitter: f64,
    /// Virtual time per run.
    pub duration: Duration,
    /// Call `Monitor::check_invariants` after every monitor input (O(nodes) each: slow).
    pub check_invariants: bool,
}

/// Why a topology or fault plan cannot be simulated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// No nodes, no monitors, or more than the engine addresses.
    #[error("a fleet needs 1–{max_nodes} nodes and 1–{max_monitors} monitors, got {nodes} and {monitors}", max_nodes = MAX_NODES, max_monitors = MAX_MONITORS)]
    Size {
        /// Nodes asked for.
        nodes: u64,
        /// Monitors asked for.
        monitors: u64,
    },
    /// Zones must number between 1 and the node count.
    #[error("{zones} zones for {nodes} nodes: give every zone at least one node")]
    Zones {
        /// Zones asked for.
        zones: u64,
        /// Nodes asked for.
        nodes: u64,
    },
    /// Two zones or two monitors share a name.
    #[error("duplicate {what} name {name:?}")]
    Duplicate {
        /// `zone` or `monitor`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A fault names a node, zone or monitor the topology does not have.
    #[error("fault {fault:?} names {what} {name:?}, which this fleet does not have ({hint})")]
    Unknown {
        /// The fault, in its text form.
        fault: String,
        /// `node`, `zone` or `monitor`.
        what: &'static str,
        /// The name.
        name: String,
        /// What exists.
        hint: String,
    },
    /// A monitor's detector parameters are out of bounds.
    #[error("monitor {monitor}: {why}")]
    Detector {
        /// The monitor's name.
        monitor: String,
        /// hb-core's reason.
        why: String,
    },
    /// Other parameters out of range.
    #[error("{0}")]
    Param(String),
}

/// Most nodes a fleet may have (addresses are 10.x.y.z).
pub const MAX_NODES: u32 = 1 << 20;
/// Most datagrams one run may send (nodes × monitors × duration / period): a bound on a run's
/// work, so a typo cannot start a run that never ends.
pub const MAX_DATAGRAMS: f64 = 2e9;
/// Most monitors a fleet may have.
pub const MAX_MONITORS: u16 = 250;

impl Topology {
    /// `nodes` nodes spread evenly over `zones` zones `z0…` (the first zones get one more when
    /// it does not divide), `monitors` monitors `m0…`, all with a fixed 3 s timeout; 1 s beats,
    /// perfect links, 10 minutes, invariants checked.
    pub fn uniform(nodes: u32, monitors: u16, zones: u32) -> Result<Self, FleetError> {
        if nodes == 0 || nodes > MAX_NODES || monitors == 0 || monitors > MAX_MONITORS {
            return Err(FleetError::Size {
                nodes: u64::from(nodes),
                monitors: u64::from(monitors),
            });
        }
        if zones == 0 || zones > nodes {
            return Err(FleetError::Zones {
                zones: u64::from(zones),
                nodes: u64::from(nodes),
            });
        }
        let zones = (0..zones)
            .map(|z| Zone {
                name: format!("z{z}"),
                nodes: nodes / zones + u32::from(z < nodes % zones),
                link: None,
                joins_at: Duration::ZERO,
            })
            .collect();
        let monitors = (0..monitors)
            .map(|m| MonitorSpec {
                name: format!("m{m}"),
                detector: DetectorConfig::Fixed(Fixed {
                    timeout: Duration::from_secs(3),
                }),
                stall_threshold: Some(Duration::from_secs(1)),
                isolation: Some(hb_core::Isolation::default()),
                zones: true,
                quorum: None,
            })
            .collect();
        Ok(Self {
            zones,
            monitors,
            link: Link::default(),
            monitor_link: Link::lan(),
            shared_loss: None,
            period: Duration::from_secs(1),
            jitter: 0.0,
            duration: Duration::from_secs(600),
            check_invariants: true,
        })
    }

    /// Sets every monitor's detector.
    pub fn with_detector(mut self, detector: DetectorConfig) -> Self {
        for m in &mut self.monitors {
            m.detector = detector;
        }
        self
    }

    /// Makes every monitor a witness of every other one, `needed` of them deciding, verdicts
    /// repeated every `period`.
    pub fn with_witnesses(mut self, needed: usize, period: Duration) -> Self {
        for m in &mut self.monitors {
            m.quorum = Some(WitnessSpec { needed, period });
        }
        self
    }

    /// Total nodes.
    pub fn node_count(&self) -> u32 {
        self.zones.iter().map(|z| z.nodes).sum()
    }

    /// The zone index of every node, in node order.
    pub fn node_zones(&self) -> Vec<u16> {
        self.zones
            .iter()
            .enumerate()
            .flat_map(|(z, zone)| core::iter::repeat_n(z as u16, zone.nodes as usize))
            .collect()
    }

    /// The name of node `i`.
    pub fn node_name(i: u32) -> String {
        format!("n{i}")
    }

    /// Zone rules naming every node's zone (exact ids), as an operator's `--zone` would.
    pub fn zone_rules(&self) -> Vec<hb_core::ZoneRule> {
        let mut rules = Vec::new();
        let mut i = 0;
        for z in &self.zones {
            for _ in 0..z.nodes {
                rules.push(hb_core::ZoneRule {
                    name: z.name.as_str().into(),
                    nodes: hb_core::NodeMatch::new(&Self::node_name(i)).expect("a node name"),
                });
                i += 1;
            }
        }
        rules
    }

    /// The index of the node named `name`, if this fleet has it.
    pub fn node_index(&self, name: &str) -> Option<u32> {
        let i: u32 = name.strip_prefix('n')?.parse().ok()?;
        (i < self.node_count() && Self::node_name(i) == name).then_some(i)
    }

    /// The index of the zone named `name`.
    pub fn zone_index(&self, name: &str) -> Option<u16> {
        self.zones
            .iter()
            .position(|z| z.name == name)
            .map(|i| i as u16)
    }

    /// The index of the monitor named `name`.
    pub fn monitor_index(&self, name: &str) -> Option<u16> {
        self.monitors
            .iter()
            .position(|m| m.name == name)
            .map(|i| i as u16)
    }

    /// The link of zone `z`'s paths.
    pub fn zone_link(&self, z: u16) -> &Link {
        self.zones[usize::from(z)]
            .link
            .as_ref()
            .unwrap_or(&self.link)
    }

    /// Checks sizes, names, detectors and ranges.
    pub fn validate(&self) -> Result<(), FleetError> {
        let nodes = self.node_count();
        if nodes == 0
            || nodes > MAX_NODES
            || self.monitors.is_empty()
            || self.monitors.len() > usize::from(MAX_MONITORS)
        {
            return Err(FleetError::Size {
                nodes: u64::from(nodes),
                monitors: self.monitors.len() as u64,
            });
        }
        if self.zones.iter().any(|z| z.nodes == 0) {
            return Err(FleetError::Zones {
                zones: self.zones.len() as u64,
                nodes: u64::from(nodes),
            });
        }
        for (i, z) in self.zones.iter().enumerate() {
            if z.joins_at >= self.duration {
                return Err(FleetError::Param(format!(
                    "zone {} joins at {:?}, not before the run ends ({:?})",
                    z.name, z.joins_at, self.duration
                )));
            }
            if self.zones[..i].iter().any(|o| o.name == z.name) {
                return Err(FleetError::Duplicate {
                    what: "zone",
                    name: z.name.clone(),
                });
            }
        }
        for (i, m) in self.monitors.iter().enumerate() {
            if self.monitors[..i].iter().any(|o| o.name == m.name) {
                return Err(FleetError::Duplicate {
                    what: "monitor",
                    name: m.name.clone(),
                });
            }
            m.detector.validate().map_err(|e| FleetError::Detector {
                monitor: m.name.clone(),
                why: e.to_string(),
            })?;
            if let Some(w) = m.quorum {
                let n = self.monitors.len();
                if n < 2 || n - 1 > hb_core::MAX_WITNESSES {
                    return Err(FleetError::Param(format!(
                        "monitor {}: witness mode needs 2–{} monitors, the fleet has {n}",
                        m.name,
                        hb_core::MAX_WITNESSES + 1
                    )));
                }
                if !(1..=n).contains(&w.needed) || w.period < Duration::from_millis(10) {
                    return Err(FleetError::Param(format!(
                        "monitor {}: quorum {} of {n} with witness period {:?}: give 1–{n} and \
                         at least 10 ms",
                        m.name, w.needed, w.period
                    )));
                }
            }
        }
        if !(0.0..=0.5).contains(&self.jitter) {
            return Err(FleetError::Param("jitter must be between 0 and 0.5".into()));
        }
        if self.period.is_zero() || self.duration.is_zero() {
            return Err(FleetError::Param(
                "the beat period and the duration must be positive".into(),
            ));
        }
        let datagrams = f64::from(nodes)
            * self.monitors.len() as f64
            * (self.duration.as_secs_f64() / self.period.as_secs_f64());
        if datagrams > MAX_DATAGRAMS {
            return Err(FleetError::Param(format!(
                "{datagrams:.3e} datagrams per run (nodes × monitors × duration / period) is over \
                 the limit of {MAX_DATAGRAMS:e}: shorten the run or shrink the fleet"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_spreads_nodes_over_zones_in_order() {
        let t = Topology::uniform(10, 2, 3).unwrap();
        assert_eq!(
            t.zones.iter().map(|z| z.nodes).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        assert_eq!(t.node_zones(), [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
        assert_eq!(t.node_index("n9"), Some(9));
        assert_eq!(t.node_index("n10"), None);
        assert_eq!(t.node_index("n01"), None);
        assert_eq!(t.zone_index("z2"), Some(2));
        assert_eq!(t.monitor_index("m1"), Some(1));
        assert_eq!(t.monitor_index("m2"), None);
        t.validate().unwrap();
    }

    #[test]
    fn impossible_fleets_are_errors() {
        assert!(matches!(
            Topology::uniform(0, 1, 1),
            Err(FleetError::Size { .. })
        ));
        assert!(matches!(
            Topology::uniform(3, 1, 4),
            Err(FleetError::Zones { .. })
        ));
        let mut t = Topology::uniform(4, 2, 2).unwrap();
        t.monitors[1].name = "m0".into();
        assert!(matches!(t.validate(), Err(FleetError::Duplicate { .. })));
        let mut t = Topology::uniform(4, 2, 2).unwrap();
        t.jitter = 0.9;
        assert!(matches!(t.validate(), Err(FleetError::Param(_))));
        let mut t = Topology::uniform(1000, 3, 2).unwrap();
        t.period = Duration::from_millis(1);
        t.duration = Duration::from_secs(86_400);
        let e = t.validate().unwrap_err().to_string();
        assert!(e.contains("shorten the run"), "{e}");
        let one = Topology::uniform(4, 1, 1)
            .unwrap()
            .with_witnesses(1, Duration::from_secs(1));
        assert!(matches!(one.validate(), Err(FleetError::Param(_))));
        let t = Topology::uniform(4, 3, 1).unwrap();
        assert!(
            t.clone()
                .with_witnesses(4, Duration::from_secs(1))
                .validate()
                .is_err()
        );
        assert!(
            t.clone()
                .with_witnesses(2, Duration::from_millis(5))
                .validate()
                .is_err()
        );
        t.with_witnesses(2, Duration::from_secs(1))
            .validate()
            .unwrap();
    }
}
