//! Counters shared by the actors and read by the HTTP API, plus the recent-events ring.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::runtime::record::EventRecord;
use crate::sinks::kind::SinkKind;

/// Event names, in counter order.
pub(crate) use crate::cli::values::EVENT_NAMES;

/// An action that POSTs over HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PostAction {
    /// `--alertmanager`.
    Alertmanager = 0,
    /// `--webhook`.
    Webhook = 1,
}

impl PostAction {
    /// The action's name in logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::Webhook => "webhook",
        }
    }
}

/// Outcomes of hook runs, in counter order.
pub(crate) const HOOK_RESULTS: [&str; 4] = ["ok", "failed", "timeout", "dropped"];

/// How a hook run ended (index into [`HOOK_RESULTS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookResult {
    /// Exit status 0.
    Ok = 0,
    /// Non-zero exit, killed by a signal, or could not start.
    Failed = 1,
    /// Still running at `--hook-timeout`; killed.
    TimedOut = 2,
    /// The hook queue was full; not run.
    Dropped = 3,
}

/// Outcomes of legacy pid claims, in counter order.
pub(crate) const PID_CHECKS: [&str; 3] = ["verified", "unverified", "dropped"];

/// What became of a pid claim (index into [`PID_CHECKS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PidCheck {
    /// The claimed process owns the sending socket and started before the beat.
    Verified = 0,
    /// It does not, or could not be checked.
    Unverified = 1,
    /// The verifier's queue was full; a later beat claims again.
    Dropped = 2,
}

/// The store's tables, in counter order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreTable {
    /// The node registry.
    Nodes = 0,
    /// The event history.
    Events = 1,
    /// The readings time series.
    Readings = 2,
}

impl StoreTable {
    /// Every table, in counter order.
    pub(crate) const ALL: [Self; 3] = [Self::Nodes, Self::Events, Self::Readings];

    /// The table's name (a metric label).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Nodes => "nodes",
            Self::Events => "events",
            Self::Readings => "readings",
        }
    }
}

/// Upper bounds of `hbnode_detection_slack_seconds`' buckets, in µs (`+Inf` is implied).
pub(crate) const SLACK_BOUNDS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// How late past their deadlines `down` events were declared: a histogram.
#[derive(Debug, Default)]
pub(crate) struct Slack {
    /// Reports in each bucket of [`SLACK_BOUNDS_US`] (not cumulative), then above the last.
    buckets: [AtomicU64; SLACK_BOUNDS_US.len() + 1],
    /// Sum of every report's slack, in µs.
    sum_us: AtomicU64,
}

impl Slack {
    /// Counts one `down` declared `us` µs after its deadline.
    pub(crate) fn observe(&self, us: u64) {
        let i = SLACK_BOUNDS_US.partition_point(|b| *b < us);
        inc(&self.buckets[i]);
        // Saturating: a wrapped sum would look like a counter reset.
        let _ = self
            .sum_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_add(us))
            });
    }

    /// Reports per bucket (not cumulative; the last is above every bound) and the sum in µs.
    pub(crate) fn read(&self) -> ([u64; SLACK_BOUNDS_US.len() + 1], u64) {
        (self.buckets.each_ref().map(get), get(&self.sum_us))
    }
}

/// How many recent events `/v1/events` keeps.
pub(crate) const RECENT_EVENTS: usize = 1024;

/// Process-wide counters. Relaxed atomics: each is an independent tally.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Datagrams read from sockets.
    pub(crate) datagrams: AtomicU64,
    /// Socket receive errors.
    pub(crate) recv_errors: AtomicU64,
    /// Acks sent.
    pub(crate) acks_sent: AtomicU64,
    /// Acks not sent: the Receiver's mailbox was full or the socket refused them.
    pub(crate) acks_dropped: AtomicU64,
    /// TCP heartbeat connections closed at once because a listener was at its limit.
    pub(crate) tcp_refused: AtomicU64,
    /// TCP heartbeat connections closed because they sent nothing for `--tcp-idle-timeout`.
    pub(crate) tcp_idle_closed: AtomicU64,
    hooks: [AtomicU64; HOOK_RESULTS.len()],
    /// POSTs by action, then ok (0) / failed (1).
    posts: [[AtomicU64; 2]; 2],
    events: [AtomicU64; EVENT_NAMES.len()],
    sink_dropped: [AtomicU64; SinkKind::ALL.len()],
    recent: Mutex<VecDeque<Arc<EventRecord>>>,
    store_written: [AtomicU64; 3],
    /// Rows the store's queue had no room for.
    pub(crate) store_dropped: AtomicU64,
    /// Rows lost because their transaction failed.
    pub(crate) store_failed: AtomicU64,
    /// Rows the store refused alone (a value the schema cannot hold); their batch was written.
    pub(crate) store_invalid: AtomicU64,
    /// Failed store operations (transactions, prunes).
    pub(crate) store_errors: AtomicU64,
    /// Readings the core's sample queue dropped (not drained in time).
    pub(crate) samples_dropped: AtomicU64,
    /// Arrivals `--record` dropped: the core's queue or the trace writer's was full.
    pub(crate) arrivals_dropped: AtomicU64,
    pid_checks: [AtomicU64; PID_CHECKS.len()],
    /// Every listener's URL (bound address) and whether it accepts beats without a MAC.
    listeners: Mutex<Vec<(String, bool)>>,
    /// Every UDP listener's URL and its socket's inode (its kernel drop count is read by it).
    udp_sockets: Mutex<Vec<(String, u64)>>,
    /// How late `down` events were declared.
    pub(crate) slack: Slack,
}

