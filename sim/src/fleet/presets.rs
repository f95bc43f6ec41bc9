//! The named fleets of `cargo xtask sim fleet --preset NAME`.
//!
//! Every preset starts from [`Topology::uniform`] (by default 60 nodes in 3 zones `z0…z2`, 3
//! monitors `m0…m2`, 1 s beats, a fixed 3 s timeout) over the `lan` link with 1 % Bernoulli
//! loss per path, and names its faults in the text form of [`FaultPlan`].

use core::time::Duration;

use super::faults::FaultPlan;
use super::topology::{FleetError, Topology};
use crate::link::{Link, Loss};

/// A preset: its name, what it shows, and its fleet.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    /// The name `--preset` takes.
    pub name: &'static str,
    /// One line on what it exercises.
    pub about: &'static str,
    /// The fleet.
    pub topology: Topology,
    /// Its faults.
    pub plan: FaultPlan,
}

/// The presets' names and what they show, in order.
pub const PRESETS: [(&str, &str); 6] = [
    (
        "partition",
        "monitor m0's uplink partitioned for 30 s at 2 min (5 min run)",
    ),
    (
        "zone-outage",
        "zone z1 unreachable for 60 s at 2 min (5 min run)",
    ),
    (
        "switch-flap",
        "zone z2's switch down 5 s, up 10 s, 6 times from 2 min (5 min run)",
    ),
    (
        "monitor-stall",
        "monitor m1 stopped for 10 s at 2 min, its socket buffering (5 min run)",
    ),
    (
        "crashes",
        "independent crashes only, mean up-time 10 min, restart after 1 min (30 min run)",
    ),
    (
        "shared-loss",
        "bursty loss at each node's NIC (P(good→bad) 0.1 %, P(bad→good) 30 %) shared by its \
         paths, on top of 1 % per path (30 min run)",
    ),
];

/// Nodes, monitors and zones of the presets unless overridden.
pub const DEFAULT_SHAPE: (u32, u16, u32) = (60, 3, 3);

/// The preset `name` for a fleet of `nodes` nodes, `monitors` monitors and `zones` zones.
///
/// A preset whose faults name a monitor or zone the shape lacks (`partition` needs `m0`,
/// `switch-flap` needs `z2`) is an error naming it.
pub fn preset(name: &str, nodes: u32, monitors: u16, zones: u32) -> Result<Preset, FleetError> {
    let Some(&(name, about)) = PRESETS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
        return Err(FleetError::Param(format!(
            "unknown fleet preset {name:?}: one of {}",
            names.join(", ")
        )));
    };
    let mut t = Topology::uniform(nodes, monitors, zones)?;
    t.link = Link::parse("lan;loss=1%").expect("valid preset link");
    t.duration = Duration::from_secs(300);
    let plan = match name {
        "partition" => "partition_monitor=m0,2m,30s",
        "zone-outage" => "zone_outage=z1,2m,1m",
        "switch-flap" => "switch_flap=z2,2m,5s,10s,6",
        "monitor-stall" => "stall_monitor=m1,2m,10s",
        "crashes" => {
            t.duration = Duration::from_secs(1800);
            "crash_every=10m,1m"
        }
        "shared-loss" => {
            t.duration = Duration::from_secs(1800);
            t.shared_loss = Some(Loss::GilbertElliott {
                p_gb: 0.001,
                p_bg: 0.3,
                loss_good: 0.0,
                loss_bad: 1.0,
            });
            "none"
        }
        _ => unreachable!("PRESETS lists every name matched here"),
    };
    let plan = FaultPlan::parse(plan).expect("valid preset plan");
    plan.resolve(&t)?;
    Ok(Preset {
        name,
        about,
        topology: t,
        plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_at_the_default_shape() {
        let (n, m, z) = DEFAULT_SHAPE;
        for (name, _) in PRESETS {
            let p = preset(name, n, m, z).unwrap();
            assert_eq!(p.topology.node_count(), 60, "{name}");
            super::super::Fleet::new(p.topology, p.plan).unwrap();
        }
        assert!(preset("meteor", n, m, z).is_err());
        let e = preset("switch-flap", 10, 3, 2).unwrap_err().to_string();
        assert!(e.contains("z2"), "{e}");
    }
}
