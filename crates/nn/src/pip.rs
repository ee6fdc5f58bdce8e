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

use crate::layers::Conv2d;
use crate::ops::{matmul, Mat};
use crate::{NnError, Tensor};

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
    /// Weight of the score maps' loss (default 10).
    pub score: f32,
    /// Weight of each point's own offsets' loss (default 1).
    pub offset: f32,
    /// Weight of the neighbours' offsets' loss (default 1).
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
        let n = self.n_points();
        let hw = h * w;
        let ch = self.channels();
        let mut res = Vec::with_capacity(b * 2 * n);
        for s in 0..b {
            let o = &out[s * ch * hw..(s + 1) * ch * hw];
            let cells: Vec<usize> = (0..n).map(|i| argmax(&o[i * hw..(i + 1) * hw])).collect();
            res.extend(self.read_out(w, h, &cells, |chan, cell| o[chan * hw + cell]));
        }
        res
    }

    /// The read-out of one face: landmark `i` at its arg-max cell `cells[i]` (row-major on a
    /// `w × h` map) plus its offset, averaged with the votes of the landmarks that list it as
    /// a neighbour; `value(channel, cell)` gives the head's output there. Reads only the
    /// offset channels at those cells (what [`SparsePipHead`] computes). Returns `2N` values.
    pub fn read_out(
        &self,
        w: usize,
        h: usize,
        cells: &[usize],
        value: impl Fn(usize, usize) -> f32,
    ) -> Vec<f32> {
        let (n, c) = (self.n_points(), self.c());
        let mut sx = vec![0f32; n];
        let mut sy = vec![0f32; n];
        let mut cnt = vec![0f32; n];
        for i in 0..n {
            let cell = cells[i];
            let (cx, cy) = ((cell % w) as f32, (cell / w) as f32);
            sx[i] += cx + value(n + i, cell);
            sy[i] += cy + value(2 * n + i, cell);
            cnt[i] += 1.0;
            for (k, &j) in self.neighbours[i].iter().enumerate() {
                sx[j] += cx + value(3 * n + i * c + k, cell);
                sy[j] += cy + value(3 * n + n * c + i * c + k, cell);
                cnt[j] += 1.0;
            }
        }
        (0..n)
            .flat_map(|i| [from_grid(sx[i] / cnt[i], w), from_grid(sy[i] / cnt[i], h)])
            .collect()
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

/// Inference of a PIP head (a 1×1 convolution) that computes only what the read-out uses:
/// the `N` score maps on every cell, then the `2 + 2C` offsets of each landmark at its arg-max
/// cell alone. The full head computes `N · (3 + 2C)` channels on every cell, most of which the
/// read-out never reads: at 80×80 input (5×5 map, 384 channels, 68 points, C = 10) 15 M
/// multiply-adds, against 1.2 M here (but all offset weights are still read once: in f32 that
/// memory traffic, not the arithmetic, bounds it). Same points as [`PipLayout::decode`] of the full
/// output, up to float rounding (tested).
#[derive(Debug, Clone)]
pub struct SparsePipHead {
    layout: PipLayout,
    /// The head's weights, `[channels][cin]` row-major, and bias.
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
}

impl SparsePipHead {
    /// From the head convolution (1×1, stride 1, no padding, no fused activation, as many
    /// outputs as `layout` has channels).
    pub fn new(head: &Conv2d, layout: PipLayout) -> Result<SparsePipHead, NnError> {
        if !head.pointwise() || head.act.is_some() || head.out_c != layout.channels() {
            return Err(NnError::Shape {
                what: "PIP head (a plain 1×1 convolution with one output per layout channel)"
                    .into(),
                expected: vec![layout.channels(), head.in_c, 1, 1],
                got: head.weight.shape.clone(),
            });
        }
        Ok(SparsePipHead {
            layout,
            weight: head.weight.value.clone(),
            bias: head.bias.value.clone(),
            cin: head.in_c,
        })
    }

    /// Landmarks (`batch × 2N` normalised, x before y) from the feature map the head reads,
    /// `features = [batch, cin, H, W]`.
    pub fn forward(&self, features: &Tensor) -> Vec<f32> {
        let &[b, cin, h, w] = &features.shape[..] else {
            panic!(
                "PIP features {:?}: expected [batch, {}, h, w]",
                features.shape, self.cin
            );
        };
        assert_eq!(cin, self.cin, "PIP features: channels");
        let (n, hw) = (self.layout.n_points(), h * w);
        let mut res = Vec::with_capacity(b * 2 * n);
        let mut cells_feat = vec![0f32; hw * cin];
        for s in 0..b {
            // pixel-major copy: each cell's features contiguous for the dot products
            let x = &features.data[s * cin * hw..(s + 1) * cin * hw];
            for (c, plane) in x.chunks_exact(hw).enumerate() {
                for (q, &v) in plane.iter().enumerate() {
                    cells_feat[q * cin + c] = v;
                }
            }
            // score maps on every cell: one small GEMM, [N, cin] × [cin, hw]
            let mut scores = vec![0f32; n * hw];
            matmul(
                Mat::rm(&self.weight[..n * cin], n, cin),
                Mat::rm(x, cin, hw),
                &mut scores,
                false,
                1,
            );
            // (the bias adds a constant to each map: it cannot move the arg-max)
            let cells: Vec<usize> = scores.chunks_exact(hw).map(argmax).collect();
            // offsets only where the read-out looks
            let value = |chan: usize, cell: usize| {
                self.bias[chan]
                    + dot(
                        &self.weight[chan * cin..(chan + 1) * cin],
                        &cells_feat[cell * cin..(cell + 1) * cin],
                    )
            };
            res.extend(self.layout.read_out(w, h, &cells, value));
        }
        res
    }
}

/// `Σ a[i]·b[i]` (equal lengths), in AVX2 where the CPU has it: the sparse head's offsets
/// are about 1500 dot products of a few hundred values, which the baseline SSE2 build runs at
/// half the speed.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::simd_allowed() && std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { dot_avx2(a, b) };
    }
    dot_portable(a, b)
}

/// [`dot_portable`] compiled for AVX2.
///
/// # Safety
///
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

/// 32 independent partial sums (four 8-lane vectors, so the FMA latency overlaps), then the
/// tail. Requires equal lengths.
#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 32];
    let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..32 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
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

    /// The sparse head gives the points of the full head's output, decoded.
    #[test]
    fn sparse_head_equals_full_decode() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let shape: Vec<[f32; 2]> = (0..6).map(|_| [rng.gen(), rng.gen()]).collect();
        let l = PipLayout::new(nearest_neighbours(&shape, 3)).unwrap();
        let head = Conv2d::new("head", 19, l.channels(), 1, 1, 0, &mut rng);
        let x = Tensor::new(
            vec![2, 19, 3, 4],
            (0..2 * 19 * 12).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        );
        let full = head.forward(&x);
        let want = l.decode(&full.data, &full.shape);
        let got = SparsePipHead::new(&head, l.clone()).unwrap().forward(&x);
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{got:?} vs {want:?}");
        }
        // a head of another shape is refused
        let other = Conv2d::new("head", 19, 5, 1, 1, 0, &mut rng);
        assert!(SparsePipHead::new(&other, l).is_err());
    }
}
