//! Pixel-in-pixel (PIP) landmark read-out and loss (Jin, Liao and Shao, "Pixel-in-Pixel Net",
//! IJCV 2021): a landmark head that localises on a feature map instead of regressing all
//! coordinates from one flattened vector.
//!
//! The head itself is a 1×1 convolution (any [`crate::Conv2d`]) on a stride-S map of `H × W`
//! cells. For `N` landmarks and `C` neighbours its `N · (3 + 2C)` output channels are, in order:
//! - `0 .. N`: score maps, landmark `i`'s map says which cell holds it (trained towards the
//!   one-hot map of the true cell, MSE);
//! - `N .. 2N`, `2N .. 3N`: x and y offset maps, landmark `i` from its cell's top-left corner,
//!   in cells;
//! - `3N .. 3N + NC`, `3N + NC .. 3N + 2NC`: x and y of neighbour `k` of landmark `i` (channel
//!   `i·C + k` of each block) from landmark `i`'s cell's top-left corner, in cells.
//!
//! Coordinates outside this module are facemark's normalised ones: `[-1, 1]` about the crop
//! centre, x before y (`facemark_core::crop`). On the grid, `g = (u + 1) / 2 · W` (cells).
//!
//! Read-out ([`PipLayout::decode`]): each landmark's arg-max cell plus its offset, averaged with
//! the votes of the landmarks that have it as a neighbour (each at its own arg-max cell). The
//! neighbour votes tie the points to a shape, which is what makes PIP robust where a score map
//! alone is ambiguous (occlusion, blur).

use crate::NnError;

/// Channel layout of a PIP head: point count and each point's neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct PipLayout {
    /// `neighbours[i]`: the `C` landmarks whose positions landmark `i` also predicts (usually
    /// its `C` nearest in the mean shape, [`nearest_neighbours`]). Every row has the same
    /// length; indices `< N` and never `i` itself.
    pub neighbours: Vec<Vec<usize>>,
}

/// Loss weights of the PIP terms (PIPNet's defaults: score maps 10, offsets 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipWeights {
    pub score: f32,
    pub offset: f32,
    pub neighbour: f32,
}

impl Default for PipWeights {
    fn default() -> Self {
        PipWeights {
            score: 10.0,
            offset: 1.0,
            neighbour: 1.0,
        }
    }
}

/// Cell of grid coordinate `g` (cells) on an axis of `w` cells, clamped into the map.
pub(crate) fn cell_of(g: f32, w: usize) -> usize {
    (g.floor().max(0.0) as usize).min(w - 1)
}

/// Normalised coordinate → grid coordinate (cells) on an axis of `w` cells.
pub(crate) fn to_grid(u: f32, w: usize) -> f32 {
    (u + 1.0) * 0.5 * w as f32
}

/// Grid coordinate (cells) → normalised coordinate.
pub(crate) fn from_grid(g: f32, w: usize) -> f32 {
    2.0 * g / w as f32 - 1.0
}

