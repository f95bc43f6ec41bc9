//! Nagios plugin output: the status text and the performance data after `|`.
//!
//! Performance data (Nagios plugin development guidelines) is space-separated
//! `'label'=value[UOM];[warn];[crit];[min];[max]`; the label may be single-quoted (a quote
//! inside doubled: `'it''s'`), the value may be `U` (undetermined). This decoder reads text
//! from any program, so it is bounded ([`MAX_ITEMS`]), never panics, and skips what it cannot
//! read rather than failing the whole output (a fuzz target checks it: `fuzz/perfdata`).
//! Self-contained so the fuzz crate can compile it in.

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
    let value = field.split(';').next().unwrap_or_default();
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
    (
        Some(Perf {
            label,
            value: v,
            uom: value[i..].to_owned(),
        }),
        rest,
    )
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
        }
    }

    #[test]
    fn reads_the_guidelines_forms() {
        assert_eq!(
            parse("time=0.006s;1;2;0 'size used'=5.5MB;;;0;100 load1=0.5 pct=91%;80;90"),
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
        assert_eq!(parse("a=U;1;2 b=3"), [p("b", 3.0, "")]);
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
        assert_eq!(of_output("OK|t=5;1;2"), [p("t", 5.0, "")]);
    }
}
