//! A structural check of an OpenMetrics 1.0.0 text exposition (promtool reads only 0.0.4):
//! the rules of the specification's text format that hbnode's answer could break.

use std::collections::{BTreeMap, BTreeSet};

/// One family as declared by its `# TYPE`.
struct Family {
    name: String,
    kind: String,
    help: bool,
    unit: bool,
    samples: usize,
}

/// The suffixes a sample of a family of `kind` may add to the family's name.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "info" => &["_info"],
        "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
        "summary" => &["", "_sum", "_count", "_created"],
        _ => &[""],
    }
}

fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn valid_label(s: &str) -> bool {
    valid_name(s) && !s.contains(':')
}

/// A sample line read: its name, its labels (unescaped), its value's text.
type Parsed = (String, Vec<(String, String)>, String);

/// `name{labels} value`: the name, the labels (unescaped), the value's text.
fn sample(line: &str) -> Result<Parsed, String> {
    let end = line.find(['{', ' ']).ok_or("no value")?;
    let name = line[..end].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[end..];
    if let Some(mut r) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = r.split_once("=\"").ok_or("a label without =\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let close = loop {
                match chars.next().ok_or("unterminated label value")? {
                    (j, '"') => break j,
                    (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => return Err(format!("bad escape \\{c}")),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_owned(), value));
            r = &after[close + 1..];
            if let Some(a) = r.strip_prefix(',') {
                r = a;
            } else if !r.starts_with('}') {
                return Err("labels not separated by ,".into());
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = value.split(' ').next().unwrap_or_default().to_owned();
    Ok((name, labels, value))
}

/// The value as a number, if OpenMetrics allows its spelling.
fn number(v: &str) -> Option<f64> {
    match v {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => v.parse().ok(),
        _ => None,
    }
}

/// Checks `text`; the error names the line and the rule it breaks.
pub(crate) fn check(text: &str) -> Result<(), String> {
    let body = text
        .strip_suffix("# EOF\n")
        .or_else(|| text.strip_suffix("# EOF"))
        .ok_or("the exposition does not end with `# EOF`")?;
    let mut families: Vec<Family> = Vec::new();
    let mut series = BTreeSet::new();
    // Histogram buckets by (family, labels without le): (le, count) in order; and _count.
    let mut buckets: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (n, line) in body.lines().enumerate() {
        let err = |m: String| format!("line {}: {m}: `{line}`", n + 1);
        if line.is_empty() {
            return Err(err("empty line".into()));
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (what, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let arg = parts.next();
            if what == "TYPE" {
                if families.iter().any(|f| f.name == name) {
                    return Err(err(format!("family {name} declared twice (interleaved?)")));
                }
                let kind = arg.unwrap_or("").to_owned();
                let known = [
                    "counter",
                    "gauge",
                    "info",
                    "histogram",
                    "gaugehistogram",
                    "stateset",
                    "summary",
                    "unknown",
                ];
                if !known.contains(&kind.as_str()) {
                    return Err(err(format!("unknown type {kind}")));
                }
                if !valid_name(name) {
                    return Err(err("invalid family name".into()));
                }
                if (kind == "counter" && name.ends_with("_total"))
                    || (kind == "info" && name.ends_with("_info"))
                {
                    return Err(err("the family name carries its type's suffix".into()));
                }
                families.push(Family {
                    name: name.to_owned(),
                    kind,
                    help: false,
                    unit: false,
                    samples: 0,
                });
                continue;
            }
            let f = families
                .last_mut()
                .filter(|f| f.name == name)
                .ok_or_else(|| err(format!("{what} for {name}, not the current family")))?;
            if f.samples > 0 {
                return Err(err(format!("{what} after the family's samples")));
            }
            match what {
                "HELP" if !f.help => f.help = true,
                "UNIT" if !f.unit => {
                    let unit = arg.unwrap_or("");
                    if unit.is_empty() || !name.ends_with(&format!("_{unit}")) {
                        return Err(err("the family's name does not end in its unit".into()));
                    }
                    f.unit = true;
                }
                _ => return Err(err(format!("unexpected or repeated # {what}"))),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(err("a comment that is not TYPE, UNIT or HELP".into()));
        }
        let (name, labels, value) = sample(line).map_err(&err)?;
        let f = families
            .last_mut()
            .ok_or_else(|| err("a sample before any # TYPE".into()))?;
        let suffix = name
            .strip_prefix(&f.name)
            .filter(|s| suffixes(&f.kind).contains(s))
            .ok_or_else(|| err(format!("sample not of the current family {}", f.name)))?;
        f.samples += 1;
        let mut seen = BTreeSet::new();
        for (k, _) in &labels {
            if !valid_label(k) || !seen.insert(k.clone()) {
                return Err(err(format!("invalid or repeated label name {k}")));
            }
        }
        let key = format!("{name}{labels:?}");
        if !series.insert(key) {
            return Err(err("duplicate series".into()));
        }
        let v = number(&value).ok_or_else(|| err(format!("bad value {value}")))?;
        if f.kind == "counter" && suffix == "_total" && (v.is_nan() || v < 0.0) {
            return Err(err("a counter that is negative or NaN".into()));
        }
        if f.kind == "info" && v != 1.0 {
            return Err(err("an info sample that is not 1".into()));
        }
        if f.kind == "histogram" {
            let rest: Vec<_> = labels.iter().filter(|(k, _)| k != "le").collect();
            let group = (f.name.clone(), format!("{rest:?}"));
            match suffix {
                "_bucket" => {
                    let le = labels
                        .iter()
                        .find(|(k, _)| k == "le")
                        .and_then(|(_, v)| number(v))
                        .ok_or_else(|| err("a bucket without a numeric le".into()))?;
                    let b = buckets.entry(group).or_default();
                    if let Some(&(ple, pv)) = b.last()
                        && (le <= ple || v < pv)
                    {
                        return Err(err("buckets not in increasing le or not cumulative".into()));
                    }
                    b.push((le, v));
                }
                "_count" => {
                    counts.insert(group, v);
                }
                _ => {}
            }
        }
    }
    for (group, b) in &buckets {
        let Some(&(le, v)) = b.last() else { continue };
        if le != f64::INFINITY {
            return Err(format!("histogram {group:?} has no +Inf bucket"));
        }
        if counts.get(group) != Some(&v) {
            return Err(format!(
                "histogram {group:?}: _count is not the +Inf bucket"
            ));
        }
    }
    if let Some(f) = families.iter().find(|f| f.samples == 0) {
        return Err(format!("family {} has no samples", f.name));
    }
    Ok(())
}
