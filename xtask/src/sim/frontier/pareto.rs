//! Pareto efficiency of (detection time, false-alarm rate) points.

/// Which of `points` — (x, y) = (detection time, false-alarm rate), both lower is better — are
/// Pareto-efficient: no other point is at least as good in both and strictly better in one
/// (so each efficient point has the lowest rate among the points detecting at least as fast).
/// Equal points are all efficient. A point with a non-finite coordinate (a detector that
/// detected no crash) is neither efficient nor dominates another.
pub(crate) fn efficient(points: &[(f64, f64)]) -> Vec<bool> {
    let ok = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    points
        .iter()
        .map(|p| {
            ok(p)
                && !points
                    .iter()
                    .any(|q| ok(q) && q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_points_are_not_efficient() {
        // (1, 10) and (3, 1) trade speed for accuracy; (2, 10) is slower than (1, 10) at the
        // same rate, (4, 2) slower and worse than (3, 1); (5, 0) is the only zero-alarm point.
        let pts = [(1.0, 10.0), (2.0, 10.0), (3.0, 1.0), (4.0, 2.0), (5.0, 0.0)];
        assert_eq!(efficient(&pts), [true, false, true, false, true]);
    }

    #[test]
    fn equal_points_are_both_efficient_and_order_does_not_matter() {
        let pts = [(2.0, 1.0), (1.0, 5.0), (2.0, 1.0)];
        assert_eq!(efficient(&pts), [true, true, true]);
        let rev: Vec<_> = pts.iter().rev().copied().collect();
        assert_eq!(efficient(&rev), [true, true, true]);
    }

    #[test]
    fn same_speed_lower_rate_wins_and_same_rate_faster_wins() {
        assert_eq!(efficient(&[(3.0, 2.0), (3.0, 1.0)]), [false, true]);
        assert_eq!(efficient(&[(3.0, 1.0), (2.5, 1.0)]), [false, true]);
    }

    #[test]
    fn points_without_a_detection_time_are_skipped() {
        let pts = [
            (f64::NAN, 0.0),
            (f64::INFINITY, 0.0),
            (4.0, 3.0),
            (5.0, f64::NAN),
        ];
        assert_eq!(efficient(&pts), [false, false, true, false]);
        assert!(efficient(&[]).is_empty());
    }
}
