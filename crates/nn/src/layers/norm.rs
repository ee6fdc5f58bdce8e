//! Batch normalisation: [`BatchNorm`].
//!
//! # BatchNorm
//!
//! What it represents: per channel (dim 1) of `[n, c]` or `[n, c, ...]` (NCHW images),
//! PyTorch's `nn.BatchNorm1d` / `nn.BatchNorm2d`: `y = weight · (x − mean) / √(var + eps) +
//! bias`, `eps = 1e-5`, `momentum = 0.1`. Parameters `"<name>.weight"` `[c]` (ones) and
//! `"<name>.bias"` `[c]` (zeros); buffers `"<name>.running_mean"` `[c]` (zeros) and
//! `"<name>.running_var"` `[c]` (ones), saved in model files, without gradient, never
//! optimised ([`Param::buffer`]).
//!
//! `forward(&self, x)`
//! - ensures: the inference transform from the running statistics,
//!   `y = scale·x + shift` ([`BatchNorm::inference_affine`]); no cache.
//!
//! `forward_train(&mut self, x)`
//! - ensures: normalises with the batch statistics (mean and biased variance over batch and
//!   pixels, summed in f64) and **updates the running statistics here**, at every call
//!   (`running = (1 − momentum)·running + momentum·batch`, with the unbiased variance);
//!   caches the normalised input, `1/√(var + eps)` and the shape.
//! - frozen (`weight.frozen`; whether `bias` is frozen does not matter here): behaves as
//!   `forward`, with the running statistics, which it leaves as they are; caches the shape.
//! - [`BatchNorm::fixed_stats`] (an affine layer, e.g. dlib's `affine`, trained on): the
//!   running statistics as at inference, never updated, `weight` and `bias` still learn;
//!   caches `x̂` and `1/√(var + eps)`.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before.
//! - ensures: `Σ dy·x̂` and `Σ dy` per channel **added** to `weight.grad` and `bias.grad`
//!   (also when `bias` alone is frozen). With `weight` frozen: no parameter gradients, and
//!   `dx = scale·dy`; with [`BatchNorm::fixed_stats`]: parameter gradients as above,
//!   `dx = scale·dy`. `need_dx = false`: `None`; `true`: `Some(dx)` with the input's shape
//!   (through the batch statistics, the full batch-norm gradient).
//!
//! In a fused network ([`crate::Network::fused`]) a batch norm right after a conv, depthwise
//! or dense layer is folded into that layer and is gone; any other stays and behaves as here.

use crate::tensor::{Param, Tensor};
use rayon::prelude::*;

/// Batch normalisation over channels (dim 1) of `[n, c]` or `[n, c, h, w]`, PyTorch semantics:
/// batch statistics (biased variance) in training, running statistics (updated with
/// `momentum`, unbiased variance) at inference.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// Channels (dim 1 of the input).
    pub c: usize,
    /// Added to the variance before the square root; 1e-5 as PyTorch.
    pub eps: f32,
    /// Weight of the new batch in the running statistics' update; 0.1 as PyTorch.
    pub momentum: f32,
    /// `"<name>.weight"`, `[c]`: the scale after normalising (ones at first).
    pub weight: Param,
    /// `"<name>.bias"`, `[c]`: the shift after normalising (zeros at first).
    pub bias: Param,
    /// `"<name>.running_mean"`, `[c]`: a buffer, the mean used at inference.
    pub running_mean: Param,
    /// `"<name>.running_var"`, `[c]`: a buffer, the (unbiased) variance used at inference.
    pub running_var: Param,
    /// An affine layer rather than a batch norm: training also normalises with the running
    /// statistics (never updated) and learns only `weight` and `bias` (dlib's `affine`
    /// layers, whose statistics are folded in; `false` at first). Not stored in model files:
    /// the architecture that builds the layer sets it.
    pub fixed_stats: bool,
    pub(super) xhat: Vec<f32>,
    pub(super) inv_std: Vec<f32>,
    shape: Vec<usize>,
}

