//! `hbnode readings --plot FILE.svg`: one probe's readings over time, as an SVG line chart
//! (time axis in UTC, points coloured by Nagios status).

use std::path::Path;

use anyhow::{Context as _, bail};
use plotters::prelude::*;

use super::query::ReadingRow;

/// Colour of a point by status: ok, warning, critical, unknown.
fn color(status: u8) -> RGBColor {
    match status {
        0 => RGBColor(0x2c, 0xa0, 0x2c),
        1 => RGBColor(0xff, 0x99, 0x00),
        2 => RGBColor(0xd6, 0x27, 0x28),
        _ => RGBColor(0x80, 0x80, 0x80),
    }
}

/// A time label: `HH:MM:SS.mmm` within a minute, `HH:MM:SS` within a day, `MM-DD HH:MM`
/// beyond.
fn label(ms: i64, span_ms: i64) -> String {
    let t = super::rfc3339(ms); // 2024-05-01T12:34:56.789Z
    if span_ms < 60_000 {
        t.get(11..23).unwrap_or(&t).to_owned()
    } else if span_ms <= 86_400_000 {
        t.get(11..19).unwrap_or(&t).to_owned()
    } else {
        format!(
            "{} {}",
            t.get(5..10).unwrap_or(""),
            t.get(11..16).unwrap_or("")
        )
    }
}

/// Writes the chart of `rows` (oldest first) to `path`.
pub(crate) fn svg(path: &Path, node: &str, probe: &str, rows: &[ReadingRow]) -> anyhow::Result<()> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        bail!("no readings of `{probe}` for `{node}` in this period: nothing to plot");
    };
    let (x0, mut x1) = (first.at_ms, last.at_ms);
    if x1 == x0 {
        x1 = x0 + 1000;
    }
    let (mut y0, mut y1) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| {
            (a.min(r.value), b.max(r.value))
        });
    if !y0.is_finite() || !y1.is_finite() {
        bail!("the readings of `{probe}` are not finite numbers: nothing to plot");
    }
    let pad = ((y1 - y0) * 0.1).max(y1.abs() * 0.05).max(1e-9);
    y0 -= pad;
    y1 += pad;
    let span = x1 - x0;
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let caption = format!(
            "{node} · {probe} · {} readings from {} to {} (UTC)",
            rows.len(),
            first.time,
            last.time
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|ms| label(*ms, span))
            .x_desc("time (UTC)")
            .y_desc(probe)
            .draw()?;
        chart.draw_series(LineSeries::new(
            rows.iter().map(|r| (r.at_ms, r.value)),
            &RGBColor(0x1f, 0x77, 0xb4),
        ))?;
        chart.draw_series(
            rows.iter()
                .map(|r| Circle::new((r.at_ms, r.value), 3, color(r.status).filled())),
        )?;
        root.present()?;
        Ok(())
    };
    draw()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot write the chart {}", path.display()))
}
