//! Max pooling: [`MaxPool2d`]. (Flatten, the other layer that only moves values, has no
//! struct: it is the unit variant [`Layer::Flatten`](super::Layer::Flatten), whose few lines
//! are in the dispatch in `mod.rs`.)
//!
//! # MaxPool2d
//!
//! What it represents: `y[n, c, i, j] = max_{ky, kx < k} x[n, c, i·s + ky, j·s + kx]`, a
//! square window `k`, stride `s`, no padding, floor mode (PyTorch's `nn.MaxPool2d(k, s)`).
//! NCHW `[n, c, h, w]` → `[n, c, oh, ow]`, `oh = (h − k) / s + 1`. No parameters.
//!
//! `forward(&self, x)`
//! - ensures: `y`; no cache.
//!
//! `forward_train(&mut self, x)`
//! - ensures: `y`; caches each output's arg-max (the first maximum in row-major window order)
//!   and the input shape.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before.
//! - ensures: `need_dx = false`: `None` at once (nothing to learn); `true`: `Some(dx)`, zero
//!   but for each `dy` value added at its output's arg-max (overlapping windows add up).
//!
//! # Flatten
//!
//! `[n, ...]` → `[n, prod(...)]`, the same values, no cache. Its backward reshapes `dy` to the
//! shape the layer received (the `in_shape` [`crate::Network`] records in `forward_train`) and
//! returns it whatever `need_dx` says.

use super::dims4;
use crate::ops::Window;
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Max pooling, square window, no padding, floor mode.
#[derive(Debug, Clone)]
pub struct MaxPool2d {
    /// Window side, pixels.
    pub k: usize,
    /// Step between windows, pixels.
    pub stride: usize,
    pub(super) argmax: Vec<u32>,
    in_shape: Vec<usize>,
}

impl MaxPool2d {
    /// A `k × k` window every `stride` pixels, no padding.
    pub fn new(k: usize, stride: usize) -> MaxPool2d {
        MaxPool2d {
            k,
            stride,
            argmax: Vec::new(),
            in_shape: Vec::new(),
        }
    }
    /// Pools `x`; with `arg`, also records each output's arg-max (reusing `arg`'s memory).
    fn run(&self, x: &Tensor, arg: Option<&mut Vec<u32>>) -> Tensor {
        let (n, c, h, w) = dims4(x);
        let win = Window {
            k: self.k,
            stride: self.stride,
            pad: 0,
        };
        let (oh, ow) = (win.out(h), win.out(w));
        let mut out = vec![0.0; n * c * oh * ow];
        let (k, s) = (self.k, self.stride);
        let plane_in = |i: usize| &x.data[i * h * w..(i + 1) * h * w];
        match arg {
            Some(arg) => {
                arg.clear();
                arg.resize(out.len(), 0);
                out.par_chunks_mut(oh * ow)
                    .zip(arg.par_chunks_mut(oh * ow))
                    .enumerate()
                    .for_each(|(i, (o, a))| {
                        let xp = plane_in(i);
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let st = oy * s * w + ox * s;
                                let (mut best, mut bi) = (f32::NEG_INFINITY, st);
                                for ky in 0..k {
                                    let r = st + ky * w;
                                    for (kx, v) in xp[r..r + k].iter().enumerate() {
                                        if *v > best {
                                            best = *v;
                                            bi = r + kx;
                                        }
                                    }
                                }
                                o[oy * ow + ox] = best;
                                a[oy * ow + ox] = bi as u32;
                            }
                        }
                    });
            }
            None => {
                out.par_chunks_mut(oh * ow).enumerate().for_each(|(i, o)| {
                    let xp = plane_in(i);
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let st = oy * s * w + ox * s;
                            let mut best = f32::NEG_INFINITY;
                            for ky in 0..k {
                                let r = st + ky * w;
                                best = xp[r..r + k].iter().fold(best, |m, v| m.max(*v));
                            }
                            o[oy * ow + ox] = best;
                        }
                    }
                });
            }
        }
        Tensor::new(vec![n, c, oh, ow], out)
    }
    /// Inference: `[n, c, h, w]` → `[n, c, (h − k)/s + 1, (w − k)/s + 1]`; no cache.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.run(x, None)
    }
    /// [`MaxPool2d::forward`], keeping each output's arg-max for the backward pass.
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        let mut arg = std::mem::take(&mut self.argmax);
        let y = self.run(&x, Some(&mut arg));
        self.argmax = arg;
        self.in_shape = x.shape;
        y
    }
    /// `None` unless `need_dx`; else `dy` routed to each window's arg-max (zeros elsewhere).
    /// Requires [`MaxPool2d::forward_train`] first.
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        let hw = self.in_shape[2] * self.in_shape[3];
        let ohw = dy.shape[2] * dy.shape[3];
        let mut dx = vec![0.0; self.in_shape.iter().product()];
        dx.par_chunks_mut(hw).enumerate().for_each(|(i, d)| {
            let g = &dy.data[i * ohw..(i + 1) * ohw];
            let a = &self.argmax[i * ohw..(i + 1) * ohw];
            for (gv, ai) in g.iter().zip(a) {
                d[*ai as usize] += gv;
            }
        });
        Some(Tensor::new(self.in_shape.clone(), dx))
    }
}
