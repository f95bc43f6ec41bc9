//! A fault plan resolved against a topology: names to indices, times to µs windows, and the
//! question the engine asks of every datagram (is its path cut right now?).

use super::faults::{Fault, FaultPlan, us};
use super::topology::{FleetError, Topology};

/// Who a path fault cuts off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every path into this monitor.
    Monitor(u16),
    /// Every path from this zone's nodes.
    Zone(u16),
    /// One (node, monitor) path.
    Path(u32, u16),
}

impl Scope {
    /// Whether the path from `node` (in `zone`) to `monitor` is in scope.
    pub fn covers(self, node: u32, zone: u16, monitor: u16) -> bool {
        match self {
            Self::Monitor(m) => m == monitor,
            Self::Zone(z) => z == zone,
            Self::Path(n, m) => n == node && m == monitor,
        }
    }

    /// Whether anything reaching `monitor` is in scope.
    pub fn touches(self, monitor: u16) -> bool {
        match self {
            Self::Monitor(m) | Self::Path(_, m) => m == monitor,
            Self::Zone(_) => true,
        }
    }
}

/// A fault plan resolved against a topology: indices and µs windows `[start, end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Path faults: (index of the fault in the plan, scope, window).
    pub blocks: Vec<(usize, Scope, (u64, u64))>,
    /// Monitor stalls: (index of the fault, monitor, window).
    pub stalls: Vec<(usize, u16, (u64, u64))>,
    /// Scheduled crashes: (index of the fault, node, at, restart after), µs.
    pub crashes: Vec<(usize, u32, u64, u64)>,
    /// Random independent crashes: (mean up-time, restart after), µs.
    pub crash_every: Option<(u64, u64)>,
}

impl Resolved {
    /// Whether a datagram sent at `t` from `node` (in `zone`) to `monitor` is dropped.
    pub fn blocked(&self, node: u32, zone: u16, monitor: u16, t: u64) -> bool {
        self.blocks
            .iter()
            .any(|&(_, s, (a, b))| a <= t && t < b && s.covers(node, zone, monitor))
    }

    /// Whether a witness datagram sent at `t` between monitors `a` and `b` is dropped: a
    /// partition of either monitor's uplink cuts its witness traffic too.
    pub fn monitors_cut(&self, a: u16, b: u16, t: u64) -> bool {
        self.blocks.iter().any(|&(_, s, (from, to))| {
            from <= t && t < to && matches!(s, Scope::Monitor(m) if m == a || m == b)
        })
    }
}

impl FaultPlan {
    /// Resolves names against `topo` and times into µs windows.
    pub fn resolve(&self, topo: &Topology) -> Result<Resolved, FleetError> {
        let mut r = Resolved::default();
        for (i, fault) in self.faults.iter().enumerate() {
            let unknown = |what: &'static str, name: &str, hint: String| FleetError::Unknown {
                fault: fault.to_string(),
                what,
                name: name.into(),
                hint,
            };
            let monitor = |name: &str| {
                topo.monitor_index(name).ok_or_else(|| {
                    let names: Vec<&str> = topo.monitors.iter().map(|m| m.name.as_str()).collect();
                    unknown("monitor", name, format!("monitors: {}", names.join(", ")))
                })
            };
            let zone = |name: &str| {
                topo.zone_index(name).ok_or_else(|| {
                    let names: Vec<&str> = topo.zones.iter().map(|z| z.name.as_str()).collect();
                    unknown("zone", name, format!("zones: {}", names.join(", ")))
                })
            };
            let node = |name: &str| {
                topo.node_index(name).ok_or_else(|| {
                    let hint = format!("nodes: n0…n{}", topo.node_count().saturating_sub(1));
                    unknown("node", name, hint)
                })
            };
            let windows = fault.windows();
            match fault {
                Fault::PartitionMonitor { monitor: m, .. } => {
                    let m = monitor(m)?;
                    r.blocks
                        .extend(windows.into_iter().map(|w| (i, Scope::Monitor(m), w)));
                }
                Fault::ZoneOutage { zone: z, .. } | Fault::SwitchFlap { zone: z, .. } => {
                    let z = zone(z)?;
                    r.blocks
                        .extend(windows.into_iter().map(|w| (i, Scope::Zone(z), w)));
                }
                Fault::CutPath {
                    node: n,
                    monitor: m,
                    ..
                } => {
                    let s = Scope::Path(node(n)?, monitor(m)?);
                    r.blocks.extend(windows.into_iter().map(|w| (i, s, w)));
                }
                Fault::StallMonitor { monitor: m, .. } => {
                    let m = monitor(m)?;
                    r.stalls.extend(windows.into_iter().map(|w| (i, m, w)));
                }
                Fault::Crash {
                    node: n,
                    at,
                    restart_after,
                } => r.crashes.push((i, node(n)?, us(*at), us(*restart_after))),
                Fault::CrashEvery {
                    mean,
                    restart_after,
                } => {
                    if *mean < topo.period || r.crash_every.is_some() {
                        return Err(FleetError::Param(format!(
                            "{fault}: give one crash_every, with a mean up-time of at least \
                             one beat period ({})",
                            crate::parse::fmt_duration(topo.period)
                        )));
                    }
                    r.crash_every = Some((us(*mean), us(*restart_after)));
                }
            }
        }
        Ok(r)
    }
}
