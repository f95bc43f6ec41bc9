//! Nagios plugin output: the status text and the performance data after `|`.
//!
//! Performance data (Nagios plugin development guidelines) is space-separated
//! `'label'=value[UOM];[warn];[crit];[min];[max]`; the label may be single-quoted (a quote
//! inside doubled: `'it''s'`), the value may be `U` (undetermined). This decoder reads text
//! from any program, so it is bounded ([`MAX_ITEMS`]), never panics, and skips what it cannot
//! read rather than failing the whole output (a fuzz target checks it: `fuzz/perfdata`).
//! `warn` and `crit` are Nagios ranges ([`Range`]: `10`, `10:`, `~:10`, `10:20`, `@10:20`),
//! `min` and `max` numbers; an empty field is absent, and a malformed one is dropped for that
//! item only (counted in [`Perf::dropped`]), never costing the item its value.
//! Self-contained (but for hb-core) so the fuzz crate can compile it in.

use hb_core::probe::Range;

/// Most performance data items taken from one output.
pub(crate) const MAX_ITEMS: usize = 64;

/// One performance data item with a number for a value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Perf {
    /// The label, unquoted.
    pub(crate) label: String,
    /// The value.
    pub(crate) value: f64,
    /// Its unit of measure (`s`, `%`, `B`, `c`, …; empty if none).
    pub(crate) uom: String,
    /// The plugin's warning range.
    pub(crate) warning: Option<Range>,
    /// The plugin's critical range.
    pub(crate) critical: Option<Range>,
    /// The smallest value possible.
    pub(crate) min: Option<f64>,
    /// The largest value possible.
    pub(crate) max: Option<f64>,
    /// Threshold, min or max fields that were there but did not parse (dropped).
    pub(crate) dropped: u8,
}

/// The performance data in a plugin's whole output: after the first `|` of the first line,
/// and after the first `|` of the long text that follows (the guidelines' multi-line form).
pub(crate) fn of_output(output: &str) -> Vec<Perf> {
    let (first, rest) = output.split_once('\n').unwrap_or((output, ""));
    let mut text = String::new();
    if let Some((_, p)) = first.split_once('|') {
        text.push_str(p);
    }
    if let Some((_, p)) = rest.split_once('|') {
        text.push(' ');
        text.push_str(p);
    }
    parse(&text)
}

/// Parses performance data items (the text after `|`). Items that are not `label=number…`
/// (including `U` values) are skipped.
pub(crate) fn parse(text: &str) -> Vec<Perf> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() && out.len() < MAX_ITEMS {
        let (item, next) = next_item(rest);
        rest = next.trim_start();
        if let Some(p) = item {
            out.push(p);
        }
    }
    out
}

/// Reads one item from the start of `s`; returns it (if well-formed) and the rest.
fn next_item(s: &str) -> (Option<Perf>, &str) {
    let (label, rest) = match s.strip_prefix('\'') {
        Some(quoted) => match unquote(quoted) {
            Some((label, rest)) => (label, rest),
            // An unterminated quote swallows the rest.
            None => return (None, ""),
        },
        None => {
            let end = s.find(['=', ' ', '\t', '\n']).unwrap_or(s.len());
            (s[..end].to_owned(), &s[end..])
        }
    };
    let Some(rest) = rest.strip_prefix('=') else {
        return (None, skip_word(rest));
    };
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (field, rest) = rest.split_at(end);
    if label.is_empty() {
        return (None, rest);
    }
    let mut fields = field.split(';');
    let value = fields.next().unwrap_or_default();
    let num_end = value
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(value.len());
    // An exponent's `e` could also start a unit; keep the longest prefix that parses.
    let parsed = (1..=num_end)
        .rev()
        .find_map(|i| value[..i].parse::<f64>().ok().map(|v| (v, i)));
    let Some((v, i)) = parsed else {
        return (None, rest);
    };
    if !v.is_finite() {
        return (None, rest);
    }
    let mut dropped = 0u8;
    let range = |t: &str| t.parse::<Range>().ok();
    let number = |t: &str| t.parse::<f64>().ok().filter(|v| v.is_finite());
    let warning = optional(fields.next(), range, &mut dropped);
    let critical = optional(fields.next(), range, &mut dropped);
    let min = optional(fields.next(), number, &mut dropped);
    let max = optional(fields.next(), number, &mut dropped);
    (
        Some(Perf {
            label,
            value: v,
            uom: value[i..].to_owned(),
            warning,
            critical,
            min,
            max,
            dropped,
        }),
        rest,
    )
}

/// An optional field: absent when missing or empty; counted in `dropped` when it does not
/// parse.
fn optional<T>(
    text: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    dropped: &mut u8,
) -> Option<T> {
    let text = text.filter(|t| !t.is_empty())?;
    let v = parse(text);
    if v.is_none() {
        *dropped += 1;
    }
    v
}

/// Reads a quoted label after its opening quote: `''` is a quote; returns the label and what
/// follows the closing quote, or `None` if it never closes.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut label = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            label.push(c);
            continue;
        }
        if s[i + 1..].starts_with('\'') {
            label.push('\'');
            chars.next();
            continue;
        }
        return Some((label, &s[i + 1..]));
    }
    None
}

