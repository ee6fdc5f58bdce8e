//! Conversions between schemes (iBUG-68 to Kaggle-15 and to five points) and mirror
//! permutations (derived from a mean shape, checked as involutions).

use super::{dist, mean_of};
use crate::Point;

/// Converts 68 iBUG points to the 15 Kaggle points (Kaggle column order, pixels unchanged):
///
/// | Kaggle | from iBUG (0-based) |
/// |---|---|
/// | left_eye_center / right_eye_center | mean of 42–47 / mean of 36–41 |
/// | left_eye_inner_corner / outer | 42 / 45 |
/// | right_eye_inner_corner / outer | 39 / 36 |
/// | left_eyebrow_inner_end / outer | 22 / 26 |
/// | right_eyebrow_inner_end / outer | 21 / 17 |
/// | nose_tip | 30 |
/// | mouth_left_corner / right | 54 / 48 |
/// | mouth_center_top_lip / bottom | 51 / 57 |
///
/// "left" is the subject's left (the image's right). A missing input point (NaN) gives NaN
/// outputs where it is used. Fewer than 68 input points give NaN for the points that need them.
pub fn ibug68_to_kaggle15(points: &[Point]) -> Vec<Point> {
    const NAN: Point = [f32::NAN, f32::NAN];
    let at = |i: usize| points.get(i).copied().unwrap_or(NAN);
    let mean = |r: std::ops::Range<usize>| mean_of(points, &r.collect::<Vec<_>>()).unwrap_or(NAN);
    vec![
        mean(42..48),
        mean(36..42),
        at(42),
        at(45),
        at(39),
        at(36),
        at(22),
        at(26),
        at(21),
        at(17),
        at(30),
        at(54),
        at(48),
        at(51),
        at(57),
    ]
}

/// Converts 68 iBUG points to the five-point scheme ([`FIVE_NAMES`](super::FIVE_NAMES)): eye
/// centres (means of 42–47 and 36–41), nose tip 30, mouth corners 54 (left) and 48 (right).
pub fn ibug68_to_five(points: &[Point]) -> Vec<Point> {
    let k = ibug68_to_kaggle15(points);
    vec![k[0], k[1], k[10], k[11], k[12]]
}

/// The mirror permutation of a roughly symmetric `mean_shape`: reflect it about its mean x and
/// map each point to the nearest point of the original. An involution when the shape is
/// symmetric enough; check with [`is_involution`].
pub fn derive_mirror(mean_shape: &[Point]) -> Vec<usize> {
    let n = mean_shape.len();
    if n == 0 {
        return vec![];
    }
    let cx = mean_shape.iter().map(|p| p[0]).sum::<f32>() / n as f32;
    mean_shape
        .iter()
        .map(|p| {
            let q = [2.0 * cx - p[0], p[1]];
            let mut best = (f32::INFINITY, 0);
            for (j, r) in mean_shape.iter().enumerate() {
                let d = dist(q, *r);
                if d < best.0 {
                    best = (d, j);
                }
            }
            best.1
        })
        .collect()
}

/// `true` when `perm` is a permutation with `perm[perm[i]] == i` for all `i`.
pub fn is_involution(perm: &[usize]) -> bool {
    perm.iter()
        .enumerate()
        .all(|(i, &j)| j < perm.len() && perm[j] == i)
}
