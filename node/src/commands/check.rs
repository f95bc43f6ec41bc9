//! `hbnode check`: one node (and its probes) as a Nagios/Icinga plugin sees it.
//!
//! One status line `HBNODE <STATE> - <summary> | <perfdata>`, then one line per probe, and the
//! plugin exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). The data comes from the monitor's
//! `/v1/nodes/{id}` (see `crate::http::views::NodeView`).

use std::fmt::Write as _;
use std::process::ExitCode;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::cli::CheckArgs;
use crate::http::client;
use crate::http::views::{NodeView, ProbeView};

/// A Nagios plugin state, ordered by how bad it is for taking the worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Ok,
    Unknown,
    Warning,
    Critical,
}

impl State {
    fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Critical => 2,
            Self::Unknown => 3,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }

    fn of_probe(state: &str) -> Self {
        match state {
            "ok" => Self::Ok,
            "warning" => Self::Warning,
            "error" => Self::Critical,
            _ => Self::Unknown,
        }
    }

    fn of_node(state: &str) -> Self {
        match state {
            "alive" => Self::Ok,
            "left" => Self::Warning,
            _ => Self::Critical,
        }
    }
}

/// What the plugin prints and returns.
#[derive(Debug, PartialEq)]
struct Verdict {
    state: State,
    text: String,
}

impl Verdict {
    fn unknown(text: String) -> Self {
        Self {
            state: State::Unknown,
            text: format!("HBNODE UNKNOWN - {text}"),
        }
    }
}

/// Runs `hbnode check`; never fails (every problem is an UNKNOWN verdict).
pub(crate) fn run(a: &CheckArgs) -> ExitCode {
    let path = format!(
        "/v1/nodes/{}",
        utf8_percent_encode(&a.node, NON_ALPHANUMERIC)
    );
    let v = match client::get_any(&a.http, &path, a.timeout) {
        Err(e) => Verdict::unknown(format!("{e:#}")),
        Ok((404, _)) => Verdict::unknown(format!(
            "node {} is not known to the monitor at {}",
            a.node, a.http
        )),
        Ok((200, body)) => match serde_json::from_str::<NodeView>(&body) {
            Ok(n) => judge(&n, a.probe.as_deref()),
            Err(e) => Verdict::unknown(format!("unexpected answer from the monitor: {e}")),
        },
        Ok((status, body)) => {
            Verdict::unknown(format!("the monitor answered {status}: {}", body.trim()))
        }
    };
    println!("{}", v.text);
    ExitCode::from(v.state.code())
}

/// The verdict on node `n`, or on its probe `probe`.
fn judge(n: &NodeView, probe: Option<&str>) -> Verdict {
    let node_state = State::of_node(&n.state);
    let silence = n.silence_ms as f64 / 1000.0;
    let mut summary = format!("{} {}", n.id, n.state);
    if n.state == "alive" {
        let _ = write!(summary, ", last beat {silence:.1}s ago");
    } else {
        let _ = write!(summary, " since {}", n.state_since);
    }
    let mut perf = format!("silence={silence:.3}s;;;0");
    if let Some(v) = n.value {
        let _ = write!(perf, " detector={v:.3};;{:.3}", n.threshold);
    }
    let _ = write!(perf, " loss={:.2}%;;;0;100", n.loss * 100.0);

    let probes: Vec<&ProbeView> = match probe {
        Some(name) => match n.probes.iter().find(|p| p.name == name) {
            Some(p) => vec![p],
            None => {
                let known: Vec<&str> = n.probes.iter().map(|p| p.name.as_str()).collect();
                let known = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                return Verdict::unknown(format!("{} has no probe {name} (probes: {known})", n.id));
            }
        },
        None => n.probes.iter().collect(),
    };
    let mut state = node_state;
    let mut long = String::new();
    let mut bad = Vec::new();
    for p in &probes {
        let s = State::of_probe(&p.state);
        state = state.max(s);
        let value = p.value.map_or_else(|| "NaN".to_owned(), |v| format!("{v}"));
        if s != State::Ok {
            bad.push(format!("{} {} ({value})", p.name, p.state));
        }
        let _ = write!(
            long,
            "\n{}: {value} {} since {}",
            p.name,
            p.state.to_uppercase(),
            p.state_since
        );
        let _ = write!(perf, " {}", perf_item(p));
    }
    if probe.is_some() && node_state != State::Ok {
        // The probe's last reading is stale: the node itself decides.
        state = state.max(node_state);
    }
    match probe.and_then(|name| probes.iter().find(|p| p.name == name)) {
        Some(p) => {
            summary = format!(
                "{} {}={} is {} ({summary})",
                n.id,
                p.name,
                p.value.map_or_else(|| "NaN".to_owned(), |v| format!("{v}")),
                p.state
            );
        }
        None if !bad.is_empty() => {
            let _ = write!(summary, "; {}", bad.join(", "));
        }
        None => {}
    }
    Verdict {
        state,
        text: format!("HBNODE {} - {summary} | {perf}{long}", state.label()),
    }
}

