//! One SVG per link: false alarms per host-hour (log) against T_D mean | T_D p99, one colour and
//! marker per detector, lines joining a detector's points in knob order, the Pareto frontier,
//! and the fixed detector's theory where it applies.

use std::path::Path;

use hb_sim::theory;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::spec::NamedLink;
use super::{Det, FrontierArgs, Row};
use crate::sim::plot::{COLORS, legend, log_range, svg_canvas};

/// Where a row is drawn on the y axis and whether it is a measured rate (filled marker) or
/// the 99 % upper bound of a rate measured as zero (open marker).
fn y_of(r: &Row) -> (f64, bool) {
    let m = &r.s.mistake_rate_per_hour;
    if r.s.mistakes == 0 {
        (m.hi, false)
    } else {
        (m.value, true)
    }
}

/// The budget detector's marker, in pixels around its point.
const DIAMOND: [(i32, i32); 4] = [(0, -6), (6, 0), (0, 6), (-6, 0)];

/// The φ detector's marker, in pixels around its point.
const TRIANGLE: [(i32, i32); 3] = [(0, -6), (5, 4), (-5, 4)];

/// A polygon's outline as a closed path.
fn closed(corners: &[(i32, i32)]) -> Vec<(i32, i32)> {
    corners.iter().chain(&corners[..1]).copied().collect()
}

fn color(d: Det) -> RGBColor {
    COLORS[Det::ALL.iter().position(|&x| x == d).unwrap_or(0)]
}

/// A marker's style: filled, or an open outline.
fn style(col: RGBColor, filled: bool) -> ShapeStyle {
    if filled {
        col.filled()
    } else {
        col.stroke_width(2)
    }
}

/// Draws one detector's markers (fixed ●, φ ▲, Chen ■, budget ◆; filled or open) as a series
/// labelled with the detector's name.
macro_rules! markers {
    ($chart:expr, $d:expr, $pts:expr, |$st:ident, $f:ident| $shape:expr $(, $more:expr)*) => {{
        let col = color($d);
        $chart
            .draw_series($pts.iter().map(|&(c, filled)| {
                let ($st, $f) = (style(col, filled), filled);
                EmptyElement::at(c) + $shape $(+ $more)*
            }))?
            .label($d.name())
            .legend(move |(x, y)| {
                let ($st, $f) = (style(col, true), true);
                EmptyElement::at((x + 10, y)) + $shape $(+ $more)*
            });
    }};
}

/// The fixed detector's predicted (T_D mean, false alarms per hour) for timeouts from 1.05 η
/// to the longest of `--timeouts`; empty when the theory does not describe the link.
fn theory_curve(a: &FrontierArgs, link: &NamedLink) -> Vec<(f64, f64)> {
    if !link.link.theory_applies() {
        return Vec::new();
    }
    let top = a.timeouts.iter().copied().fold(2.0, f64::max);
    (0..=120)
        .map(|i| 1.05 + (top - 1.05) * f64::from(i) / 120.0)
        .filter_map(|r| {
            let p = theory::predict(
                a.period,
                a.period.mul_f64(r),
                &link.link.loss,
                &link.link.delay,
            )?;
            Some((p.t_d_mean_s, p.mistake_rate_per_hour))
        })
        .collect()
}

