//! Every place an event can go: the typed registry of sinks, whose names label
//! `hbnode_events_dropped_total{sink=…}`.

/// A sink, in counter order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SinkKind {
    /// Events on stdout (`--events`).
    Stdout,
    /// Events as `tracing` records (target `hbnode::event`).
    Log,
    /// An in-process collector (the demo's director, tests).
    Collector,
    /// The Reporter's mailbox: counts event batches the Detector could not hand over.
    Reporter,
    /// Exec hooks (`--on`).
    Hooks,
    /// The Alertmanager action (`--alertmanager`).
    Alertmanager,
    /// The webhook action (`--webhook`).
    Webhook,
}

impl SinkKind {
    /// Every sink, in counter order.
    pub(crate) const ALL: [Self; 7] = [
        Self::Stdout,
        Self::Log,
        Self::Collector,
        Self::Reporter,
        Self::Hooks,
        Self::Alertmanager,
        Self::Webhook,
    ];

    /// The `sink` label.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Log => "log",
            Self::Collector => "collector",
            Self::Reporter => "reporter",
            Self::Hooks => "hooks",
            Self::Alertmanager => "alertmanager",
            Self::Webhook => "webhook",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sink_is_listed_once_at_its_own_index() {
        for (i, k) in SinkKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{}", k.name());
        }
    }
}
