use super::*;
use crate::time::Timestamp;

#[test]
fn reading_refusal_all_is_in_discriminant_order_and_covers_non_finite_values() {
    for (i, r) in ReadingRefusal::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i);
    }
    assert_eq!(
        ReadingRefusal::of(f64::NAN),
        Some(ReadingRefusal::NotANumber)
    );
    assert_eq!(
        ReadingRefusal::of(-f64::NAN),
        Some(ReadingRefusal::NotANumber)
    );
    assert_eq!(
        ReadingRefusal::of(f64::INFINITY),
        Some(ReadingRefusal::Infinite)
    );
    assert_eq!(
        ReadingRefusal::of(f64::NEG_INFINITY),
        Some(ReadingRefusal::Infinite)
    );
    for ok in [0.0, -0.0, f64::MAX, f64::MIN, f64::MIN_POSITIVE / 2.0] {
        assert_eq!(ReadingRefusal::of(ok), None, "{ok}");
    }
}

fn r(s: &str) -> Range {
    s.parse().unwrap()
}

#[test]
fn nagios_ranges_follow_the_guidelines_table() {
    // (range, value, alerts?) — the examples of the Nagios plugin development guidelines.
    let cases = [
        ("10", -1.0, true),
        ("10", 0.0, false),
        ("10", 10.0, false),
        ("10", 10.5, true),
        ("10:", 9.9, true),
        ("10:", 10.0, false),
        ("10:", 1e9, false),
        ("~:10", -1e9, false),
        ("~:10", 10.0, false),
        ("~:10", 10.1, true),
        ("10:20", 9.0, true),
        ("10:20", 10.0, false),
        ("10:20", 20.0, false),
        ("10:20", 21.0, true),
        ("@10:20", 9.0, false),
        ("@10:20", 10.0, true),
        ("@10:20", 20.0, true),
        ("@10:20", 21.0, false),
        ("-5:-1", -3.0, false),
        ("-5:-1", 0.0, true),
    ];
    for (range, v, alerts) in cases {
        assert_eq!(r(range).alerts(v), alerts, "{range} at {v}");
    }
    assert!(r("10").alerts(f64::NAN));
}

#[test]
fn bad_ranges_are_clear_errors() {
    assert_eq!("".parse::<Range>(), Err(RangeError::Empty));
    assert_eq!("@".parse::<Range>(), Err(RangeError::Empty));
    assert!(matches!("x".parse::<Range>(), Err(RangeError::Number(_))));
    assert!(matches!("1:x".parse::<Range>(), Err(RangeError::Number(_))));
    assert!(matches!("nan".parse::<Range>(), Err(RangeError::Number(_))));
    assert!(matches!(
        "20:10".parse::<Range>(),
        Err(RangeError::Reversed { .. })
    ));
}

#[test]
fn ranges_print_as_they_parse() {
    for s in ["10", "10:", "~:10", "10:20", "@10:20", "@0:5", "-3:4.5"] {
        assert_eq!(r(s).to_string(), s);
        assert_eq!(r(&r(s).to_string()), r(s));
    }
}

#[test]
fn rules_parse_and_the_most_specific_wins() {
    let rules: Vec<ProbeRule> = [
        "load1 warning=4 error=8",
        "load1 warning=16 error=32 nodes=db-*",
        "load1 error=64 nodes=db-7",
        "disk.* critical=@0:10 hysteresis=1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let cfg = ProbeConfig {
        rules,
        hysteresis: 3,
    };
    let pick = |node: &str, probe: &str| cfg.rule(node, probe).map(|r| r.evaluate(20.0));
    assert_eq!(pick("web-1", "load1"), Some(ProbeStatus::Error));
    assert_eq!(pick("db-1", "load1"), Some(ProbeStatus::Warning));
    assert_eq!(pick("db-7", "load1"), Some(ProbeStatus::Ok));
    assert_eq!(pick("web-1", "disk./var"), Some(ProbeStatus::Ok));
    assert_eq!(
        cfg.rule("web-1", "disk./var").unwrap().evaluate(5.0),
        ProbeStatus::Error
    );
    assert_eq!(pick("web-1", "load5"), None);
    assert_eq!(cfg.rule("x", "disk.a").unwrap().hysteresis, Some(1));
}

#[test]
fn bad_rules_are_clear_errors() {
    let e = |s: &str| s.parse::<ProbeRule>().unwrap_err().to_string();
    assert!(e("").contains("starts with the probe name"));
    assert!(e("warning=4").contains("starts with the probe name"));
    assert!(e("load1").contains("needs warning"));
    assert!(e("load1 warn=4").contains("unknown key `warn`"));
    assert!(e("load1 warning").contains("not key=value"));
    assert!(e("load1 warning=8:4").contains("above its end"));
    assert!(e("load1 error=4 hysteresis=0").contains("hysteresis"));
}

#[test]
fn state_changes_only_after_n_agreeing_readings() {
    let t = Timestamp::from_micros;
    let mut s = ProbeState::new(t(0));
    assert_eq!(s.observe(t(1), 9.0, ProbeStatus::Error, 3), None);
    assert_eq!(s.observe(t(2), 9.0, ProbeStatus::Error, 3), None);
    // An ok reading in between restarts the count.
    assert_eq!(s.observe(t(3), 1.0, ProbeStatus::Ok, 3), None);
    assert_eq!(s.observe(t(4), 9.0, ProbeStatus::Error, 3), None);
    assert_eq!(s.observe(t(5), 9.0, ProbeStatus::Error, 3), None);
    assert_eq!(
        s.observe(t(6), 9.0, ProbeStatus::Error, 3),
        Some(ProbeStatus::Ok)
    );
    assert_eq!((s.status, s.since), (ProbeStatus::Error, t(6)));
    assert_eq!(s.observe(t(7), 9.0, ProbeStatus::Error, 3), None);
    assert_eq!(
        s.observe(t(8), 1.0, ProbeStatus::Ok, 1),
        Some(ProbeStatus::Error)
    );
}

