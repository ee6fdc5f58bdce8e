//! Element-wise activations and dropout: [`ActKind`], [`Activation`], [`Dropout`].
//!
//! # ActKind
//!
//! `Relu` (`max(x, 0)`), `Relu6` (`min(max(x, 0), 6)`), `Elu` (α = 1: `x` where `x > 0`,
//! else `eˣ − 1`); serialised lowercase (`"relu"`, `"relu6"`, `"elu"`). Also the `act` that
//! [`crate::Network::fused`] puts into a [`Conv2d`](super::Conv2d) or
//! [`DepthwiseConv2d`](super::DepthwiseConv2d). Derivatives are taken from the output `y`
//! (ReLU: 1 where `y > 0`; ReLU6: 1 where `0 < y < 6`; ELU: 1 where `y > 0`, else `y + 1`),
//! so the layer caches its output, not its input; 0 at the kinks of ReLU and ReLU6.
//!
//! # Activation
//!
//! What it represents: `y = kind(x)` element-wise, any shape, no parameters.
//!
//! `forward(&self, x)`
//! - ensures: `y`; no cache.
//!
//! `forward_train(&mut self, x)`
//! - ensures: `y`, computed in `x`'s buffer; caches a copy of `y`.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before (with no cached output `dy` comes back unchanged:
//!   no panic, a wrong gradient).
//! - ensures: `need_dx = false`: `None` at once; `true`: `Some(dy · kind'(y))`.
//!
//! In a fused network an activation right after a conv or depthwise layer becomes that
//! layer's `act` and is gone; any other stays.
//!
//! # Dropout
//!
//! What it represents: inverted dropout with probability `p`, any shape, no parameters.
//!
//! Inference ([`Layer::forward`](super::Layer::forward); `Dropout` has no `forward`): the
//! identity.
//!
//! `forward_train(&mut self, x, rng)`
//! - ensures: each value zeroed with probability `p` (one `rng.gen::<f32>()` per value, in
//!   order), the others scaled by `1/(1 − p)`; caches the mask. `p ≤ 0`: the identity, no
//!   mask, no draws.
//!
//! `backward(&mut self, dy) -> dx`
//! - ensures: `dy` times the cached mask (unchanged with no mask). No `need_dx`:
//!   [`Layer::backward`](super::Layer::backward) always returns `Some`.
//!
//! [`crate::Network::fused`] keeps dropout layers (identities at inference).

use crate::tensor::Tensor;
use rand::{Rng, RngCore};
use rayon::prelude::*;

/// Element-wise activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActKind {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`: ReLU bounded at 6, as in MobileNet.
    Relu6,
    /// `x` for `x > 0`, else `eˣ − 1` (α = 1): smooth, with negative outputs.
    Elu,
}

impl ActKind {
    /// The activation of one value.
    #[inline]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            ActKind::Relu => v.max(0.0),
            ActKind::Relu6 => v.clamp(0.0, 6.0),
            ActKind::Elu => {
                if v > 0.0 {
                    v
                } else {
                    v.exp_m1()
                }
            }
        }
    }
    /// Derivative expressed through the output `y`.
    #[inline]
    fn grad_from_output(self, y: f32) -> f32 {
        match self {
            ActKind::Relu => (y > 0.0) as u8 as f32,
            ActKind::Relu6 => (y > 0.0 && y < 6.0) as u8 as f32,
            ActKind::Elu => {
                if y > 0.0 {
                    1.0
                } else {
                    y + 1.0
                }
            }
        }
    }
}

/// An activation layer (keeps its output for the backward pass).
#[derive(Debug, Clone)]
pub struct Activation {
    /// Which function.
    pub kind: ActKind,
    pub(super) out: Vec<f32>,
}

impl Activation {
    /// A layer applying `kind`, with no cached output yet.
    pub fn new(kind: ActKind) -> Activation {
        Activation {
            kind,
            out: Vec::new(),
        }
    }
    /// Inference: `kind` of every value, same shape; no cache.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = x.clone();
        self.apply_inplace(&mut y.data);
        y
    }
    fn apply_inplace(&self, d: &mut [f32]) {
        let k = self.kind;
        d.par_chunks_mut(1 << 14)
            .for_each(|c| c.iter_mut().for_each(|v| *v = k.apply(*v)));
    }
    /// [`Activation::forward`] in `x`'s buffer, keeping a copy of the output (the derivative
    /// is taken from it).
    pub fn forward_train(&mut self, mut x: Tensor) -> Tensor {
        self.apply_inplace(&mut x.data);
        // reuse the buffer across steps (no fresh pages per step)
        self.out.clear();
        self.out.extend_from_slice(&x.data);
        x
    }
    /// `None` unless `need_dx`; else `dy · kind'(y)` from the cached output. Without a
    /// [`Activation::forward_train`] before, `dy` comes back unchanged.
    pub fn backward(&mut self, mut dy: Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        let k = self.kind;
        dy.data
            .par_chunks_mut(1 << 14)
            .zip(self.out.par_chunks(1 << 14))
            .for_each(|(d, y)| {
                d.iter_mut()
                    .zip(y)
                    .for_each(|(d, y)| *d *= k.grad_from_output(*y))
            });
        Some(dy)
    }
}

/// Inverted dropout: in training, zeroes each value with probability `p` and scales the rest
/// by `1/(1-p)`; identity at inference.
#[derive(Debug, Clone)]
pub struct Dropout {
    /// Probability of zeroing a value in training, in `[0, 1)`; `p ≤ 0` turns dropout off.
    pub p: f32,
    pub(super) mask: Vec<f32>,
}

impl Dropout {
    /// Dropout with probability `p` (`[0, 1)`).
    pub fn new(p: f32) -> Dropout {
        Dropout {
            p,
            mask: Vec::new(),
        }
    }
    /// Zeroes each value with probability `p` (one draw from `rng` per value, in order),
    /// scales the rest by `1/(1 − p)`, and keeps the mask.
    pub fn forward_train(&mut self, mut x: Tensor, rng: &mut dyn RngCore) -> Tensor {
        if self.p <= 0.0 {
            self.mask.clear();
            return x;
        }
        let keep = 1.0 / (1.0 - self.p);
        let p = self.p;
        self.mask.clear();
        self.mask
            .extend((0..x.len()).map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep }));
        x.data.iter_mut().zip(&self.mask).for_each(|(v, m)| *v *= m);
        x
    }
    /// `dy` times the mask of the last [`Dropout::forward_train`] (unchanged without one).
    pub fn backward(&mut self, mut dy: Tensor) -> Tensor {
        if !self.mask.is_empty() {
            dy.data
                .iter_mut()
                .zip(&self.mask)
                .for_each(|(v, m)| *v *= m);
        }
        dy
    }
}