fn skip_word(s: &str) -> &str {
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    &s[end..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, value: f64, uom: &str) -> Perf {
        Perf {
            label: label.into(),
            value,
            uom: uom.into(),
            warning: None,
            critical: None,
            min: None,
            max: None,
            dropped: 0,
        }
    }

    /// An item's fields as text: (label, value, uom, warn, crit, min, max, dropped).
    type Fields = (String, f64, String, String, String, String, String, u8);

    fn fields(p: &Perf) -> Fields {
        let r = |r: Option<Range>| r.map(|r| r.to_string()).unwrap_or_default();
        let n = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
        (
            p.label.clone(),
            p.value,
            p.uom.clone(),
            r(p.warning),
            r(p.critical),
            n(p.min),
            n(p.max),
            p.dropped,
        )
    }

    fn all(text: &str) -> Vec<Fields> {
        parse(text).iter().map(fields).collect()
    }

    fn f(label: &str, value: f64, uom: &str, rest: [&str; 4], dropped: u8) -> Fields {
        let [w, c, min, max] = rest.map(str::to_owned);
        (label.into(), value, uom.into(), w, c, min, max, dropped)
    }

    /// Issue 14: what check_load and check_disk print keeps its thresholds, min, max and unit.
    #[test]
    fn keeps_warn_crit_min_max_and_unit() {
        assert_eq!(
            all("load1=0.740;5.000;10.000;0; load5=0.52;4.000;6.000;0;"),
            [
                f("load1", 0.74, "", ["5", "10", "0", ""], 0),
                f("load5", 0.52, "", ["4", "6", "0", ""], 0),
            ]
        );
        assert_eq!(
            all("/=2643MB;5948;5958;0;5968 /boot=68B;88;93;0;98 'used %'=91%;80;90"),
            [
                f("/", 2643.0, "MB", ["5948", "5958", "0", "5968"], 0),
                f("/boot", 68.0, "B", ["88", "93", "0", "98"], 0),
                f("used %", 91.0, "%", ["80", "90", "", ""], 0),
            ]
        );
        // Every range form, and `@` ranges.
        assert_eq!(
            all("a=1;10:;~:10 b=2;10:20;@10:20 c=3;@5;@~:2"),
            [
                f("a", 1.0, "", ["10:", "~:10", "", ""], 0),
                f("b", 2.0, "", ["10:20", "@10:20", "", ""], 0),
                f("c", 3.0, "", ["@0:5", "@~:2", "", ""], 0),
            ]
        );
    }

    #[test]
    fn missing_or_malformed_fields_are_dropped_for_that_item_only() {
        assert_eq!(
            all("t=5s;;;; u=1;x;20:10;nan;inf v=2;1;2;0;9;extra w=3;@;5MB;0x1;"),
            [
                f("t", 5.0, "s", ["", "", "", ""], 0),
                f("u", 1.0, "", ["", "", "", ""], 4),
                f("v", 2.0, "", ["1", "2", "0", "9"], 0),
                f("w", 3.0, "", ["", "", "", ""], 3),
            ]
        );
        // `U` (undetermined) has no value to keep: the item is skipped, its thresholds too.
        assert_eq!(
            all("a=U;1;2;0;10 b=U c=1;U"),
            [f("c", 1.0, "", ["", "", "", ""], 1)]
        );
    }

    /// Label, value and unit only.
    fn lvu(items: Vec<Perf>) -> Vec<Perf> {
        items
            .into_iter()
            .map(|x| p(&x.label, x.value, &x.uom))
            .collect()
    }

    #[test]
    fn reads_the_guidelines_forms() {
        assert_eq!(
            lvu(parse(
                "time=0.006s;1;2;0 'size used'=5.5MB;;;0;100 load1=0.5 pct=91%;80;90"
            )),
            [
                p("time", 0.006, "s"),
                p("size used", 5.5, "MB"),
                p("load1", 0.5, ""),
                p("pct", 91.0, "%"),
            ]
        );
        assert_eq!(parse("'it''s'=1c"), [p("it's", 1.0, "c")]);
        assert_eq!(
            parse("big=1e3 neg=-2.5 plus=+4"),
            [p("big", 1000.0, ""), p("neg", -2.5, ""), p("plus", 4.0, "")]
        );
    }

    #[test]
    fn skips_what_it_cannot_read() {
        assert_eq!(lvu(parse("a=U;1;2 b=3")), [p("b", 3.0, "")]);
        assert_eq!(parse("junk c=1 =2 d= e=x f=inf"), [p("c", 1.0, "")]);
        assert!(parse("'unterminated=1 x=2").is_empty());
        assert!(parse("").is_empty());
        let many = "x=1 ".repeat(MAX_ITEMS + 10);
        assert_eq!(parse(&many).len(), MAX_ITEMS);
    }

    #[test]
    fn finds_perfdata_on_the_first_line_and_in_long_text() {
        let out = "DISK OK - free space: / 3326 MB (56%) | /=2643MB;5948;5958;0;5968\n\
                   / 15272 MB (77%);\n\
                   /boot 68 MB (69%); | /boot=68MB;88;93;0;98\n\
                   /home=69357MB;253404;253409;0;253414\n";
        let got: Vec<_> = of_output(out).into_iter().map(|p| p.label).collect();
        assert_eq!(got, ["/", "/boot", "/home"]);
        assert!(of_output("OK no perfdata\n").is_empty());
        assert_eq!(lvu(of_output("OK|t=5;1;2")), [p("t", 5.0, "")]);
    }
}