/// One probe as a perfdata item, `label=value[UOM];warn;crit;min;max` (Nagios plugin
/// guidelines): the unit, min and max of its latest reading, the ranges in force (a rule's, else
/// the plugin's own); trailing empty fields left out. A value that is not a number is `U`.
fn perf_item(p: &ProbeView) -> String {
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let value = match p.value {
        Some(v) => format!("{v}{}", p.unit.as_deref().unwrap_or("")),
        None => "U".to_owned(),
    };
    let item = format!(
        "{}={value};{};{};{};{}",
        perf_label(&p.name),
        p.warning.as_deref().unwrap_or(""),
        p.error.as_deref().unwrap_or(""),
        num(p.min),
        num(p.max),
    );
    item.trim_end_matches(';').to_owned()
}

/// A perfdata label: quoted when it has spaces, `=` or quotes (Nagios guidelines).
fn perf_label(name: &str) -> String {
    if name.contains([' ', '=', '\'']) {
        format!("'{}'", name.replace('\'', "''"))
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(state: &str, probes: &[(&str, &str, Option<f64>)]) -> NodeView {
        NodeView {
            id: "web-1".into(),
            state: state.into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: 1,
            seq: 9,
            last_seen: "2026-11-22T10:00:00.000Z".into(),
            last_seen_unix: 0.0,
            silence_ms: 400,
            state_since: "2026-11-22T09:00:00.000Z".into(),
            timeout_ms: None,
            value: Some(0.4),
            threshold: 3.0,
            period_ms: 1000,
            beats: 9,
            lost: 0,
            loss: 0.0,
            duplicates: 0,
            reordered: 0,
            labels: Default::default(),
            link: None,
            probes: probes
                .iter()
                .map(|(name, state, value)| ProbeView {
                    name: (*name).into(),
                    state: (*state).into(),
                    state_since: "2026-11-22T09:30:00.000Z".into(),
                    value: *value,
                    last_reading: "2026-11-22T10:00:00.000Z".into(),
                    warning: Some("4".into()),
                    error: Some("8".into()),
                    source: Some("rule".into()),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn node_state_and_worst_probe_decide() {
        let v = judge(&node("alive", &[]), None);
        assert_eq!(v.state, State::Ok);
        assert!(
            v.text
                .starts_with("HBNODE OK - web-1 alive, last beat 0.4s ago | silence=0.400s;;;0"),
            "{}",
            v.text
        );
        assert_eq!(judge(&node("down", &[]), None).state, State::Critical);
        assert_eq!(judge(&node("left", &[]), None).state, State::Warning);
        let n = node(
            "alive",
            &[
                ("load1", "warning", Some(5.5)),
                ("disk", "ok", Some(1.0)),
                ("plugin", "unknown", None),
            ],
        );
        let v = judge(&n, None);
        assert_eq!(v.state, State::Warning);
        assert!(
            v.text
                .contains("; load1 warning (5.5), plugin unknown (NaN)")
        );
        assert!(v.text.contains(" load1=5.5;4;8 disk=1;4;8 plugin=U;4;8"));
        assert!(
            v.text
                .contains("\nload1: 5.5 WARNING since 2026-11-22T09:30:00.000Z")
        );
    }

    #[test]
    fn one_probe_decides_but_a_down_node_is_still_critical() {
        let n = node(
            "alive",
            &[("load1", "error", Some(9.0)), ("disk", "ok", Some(1.0))],
        );
        let v = judge(&n, Some("disk"));
        assert_eq!(v.state, State::Ok);
        assert!(
            v.text.starts_with("HBNODE OK - web-1 disk=1 is ok"),
            "{}",
            v.text
        );
        assert_eq!(judge(&n, Some("load1")).state, State::Critical);
        let down = node("down", &[("disk", "ok", Some(1.0))]);
        assert_eq!(judge(&down, Some("disk")).state, State::Critical);
        let v = judge(&n, Some("nope"));
        assert_eq!(v.state, State::Unknown);
        assert!(v.text.contains("has no probe nope (probes: load1, disk)"));
    }

    /// Issue 14: each probe is written back as `label=value[UOM];warn;crit;min;max`, what a
    /// plugin printed (`check_load`, `check_disk`), and reads back the same.
    #[test]
    fn probes_are_written_back_as_full_perfdata() {
        let probe = |name: &str, value, unit: &str, w: &str, c: &str, min, max| ProbeView {
            name: name.into(),
            state: "ok".into(),
            value,
            unit: (!unit.is_empty()).then(|| unit.into()),
            warning: (!w.is_empty()).then(|| w.into()),
            error: (!c.is_empty()).then(|| c.into()),
            min,
            max,
            ..Default::default()
        };
        let cases = [
            (
                probe("nload.load1", Some(0.74), "", "5", "10", Some(0.0), None),
                "nload.load1=0.74;5;10;0",
            ),
            (
                probe(
                    "disk./",
                    Some(2643.0),
                    "MB",
                    "5948",
                    "5958",
                    Some(0.0),
                    Some(5968.0),
                ),
                "disk./=2643MB;5948;5958;0;5968",
            ),
            (
                probe("ping rta", Some(0.25), "ms", "", "", None, Some(1000.0)),
                "'ping rta'=0.25ms;;;;1000",
            ),
            (
                probe("plain", Some(1.6), "", "", "", None, None),
                "plain=1.6",
            ),
            (probe("t", None, "s", "@1:2", "", None, None), "t=U;@1:2"),
        ];
        for (p, want) in cases {
            let item = perf_item(&p);
            assert_eq!(item, want);
            let back = crate::sensors::perfdata::parse(&item);
            // A `U` value reads back as nothing (there is no value to keep).
            assert_eq!(back.len(), usize::from(p.value.is_some()), "{item}");
            if let Some(v) = p.value {
                assert_eq!(back[0].value, v);
                assert_eq!(back[0].uom, p.unit.clone().unwrap_or_default());
                assert_eq!(back[0].warning.map(|r| r.to_string()), p.warning);
                assert_eq!(back[0].critical.map(|r| r.to_string()), p.error);
                assert_eq!((back[0].min, back[0].max), (p.min, p.max));
            }
        }
    }

    #[test]
    fn exit_codes_follow_the_plugin_guidelines() {
        let codes: Vec<u8> = [State::Ok, State::Warning, State::Critical, State::Unknown]
            .map(State::code)
            .to_vec();
        assert_eq!(codes, [0, 1, 2, 3]);
        assert_eq!(perf_label("disk /var"), "'disk /var'");
        assert_eq!(perf_label("it's"), "'it''s'");
    }
}
