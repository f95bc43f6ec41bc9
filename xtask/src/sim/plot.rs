//! Chart helpers shared by `sweep` and `frontier` (plotters, SVG).

use plotters::coord::Shift;
use plotters::prelude::*;

/// Series colours, in order.
pub(crate) const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

/// Draws the series legend of `chart` at `at`, in a white box with a black border.
pub(crate) fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("draw the legend: {e}"))
}

/// A white canvas of `size` pixels writing an SVG to `path`.
pub(crate) fn svg_canvas(
    path: &std::path::Path,
    size: (u32, u32),
) -> anyhow::Result<DrawingArea<SVGBackend<'_>, Shift>> {
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root)
}

/// A log-scale range covering every positive value of `ys`, padded by a factor of 2 each side
/// (`(1e-3, 1)` when there is none).
pub(crate) fn log_range(ys: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = ys
        .into_iter()
        .filter(|y| y.is_finite() && *y > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    if hi == 0.0 {
        (1e-3, 1.0)
    } else {
        (lo / 2.0, hi * 2.0)
    }
}
