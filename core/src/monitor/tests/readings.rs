//! Readings of fresh beats: samples, probe states with hysteresis, and their bounds.

use super::*;
use crate::event::EventKind;
use crate::probe::{ProbeConfig, ProbeStatus, ReadingRefusal};

fn beat_with_readings(node: &str, seq: u64, readings: &[wire::Reading<'_>]) -> Vec<u8> {
    let msg = Message::Beat(Beat {
        period_ms: 1000,
        readings: wire::Readings::from_slice(readings),
        ..Beat::new(node, 1, seq)
    });
    let mut buf = [0; MAX_DATAGRAM];
    let n = encode(&msg, None, &mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn readings_of_fresh_beats_become_samples_once() {
    let mut m = monitor(3);
    let rs = [
        wire::Reading::new("load1", 0.5, 0),
        wire::Reading::new("disk", 93.0, 2),
    ];
    let first = beat_with_readings("a", 1, &rs);
    m.handle_datagram(t(0), addr(), &first);
    // A duplicate (or replay) carries nothing new.
    m.handle_datagram(t(10), addr(), &first);
    m.handle_datagram(t(S), addr(), &beat_with_readings("a", 2, &rs[..1]));
    let got: Vec<_> = std::iter::from_fn(|| m.poll_sample())
        .map(|s| {
            (
                s.at.as_micros(),
                s.node.to_string(),
                s.probe.to_string(),
                s.status,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "a".into(), "load1".into(), 0),
            (0, "a".into(), "disk".into(), 2),
            (S, "a".into(), "load1".into(), 0),
        ]
    );
    assert_eq!(m.samples_dropped(), 0);
}

#[test]
fn sample_queue_is_bounded_and_counts_drops() {
    let cfg = MonitorConfig {
        max_pending_samples: 1,
        stall_threshold: None,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    let r = wire::Reading::new("p", 1.0, 0);
    m.handle_datagram(t(0), addr(), &beat_with_readings("a", 1, &[r, r, r]));
    assert!(m.poll_sample().is_some());
    assert!(m.poll_sample().is_none());
    assert_eq!(m.samples_dropped(), 2);
}

#[test]
fn thresholds_turn_readings_into_probe_events_with_hysteresis() {
    let cfg = MonitorConfig {
        detector: DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(3),
        }),
        stall_threshold: None,
        forget_after: Some(Duration::from_secs(10)),
        probes: ProbeConfig {
            rules: vec!["load1 warning=4 error=8".parse().unwrap()],
            hysteresis: 2,
        },
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    let load = |v: f64| wire::Reading::new("load1", v, 0);
    // No rule for `plugin`: the sender's status decides.
    let plugin = |code: u8| wire::Reading::new("plugin", f64::from(code), code);
    let values = [
        (1.0, 0),
        (9.0, 2),
        (9.5, 2),
        (5.0, 0),
        (5.0, 0),
        (1.0, 0),
        (1.0, 0),
    ];
    for (i, (v, code)) in values.into_iter().enumerate() {
        let seq = i as u64 + 1;
        let at = seq * S;
        m.handle_datagram(
            t(at),
            addr(),
            &beat_with_readings("a", seq, &[load(v), plugin(code)]),
        );
    }
    let got: Vec<_> = std::iter::from_fn(|| m.poll_event())
        .filter_map(|e| match e.kind {
            EventKind::Probe {
                probe,
                status,
                previous,
                value,
            } => Some((
                e.at.as_micros() / S,
                probe.to_string(),
                previous.as_str(),
                status.as_str(),
                value,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "load1".into(), "ok", "error", 9.5),
            (3, "plugin".into(), "ok", "error", 2.0),
            (5, "load1".into(), "error", "warning", 5.0),
            (5, "plugin".into(), "error", "ok", 0.0),
            (7, "load1".into(), "warning", "ok", 1.0),
        ]
    );
    let states: Vec<_> = m
        .probes("a")
        .map(|(p, s)| (p.to_string(), s.status, s.value))
        .collect();
    assert_eq!(
        states,
        [
            ("load1".into(), ProbeStatus::Ok, 1.0),
            ("plugin".into(), ProbeStatus::Ok, 0.0)
        ]
    );
    // Forgetting the node forgets its probes.
    m.handle_timeout(t(10 * S));
    m.handle_timeout(t(20 * S));
    assert_eq!(
        events(&mut m),
        [
            (10 * S, "a".into(), "down"),
            (20 * S, "a".into(), "forgotten")
        ]
    );
    assert_eq!(m.all_probes().count(), 0);
}

#[test]
fn probes_per_node_are_bounded() {
    let mut m = monitor(3);
    let names: Vec<String> = (0..MAX_PROBES_PER_NODE + 5)
        .map(|i| format!("p{i}"))
        .collect();
    for (i, chunk) in names.chunks(wire::MAX_READINGS).enumerate() {
        let rs: Vec<_> = chunk
            .iter()
            .map(|p| wire::Reading::new(p, 1.0, 0))
            .collect();
        m.handle_datagram(
            t(i as u64 * S),
            addr(),
            &beat_with_readings("a", i as u64 + 1, &rs),
        );
    }
    assert_eq!(m.probes("a").count(), MAX_PROBES_PER_NODE);
    assert_eq!(m.probes_refused(), 5);
    assert_eq!(m.probes("b").count(), 0);
}

/// Issue 13: a reading whose value is not a finite number (postcard carries `f64` as raw bits,
/// so a peer can send NaN or ±∞) is refused and counted by reason; the beat still counts.
#[test]
fn non_finite_readings_are_refused_and_counted_but_the_beat_counts() {
    let mut m = monitor(3);
    let reading = |probe, value| wire::Reading::new(probe, value, 0);
    let rs = [
        reading("load1", 0.5),
        reading("load1", f64::NAN),
        reading("temp", f64::INFINITY),
        reading("temp", f64::NEG_INFINITY),
        reading("disk", 93.0),
    ];
    m.handle_datagram(t(0), addr(), &beat_with_readings("a", 1, &rs));
    assert_eq!(m.beats_received(), 1, "the beat is accepted");
    assert_eq!(m.rejections().total(), 0, "the datagram is not rejected");
    assert_eq!(m.node("a", t(0)).map(|n| n.state), Some(NodeState::Alive));
    let samples: Vec<_> = std::iter::from_fn(|| m.poll_sample())
        .map(|s| (s.probe.to_string(), s.value))
        .collect();
    assert_eq!(samples, [("load1".into(), 0.5), ("disk".into(), 93.0)]);
    let refused = m.readings_refused();
    assert_eq!(refused.get(ReadingRefusal::NotANumber), 1);
    assert_eq!(refused.get(ReadingRefusal::Infinite), 2);
    assert_eq!(refused.total(), 3);
    let probes: Vec<_> = m
        .probes("a")
        .map(|(p, s)| (p.to_owned(), s.value))
        .collect();
    assert_eq!(
        probes,
        [("disk".into(), 93.0), ("load1".into(), 0.5)],
        "no state for `temp`; `load1` keeps its finite value"
    );
}

/// A plugin reading with perfdata `label=value;warn;crit;min;max`, exit code `code`.
fn plugin_reading<'a>(
    probe: &'a str,
    value: f64,
    code: u8,
    warning: &str,
    critical: &str,
) -> wire::Reading<'a> {
    let range = |s: &str| {
        (!s.is_empty()).then(|| wire::WireRange::from(s.parse::<crate::probe::Range>().unwrap()))
    };
    wire::Reading {
        meta: Some(wire::ReadingMeta {
            unit: "B",
            warning: range(warning),
            critical: range(critical),
            min: Some(0.0),
            max: Some(5968.0),
        }),
        ..wire::Reading::new(probe, value, code)
    }
}

/// Issue 14: with no monitor rule, a plugin's own warn/crit ranges judge its perfdata probe
/// (not the plugin's exit code, which speaks for all its items at once); a monitor rule
/// overrides them whole; without either the exit code decides. The state keeps the latest
/// unit, ranges, min and max, and says which ranges are in force.
#[test]
fn plugin_ranges_judge_unless_a_rule_overrides_them() {
    use crate::probe::RangeSource;
    let cfg = MonitorConfig {
        stall_threshold: None,
        probes: ProbeConfig {
            rules: vec!["disk.home warning=100".parse().unwrap()],
            hysteresis: 1,
        },
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, t(0)).unwrap();
    // check_disk's `/=5960MB;5948;5958;0;5968`: past its own critical line, though the
    // plugin exited 0 (say its other partitions are fine); the rule-covered one the same.
    let rs = [
        plugin_reading("disk./", 5960.0, 0, "5948", "5958"),
        plugin_reading("disk.home", 5960.0, 0, "5948", "5958"),
        plugin_reading("disk.opt", 5960.0, 2, "", ""),
        plugin_reading("disk.tmp", 5.0, 2, "@0:10", ""),
    ];
    m.handle_datagram(t(0), addr(), &beat_with_readings("a", 1, &rs));
    let got: Vec<_> = m
        .probes("a")
        .map(|(p, s)| {
            let ranges = m.ranges_in_force("a", p, s);
            (
                p.to_owned(),
                s.status,
                ranges.map(|r| r.source),
                ranges.and_then(|r| r.warning).map(|r| r.to_string()),
                ranges.and_then(|r| r.error).map(|r| r.to_string()),
            )
        })
        .collect();
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        got,
        [
            (
                "disk./".into(),
                ProbeStatus::Error,
                Some(RangeSource::Plugin),
                s("5948"),
                s("5958")
            ),
            (
                "disk.home".into(),
                ProbeStatus::Warning,
                Some(RangeSource::Rule),
                s("100"),
                None
            ),
            ("disk.opt".into(), ProbeStatus::Error, None, None, None),
            (
                "disk.tmp".into(),
                ProbeStatus::Warning,
                Some(RangeSource::Plugin),
                s("@0:10"),
                None
            ),
        ],
        "plugin ranges, then the rule (its missing error range is not the plugin's), then the \
         exit code; an `@` range alerts inside"
    );
    let (_, root) = m.probes("a").next().unwrap();
    assert_eq!(root.meta.unit.as_str(), "B");
    assert_eq!((root.meta.min, root.meta.max), (Some(0.0), Some(5968.0)));
    // Back under the plugin's warning line: ok; a reading without meta forgets it, and the
    // sender's status decides again.
    m.handle_datagram(
        t(S),
        addr(),
        &beat_with_readings("a", 2, &[plugin_reading("disk./", 10.0, 2, "5948", "5958")]),
    );
    let state = |m: &Monitor| {
        m.probes("a")
            .next()
            .map(|(_, s)| (s.status, s.meta))
            .unwrap()
    };
    assert_eq!(state(&m).0, ProbeStatus::Ok);
    m.handle_datagram(
        t(2 * S),
        addr(),
        &beat_with_readings("a", 3, &[wire::Reading::new("disk./", 10.0, 1)]),
    );
    let (status, meta) = state(&m);
    assert_eq!(status, ProbeStatus::Warning);
    assert!(meta.is_empty(), "{meta:?}");
    let probe_events: Vec<_> = std::iter::from_fn(|| m.poll_event())
        .filter_map(|e| match e.kind {
            EventKind::Probe { probe, status, .. } => Some((probe.to_string(), status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        probe_events,
        [
            ("disk./".into(), ProbeStatus::Error),
            ("disk.home".into(), ProbeStatus::Warning),
            ("disk.opt".into(), ProbeStatus::Error),
            ("disk.tmp".into(), ProbeStatus::Warning),
            ("disk./".into(), ProbeStatus::Ok),
            ("disk./".into(), ProbeStatus::Warning),
        ]
    );
}
