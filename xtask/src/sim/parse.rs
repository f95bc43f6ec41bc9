//! Flag value parsers shared by the `sim` subcommands (clap `value_parser`s).

use std::time::Duration;

/// A duration flag (`1s`, `500ms`, `1h`), as hb-sim parses it.
pub(crate) fn dur(s: &str) -> Result<Duration, String> {
    hb_sim::parse_duration(s).map_err(|e| e.to_string())
}

/// A probability flag (`0.01` or `1%`), as hb-sim parses it.
pub(crate) fn prob(s: &str) -> Result<f64, String> {
    hb_sim::parse_probability(s).map_err(|e| e.to_string())
}
