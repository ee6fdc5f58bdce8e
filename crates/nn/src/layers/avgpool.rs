//! Average pooling: [`AvgPool2d`] (a window) and [`GlobalAvgPool`] (the whole map), the two
//! poolings of dlib's ResNets (`avg_pool<2,2,2,2>` in the down-sampling shortcut,
//! `avg_pool_everything` before the embedding layer).
//!
//! # AvgPool2d
//!
//! What it represents: `y[n, c, i, j] = mean_{ky, kx < k} x[n, c, i·s + ky, j·s + kx]`, a
//! square window `k`, stride `s`, no padding, floor mode (PyTorch's `nn.AvgPool2d(k, s)`,
//! dlib's `avg_pool<k,k,s,s>` with zero padding). NCHW `[n, c, h, w]` → `[n, c, oh, ow]`,
//! `oh = (h − k) / s + 1`. No parameters.
//!
//! `forward(&self, x)`: `y`; no cache. `forward_train(&mut self, x)`: `y`; caches the input
//! shape. `backward(&mut self, dy, need_dx)`: `None` when `need_dx` is false (nothing to
//! learn); else `dx` with each `dy` value spread evenly, `dy / k²`, over its window
//! (overlapping windows add up).
//!
//! # GlobalAvgPool
//!
//! What it represents: `y[n, c, 0, 0] = mean_{i, j} x[n, c, i, j]` (dlib's
//! `avg_pool_everything`, PyTorch's `AdaptiveAvgPool2d(1)`): `[n, c, h, w]` → `[n, c, 1, 1]`.
//! No parameters; the same caching and backward contract as [`AvgPool2d`] (`dy / (h·w)` to
//! every input pixel).

use super::dims4;
use crate::ops::Window;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Average pooling, square window, no padding, floor mode.
#[derive(Debug, Clone)]
pub struct AvgPool2d {
    /// Window side (pixels).
    pub k: usize,
    /// Step between windows (pixels).
    pub stride: usize,
    pub(super) in_shape: Vec<usize>,
}

impl AvgPool2d {
    /// A `k × k` window every `stride` pixels.
    ///
    /// Requires `k ≥ 1` and `stride ≥ 1` (panics otherwise).
    pub fn new(k: usize, stride: usize) -> AvgPool2d {
        assert!(k >= 1 && stride >= 1, "avg pool: k {k}, stride {stride}");
        AvgPool2d {
            k,
            stride,
            in_shape: Vec::new(),
        }
    }
    fn window(&self) -> Window {
        Window {
            k: self.k,
            stride: self.stride,
            pad: 0,
        }
    }
    /// Inference pass.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (n, c, h, w) = dims4(x);
        let win = self.window();
        let (oh, ow) = (win.out(h), win.out(w));
        let (k, s) = (self.k, self.stride);
        let scale = 1.0 / (k * k) as f32;
        let mut out = vec![0.0; n * c * oh * ow];
        if oh * ow > 0 {
            out.par_chunks_mut(oh * ow).enumerate().for_each(|(i, o)| {
                let xp = &x.data[i * h * w..(i + 1) * h * w];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let st = oy * s * w + ox * s;
                        let mut sum = 0.0;
                        for ky in 0..k {
                            let r = st + ky * w;
                            sum += xp[r..r + k].iter().sum::<f32>();
                        }
                        o[oy * ow + ox] = sum * scale;
                    }
                }
            });
        }
        Tensor::new(vec![n, c, oh, ow], out)
    }
    /// Training pass: [`AvgPool2d::forward`], keeping the input shape.
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        let y = self.forward(&x);
        self.in_shape = x.shape;
        y
    }
    /// Input gradient (`None` unless `need_dx`).
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        assert_eq!(
            self.in_shape.len(),
            4,
            "avg pool backward without forward_train"
        );
        let (h, w) = (self.in_shape[2], self.in_shape[3]);
        let (oh, ow) = (dy.shape[2], dy.shape[3]);
        let (k, s) = (self.k, self.stride);
        let scale = 1.0 / (k * k) as f32;
        let mut dx = vec![0.0; self.in_shape.iter().product()];
        if h * w > 0 {
            dx.par_chunks_mut(h * w).enumerate().for_each(|(i, d)| {
                let g = &dy.data[i * oh * ow..(i + 1) * oh * ow];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let v = g[oy * ow + ox] * scale;
                        let st = oy * s * w + ox * s;
                        for ky in 0..k {
                            let r = st + ky * w;
                            d[r..r + k].iter_mut().for_each(|e| *e += v);
                        }
                    }
                }
            });
        }
        Some(Tensor::new(self.in_shape.clone(), dx))
    }
}

/// Average over each whole channel: `[n, c, h, w]` → `[n, c, 1, 1]`.
#[derive(Debug, Clone, Default)]
pub struct GlobalAvgPool {
    pub(super) in_shape: Vec<usize>,
}

impl GlobalAvgPool {
    /// The pooling (no parameters).
    pub fn new() -> GlobalAvgPool {
        GlobalAvgPool::default()
    }
    /// Inference pass.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (n, c, h, w) = dims4(x);
        let hw = h * w;
        let out = if hw == 0 {
            vec![0.0; n * c]
        } else {
            let scale = 1.0 / hw as f32;
            x.data
                .chunks_exact(hw)
                .map(|p| p.iter().sum::<f32>() * scale)
                .collect()
        };
        Tensor::new(vec![n, c, 1, 1], out)
    }
    /// Training pass: [`GlobalAvgPool::forward`], keeping the input shape.
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        let y = self.forward(&x);
        self.in_shape = x.shape;
        y
    }
    /// Input gradient (`None` unless `need_dx`).
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        assert_eq!(
            self.in_shape.len(),
            4,
            "global avg pool backward without forward_train"
        );
        let hw = self.in_shape[2] * self.in_shape[3];
        let scale = 1.0 / hw.max(1) as f32;
        let mut dx = vec![0.0; self.in_shape.iter().product()];
        if hw > 0 {
            for (d, g) in dx.chunks_exact_mut(hw).zip(&dy.data) {
                d.fill(g * scale);
            }
        }
        Some(Tensor::new(self.in_shape.clone(), dx))
    }
}
