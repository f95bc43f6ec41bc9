//! Aligned plain-text tables for the query commands (`status`, `history`, `readings`).

use std::fmt::Write as _;

/// `header` and `rows` as left-aligned columns two spaces apart (the last column unpadded),
/// with `empty` on its own line when there are no rows.
pub(crate) fn render<const N: usize>(
    header: &[&str; N],
    rows: &[[String; N]],
    empty: &str,
) -> String {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for r in rows {
        line(&r.each_ref().map(String::as_str));
    }
    if rows.is_empty() {
        out.push_str(empty);
        out.push('\n');
    }
    out
}
