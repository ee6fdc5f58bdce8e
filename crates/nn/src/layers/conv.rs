//! 2-D convolution: [`Conv2d`] (im2col + GEMM).
//!
//! # Conv2d
//!
//! What it represents: `y[n, o, i, j] = bias[o] + Σ_{c, ky, kx} weight[o, c, ky, kx] ·
//! x[n, c, i·s + ky − p, j·s + kx − p]`, PyTorch's `nn.Conv2d` with `groups = 1`,
//! `dilation = 1`: a square `k × k` kernel, stride `s`, `p` pixels of zero padding on every
//! side, floor mode. Input NCHW `[n, in_c, h, w]`, output `[n, out_c, oh, ow]` with
//! `oh = (h + 2p − k) / s + 1` ([`Window::out`]; 0 where the kernel does not fit).
//! Parameters `"<name>.weight"` `[out_c, in_c, k, k]` (Kaiming normal, gain √2, fan-in
//! `in_c·k·k`) and `"<name>.bias"` `[out_c]` (zeros). `act`: an activation applied to the
//! output, set only by [`crate::Network::fused`].
//!
//! Rectangular kernels ([`Conv2d::rect`], Inception's `1 × 7` and `7 × 1`): a window per axis,
//! `win` vertical and `win_x` horizontal (equal for a square kernel), weight
//! `[out_c, in_c, kh, kw]`, `oh = win.out(h)`, `ow = win_x.out(w)`; they always run im2col +
//! GEMM.
//!
//! `forward(&self, x)`, `forward_into(&self, x, out)`
//! - requires: `x` 4-D with `in_c` channels (panics otherwise).
//! - ensures: `y`, then `act` if any; no cache. One input channel with a 3×3 window, padding
//!   1, stride 1 or 2 runs the flat depthwise kernel (`depthwise.rs`); a 1×1 window, stride
//!   1, no padding ([`Conv2d::pointwise`]) multiplies the input as it is; the rest im2col +
//!   GEMM. `forward_into` reuses `out`'s buffer.
//!
//! `forward_train(&mut self, x)`
//! - requires: `act` is `None`: a layer of a fused network that took an activation panics
//!   ("fused layers are inference-only").
//! - ensures: `y` as `forward` gives it up to rounding (always im2col + GEMM); caches the
//!   im2col columns of the whole batch (for a pointwise layer the input itself) and the input
//!   shape.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before (the cached columns); `dy` `[n, out_c, oh, ow]`.
//! - ensures: `dW = Σ_n dy_n · cols_nᵀ` and `db = Σ dy` (over batch and pixels) **added** to
//!   `weight.grad` and `bias.grad`, summed over fixed chunks of the batch in order; skipped
//!   when weight and bias are both frozen (one frozen alone still gets its gradient, which
//!   the optimiser ignores). `need_dx = false`: `None`, no input gradient computed; `true`:
//!   `Some(dx)`, `[n, in_c, h, w]` (`Wᵀ · dy`, then col2im).

use super::depthwise::{dw3_flat_fits, dw3_flat_image};
use super::{add_into, dims4, kaiming, threads, ActKind};
use crate::ops::{col2im_rect, im2col_rect, matmul, Mat, Window};
use crate::tensor::{Param, Tensor};
use rand::RngCore;
use rayon::prelude::*;

/// 2-D convolution, weight `[out, in, k, k]`, bias `[out]`, square kernel, zero padding.
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// Input channels.
    pub in_c: usize,
    /// Output channels (filters).
    pub out_c: usize,
    /// Kernel side, stride and zero padding, in pixels: vertical, and both for a square
    /// kernel.
    pub win: Window,
    /// Horizontal kernel side, stride and padding: `win` for a square kernel.
    pub win_x: Window,
    /// `"<name>.weight"`, `[out_c, in_c, k, k]`.
    pub weight: Param,
    /// `"<name>.bias"`, `[out_c]`.
    pub bias: Param,
    /// An activation fused into the output (inference-only networks from
    /// [`crate::Network::fused`]); `None` in trainable networks.
    pub act: Option<ActKind>,
    cols: Vec<f32>,
    in_shape: Vec<usize>,
}

