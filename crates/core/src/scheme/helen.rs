//! The HELEN-194 mean shape, synthesised from the iBUG-68 mean by resampling its contours
//! (the 194-point mirror permutation is derived from it).

use super::{dist, IBUG68_MEAN, IBUG68_MIRROR};
use crate::Point;

/// Points along an open polyline, `n ≥ 2` of them equally spaced by arc length, ends included.
fn resample_open(poly: &[Point], n: usize) -> Vec<Point> {
    let mut cum = vec![0.0f32];
    for w in poly.windows(2) {
        cum.push(cum.last().unwrap() + dist(w[0], w[1]));
    }
    let total = *cum.last().unwrap();
    (0..n)
        .map(|k| {
            let t = total * k as f32 / (n - 1) as f32;
            let s = cum.partition_point(|&c| c <= t).clamp(1, poly.len() - 1);
            let (a, b) = (poly[s - 1], poly[s]);
            let seg = (cum[s] - cum[s - 1]).max(1e-12);
            let u = ((t - cum[s - 1]) / seg).clamp(0.0, 1.0);
            [a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u]
        })
        .collect()
}

/// A closed contour of `n` (even) points: `upper` (left corner → right corner) sampled with
/// `n/2 + 1` points, then `lower` (right corner → left corner) with its `n/2 − 1` inner points.
fn closed_contour(upper: &[Point], lower: &[Point], n: usize) -> Vec<Point> {
    let mut out = resample_open(upper, n / 2 + 1);
    let low = resample_open(lower, n / 2 + 1);
    out.extend_from_slice(&low[1..n / 2]);
    out
}

/// A plausible HELEN-194 mean shape (landmark-box units) on the layout documented at
/// [`Scheme::helen194`](super::Scheme::helen194), synthesised from the (symmetrised) iBUG-68
/// mean shape by resampling its contours. Used to derive the 194-point mirror permutation.
pub fn helen194_mean_shape() -> Vec<Point> {
    // Symmetrise the 68 mean so that the derived correspondences are exact.
    let m: Vec<Point> = (0..68)
        .map(|i| {
            let (p, q) = (IBUG68_MEAN[i], IBUG68_MEAN[IBUG68_MIRROR[i]]);
            [(p[0] - q[0]) * 0.5, (p[1] + q[1]) * 0.5]
        })
        .collect();
    let pick = |idx: &[usize]| idx.iter().map(|&i| m[i]).collect::<Vec<Point>>();
    let shift = |pts: Vec<Point>, dx: f32, dy: f32| {
        pts.into_iter()
            .map(|p| [p[0] + dx, p[1] + dy])
            .collect::<Vec<Point>>()
    };
    let mut out = Vec::with_capacity(194);
    // Jaw: 41 points along 0..16.
    out.extend(resample_open(&pick(&(0..17).collect::<Vec<_>>()), 41));
    // Nose: down the left side of the bridge, round the nostrils, up the right side.
    let (b0, b2) = (m[27], m[29]);
    let nose = vec![
        [b0[0] - 0.04, b0[1]],
        [b2[0] - 0.05, b2[1]],
        m[31],
        m[32],
        m[33],
        m[34],
        m[35],
        [b2[0] + 0.05, b2[1]],
        [b0[0] + 0.04, b0[1]],
    ];
    out.extend(resample_open(&nose, 17));
    // Outer lip: 48 → 54 along the top, back along the bottom.
    out.extend(closed_contour(
        &pick(&[48, 49, 50, 51, 52, 53, 54]),
        &pick(&[54, 55, 56, 57, 58, 59, 48]),
        28,
    ));
    // Inner lip: 60 → 64 along the top, back along the bottom (corners shared with 60/64).
    out.extend(closed_contour(
        &pick(&[60, 61, 62, 63, 64]),
        &pick(&[64, 65, 66, 67, 60]),
        28,
    ));
    // Eyes: image-left eye first (36–41), then 42–47.
    out.extend(closed_contour(
        &pick(&[36, 37, 38, 39]),
        &pick(&[39, 40, 41, 36]),
        20,
    ));
    out.extend(closed_contour(
        &pick(&[42, 43, 44, 45]),
        &pick(&[45, 46, 47, 42]),
        20,
    ));
    // Brows: a thin closed band around each 5-point brow line, image-left brow first.
    for r in [17..22, 22..27] {
        let line: Vec<usize> = r.collect();
        let mut rev = line.clone();
        rev.reverse();
        let upper = shift(pick(&line), 0.0, -0.015);
        let lower = shift(pick(&rev), 0.0, 0.015);
        // Join the ends so both halves share the corners.
        let mut up = vec![[m[line[0]][0], m[line[0]][1]]];
        up.extend(upper);
        up.push(m[line[4]]);
        let mut lo = vec![m[line[4]]];
        lo.extend(lower);
        lo.push(m[line[0]]);
        out.extend(closed_contour(&up, &lo, 20));
    }
    debug_assert_eq!(out.len(), 194);
    out
}