impl BatchNorm {
    /// The identity at first: weight 1, bias 0, running mean 0, running variance 1; parameters
    /// named `"<name>.weight"`, `"<name>.bias"`, `"<name>.running_mean"`, `"<name>.running_var"`.
    pub fn new(name: &str, c: usize) -> BatchNorm {
        BatchNorm {
            c,
            eps: 1e-5,
            momentum: 0.1,
            weight: Param::new(format!("{name}.weight"), vec![c], vec![1.0; c]),
            bias: Param::new(format!("{name}.bias"), vec![c], vec![0.0; c]),
            running_mean: Param::buffer(format!("{name}.running_mean"), vec![c], vec![0.0; c]),
            running_var: Param::buffer(format!("{name}.running_var"), vec![c], vec![1.0; c]),
            fixed_stats: false,
            xhat: Vec::new(),
            inv_std: Vec::new(),
            shape: Vec::new(),
        }
    }
    fn spatial(&self, x: &Tensor) -> usize {
        assert!(
            x.shape.len() >= 2 && x.shape[1] == self.c,
            "batch norm {}: input {:?}",
            self.weight.name,
            x.shape
        );
        x.shape[2..].iter().product()
    }
    /// Per-channel `(scale, shift)` of the inference transform `y = scale·x + shift`.
    pub fn inference_affine(&self) -> (Vec<f32>, Vec<f32>) {
        let scale: Vec<f32> = (0..self.c)
            .map(|i| self.weight.value[i] / (self.running_var.value[i] + self.eps).sqrt())
            .collect();
        let shift = (0..self.c)
            .map(|i| self.bias.value[i] - self.running_mean.value[i] * scale[i])
            .collect();
        (scale, shift)
    }
    /// Inference: normalises with the running statistics; same shape out; no cache.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let s = self.spatial(x);
        let (scale, shift) = self.inference_affine();
        let mut out = x.data.clone();
        let c = self.c;
        out.par_chunks_mut(c * s).for_each(|sample| {
            for (ch, plane) in sample.chunks_exact_mut(s).enumerate() {
                let (a, b) = (scale[ch], shift[ch]);
                plane.iter_mut().for_each(|v| *v = a * *v + b);
            }
        });
        Tensor::new(x.shape.clone(), out)
    }
    /// A frozen batch norm (its `weight` frozen, transfer learning) behaves as at inference:
    /// a fixed affine map with the running statistics, which it does not update.
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        if self.weight.frozen {
            self.shape = x.shape.clone();
            self.xhat.clear();
            return self.forward(&x);
        }
        if self.fixed_stats {
            return self.forward_train_fixed(x);
        }
        let s = self.spatial(&x);
        let (n, c) = (x.batch(), self.c);
        let m = (n * s) as f64;
        let stats: Vec<(f32, f32)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sum, mut sq) = (0.0f64, 0.0f64);
                for b in 0..n {
                    let p = &x.data[(b * c + ch) * s..(b * c + ch + 1) * s];
                    let (ps, pq) = p
                        .iter()
                        .fold((0.0f32, 0.0f32), |(a, q), v| (a + v, q + v * v));
                    sum += ps as f64;
                    sq += pq as f64;
                }
                let mean = sum / m;
                let var = (sq / m - mean * mean).max(0.0);
                (mean as f32, var as f32)
            })
            .collect();
        let inv: Vec<f32> = stats
            .iter()
            .map(|(_, v)| 1.0 / (v + self.eps).sqrt())
            .collect();
        for (ch, (mean, var)) in stats.iter().enumerate() {
            let unbiased = if m > 1.0 {
                var * (m / (m - 1.0)) as f32
            } else {
                *var
            };
            let mo = self.momentum;
            self.running_mean.value[ch] = (1.0 - mo) * self.running_mean.value[ch] + mo * mean;
            self.running_var.value[ch] = (1.0 - mo) * self.running_var.value[ch] + mo * unbiased;
        }
        let means: Vec<f32> = stats.iter().map(|(mean, _)| *mean).collect();
        self.normalise_and_cache(x, s, &means, inv)
    }
    /// `x̂ = (x − mean)·inv` and `y = γ·x̂ + β` per channel (`s` values a channel); caches `x̂`,
    /// `inv` and the shape for [`BatchNorm::backward`]. Shared by the batch-statistics and the
    /// fixed-statistics training passes.
    fn normalise_and_cache(&mut self, x: Tensor, s: usize, means: &[f32], inv: Vec<f32>) -> Tensor {
        let c = self.c;
        let (g, bt) = (&self.weight.value, &self.bias.value);
        let mut xhat = x.data;
        let mut out = vec![0.0; xhat.len()];
        xhat.par_chunks_mut(c * s)
            .zip(out.par_chunks_mut(c * s))
            .for_each(|(xs, os)| {
                for ch in 0..c {
                    let (m, a, gg, bb) = (means[ch], inv[ch], g[ch], bt[ch]);
                    for (xv, ov) in xs[ch * s..(ch + 1) * s]
                        .iter_mut()
                        .zip(&mut os[ch * s..(ch + 1) * s])
                    {
                        *xv = (*xv - m) * a;
                        *ov = gg * *xv + bb;
                    }
                }
            });
        self.xhat = xhat;
        self.inv_std = inv;
        self.shape = x.shape;
        Tensor::new(self.shape.clone(), out)
    }
    /// [`BatchNorm::forward_train`] of an affine layer ([`BatchNorm::fixed_stats`]): `x̂` from
    /// the running statistics, cached with `1/√(var + eps)`.
    fn forward_train_fixed(&mut self, x: Tensor) -> Tensor {
        let s = self.spatial(&x);
        let c = self.c;
        let inv: Vec<f32> = (0..c)
            .map(|i| 1.0 / (self.running_var.value[i] + self.eps).sqrt())
            .collect();
        let means = self.running_mean.value.clone();
        self.normalise_and_cache(x, s, &means, inv)
    }
    /// Adds `Σ dy·x̂` and `Σ dy` per channel to the weight and bias gradients (none when the
    /// weight is frozen); returns the input gradient through the batch statistics when
    /// `need_dx`. Requires [`BatchNorm::forward_train`] first.
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let (n, c) = (self.shape[0], self.c);
        let s: usize = self.shape[2..].iter().product();
        if self.weight.frozen {
            // fixed affine map: no parameter gradients, dx = scale · dy
            if !need_dx {
                return None;
            }
            let (scale, _) = self.inference_affine();
            let mut dx = dy.data;
            dx.par_chunks_mut(c * s).for_each(|sample| {
                for (ch, plane) in sample.chunks_exact_mut(s).enumerate() {
                    plane.iter_mut().for_each(|v| *v *= scale[ch]);
                }
            });
            return Some(Tensor::new(self.shape.clone(), dx));
        }
        let m = (n * s) as f32;
        let xhat = &self.xhat;
        let sums: Vec<(f32, f32)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sd, mut sdx) = (0.0f32, 0.0f32);
                for b in 0..n {
                    let r = (b * c + ch) * s..(b * c + ch + 1) * s;
                    for (g, xh) in dy.data[r.clone()].iter().zip(&xhat[r]) {
                        sd += g;
                        sdx += g * xh;
                    }
                }
                (sd, sdx)
            })
            .collect();
        for (ch, (sd, sdx)) in sums.iter().enumerate() {
            self.weight.grad[ch] += sdx;
            self.bias.grad[ch] += sd;
        }
        if !need_dx {
            return None;
        }
        let mut dx = dy.data;
        let (g, inv) = (&self.weight.value, &self.inv_std);
        if self.fixed_stats {
            // the statistics are constants: dx = γ/√(var + eps) · dy
            dx.par_chunks_mut(c * s).for_each(|ds| {
                for ch in 0..c {
                    let k = g[ch] * inv[ch];
                    ds[ch * s..(ch + 1) * s].iter_mut().for_each(|d| *d *= k);
                }
            });
            return Some(Tensor::new(self.shape.clone(), dx));
        }
        dx.par_chunks_mut(c * s)
            .zip(xhat.par_chunks(c * s))
            .for_each(|(ds, xs)| {
                for ch in 0..c {
                    let k = g[ch] * inv[ch] / m;
                    let (sd, sdx) = sums[ch];
                    for (d, xh) in ds[ch * s..(ch + 1) * s]
                        .iter_mut()
                        .zip(&xs[ch * s..(ch + 1) * s])
                    {
                        *d = k * (m * *d - sd - xh * sdx);
                    }
                }
            });
        Some(Tensor::new(self.shape.clone(), dx))
    }
}
