//! Fully connected layer: [`Dense`].
//!
//! # Dense
//!
//! What it represents: `y[n, o] = bias[o] + Σ_i weight[o, i] · x[n, i]`, PyTorch's
//! `nn.Linear`. Input `[n, in_f]` (any shape whose per-sample size is `in_f` is taken as
//! flattened), output `[n, out_f]`. Parameters `"<name>.weight"` `[out_f, in_f]` (Kaiming
//! normal with the `gain` given to `new`: √2 before a ReLU, 1 for a linear head) and
//! `"<name>.bias"` `[out_f]` (zeros). No fused activation: [`crate::Network::fused`] may fold
//! a following batch norm into the weights, never an activation.
//!
//! `forward(&self, x)`
//! - requires: `x.per_sample() == in_f` (panics otherwise).
//! - ensures: `y`; no cache. One GEMM over the batch, multi-threaded inside `gemm` when
//!   `n·in_f·out_f > 2²⁰`.
//!
//! `forward_train(&mut self, x)`
//! - ensures: `forward(x)`; caches the input. Refuses nothing, in a fused network too (a
//!   folded batch norm then trains as part of the weights).
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before (panics "dense backward without forward_train"
//!   otherwise).
//! - ensures: `dyᵀ · x` and `Σ_n dy` **added** to `weight.grad` and `bias.grad`, unless both
//!   are frozen. `need_dx = false`: `None`; `true`: `Some(dy · W)` with the input's shape
//!   (`[n, c, h, w]` if no flatten came before).

use super::{add_into, kaiming, threads};
use crate::ops::{matmul, Mat};
use crate::tensor::{Param, Tensor};
use rand::RngCore;

/// Fully connected layer, weight `[out, in]`, bias `[out]`; input `[n, in]`.
#[derive(Debug, Clone)]
pub struct Dense {
    /// Input features (the per-sample size of the input).
    pub in_f: usize,
    /// Output features.
    pub out_f: usize,
    /// `"<name>.weight"`, `[out_f, in_f]`.
    pub weight: Param,
    /// `"<name>.bias"`, `[out_f]`.
    pub bias: Param,
    pub(super) input: Option<Tensor>,
}

impl Dense {
    /// Kaiming init with `gain` (√2 before a ReLU, 1 for a linear head).
    pub fn new(name: &str, in_f: usize, out_f: usize, gain: f32, rng: &mut dyn RngCore) -> Dense {
        Dense {
            in_f,
            out_f,
            weight: Param::new(
                format!("{name}.weight"),
                vec![out_f, in_f],
                kaiming(in_f * out_f, in_f, gain, rng),
            ),
            bias: Param::new(format!("{name}.bias"), vec![out_f], vec![0.0; out_f]),
            input: None,
        }
    }
    /// Inference: `[n, in_f]` (or any shape of `in_f` values per sample) → `[n, out_f]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let n = x.batch();
        assert_eq!(
            x.per_sample(),
            self.in_f,
            "dense {}: inputs",
            self.weight.name
        );
        let mut out = vec![0.0; n * self.out_f];
        for row in out.chunks_exact_mut(self.out_f) {
            row.copy_from_slice(&self.bias.value);
        }
        let t = if n * self.in_f * self.out_f > 1 << 20 {
            threads()
        } else {
            1
        };
        matmul(
            Mat::rm(&x.data, n, self.in_f),
            Mat::rm_t(&self.weight.value, self.out_f, self.in_f),
            &mut out,
            true,
            t,
        );
        Tensor::new(vec![n, self.out_f], out)
    }
    /// [`Dense::forward`], keeping the input for [`Dense::backward`].
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        let y = self.forward(&x);
        self.input = Some(x);
        y
    }
    /// Adds `dyᵀ·x` and `Σ dy` to the weight and bias gradients; returns `dy·W` in the input's
    /// shape when `need_dx`. Panics without a [`Dense::forward_train`] before.
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let x = self
            .input
            .as_ref()
            .expect("dense backward without forward_train");
        let n = x.batch();
        let t = if n * self.in_f * self.out_f > 1 << 20 {
            threads()
        } else {
            1
        };
        if !(self.weight.frozen && self.bias.frozen) {
            matmul(
                Mat::rm_t(&dy.data, n, self.out_f),
                Mat::rm(&x.data, n, self.in_f),
                &mut self.weight.grad,
                true,
                t,
            );
            for row in dy.data.chunks_exact(self.out_f) {
                add_into(&mut self.bias.grad, row);
            }
        }
        if !need_dx {
            return None;
        }
        let mut dx = vec![0.0; n * self.in_f];
        matmul(
            Mat::rm(&dy.data, n, self.out_f),
            Mat::rm(&self.weight.value, self.out_f, self.in_f),
            &mut dx,
            false,
            t,
        );
        Some(Tensor::new(x.shape.clone(), dx))
    }
}
