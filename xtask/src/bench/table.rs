//! The BENCHMARKS.md table: one row per figure, next to its same-run baseline, rendered and
//! merged into the file section by section.

use std::fmt::Write as _;
use std::path::Path;

/// One line of the table.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) figure: String,
    pub(crate) baseline: String,
    pub(crate) ratio: Option<f64>,
    pub(crate) target: String,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split(':')
                    .nth(1)
                    .map(|s| s.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

pub(super) fn render(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| benchmark | figure | baseline (same run) | ratio | target |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in rows {
        // Two decimals, or three significant ones for ratios far below 1 (0.0100×, not 0.01×).
        let ratio = r.ratio.map_or("—".into(), |x| {
            if x > 0.0 && x < 0.1 {
                let prec = (2.0 - x.log10().floor()) as usize;
                format!("{x:.prec$}×")
            } else {
                format!("{x:.2}×")
            }
        });
        let _ = writeln!(
            s,
            "| {} | {} | {} | {ratio} | {} |",
            r.name, r.figure, r.baseline, r.target
        );
    }
    let _ = writeln!(s, "\nMachine: {}.", machine());
    s
}

/// Replaces the sections of BENCHMARKS.md for the benchmarks just run, keeping the others.
pub(super) fn merge(path: &Path, which: &[&str], table: &str) -> anyhow::Result<String> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let key = which.join("+");
    let begin = format!("<!-- bench:{key} -->");
    let end = format!("<!-- /bench:{key} -->");
    let section = format!("{begin}\n{table}{end}\n");
    if let (Some(a), Some(b)) = (old.find(&begin), old.find(&end)) {
        return Ok(format!(
            "{}{section}{}",
            &old[..a],
            &old[b + end.len()..].trim_start_matches('\n')
        ));
    }
    let head = if old.is_empty() {
        "# Benchmarks\n\nWritten by `cargo xtask bench`. Every figure is compared with a baseline \
         measured in the same run; ratios are what to compare across machines.\n\n"
            .to_string()
    } else {
        format!("{}\n", old.trim_end())
    };
    Ok(format!("{head}## {key}\n\n{section}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ratios_keep_three_significant_digits() {
        let row = |ratio| Row {
            name: "n".into(),
            figure: "f".into(),
            baseline: "b".into(),
            ratio,
            target: "t".into(),
        };
        let md = render(&[
            row(Some(0.010_05)),
            row(Some(0.007)),
            row(Some(2.5)),
            row(None),
        ]);
        assert!(md.contains("| 0.0100× |"), "{md}");
        assert!(md.contains("| 0.00700× |"), "{md}");
        assert!(md.contains("| 2.50× |"), "{md}");
        assert!(md.contains("| — |"), "{md}");
    }
}
