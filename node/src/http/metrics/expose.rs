//! The two text expositions of one list of families: Prometheus text format 0.0.4 and
//! OpenMetrics 1.0.0. Every difference between them is in this file:
//!
//! | | 0.0.4 | OpenMetrics |
//! |---|---|---|
//! | counter `# TYPE`/`# HELP` name | with `_total` | without |
//! | info family | `gauge` named `…_info` | `info` named without `_info` |
//! | `# UNIT` | not written | written for families with a unit |
//! | `"` in `# HELP` | as is | `\"` |
//! | end | nothing | `# EOF` |

use std::fmt::Write as _;

use crate::http::metrics::model::{Family, Kind, Sample, Value};

/// Writes `families` in Prometheus text format 0.0.4.
pub(crate) fn text_004(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let (name, kind) = match f.kind {
            Kind::Counter => (format!("{}_total", f.name), "counter"),
            Kind::Gauge => (f.name.clone(), "gauge"),
            Kind::Info => (format!("{}_info", f.name), "gauge"),
            Kind::Histogram => (f.name.clone(), "histogram"),
        };
        let _ = writeln!(out, "# HELP {name} {}", escape(f.help, false));
        let _ = writeln!(out, "# TYPE {name} {kind}");
        samples(&mut out, f);
    }
    out
}

/// Writes `families` in OpenMetrics 1.0.0, ending with `# EOF`.
pub(crate) fn openmetrics(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Info => "info",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        if let Some(unit) = f.unit {
            let _ = writeln!(out, "# UNIT {} {}", f.name, unit.as_str());
        }
        let _ = writeln!(out, "# HELP {} {}", f.name, escape(f.help, true));
        samples(&mut out, f);
    }
    out.push_str("# EOF\n");
    out
}

/// One line per sample: `name{labels} value` (the same in both formats).
fn samples(out: &mut String, f: &Family) {
    for Sample {
        suffix,
        labels,
        value,
    } in &f.samples
    {
        out.push_str(&f.name);
        out.push_str(suffix);
        if !labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{k}=\"{}\"", escape(v, true));
            }
            out.push('}');
        }
        out.push(' ');
        write_value(out, *value);
        out.push('\n');
    }
}

fn write_value(out: &mut String, v: Value) {
    let _ = match v {
        Value::Int(n) => write!(out, "{n}"),
        Value::Float(x) if x.is_nan() => write!(out, "NaN"),
        Value::Float(x) if x.is_infinite() => {
            write!(out, "{}", if x > 0.0 { "+Inf" } else { "-Inf" })
        }
        Value::Float(x) => write!(out, "{x}"),
    };
}

/// Escapes `\` and line feeds (and `"` when `quotes`: label values, OpenMetrics help).
fn escape(s: &str, quotes: bool) -> std::borrow::Cow<'_, str> {
    let special = |c: char| c == '\\' || c == '\n' || (quotes && c == '"');
    if !s.contains(special) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::metrics::model::Unit;

    fn families() -> Vec<Family> {
        let mut up = Family::gauge("node_up", "Whether \"up\"\nor not \\");
        up.push(vec![("node", "a\"b\\c\nd".to_owned())], Value::Int(1));
        vec![
            Family::counter("beats_received", "Beats").value(Value::Int(3)),
            up,
            Family::gauge("age_seconds", "Age")
                .unit(Unit::Seconds)
                .value(Value::Float(f64::INFINITY)),
            Family::gauge("probe_value", "Probe").value(Value::Float(f64::NAN)),
            Family::counter("empty", "Never written"),
            Family::info("build", "Build", vec![("version", "1.2.3".to_owned())]),
        ]
    }

    #[test]
    fn text_004_names_counters_and_infos_by_their_series_and_writes_no_unit_or_eof() {
        assert_eq!(
            text_004(&families()),
            "# HELP hbnode_beats_received_total Beats\n\
             # TYPE hbnode_beats_received_total counter\n\
             hbnode_beats_received_total 3\n\
             # HELP hbnode_node_up Whether \"up\"\\nor not \\\\\n\
             # TYPE hbnode_node_up gauge\n\
             hbnode_node_up{node=\"a\\\"b\\\\c\\nd\"} 1\n\
             # HELP hbnode_age_seconds Age\n\
             # TYPE hbnode_age_seconds gauge\n\
             hbnode_age_seconds +Inf\n\
             # HELP hbnode_probe_value Probe\n\
             # TYPE hbnode_probe_value gauge\n\
             hbnode_probe_value NaN\n\
             # HELP hbnode_build_info Build\n\
             # TYPE hbnode_build_info gauge\n\
             hbnode_build_info{version=\"1.2.3\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_names_families_without_type_suffixes_writes_units_and_ends_with_eof() {
        assert_eq!(
            openmetrics(&families()),
            "# TYPE hbnode_beats_received counter\n\
             # HELP hbnode_beats_received Beats\n\
             hbnode_beats_received_total 3\n\
             # TYPE hbnode_node_up gauge\n\
             # HELP hbnode_node_up Whether \\\"up\\\"\\nor not \\\\\n\
             hbnode_node_up{node=\"a\\\"b\\\\c\\nd\"} 1\n\
             # TYPE hbnode_age_seconds gauge\n\
             # UNIT hbnode_age_seconds seconds\n\
             # HELP hbnode_age_seconds Age\n\
             hbnode_age_seconds +Inf\n\
             # TYPE hbnode_probe_value gauge\n\
             # HELP hbnode_probe_value Probe\n\
             hbnode_probe_value NaN\n\
             # TYPE hbnode_build info\n\
             # HELP hbnode_build Build\n\
             hbnode_build_info{version=\"1.2.3\"} 1\n\
             # EOF\n"
        );
    }
}
