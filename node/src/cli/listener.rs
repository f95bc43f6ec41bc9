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
//! Keys: `detector` (`fixed`, `phi`, `chen`, `budget`), `timeout`, `phi-threshold`,
//! `acceptable-pause`, `chen-margin`, `budget` (a false-alarm rate, `1/day`), and `unauthenticated=yes` — a legacy listener (`pyhb+udp`, `text+udp`,
//! `json+tcp`: protocols without a MAC) explicitly opted out of `--require-auth`, which
//! otherwise refuses to start with it. A key a listener leaves out comes from the monitor's own flags, then from the
//! built-in default. Every distinct detector configuration gets its own Detector actor (its own
//! `hb_core::Monitor`); they all feed the one Reporter, and the HTTP API merges their nodes and
//! counters. A node that beats to listeners of two configurations is two records, one per
//! Detector.

use crate::cli::detector::DetectorFlags;
use crate::cli::values::DetectorKind;
use crate::cli::values::{ListenUrl, parse_budget, parse_duration, parse_listen, parse_spec};

/// A `--listener` value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ListenerSpec {
    /// Where and what to listen.
    pub(crate) url: ListenUrl,
    /// Its detector settings.
    pub(crate) detector: DetectorFlags,
    /// `unauthenticated=yes`: this legacy listener runs under `--require-auth` although its
    /// protocol has no MAC (an explicit, logged opt-out).
    pub(crate) unauthenticated: bool,
}

/// Parses `URL key=value …` (also the form the config file's `[[monitor.listener]]` tables
/// are turned into).
pub(crate) fn parse_listener(s: &str) -> Result<ListenerSpec, String> {
    let (url, pairs) = parse_spec(s, "--listener", "URL")?;
    let url = parse_listen(url)?;
    let mut d = DetectorFlags::default();
    let mut unauthenticated = false;
    for (k, v) in pairs {
        match k {
            "detector" => {
                d.kind = Some(match v {
                    "fixed" => DetectorKind::Fixed,
                    "phi" => DetectorKind::Phi,
                    "chen" => DetectorKind::Chen,
                    "budget" => DetectorKind::Budget,
                    _ => {
                        return Err(format!(
                            "`{v}` is not a detector: fixed, phi, chen or budget"
                        ));
                    }
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
            "budget" => d.budget = Some(parse_budget(v)?),
            "unauthenticated" => {
                unauthenticated = match v {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(format!("unauthenticated `{v}` is not yes or no")),
                };
                if unauthenticated && url.kind.has_mac() {
                    return Err(format!(
                        "{url}: hbnode beats carry a MAC, so unauthenticated=yes does not apply; \
                         it opts a pyhb+udp, text+udp or json+tcp listener out of --require-auth"
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "unknown listener key `{k}`: use detector, timeout, phi-threshold, \
                     acceptable-pause, chen-margin, budget or unauthenticated"
                ));
            }
        }
    }
    Ok(ListenerSpec {
        url,
        detector: d,
        unauthenticated,
    })
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
        let b = parse_listener("udp://127.0.0.1:1 detector=budget budget=3/hour").unwrap();
        let DetectorConfig::Budget(b) = b.detector.build().unwrap() else {
            panic!("not budget")
        };
        assert_eq!(
            b.rate,
            hb_core::detector::AlarmRate::parse("3/hour").unwrap()
        );
        let e = parse_listener("udp://127.0.0.1:1 detector=budget budget=0/day").unwrap_err();
        assert!(e.contains("greater than zero"), "{e}");
        assert!(parse_listener("").is_err());
    }

    #[test]
    fn unauthenticated_opts_out_only_a_listener_without_a_mac() {
        let s = parse_listener("text+udp://127.0.0.1:1664 unauthenticated=yes").unwrap();
        assert!(s.unauthenticated);
        assert!(
            !parse_listener("text+udp://127.0.0.1:1664")
                .unwrap()
                .unauthenticated
        );
        assert!(
            !parse_listener("json+tcp://127.0.0.1:1 unauthenticated=no")
                .unwrap()
                .unauthenticated
        );
        let e = parse_listener("udp://127.0.0.1:1 unauthenticated=yes").unwrap_err();
        assert!(e.contains("carry a MAC"), "{e}");
        let e = parse_listener("pyhb+udp://127.0.0.1:1 unauthenticated=maybe").unwrap_err();
        assert!(e.contains("yes or no"), "{e}");
    }
}