/// Draws `rows` (one link's) to `path`.
pub(super) fn plot(
    a: &FrontierArgs,
    link: &NamedLink,
    rows: &[&Row],
    path: &Path,
) -> anyhow::Result<()> {
    let root = svg_canvas(path, (1400, 620))?;
    let root = root.titled(
        &format!(
            "{}: false alarms against detection time ({} × {} per point, beats every {}, jitter {}%)",
            link.name,
            a.traces,
            hb_sim::fmt_duration(a.duration),
            hb_sim::fmt_duration(a.period),
            a.jitter * 100.0
        ),
        ("sans-serif", 20),
    )?;
    let (foot, body) = {
        let (body, foot) = root.split_vertically(580);
        (foot, body)
    };
    foot.draw_text(
        "Filled: measured rate. Open: no false alarm measured, drawn at the rate's 99% upper bound. \
         Grey: the Pareto frontier. Dashed: the fixed detector's theory (T_D mean; no sender jitter).",
        &("sans-serif", 14).into_text_style(&foot),
        (10, 5),
    )?;
    let (left, right) = body.split_horizontally(700);
    let curve = theory_curve(a, link);
    panel(
        &left,
        rows,
        "T_D mean (s)",
        Row::t_d_mean,
        |r| r.pareto_mean,
        &curve,
    )?;
    panel(
        &right,
        rows,
        "T_D p99 (s)",
        Row::t_d_p99,
        |r| r.pareto_p99,
        &[],
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    rows: &[&Row],
    x_desc: &str,
    x_of: fn(&Row) -> f64,
    pareto: fn(&Row) -> bool,
    curve: &[(f64, f64)],
) -> anyhow::Result<()> {
    let xmax = rows
        .iter()
        .map(|r| x_of(r))
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max)
        * 1.05;
    let (ylo, yhi) = log_range(rows.iter().map(|r| y_of(r).0));
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..xmax, (ylo..yhi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("false alarms per host-hour")
        .light_line_style(RGBColor(238, 238, 238))
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    let inside = |&(x, y): &(f64, f64)| x.is_finite() && x <= xmax && y >= ylo && y <= yhi;
    let theory: Vec<(f64, f64)> = curve.iter().copied().filter(inside).collect();
    if !theory.is_empty() {
        let style = ShapeStyle::from(&BLUE.mix(0.8)).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(theory, 6, 4, style))?
            .label("fixed, theory")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    // The frontier as a staircase: between two efficient points the lowest rate reachable at
    // a detection time is the slower point's only once it is reached.
    let mut front: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| pareto(r))
        .map(|r| (x_of(r), y_of(r).0))
        .collect();
    front.sort_by(|p, q| p.0.total_cmp(&q.0));
    let mut steps = Vec::new();
    for (i, &p) in front.iter().enumerate() {
        if i > 0 {
            steps.push((p.0, front[i - 1].1));
        }
        steps.push(p);
    }
    let grey = RGBColor(170, 170, 170);
    chart
        .draw_series(LineSeries::new(steps, grey.stroke_width(5)))?
        .label("Pareto frontier")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(5)));
    for d in Det::ALL {
        let mine: Vec<&&Row> = rows.iter().filter(|r| r.p.det == d).collect();
        if mine.is_empty() {
            continue;
        }
        let col = color(d);
        // φ has two knobs: one line per acceptable pause, in threshold order.
        let mut groups: Vec<Option<f64>> = mine.iter().map(|r| r.p.knob2).collect();
        groups.dedup();
        for g in &groups {
            let mut line: Vec<(f64, f64, f64)> = mine
                .iter()
                .filter(|r| r.p.knob2 == *g)
                .map(|r| (r.p.knob, x_of(r), y_of(r).0))
                .filter(|p| p.1.is_finite())
                .collect();
            line.sort_by(|p, q| p.0.total_cmp(&q.0));
            chart.draw_series(LineSeries::new(
                line.into_iter().map(|p| (p.1, p.2)),
                col.mix(0.7),
            ))?;
        }
        let pts: Vec<((f64, f64), bool)> = mine
            .iter()
            .filter(|r| x_of(r).is_finite())
            .map(|r| {
                let (y, filled) = y_of(r);
                ((x_of(r), y), filled)
            })
            .collect();
        match d {
            Det::Fixed => markers!(chart, d, pts, |st, _f| Circle::new((0, 0), 4, st)),
            // Triangles and polygons are always filled: an open one is white inside a
            // coloured outline.
            Det::Phi => markers!(
                chart,
                d,
                pts,
                |st, f| Polygon::new(TRIANGLE.to_vec(), if f { st } else { WHITE.filled() }),
                PathElement::new(closed(&TRIANGLE), color(d).stroke_width(2))
            ),
            Det::Chen => markers!(chart, d, pts, |st, _f| Rectangle::new(
                [(-4, -4), (4, 4)],
                st
            )),
            Det::Budget => markers!(
                chart,
                d,
                pts,
                |st, f| Polygon::new(DIAMOND.to_vec(), if f { st } else { WHITE.filled() }),
                PathElement::new(closed(&DIAMOND), color(d).stroke_width(2))
            ),
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}