/// Adds one to a counter.
pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Reads a counter.
pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Stats {
    /// Counts and remembers one event.
    pub(crate) fn record(&self, r: &Arc<EventRecord>) {
        if let Some(i) = EVENT_NAMES.iter().position(|n| *n == r.event) {
            inc(&self.events[i]);
        }
        if let Some(us) = r.slack_us {
            self.slack.observe(us);
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT_EVENTS {
            recent.pop_front();
        }
        recent.push_back(Arc::clone(r));
    }

    /// Counts one hook outcome.
    pub(crate) fn hook(&self, r: HookResult) {
        inc(&self.hooks[r as usize]);
    }

    /// Hook runs, by outcome.
    pub(crate) fn hook_counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        HOOK_RESULTS
            .iter()
            .zip(&self.hooks)
            .map(|(n, c)| (*n, get(c)))
    }

    /// Counts one POST outcome (after its retries).
    pub(crate) fn post(&self, action: PostAction, ok: bool) {
        inc(&self.posts[action as usize][usize::from(!ok)]);
    }

    /// Counts `n` POSTs of `action` as failed (dropped at shutdown).
    pub(crate) fn posts_failed(&self, action: PostAction, n: u64) {
        self.posts[action as usize][1].fetch_add(n, Ordering::Relaxed);
    }

    /// POSTs of `action`, as (ok, failed).
    pub(crate) fn posts(&self, action: PostAction) -> [(&'static str, u64); 2] {
        let c = &self.posts[action as usize];
        [("ok", get(&c[0])), ("failed", get(&c[1]))]
    }

    /// Counts an event a sink had no room for.
    pub(crate) fn sink_dropped(&self, sink: SinkKind) {
        self.sinks_dropped(sink, 1);
    }

    /// Counts `n` events a sink had no room for.
    pub(crate) fn sinks_dropped(&self, sink: SinkKind, n: usize) {
        self.sink_dropped[sink as usize].fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Events reported, by name.
    pub(crate) fn events(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        EVENT_NAMES
            .iter()
            .zip(&self.events)
            .map(|(n, c)| (*n, get(c)))
    }

    /// Events dropped, by sink.
    pub(crate) fn sink_drops(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        SinkKind::ALL
            .iter()
            .zip(&self.sink_dropped)
            .map(|(k, c)| (k.name(), get(c)))
    }

    /// Counts `n` rows committed to the store's `table`.
    pub(crate) fn store_written(&self, table: StoreTable, n: u64) {
        self.store_written[table as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Rows committed to the store, by table.
    pub(crate) fn store_rows(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        StoreTable::ALL
            .into_iter()
            .map(|t| (t.name(), get(&self.store_written[t as usize])))
    }

    /// Counts one pid claim's outcome.
    pub(crate) fn pid_check(&self, c: PidCheck) {
        inc(&self.pid_checks[c as usize]);
    }

    /// Pid claims, by outcome.
    pub(crate) fn pid_checks(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        PID_CHECKS
            .iter()
            .zip(&self.pid_checks)
            .map(|(n, c)| (*n, get(c)))
    }

    /// Registers a listener (`SCHEME://ADDR`) and whether it accepts unauthenticated beats.
    pub(crate) fn listener(&self, url: String, unauthenticated: bool) {
        let mut l = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        l.push((url, unauthenticated));
    }

    /// Every listener, with whether it accepts unauthenticated beats, in start order.
    pub(crate) fn listeners(&self) -> Vec<(String, bool)> {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registers a UDP listener's socket (`SCHEME://ADDR`, its inode) for its kernel drop count.
    pub(crate) fn udp_socket(&self, url: String, inode: u64) {
        let mut s = self.udp_sockets.lock().unwrap_or_else(|e| e.into_inner());
        s.push((url, inode));
    }

    /// Every UDP listener's URL and socket inode, in start order.
    pub(crate) fn udp_sockets(&self) -> Vec<(String, u64)> {
        self.udp_sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Recent events with `event_id > since`, oldest first.
    pub(crate) fn recent_since(&self, since: u64) -> Vec<Arc<EventRecord>> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .iter()
            .filter(|r| r.event_id > since)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_buckets_are_inclusive_upper_bounds_and_the_rest_goes_above_the_last() {
        let s = Slack::default();
        for us in [0, 500, 501, 10_000_000, 10_000_001, u64::MAX / 2] {
            s.observe(us);
        }
        let (buckets, sum) = s.read();
        assert_eq!(buckets[0], 2, "0 and 500 µs are ≤ 0.5 ms");
        assert_eq!(buckets[1], 1, "501 µs is in (0.5 ms, 1 ms]");
        assert_eq!(buckets[SLACK_BOUNDS_US.len() - 1], 1, "10 s is ≤ 10 s");
        assert_eq!(buckets[SLACK_BOUNDS_US.len()], 2, "above 10 s");
        assert_eq!(buckets.iter().sum::<u64>(), 6);
        assert_eq!(sum, 500 + 501 + 10_000_000 + 10_000_001 + u64::MAX / 2);
        s.observe(u64::MAX);
        assert_eq!(s.read().1, u64::MAX, "the sum saturates");
    }
}
