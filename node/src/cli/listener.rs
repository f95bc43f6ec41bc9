//! Per-listener detector settings: `--listener 'URL key=value …'`, or in the config file
//!
//! ```toml
//! [[monitor.listener]]
//! url = "pyhb+udp://0.0.0.0:43278"
//! timeout = "15s"
//!
//! [[monitor.listener]]
//! url = "text+udp://0.0.0.0:1664"
//! detector = "fixed"
//! timeout = "3s"      # Circus: loop_rate × max_count
//! ```
//!
//! Keys: `detector` (`fixed`, `phi`, `chen`), `timeout`, `phi-threshold`, `acceptable-pause`,
//! `chen-margin`. A key a listener leaves out comes from the monitor's own flags, then from the
//! built-in default. Every distinct detector configuration gets its own Detector actor (its own
//! `hb_core::Monitor`); they all feed the one Reporter, and the HTTP API merges their nodes and
//! counters. A node that beats to listeners of two configurations is two records, one per
//! Detector.

use crate::cli::detector::DetectorFlags;
use crate::cli::values::DetectorKind;
use crate::cli::values::{ListenUrl, parse_duration, parse_listen, parse_spec};

/// A `--listener` value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ListenerSpec {
    /// Where and what to listen.
    pub(crate) url: ListenUrl,
    /// Its detector settings.
    pub(crate) detector: DetectorFlags,
}

/// Parses `URL key=value …` (also the form the config file's `[[monitor.listener]]` tables
/// are turned into).
pub(crate) fn parse_listener(s: &str) -> Result<ListenerSpec, String> {
    let (url, pairs) = parse_spec(s, "--listener", "URL")?;
    let url = parse_listen(url)?;
    let mut d = DetectorFlags::default();
    for (k, v) in pairs {
        match k {
            "detector" => {
                d.kind = Some(match v {
                    "fixed" => DetectorKind::Fixed,
                    "phi" => DetectorKind::Phi,
                    "chen" => DetectorKind::Chen,
                    _ => return Err(format!("`{v}` is not a detector: fixed, phi or chen")),
                });
            }
            "timeout" => d.timeout = Some(parse_duration(v)?),
            "phi-threshold" => {
                d.phi_threshold = Some(
                    v.parse()
                        .map_err(|_| format!("phi-threshold `{v}` is not a number"))?,
                );
            }
            "acceptable-pause" => d.acceptable_pause = Some(parse_duration(v)?),
            "chen-margin" => d.chen_margin = Some(parse_duration(v)?),
            _ => {
                return Err(format!(
                    "unknown listener key `{k}`: use detector, timeout, phi-threshold, \
                     acceptable-pause or chen-margin"
                ));
            }
        }
    }
    Ok(ListenerSpec { url, detector: d })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hb_core::detector::{DetectorConfig, Fixed};

    use super::*;
    use crate::cli::values::ListenKind;

    #[test]
    fn listener_spec_parses_url_and_detector_keys() {
        let s = parse_listener("pyhb+udp://0.0.0.0:43278 timeout=15s").unwrap();
        assert_eq!(s.url.kind, ListenKind::PyHb);
        assert_eq!(s.detector.timeout, Some(Duration::from_secs(15)));
        let base = DetectorFlags {
            kind: Some(DetectorKind::Fixed),
            timeout: Some(Duration::from_secs(5)),
            ..DetectorFlags::default()
        };
        assert_eq!(
            s.detector.or(base).build().unwrap(),
            DetectorConfig::Fixed(Fixed {
                timeout: Duration::from_secs(15)
            })
        );
        let p = parse_listener("udp://127.0.0.1:1 detector=phi phi-threshold=10").unwrap();
        assert!(matches!(
            p.detector.build().unwrap(),
            DetectorConfig::Phi(_)
        ));
        assert!(parse_listener("udp://127.0.0.1:1 bogus=1").is_err());
        assert!(parse_listener("udp://127.0.0.1:1 detector=nope").is_err());
        assert!(parse_listener("tcp://127.0.0.1:1").is_err());
        assert!(parse_listener("").is_err());
    }
}
