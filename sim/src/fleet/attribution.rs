//! Who is to blame for a page: the crash of that node, a fault of the plan, or noise; and how
//! many monitors saw each noise down together.

use super::Fleet;
use super::FleetOutcome;
use super::pages::{Page, Seen};

/// What a page or a down is blamed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribution {
    /// The node was crashed: a true verdict (index into the crash records).
    Crash(usize),
    /// A fault of the plan (its index) cut the node off from the monitor, or stalled the
    /// monitor, during the silence that convicted it (for a monitor-level event: the fault in
    /// force, or just ended, when it fired).
    Fault(usize),
    /// Nothing injected explains it: link loss.
    Noise,
}

/// Blames `page` (from `o`'s log): a node's down on its crash if it was crashed, else on the
/// first path fault or stall of its monitor overlapping the silence that convicted it, else on
/// noise; a monitor-level page on the first fault touching its monitor in force at that time
/// or ended at most `settle_us` before. `crashes_of[n]` lists node n's crash records.
pub(super) fn attribute(
    fleet: &Fleet,
    o: &FleetOutcome,
    page: &Page,
    settle_us: u64,
    crashes_of: &[Vec<usize>],
) -> Attribution {
    let r = fleet.resolved();
    let m = page.monitor;
    let at = page.at_us;
    if let (Some(node), Seen::Down { silence_us, .. }) = (page.node, o.log[page.event].seen) {
        let crashed = crashes_of[node as usize].iter().copied().find(|&c| {
            let cr = &o.crashes[c];
            cr.at_us <= at && cr.restart_us.is_none_or(|r| at < r)
        });
        if let Some(c) = crashed {
            return Attribution::Crash(c);
        }
        let from = at.saturating_sub(silence_us);
        let overlaps = |(a, b): (u64, u64)| a <= at && b > from;
        let zone = fleet.zone_of(node);
        let fault = r
            .blocks
            .iter()
            .find(|(_, s, w)| s.covers(node, zone, m) && overlaps(*w))
            .map(|b| b.0)
            .or_else(|| {
                r.stalls
                    .iter()
                    .find(|(_, sm, w)| *sm == m && overlaps(*w))
                    .map(|s| s.0)
            });
        return fault.map_or(Attribution::Noise, Attribution::Fault);
    }
    let within = |(a, b): (u64, u64)| a <= at && at <= b + settle_us;
    r.blocks
        .iter()
        .find(|(_, s, w)| s.touches(m) && within(*w))
        .map(|b| b.0)
        .or_else(|| {
            r.stalls
                .iter()
                .find(|(_, sm, w)| *sm == m && within(*w))
                .map(|s| s.0)
        })
        .map_or(Attribution::Noise, Attribution::Fault)
}

/// Groups one node's noise downs `(silence start, down, monitor)` whose silences overlap and
/// returns, per group, how many distinct monitors it holds.
pub(super) fn noise_groups(downs: &mut [(u64, u64, u16)]) -> Vec<usize> {
    downs.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < downs.len() {
        let mut end = downs[i].1;
        let mut monitors = vec![downs[i].2];
        let mut j = i + 1;
        while j < downs.len() && downs[j].0 <= end {
            end = end.max(downs[j].1);
            monitors.push(downs[j].2);
            j += 1;
        }
        monitors.sort_unstable();
        monitors.dedup();
        out.push(monitors.len());
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_silences_of_one_node_are_one_group() {
        // Monitors 0 and 2 convicted it over overlapping silences, monitor 0 twice; a later
        // down on its own is a second group.
        let mut downs = [
            (10, 13, 0),
            (11, 14, 2),
            (12, 15, 0),
            (40, 43, 1),
            (200, 203, 70),
        ];
        assert_eq!(noise_groups(&mut downs), [2, 1, 1]);
        assert!(noise_groups(&mut []).is_empty());
    }
}
