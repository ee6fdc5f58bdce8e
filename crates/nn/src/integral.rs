//! Integral (soft-argmax) landmark read-out: the alternative to [`crate::pip`] measured against
//! it. Differentiable end to end, so it trains on the coordinates themselves with any
//! [`LossKind`] (no score-map target).
//!
//! The head is a 1×1 convolution on an `H × W` map with `3N` channels: `0 .. N` logits,
//! `N .. 2N` and `2N .. 3N` x and y offsets (cells) from each cell's centre. Landmark `i` is
//! the expectation under the softmax of its logits over the cells:
//! `x_i = Σ_c p_ic · (cx_c + ½ + ox_ic)` in cells (likewise y), then normalised as in
//! [`crate::pip`] (`u = 2x/W − 1`). The offsets let the expectation reach points outside the
//! outer cells' centres, which a plain soft-argmax on a 5×5 map cannot.

use crate::loss::{weighted_masked_loss, LossKind};
use crate::pip::from_grid;

/// Channel layout of an integral head: `3N` channels for `n_points` landmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegralLayout {
    /// Landmarks `N`; the head has `3N` channels.
    pub n_points: usize,
}

impl IntegralLayout {
    /// Output channels of the head: `3N`.
    pub fn channels(&self) -> usize {
        3 * self.n_points
    }

    fn check(&self, shape: &[usize]) -> (usize, usize, usize) {
        assert!(
            shape.len() == 4 && shape[1] == self.channels(),
            "integral head output {shape:?}: expected [batch, {}, h, w]",
            self.channels()
        );
        (shape[0], shape[2], shape[3])
    }

    /// Softmax of each landmark's logits (`batch × N × HW`).
    fn softmax(&self, out: &[f32], b: usize, hw: usize) -> Vec<f32> {
        let n = self.n_points;
        let mut p = Vec::with_capacity(b * n * hw);
        for s in 0..b {
            for i in 0..n {
                let k0 = (s * 3 * n + i) * hw;
                let z = &out[k0..k0 + hw];
                let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = z.iter().map(|&v| (v - m).exp()).collect();
                let sum: f32 = e.iter().sum();
                p.extend(e.into_iter().map(|v| v / sum));
            }
        }
        p
    }

    /// Landmarks (`batch × 2N` normalised, x before y) from the head output `out` of
    /// `shape = [batch, 3N, H, W]`.
    pub fn decode(&self, out: &[f32], shape: &[usize]) -> Vec<f32> {
        let (b, h, w) = self.check(shape);
        let hw = h * w;
        let p = self.softmax(out, b, hw);
        self.expect(out, &p, b, h, w)
    }

    fn expect(&self, out: &[f32], p: &[f32], b: usize, h: usize, w: usize) -> Vec<f32> {
        let n = self.n_points;
        let hw = h * w;
        let mut res = Vec::with_capacity(b * 2 * n);
        for s in 0..b {
            for i in 0..n {
                let pi = &p[(s * n + i) * hw..(s * n + i + 1) * hw];
                let ox = &out[(s * 3 * n + n + i) * hw..][..hw];
                let oy = &out[(s * 3 * n + 2 * n + i) * hw..][..hw];
                let (mut x, mut y) = (0f32, 0f32);
                for q in 0..hw {
                    x += pi[q] * ((q % w) as f32 + 0.5 + ox[q]);
                    y += pi[q] * ((q / w) as f32 + 0.5 + oy[q]);
                }
                res.push(from_grid(x, w));
                res.push(from_grid(y, h));
            }
        }
        res
    }

    /// `kind` loss of the read-out against `targets` (`batch × 2N` normalised, `mask` one flag
    /// per coordinate, `face_weights` as [`weighted_masked_loss`]) and its gradient with
    /// respect to `out`.
    pub fn loss(
        &self,
        kind: LossKind,
        out: &[f32],
        shape: &[usize],
        targets: &[f32],
        mask: &[bool],
        face_weights: Option<&[f32]>,
    ) -> (f32, Vec<f32>) {
        let (b, h, w) = self.check(shape);
        let n = self.n_points;
        let hw = h * w;
        let p = self.softmax(out, b, hw);
        let pred = self.expect(out, &p, b, h, w);
        let (loss, du) = weighted_masked_loss(kind, &pred, targets, mask, face_weights);
        let mut grad = vec![0f32; out.len()];
        for s in 0..b {
            for i in 0..n {
                // d loss / d x (cells) = d loss / d u · 2 / W
                let gx = du[(s * n + i) * 2] * 2.0 / w as f32;
                let gy = du[(s * n + i) * 2 + 1] * 2.0 / h as f32;
                if gx == 0.0 && gy == 0.0 {
                    continue;
                }
                let x = (pred[(s * n + i) * 2] + 1.0) * 0.5 * w as f32;
                let y = (pred[(s * n + i) * 2 + 1] + 1.0) * 0.5 * h as f32;
                let pi = &p[(s * n + i) * hw..(s * n + i + 1) * hw];
                let lo = (s * 3 * n + i) * hw;
                let ox0 = (s * 3 * n + n + i) * hw;
                let oy0 = (s * 3 * n + 2 * n + i) * hw;
                for q in 0..hw {
                    let vx = (q % w) as f32 + 0.5 + out[ox0 + q];
                    let vy = (q / w) as f32 + 0.5 + out[oy0 + q];
                    // softmax: d x / d z_q = p_q (v_q − x)
                    grad[lo + q] = pi[q] * (gx * (vx - x) + gy * (vy - y));
                    grad[ox0 + q] = gx * pi[q];
                    grad[oy0 + q] = gy * pi[q];
                }
            }
        }
        (loss, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peaked_map_reads_its_cell_centre_plus_offset() {
        let l = IntegralLayout { n_points: 1 };
        let (h, w) = (4, 5);
        let mut out = vec![0f32; 3 * h * w];
        out[2 * w + 3] = 60.0; // cell (3, 2)
        out[h * w + 2 * w + 3] = 0.25; // x offset there
        let uv = l.decode(&out, &[1, 3, h, w]);
        assert!((uv[0] - from_grid(3.75, w)).abs() < 1e-5, "{uv:?}");
        assert!((uv[1] - from_grid(2.5, h)).abs() < 1e-5, "{uv:?}");
    }
}
