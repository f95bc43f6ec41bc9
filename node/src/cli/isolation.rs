//! The isolation guard's flags, shared by `monitor` and `peer`: when far more nodes fall
//! silent together than independent failures explain, the monitor reports its own blindness
//! once (`isolated`) instead of every node down.

use std::time::Duration;

use clap::{Args, ValueEnum};
use hb_core::{Isolation, NodeId, NodeMatch, ZoneRule};

use super::values::parse_duration;

/// `--isolation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Switch {
    /// The guard is on.
    On,
    /// Every silent node is judged alone, as if faults were independent.
    Off,
}

/// The isolation flags.
#[derive(Clone, Debug, Args)]
pub(crate) struct IsolationArgs {
    /// Whether a mass silence is taken for the monitor's own blindness.
    ///
    /// When a node's deadline passes while at least --isolation-min-nodes nodes, and at least
    /// --isolation-min-share of the nodes watched, are silent together (past their quiet mark,
    /// 1.5 periods before their deadline, or down by silence within one timeout), the monitor
    /// reports one `isolated` event and holds those nodes `unreachable` instead of down. An
    /// ordinary crash is judged at its deadline exactly as without the guard.
    #[arg(
        long,
        env = "HBNODE_ISOLATION",
        value_name = "SWITCH",
        value_enum,
        default_value = "on"
    )]
    pub(crate) isolation: Switch,

    /// How long nodes are held unreachable before those still silent are reported down
    /// together (reason `isolation`, after one `hold_expired` event).
    #[arg(
        long,
        env = "HBNODE_ISOLATION_HOLD",
        value_name = "DUR",
        default_value = "1m",
        value_parser = parse_duration
    )]
    pub(crate) isolation_hold: Duration,

    /// Fewest nodes silent together that can mean isolation.
    #[arg(
        long,
        env = "HBNODE_ISOLATION_MIN_NODES",
        value_name = "N",
        default_value = "10",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub(crate) isolation_min_nodes: u32,

    /// Smallest share of the watched nodes silent together that can mean isolation (`50%` or
    /// `0.5`; above 0, at most 100%).
    #[arg(
        long,
        env = "HBNODE_ISOLATION_MIN_SHARE",
        value_name = "SHARE",
        default_value = "50%",
        value_parser = parse_share
    )]
    pub(crate) isolation_min_share: f64,

    /// Nodes whose id matches GLOB belong to zone NAME (repeatable; the first match wins).
    ///
    /// A zone whose nodes fall silent together (the --isolation-min-share of it, at least
    /// two) while the rest of the fleet is fine is a real outage of that zone: one `zone_down`
    /// event (Alertmanager: `HbnodeZoneDown{zone}`), its nodes' downs as usual but carrying
    /// `zone`, so the shipped inhibit rule (dist/alertmanager/hbnode-inhibit.yml) folds their
    /// pages into the zone's; `zone_up` when most of it is back. Needs --isolation on.
    #[arg(
        long = "zone",
        env = "HBNODE_ZONE",
        value_name = "NAME=GLOB",
        value_delimiter = ',',
        value_parser = parse_zone
    )]
    pub(crate) zones: Vec<ZoneRule>,
}

impl IsolationArgs {
    /// The zone rules; refused without the isolation guard, whose share they use.
    pub(crate) fn zones_checked(&self) -> anyhow::Result<Vec<ZoneRule>> {
        if !self.zones.is_empty() && self.isolation == Switch::Off {
            anyhow::bail!(
                "--zone needs --isolation on: a zone outage is judged with the isolation \
                 guard's share (--isolation-min-share)"
            );
        }
        Ok(self.zones.clone())
    }

    /// The core's configuration (`None`: the guard is off).
    pub(crate) fn config(&self) -> anyhow::Result<Option<Isolation>> {
        if self.isolation == Switch::Off {
            return Ok(None);
        }
        let iso = Isolation {
            min_nodes: self.isolation_min_nodes,
            min_share: self.isolation_min_share,
            hold: self.isolation_hold,
        };
        iso.validate()
            .map_err(|e| anyhow::anyhow!("--isolation-hold: {e}"))?;
        Ok(Some(iso))
    }
}

/// `NAME=GLOB`: a zone rule.
fn parse_zone(s: &str) -> Result<ZoneRule, String> {
    let (name, glob) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=GLOB (e.g. rack-a=web-a-*)"))?;
    NodeId::new(name.trim()).map_err(|e| format!("zone name `{name}`: {e}"))?;
    let nodes = NodeMatch::new(glob.trim()).map_err(|e| format!("zone {name}: {e}"))?;
    Ok(ZoneRule {
        name: name.trim().into(),
        nodes,
    })
}

/// `50%` or `0.5`, in (0, 1].
fn parse_share(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{s}` is not a share (e.g. 50% or 0.5)"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("`{s}`: the share must be above 0 and at most 100%"))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        i: IsolationArgs,
    }

    fn parse(args: &[&str]) -> Result<Option<Isolation>, String> {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        t.i.config().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_cores_and_flags_change_them() {
        assert_eq!(parse(&[]).unwrap(), Some(Isolation::default()));
        assert_eq!(parse(&["--isolation", "off"]).unwrap(), None);
        let i = parse(&[
            "--isolation-hold",
            "5m",
            "--isolation-min-nodes",
            "3",
            "--isolation-min-share",
            "80%",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (i.hold, i.min_nodes, i.min_share),
            (Duration::from_secs(300), 3, 0.8)
        );
        assert_eq!(
            parse(&["--isolation-min-share", "0.25"])
                .unwrap()
                .unwrap()
                .min_share,
            0.25
        );
    }

    #[test]
    fn zone_rules_parse_in_order_and_bad_ones_say_why() {
        let t = T::try_parse_from(["t", "--zone", "rack-a=a-*", "--zone", "rack-b=b-*"]).unwrap();
        let names: Vec<_> = t.i.zones.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(names, ["rack-a", "rack-b"]);
        assert!(t.i.zones[0].nodes.matches("a-7"));
        for (bad, says) in [("rack-a", "NAME=GLOB"), ("=a-*", "zone name")] {
            let e = T::try_parse_from(["t", "--zone", bad])
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_values_are_clear_errors() {
        for (args, want) in [
            (&["--isolation-min-share", "0"][..], "above 0"),
            (&["--isolation-min-share", "150%"][..], "at most 100%"),
            (&["--isolation-min-share", "half"][..], "not a share"),
            (&["--isolation-min-nodes", "0"][..], "isolation-min-nodes"),
            (&["--isolation-hold", "0s"][..], "isolation"),
            (&["--isolation", "maybe"][..], "maybe"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
