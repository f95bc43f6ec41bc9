//! Prometheus metrics, rendered per scrape in the format the scraper asks for.
//!
//! # One description, two formats
//!
//! `/metrics` answers Prometheus text format 0.0.4 (curl, `promtool check metrics`, text-only
//! consumers, `Accept: text/plain` or `*/*`) or OpenMetrics 1.0.0 (a Prometheus server, which
//! asks for `application/openmetrics-text` first), negotiated on `Accept` as the Go client's
//! `promhttp` does ([`negotiate`]).
//!
//! The families are described once, per scrape, in a small model of our own
//! ([`model::Family`]: name, help, type, unit, samples) built by [`families`] from the
//! Detectors' snapshot and the process counters, and written by two small writers in
//! [`expose`] that hold every difference between the formats. We chose this over keeping the
//! `prometheus-client` crate because that crate writes OpenMetrics only, so 0.0.4 would have
//! needed a second walk over a registry whose encoder is private, or a second description of
//! every family kept in step by hand; and over the `prometheus` crate, which writes 0.0.4
//! only, for the same reason. Our data is a fresh snapshot each scrape, not live
//! instruments, so a registry buys nothing; the writers are ~100 lines, pinned by the golden
//! files in `testdata/`, checked by the real `promtool` in `tests/it/metrics.rs`.
//!
//! # What each scrape holds
//!
//! - Series are sorted by their labels (node id, probe, listener…), so the exposition is a
//!   function of the state alone (the golden test relies on it).
//! - `hbnode_ready` is 1 when every Detector answered in time. If one does not, `/metrics`
//!   still answers 200 with `hbnode_ready 0`, build info and the process-wide counters, and
//!   leaves out every family drawn from the Detectors (nodes, probes, core counters) rather
//!   than showing some Detectors' nodes or counters that would look like a reset. `/healthz`
//!   keeps answering 503 then.
//! - A node that is not alive exports no `hbnode_probe_value` (the series ends, as an
//!   operator expects of a value nobody measures any more) and `hbnode_probe_state` 3
//!   (unknown).
//! - Probe values, thresholds, min and max are in base units with a `unit` label
//!   ([`probes`] says why one family with a label rather than one per unit).

mod expose;
mod families;
mod kernel;
mod model;
mod negotiate;
mod probes;
#[cfg(test)]
mod tests;
mod witness;

pub(crate) use families::Scrape;
pub(crate) use kernel::receive_buffer_drops;
pub(crate) use negotiate::{Format, negotiate};

/// Renders one scrape in `format`.
pub(crate) fn render(scrape: &Scrape<'_>, format: Format) -> String {
    let families = families::families(scrape);
    match format {
        Format::Text004 => expose::text_004(&families),
        Format::OpenMetrics => expose::openmetrics(&families),
    }
}