impl Conv2d {
    /// A `k × k` convolution, stride `stride`, `pad` pixels of zero padding, parameters named
    /// `"<name>.weight"` (Kaiming normal from `rng`, gain √2) and `"<name>.bias"` (zeros).
    pub fn new(
        name: &str,
        in_c: usize,
        out_c: usize,
        k: usize,
        stride: usize,
        pad: usize,
        rng: &mut dyn RngCore,
    ) -> Conv2d {
        Conv2d::rect(name, in_c, out_c, (k, k), stride, (pad, pad), rng)
    }
    /// A `kh × kw` convolution, stride `stride` on both axes, zero padding `(ph, pw)` (rows
    /// above and below, columns left and right), parameters as [`Conv2d::new`]'s (weight
    /// `[out_c, in_c, kh, kw]`).
    pub fn rect(
        name: &str,
        in_c: usize,
        out_c: usize,
        (kh, kw): (usize, usize),
        stride: usize,
        (ph, pw): (usize, usize),
        rng: &mut dyn RngCore,
    ) -> Conv2d {
        let fan_in = in_c * kh * kw;
        Conv2d {
            in_c,
            out_c,
            win: Window {
                k: kh,
                stride,
                pad: ph,
            },
            win_x: Window {
                k: kw,
                stride,
                pad: pw,
            },
            weight: Param::new(
                format!("{name}.weight"),
                vec![out_c, in_c, kh, kw],
                kaiming(out_c * fan_in, fan_in, 2f32.sqrt(), rng),
            ),
            bias: Param::new(format!("{name}.bias"), vec![out_c], vec![0.0; out_c]),
            act: None,
            cols: Vec::new(),
            in_shape: Vec::new(),
        }
    }
    /// A 1×1 convolution, stride 1, no padding: a matrix product per pixel.
    pub fn pointwise(&self) -> bool {
        self.square() && self.win.k == 1 && self.win.stride == 1 && self.win.pad == 0
    }
    /// The same window on both axes (every kernel but [`Conv2d::rect`]'s rectangular ones).
    pub fn square(&self) -> bool {
        self.win == self.win_x
    }
    /// Values per output pixel and filter: `in_c · kh · kw`.
    fn ick(&self) -> usize {
        self.in_c * self.win.k * self.win_x.k
    }
    fn out_shape(&self, x: &Tensor) -> (usize, usize, usize, usize) {
        let (n, c, h, w) = dims4(x);
        assert_eq!(c, self.in_c, "conv {}: input channels", self.weight.name);
        (n, self.out_c, self.win.out(h), self.win_x.out(w))
    }
    /// `threads`: GEMM threads (1 inside per-sample parallel loops; all of them for a
    /// single-sample batch).
    fn gemm_sample(&self, col: &[f32], p: usize, o: &mut [f32], threads: usize) {
        let ick = self.ick();
        // the bias first, then the product accumulated onto it: one pass over `o` fewer
        for (row, &b) in o.chunks_exact_mut(p).zip(&self.bias.value) {
            row.fill(b);
        }
        matmul(
            Mat::rm(&self.weight.value, self.out_c, ick),
            Mat::rm(col, ick, p),
            o,
            true,
            threads,
        );
    }
    /// Inference: `[n, in_c, h, w]` → `[n, out_c, oh, ow]`, then `act`; no cache (module docs).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut out = Tensor::zeros(vec![0]);
        self.forward_into(x, &mut out);
        out
    }
    /// [`Conv2d::forward`] into `out`, whose buffer is reused when its size fits
    /// ([`Tensor::reuse_as`]).
    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        let (n, oc, oh, ow) = self.out_shape(x);
        let (_, c, h, w) = dims4(x);
        let p = oh * ow;
        let ick = self.ick();
        let out = out.reuse_as(vec![n, oc, oh, ow]);
        if c == 1 && self.square() && dw3_flat_fits(self.win) {
            // one input channel: the depthwise kernel, every output channel reading it
            out.par_chunks_mut(oc * p).enumerate().for_each(|(b, o)| {
                let (wk, bias) = (&self.weight.value, &self.bias.value);
                let xs = &x.data[b * h * w..(b + 1) * h * w];
                dw3_flat_image(xs, (oc, h, w), self.win.stride, wk, bias, self.act, o)
            });
            return;
        }
        let pw = self.pointwise();
        // big single-sample convolutions: let the GEMM use the threads the batch cannot
        let gt = if n < threads() && oc * ick * p > 1 << 22 {
            threads()
        } else {
            1
        };
        out.par_chunks_mut(oc * p).enumerate().for_each_init(
            || if pw { Vec::new() } else { vec![0.0; ick * p] },
            |col, (b, o)| {
                let xs = &x.data[b * c * h * w..(b + 1) * c * h * w];
                if pw {
                    self.gemm_sample(xs, p, o, gt);
                } else {
                    im2col_rect(xs, c, h, w, (self.win, self.win_x), col);
                    self.gemm_sample(col, p, o, gt);
                }
                if let Some(a) = self.act {
                    o.iter_mut().for_each(|v| *v = a.apply(*v));
                }
            },
        );
    }
    /// Training forward pass: as [`Conv2d::forward`], caching the im2col columns for
    /// [`Conv2d::backward`]. Panics on a fused layer (`act` set).
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        assert!(self.act.is_none(), "fused layers are inference-only");
        let (n, oc, oh, ow) = self.out_shape(&x);
        let (_, c, h, w) = dims4(&x);
        let p = oh * ow;
        let ick = self.ick();
        self.in_shape = x.shape.clone();
        let mut cols = std::mem::take(&mut self.cols);
        if self.pointwise() {
            cols = x.data;
        } else {
            cols.resize(n * ick * p, 0.0);
            cols.par_chunks_mut(ick * p)
                .zip(x.data.par_chunks(c * h * w))
                .for_each(|(col, xs)| im2col_rect(xs, c, h, w, (self.win, self.win_x), col));
        }
        let mut out = vec![0.0; n * oc * p];
        out.par_chunks_mut(oc * p)
            .zip(cols.par_chunks(ick * p))
            .for_each(|(o, col)| self.gemm_sample(col, p, o, 1));
        self.cols = cols;
        Tensor::new(vec![n, oc, oh, ow], out)
    }
    /// Adds the weight and bias gradients of `dy` (`[n, out_c, oh, ow]`) to their `grad`;
    /// returns the input gradient when `need_dx`. Requires [`Conv2d::forward_train`] first.
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let (n, c, h, w) = (
            self.in_shape[0],
            self.in_shape[1],
            self.in_shape[2],
            self.in_shape[3],
        );
        let (oc, p) = (self.out_c, dy.shape[2] * dy.shape[3]);
        let ick = self.ick();
        // parameter gradients: fixed chunks of the batch, summed in order (deterministic);
        // none for a frozen layer
        let chunks = if self.weight.frozen && self.bias.frozen {
            0
        } else {
            threads().min(n).max(1)
        };
        let per = n.div_ceil(chunks.max(1));
        let cols = &self.cols;
        let partial: Vec<(Vec<f32>, Vec<f32>)> = (0..chunks)
            .into_par_iter()
            .map(|ci| {
                let mut dw = vec![0.0; oc * ick];
                let mut db = vec![0.0; oc];
                for b in ci * per..((ci + 1) * per).min(n) {
                    let g = &dy.data[b * oc * p..(b + 1) * oc * p];
                    let col = &cols[b * ick * p..(b + 1) * ick * p];
                    matmul(Mat::rm(g, oc, p), Mat::rm_t(col, ick, p), &mut dw, true, 1);
                    for (o, row) in g.chunks_exact(p).enumerate() {
                        db[o] += row.iter().sum::<f32>();
                    }
                }
                (dw, db)
            })
            .collect();
        for (dw, db) in partial {
            add_into(&mut self.weight.grad, &dw);
            add_into(&mut self.bias.grad, &db);
        }
        if !need_dx {
            return None;
        }
        let mut dx = vec![0.0; n * c * h * w];
        let pw = self.pointwise();
        let wt = &self.weight.value;
        let wins = (self.win, self.win_x);
        dx.par_chunks_mut(c * h * w).enumerate().for_each_init(
            || if pw { Vec::new() } else { vec![0.0; ick * p] },
            |dcol, (b, dxs)| {
                let g = &dy.data[b * oc * p..(b + 1) * oc * p];
                if pw {
                    matmul(Mat::rm_t(wt, oc, ick), Mat::rm(g, oc, p), dxs, false, 1);
                } else {
                    matmul(Mat::rm_t(wt, oc, ick), Mat::rm(g, oc, p), dcol, false, 1);
                    col2im_rect(dcol, c, h, w, wins, dxs);
                }
            },
        );
        Some(Tensor::new(self.in_shape.clone(), dx))
    }
    pub(super) fn clear(&mut self) {
        self.cols = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-channel 3×3 convolution (the flat depthwise kernel with a shared input plane)
    /// agrees with the im2col + GEMM path that training uses, batch of 2, odd and even sizes.
    #[test]
    fn single_channel_conv_matches_im2col() {
        use rand::SeedableRng;
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for stride in [1, 2] {
            for (h, w) in [(1, 1), (5, 7), (8, 8), (13, 4), (80, 80)] {
                let mut conv = Conv2d::new("c", 1, 6, 3, stride, 1, rng);
                conv.bias.value = (0..6).map(|i| i as f32 * 0.1 - 0.2).collect();
                let x = Tensor::new(
                    vec![2, 1, h, w],
                    (0..2 * h * w)
                        .map(|i| ((i * 7) % 13) as f32 / 6.0 - 1.0)
                        .collect(),
                );
                let fast = conv.forward(&x);
                let slow = conv.clone().forward_train(x);
                assert_eq!(fast.shape, slow.shape);
                for (a, b) in fast.data.iter().zip(&slow.data) {
                    assert!((a - b).abs() < 1e-4, "stride {stride} {h}×{w}: {a} vs {b}");
                }
            }
        }
    }
}
