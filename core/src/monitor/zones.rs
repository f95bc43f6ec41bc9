//! Zones: nodes grouped by the operator (a rack, a site), so that a whole zone going silent
//! while the others are fine is reported once, as a zone outage, with its nodes' downs marked
//! by their zone. Silence across (nearly) all zones is the monitor's own isolation
//! ([`super::isolation`]), which is checked first.

use core::time::Duration;
use std::collections::VecDeque;

use compact_str::CompactString;

use super::registry::NodeState;
use super::state::Monitor;
use crate::event::EventKind;
use crate::glob::NodeMatch;
use crate::time::Timestamp;

/// No zone.
pub(super) const NO_ZONE: u8 = u8::MAX;

/// Most zones a monitor can name.
pub const MAX_ZONES: usize = 255;

/// Most recent zone downs remembered per zone.
const MAX_RECENT: usize = 4096;

/// Nodes whose id matches `nodes` belong to zone `name` (the first matching rule wins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRule {
    /// The zone's name (1–64 bytes, no control characters).
    pub name: CompactString,
    /// Which node ids.
    pub nodes: NodeMatch,
}

#[derive(Debug, Default)]
struct Zone {
    name: CompactString,
    /// Nodes assigned to the zone, in any state.
    size: u32,
    alive: u32,
    quiet: u32,
    /// Downs by silence of its nodes, oldest first.
    recent: VecDeque<Timestamp>,
    /// Since when the zone is out, if it is.
    out_since: Option<Timestamp>,
}

/// The zone table: one entry per distinct rule name, in rule order.
#[derive(Debug, Default)]
pub(super) struct Zones {
    zones: Vec<Zone>,
    /// `rules[i]` assigns to `zones[rule_zone[i]]`.
    rule_zone: Vec<u8>,
}

impl Zones {
    pub(super) fn new(rules: &[ZoneRule]) -> Self {
        let mut z = Self::default();
        for r in rules {
            let i = match z.zones.iter().position(|x| x.name == r.name) {
                Some(i) => i,
                None => {
                    z.zones.push(Zone {
                        name: r.name.clone(),
                        ..Zone::default()
                    });
                    z.zones.len() - 1
                }
            };
            z.rule_zone.push(u8::try_from(i).unwrap_or(NO_ZONE));
        }
        z
    }

    /// Whether a zone is out right now, by name (for snapshots).
    pub(super) fn out(&self) -> impl Iterator<Item = (&str, Option<Timestamp>)> {
        self.zones.iter().map(|z| (z.name.as_str(), z.out_since))
    }
}

impl Monitor {
    /// The zone of `node`, if a rule gave it one.
    pub fn zone_of(&self, node: &str) -> Option<&str> {
        let slot = self.nodes.find(node)?;
        self.zone_name(self.nodes.get(slot)?.zone)
    }

    /// Every zone by name and, if it is out, since when (rule order).
    pub fn zones(&self) -> impl Iterator<Item = (&str, Option<Timestamp>)> {
        self.zones.out()
    }

    pub(super) fn zone_name(&self, zone: u8) -> Option<&str> {
        self.zones
            .zones
            .get(usize::from(zone))
            .map(|z| z.name.as_str())
    }

    /// The zone the rules give `id` (`NO_ZONE` if none).
    pub(super) fn zone_for(&self, id: &str) -> u8 {
        self.cfg
            .zones
            .iter()
            .position(|r| r.nodes.matches(id))
            .map_or(NO_ZONE, |i| self.zones.rule_zone[i])
    }

    /// A node joined zone `zone` (in `state`).
    pub(super) fn zone_join(&mut self, zone: u8, state: NodeState) {
        if let Some(z) = self.zones.zones.get_mut(usize::from(zone)) {
            z.size += 1;
            if state == NodeState::Alive {
                z.alive += 1;
            }
        }
    }

    /// A node of `zone` left the registry (in `state`).
    pub(super) fn zone_leave(&mut self, zone: u8, state: NodeState) {
        if let Some(z) = self.zones.zones.get_mut(usize::from(zone)) {
            z.size = z.size.saturating_sub(1);
            if state == NodeState::Alive {
                z.alive = z.alive.saturating_sub(1);
            }
        }
    }