#[test]
fn ranges_build_from_bounds_and_expose_them() {
    let open = Range::new(Some(10.0), None, false).unwrap();
    assert_eq!(
        (open.low(), open.high(), open.inside()),
        (Some(10.0), None, false)
    );
    assert_eq!(open.to_string(), "10:");
    assert_eq!(Range::new(None, None, false).unwrap().to_string(), "~:");
    assert_eq!(
        "~:".parse::<Range>().unwrap(),
        Range::new(None, None, false).unwrap()
    );
    let at = r("@10:20");
    assert_eq!(
        (at.low(), at.high(), at.inside()),
        (Some(10.0), Some(20.0), true)
    );
    assert_eq!((r("~:5").low(), r("5").low()), (None, Some(0.0)));
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(
            Range::new(Some(bad), None, false),
            Err(RangeError::Number(_))
        ));
        assert!(Range::new(None, Some(bad), true).is_err());
    }
    assert!(matches!(
        Range::new(Some(2.0), Some(1.0), false),
        Err(RangeError::Reversed { .. })
    ));
}

#[test]
fn units_are_bounded_and_convert_to_base_units() {
    assert_eq!(Unit::new("MB").unwrap().as_str(), "MB");
    assert!(Unit::default().is_empty());
    assert_eq!(Unit::new("").unwrap(), Unit::NONE);
    for bad in ["123456789", "a b", "5s", "k;", "\u{1b}[m"] {
        assert!(Unit::new(bad).is_err(), "{bad:?}");
    }
    let base = |u: &str, v: f64| {
        let unit = Unit::new(u).unwrap();
        (unit.base(), unit.to_base(v))
    };
    assert_eq!(base("ms", 250.0), (Some(BaseUnit::Seconds), 0.25));
    assert_eq!(base("us", 1500.0), (Some(BaseUnit::Seconds), 0.0015));
    assert_eq!(base("s", 2.5), (Some(BaseUnit::Seconds), 2.5));
    assert_eq!(base("B", 68.0), (Some(BaseUnit::Bytes), 68.0));
    // check_disk's MB is 1024² bytes (monitoring-plugins ≤ 2.3; 2.4 says MiB).
    assert_eq!(
        base("MB", 2643.0),
        (Some(BaseUnit::Bytes), 2643.0 * 1_048_576.0)
    );
    assert_eq!(base("MiB", 1.0), base("MB", 1.0));
    assert_eq!(base("KB", 2.0), (Some(BaseUnit::Bytes), 2048.0));
    assert_eq!(base("TB", 1.0), (Some(BaseUnit::Bytes), 1024f64.powi(4)));
    assert_eq!(base("%", 91.0), (Some(BaseUnit::Ratio), 0.91));
    assert_eq!(base("c", 7.0), (Some(BaseUnit::Counter), 7.0));
    assert_eq!(base("rpm", 900.0), (None, 900.0));
    assert_eq!(base("", 3.0), (None, 3.0));
}

#[test]
fn a_rule_wins_whole_then_plugin_ranges_then_none() {
    let meta = ProbeMeta {
        warning: Some(r("5")),
        critical: Some(r("10")),
        ..ProbeMeta::default()
    };
    let plugin = Ranges::in_force(None, &meta).unwrap();
    assert_eq!(plugin.source, RangeSource::Plugin);
    assert_eq!(
        [4.0, 6.0, 11.0, f64::NAN].map(|v| plugin.evaluate(v)),
        [
            ProbeStatus::Ok,
            ProbeStatus::Warning,
            ProbeStatus::Error,
            ProbeStatus::Unknown
        ]
    );
    let rule: ProbeRule = "x warning=100".parse().unwrap();
    let by_rule = Ranges::in_force(Some(&rule), &meta).unwrap();
    assert_eq!(
        (by_rule.source, by_rule.error, by_rule.evaluate(11.0)),
        (RangeSource::Rule, None, ProbeStatus::Ok)
    );
    let only_unit = ProbeMeta {
        unit: Unit::new("s").unwrap(),
        min: Some(0.0),
        ..ProbeMeta::default()
    };
    assert_eq!(Ranges::in_force(None, &only_unit), None);
    assert!(!only_unit.is_empty() && ProbeMeta::default().is_empty());
    assert_eq!(ProbeMeta::default().to_wire(), None);
    let wire = meta.to_wire().unwrap();
    assert_eq!(ProbeMeta::from_wire(&wire), meta);
}

/// Issue 14: a probe's state keeps its latest unit, ranges, min and max inline (no heap), so the
/// probe table stays fixed-size per entry (and bounded by `MAX_PROBES_PER_NODE` per node).
#[test]
fn probe_state_with_its_meta_is_fixed_size_and_small() {
    eprintln!(
        "ProbeState {} bytes, of which ProbeMeta {} (Unit {}, Range {})",
        size_of::<ProbeState>(),
        size_of::<ProbeMeta>(),
        size_of::<Unit>(),
        size_of::<Range>()
    );
    assert_eq!(size_of::<Unit>(), 9);
    assert!(size_of::<ProbeMeta>() <= 96, "{}", size_of::<ProbeMeta>());
    assert!(
        size_of::<ProbeState>() <= 160,
        "{}",
        size_of::<ProbeState>()
    );
}