/// Index of the largest value (the first of equal ones).
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// For each of the points `shape` (`[x, y]`, any frame), the `c` nearest other points
/// (Euclidean, ties by index). Requires `c < shape.len()`.
pub fn nearest_neighbours(shape: &[[f32; 2]], c: usize) -> Vec<Vec<usize>> {
    (0..shape.len())
        .map(|i| {
            let mut d: Vec<(f32, usize)> = (0..shape.len())
                .filter(|&j| j != i)
                .map(|j| {
                    let (dx, dy) = (shape[j][0] - shape[i][0], shape[j][1] - shape[i][1]);
                    (dx * dx + dy * dy, j)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.into_iter().take(c).map(|(_, j)| j).collect()
        })
        .collect()
}

impl PipLayout {
    /// A layout for `neighbours` (see the field); checks that it is well formed.
    pub fn new(neighbours: Vec<Vec<usize>>) -> Result<PipLayout, NnError> {
        let n = neighbours.len();
        let c = neighbours.first().map_or(0, Vec::len);
        let bad = |what: String| NnError::Shape {
            what,
            expected: vec![n, c],
            got: vec![],
        };
        if n == 0 {
            return Err(bad("PIP neighbour table: no points".into()));
        }
        for (i, row) in neighbours.iter().enumerate() {
            if row.len() != c {
                return Err(bad(format!(
                    "PIP neighbour table: row {i} has {} neighbours, row 0 has {c}",
                    row.len()
                )));
            }
            if let Some(&j) = row.iter().find(|&&j| j >= n || j == i) {
                return Err(bad(format!(
                    "PIP neighbour table: row {i} names point {j} (must be another of the {n} points)"
                )));
            }
        }
        Ok(PipLayout { neighbours })
    }
    /// Number of landmarks `N`.
    pub fn n_points(&self) -> usize {
        self.neighbours.len()
    }
    /// Neighbours per landmark `C`.
    pub fn c(&self) -> usize {
        self.neighbours[0].len()
    }
    /// Output channels of the head: `N · (3 + 2C)`.
    pub fn channels(&self) -> usize {
        self.n_points() * (3 + 2 * self.c())
    }

    fn check(&self, shape: &[usize]) -> (usize, usize, usize) {
        assert!(
            shape.len() == 4 && shape[1] == self.channels(),
            "PIP head output {shape:?}: expected [batch, {}, h, w]",
            self.channels()
        );
        (shape[0], shape[2], shape[3])
    }

    /// Landmarks (`batch × 2N` normalised, x before y) from the head's output `out` of
    /// `shape = [batch, N·(3+2C), H, W]`.
    pub fn decode(&self, out: &[f32], shape: &[usize]) -> Vec<f32> {
        let (b, h, w) = self.check(shape);
        let (n, c) = (self.n_points(), self.c());
        let hw = h * w;
        let ch = self.channels();
        let mut res = Vec::with_capacity(b * 2 * n);
        for s in 0..b {
            let o = &out[s * ch * hw..(s + 1) * ch * hw];
            let map = |k: usize| &o[k * hw..(k + 1) * hw];
            let cells: Vec<usize> = (0..n).map(|i| argmax(map(i))).collect();
            let mut sx = vec![0f32; n];
            let mut sy = vec![0f32; n];
            let mut cnt = vec![0f32; n];
            for i in 0..n {
                let cell = cells[i];
                let (cx, cy) = ((cell % w) as f32, (cell / w) as f32);
                sx[i] += cx + map(n + i)[cell];
                sy[i] += cy + map(2 * n + i)[cell];
                cnt[i] += 1.0;
                for (k, &j) in self.neighbours[i].iter().enumerate() {
                    sx[j] += cx + map(3 * n + i * c + k)[cell];
                    sy[j] += cy + map(3 * n + n * c + i * c + k)[cell];
                    cnt[j] += 1.0;
                }
            }
            for i in 0..n {
                res.push(from_grid(sx[i] / cnt[i], w));
                res.push(from_grid(sy[i] / cnt[i], h));
            }
        }
        res
    }

    /// PIP loss and its gradient with respect to `out` (same layout as [`PipLayout::decode`]).
    ///
    /// `targets`: `batch × 2N` normalised coordinates; `mask`: one flag per coordinate, a
    /// landmark counts when both of its flags are set. Terms, each a mean over what it covers:
    /// `score · MSE(score maps of present landmarks, one-hot of the true cell)`
    /// `+ offset · (L1(x offsets) + L1(y offsets))` at the true cell of each present landmark
    /// `+ neighbour · (L1(neighbour x) + L1(neighbour y))` at the same cell, for each present
    /// neighbour. The true cell is clamped into the map; offsets then reach outside `[0, 1)`.
    pub fn loss(
        &self,
        out: &[f32],
        shape: &[usize],
        targets: &[f32],
        mask: &[bool],
        weights: PipWeights,
    ) -> (f32, Vec<f32>) {
        let (b, h, w) = self.check(shape);
        let (n, c) = (self.n_points(), self.c());
        assert_eq!(targets.len(), b * 2 * n, "targets: batch × 2N");
        assert_eq!(mask.len(), targets.len(), "mask: one per coordinate");
        let hw = h * w;
        let ch = self.channels();
        let mut grad = vec![0f32; out.len()];
        let present = |s: usize, i: usize| mask[s * 2 * n + 2 * i] && mask[s * 2 * n + 2 * i + 1];
        let n_present = (0..b)
            .flat_map(|s| (0..n).map(move |i| (s, i)))
            .filter(|&(s, i)| present(s, i))
            .count();
        let n_pairs = (0..b)
            .flat_map(|s| (0..n).map(move |i| (s, i)))
            .filter(|&(s, i)| present(s, i))
            .map(|(s, i)| {
                self.neighbours[i]
                    .iter()
                    .filter(|&&j| present(s, j))
                    .count()
            })
            .sum::<usize>();
        if n_present == 0 {
            return (0.0, grad);
        }
        let score_norm = weights.score / (n_present * hw) as f32;
        let off_norm = weights.offset / n_present as f32;
        let nb_norm = if n_pairs > 0 {
            weights.neighbour / n_pairs as f32
        } else {
            0.0
        };
        let mut total = 0f64;
        for s in 0..b {
            let base = s * ch * hw;
            let t = &targets[s * 2 * n..(s + 1) * 2 * n];
            let grid = |j: usize| (to_grid(t[2 * j], w), to_grid(t[2 * j + 1], h));
            for i in 0..n {
                if !present(s, i) {
                    continue;
                }
                let (gx, gy) = grid(i);
                let (cx, cy) = (cell_of(gx, w), cell_of(gy, h));
                let cell = cy * w + cx;
                // score map: MSE against one-hot
                for q in 0..hw {
                    let k = base + i * hw + q;
                    let d = out[k] - if q == cell { 1.0 } else { 0.0 };
                    total += (score_norm * d * d) as f64;
                    grad[k] = score_norm * 2.0 * d;
                }
                // L1 on a value at the true cell
                let mut l1 = |chan: usize, target: f32, norm: f32| {
                    let k = base + chan * hw + cell;
                    let d = out[k] - target;
                    total += (norm * d.abs()) as f64;
                    grad[k] = norm * d.signum();
                };
                l1(n + i, gx - cx as f32, off_norm);
                l1(2 * n + i, gy - cy as f32, off_norm);
                for (k, &j) in self.neighbours[i].iter().enumerate() {
                    if !present(s, j) {
                        continue;
                    }
                    let (jx, jy) = grid(j);
                    l1(3 * n + i * c + k, jx - cx as f32, nb_norm);
                    l1(3 * n + n * c + i * c + k, jy - cy as f32, nb_norm);
                }
            }
        }
        (total as f32, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> PipLayout {
        let shape = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 2.0]];
        PipLayout::new(nearest_neighbours(&shape, 2)).unwrap()
    }

    #[test]
    fn neighbours_are_the_nearest_others() {
        let l = layout();
        assert_eq!(l.neighbours[0], vec![1, 2]);
        assert_eq!(l.neighbours[3], vec![1, 2]);
        assert_eq!(l.channels(), 4 * 7);
        assert!(PipLayout::new(vec![vec![0]]).is_err(), "itself");
        assert!(PipLayout::new(vec![vec![1], vec![]]).is_err(), "ragged");
        assert!(
            PipLayout::new(vec![vec![5], vec![0]]).is_err(),
            "out of range"
        );
    }

    /// Encode known points the way a perfect head would; decode gives them back.
    #[test]
    fn decode_inverts_a_perfect_output() {
        let l = layout();
        let (n, c, h, w) = (4, 2, 5, 5);
        let pts = [-0.7f32, 0.1, 0.33, -0.9, 0.05, 0.95, 0.6, 0.6];
        let mut out = vec![0f32; l.channels() * h * w];
        let cells: Vec<(usize, usize)> = (0..n)
            .map(|i| {
                (
                    cell_of(to_grid(pts[2 * i], w), w),
                    cell_of(to_grid(pts[2 * i + 1], h), h),
                )
            })
            .collect();
        for i in 0..n {
            let (cx, cy) = cells[i];
            let q = cy * w + cx;
            out[i * 25 + q] = 1.0;
            out[(n + i) * 25 + q] = to_grid(pts[2 * i], w) - cx as f32;
            out[(2 * n + i) * 25 + q] = to_grid(pts[2 * i + 1], h) - cy as f32;
            for (k, &j) in l.neighbours[i].iter().enumerate() {
                out[(3 * n + i * c + k) * 25 + q] = to_grid(pts[2 * j], w) - cx as f32;
                out[(3 * n + n * c + i * c + k) * 25 + q] = to_grid(pts[2 * j + 1], h) - cy as f32;
            }
        }
        let got = l.decode(&out, &[1, l.channels(), h, w]);
        for (a, b) in got.iter().zip(pts) {
            assert!((a - b).abs() < 1e-5, "{got:?} vs {pts:?}");
        }
        // and its loss is 0
        let (loss, _) = l.loss(
            &out,
            &[1, l.channels(), h, w],
            &pts,
            &[true; 8],
            PipWeights::default(),
        );
        assert!(loss.abs() < 1e-6, "{loss}");
    }

    #[test]
    fn a_missing_point_gets_no_gradient_and_votes_for_nothing_it_lacks() {
        let l = layout();
        let shape = [2, l.channels(), 3, 3];
        let len: usize = shape.iter().product();
        let out: Vec<f32> = (0..len)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let t = [
            0.1f32, 0.2, -0.3, 0.4, 0.5, -0.6, 0.0, 0.9, 0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.0, 0.9,
        ];
        let mut mask = [true; 16];
        mask[8 + 2] = false; // sample 1, point 1, x missing → the point is missing
        let (_, g) = l.loss(&out, &shape, &t, &mask, PipWeights::default());
        let hw = 9;
        let s1 = l.channels() * hw;
        for chan in [1, 4 + 1, 8 + 1] {
            assert!(g[s1 + chan * hw..s1 + (chan + 1) * hw]
                .iter()
                .all(|&v| v == 0.0));
        }
        // its own maps still get gradient in sample 0
        assert!(g[hw..2 * hw].iter().any(|&v| v != 0.0));
    }
}