    /// A node of `zone` changed state.
    pub(super) fn zone_state(&mut self, zone: u8, from: NodeState, to: NodeState) {
        if let Some(z) = self.zones.zones.get_mut(usize::from(zone)) {
            if from == NodeState::Alive {
                z.alive = z.alive.saturating_sub(1);
            }
            if to == NodeState::Alive {
                z.alive += 1;
            }
        }
    }

    /// A node of `zone` became quiet (`true`) or stopped being quiet.
    pub(super) fn zone_quiet(&mut self, zone: u8, quiet: bool) {
        if let Some(z) = self.zones.zones.get_mut(usize::from(zone)) {
            if quiet {
                z.quiet += 1;
            } else {
                z.quiet = z.quiet.saturating_sub(1);
            }
        }
    }

    /// How silent `zone` is for a node of it reaching its deadline after `timeout`: its quiet
    /// nodes plus its downs by silence within `timeout` (`silent`), and its alive nodes plus
    /// those downs (`watched`); `None` without a zone, without the isolation guard, or while
    /// the zone is already out.
    pub(super) fn zone_silence(
        &mut self,
        zone: u8,
        now: Timestamp,
        timeout: Duration,
    ) -> Option<(usize, usize)> {
        let iso = self.cfg.isolation?;
        let z = self.zones.zones.get_mut(usize::from(zone))?;
        while z.recent.front().is_some_and(|&at| at < now - iso.hold) {
            z.recent.pop_front();
        }
        if z.out_since.is_some() {
            return None;
        }
        let from = now - timeout;
        let recent = z.recent.len() - z.recent.partition_point(|&at| at < from);
        Some((z.quiet as usize + recent, z.alive as usize + recent))
    }

    /// A node of `zone` is declared down by silence at `now`; `out` says its zone's silence
    /// (from [`Self::zone_silence`]) meets the rule: the zone is reported out first.
    pub(super) fn zone_down(&mut self, zone: u8, now: Timestamp, out: Option<(usize, usize)>) {
        let Some(z) = self.zones.zones.get_mut(usize::from(zone)) else {
            return;
        };
        if z.recent.len() >= MAX_RECENT {
            z.recent.pop_front();
        }
        z.recent.push_back(now);
        let Some((silent, watched)) = out else {
            return;
        };
        z.out_since = Some(now);
        let kind = EventKind::ZoneDown {
            zone: z.name.clone(),
            silent: u32::try_from(silent).unwrap_or(u32::MAX),
            watched: u32::try_from(watched).unwrap_or(u32::MAX),
        };
        self.monitor_event(now, kind);
    }

    /// A node of `zone` is alive again: the zone is back once most of it is.
    pub(super) fn zone_returned(&mut self, zone: u8, now: Timestamp) {
        let Some(iso) = self.cfg.isolation else {
            return;
        };
        let Some(z) = self.zones.zones.get_mut(usize::from(zone)) else {
            return;
        };
        let Some(since) = z.out_since else {
            return;
        };
        if f64::from(z.alive) > (1.0 - iso.min_share) * f64::from(z.size) {
            z.out_since = None;
            let kind = EventKind::ZoneUp {
                zone: z.name.clone(),
                lasted: now - since,
            };
            self.monitor_event(now, kind);
        }
    }

    /// The zones' part of [`Self::check_invariants`]: counts match the registry.
    pub(super) fn check_zones(&self) -> Result<(), String> {
        let n = self.zones.zones.len();
        let (mut size, mut alive, mut quiet) = (vec![0u32; n], vec![0u32; n], vec![0u32; n]);
        for (_, node) in self.nodes.iter() {
            let Some(i) = (node.zone != NO_ZONE).then_some(usize::from(node.zone)) else {
                continue;
            };
            size[i] += 1;
            alive[i] += u32::from(node.state == NodeState::Alive);
            quiet[i] += u32::from(node.quiet.is());
        }
        for (i, z) in self.zones.zones.iter().enumerate() {
            if (z.size, z.alive, z.quiet) != (size[i], alive[i], quiet[i]) {
                return Err(format!(
                    "zone {}: counts {:?} but registry has {:?}",
                    z.name,
                    (z.size, z.alive, z.quiet),
                    (size[i], alive[i], quiet[i])
                ));
            }
        }
        Ok(())
    }
}

/// Whether `silent` of `watched` nodes of one zone is an outage of it (`share` of the isolation
/// rule, at least two nodes).
pub(super) fn zone_rule(silent: usize, watched: usize, share: f64) -> bool {
    silent >= 2 && silent as f64 >= share * watched as f64
}
