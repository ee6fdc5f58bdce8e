//! Residual blocks: [`Residual`], a body and a shortcut run on the same input and added, the
//! building block of dlib's ResNets (`add_prev<…tag<…>>`, with `skip` for a shortcut that
//! is not the identity) and of PyTorch ResNets.
//!
//! # Residual
//!
//! What it represents: `y = scale · body(x) ⊕ shortcut(x)`, where `shortcut` is the identity
//! when it has no layers and `scale` is 1 but for [`Residual::scaled`] blocks (Inception-ResNet's
//! `out = conv(…) · scale + x`). `⊕` is dlib's `add_prev` (`tt::add`): the output has, on each axis, the
//! larger of the two sizes, and a value missing from the smaller operand counts as zero. So a
//! down-sampling block whose body makes 64 channels of 3 × 3 and whose shortcut
//! (`avg_pool<2,2,2,2>`) makes 32 channels of 4 × 4 gives 64 × 4 × 4: the shortcut is added
//! to the first 32 channels of the top-left 3 × 3 of the body, the rest is one operand alone.
//! Equal shapes are a plain sum. The batch sizes must agree (panics otherwise).
//!
//! Parameters: the body's then the shortcut's, in layer order, with the names their layers
//! were given (the block adds no prefix; names must stay unique across the whole network).
//!
//! `forward(&self, x)`
//! - ensures: `y`; no cache (the body and the shortcut run their inference passes).
//!
//! `forward_train(&mut self, x)`
//! - ensures: `y` from the body's and the shortcut's training passes (which keep their own
//!   caches); keeps the two output shapes.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before.
//! - ensures: `dy` restricted to each operand's extent (times `scale` for the body) goes back through the body and the
//!   shortcut ([`crate::Network::backward`], so their parameter gradients are **added** and
//!   frozen layers cost what they cost there); `need_dx = false`: `None`; `true`:
//!   `Some(dx)`, the sum of the two input gradients (for an identity shortcut, its part of
//!   `dy`).

use crate::network::Network;
use crate::tensor::Tensor;

/// `body(x) ⊕ shortcut(x)` with dlib's zero-padded addition (see the module docs).
#[derive(Debug, Clone)]
pub struct Residual {
    /// The main branch.
    pub body: Network,
    /// The shortcut branch: no layers = the identity.
    pub shortcut: Network,
    /// The body's output is multiplied by this before the addition (1 for plain blocks).
    pub scale: f32,
    pub(super) shapes: Option<(Vec<usize>, Vec<usize>)>,
}

impl Residual {
    /// A block from its two branches (`shortcut` empty for the identity).
    pub fn new(body: Network, shortcut: Network) -> Residual {
        Residual::scaled(body, shortcut, 1.0)
    }
    /// A block whose body's output is multiplied by `scale` before the addition
    /// (Inception-ResNet's residual scaling).
    pub fn scaled(body: Network, shortcut: Network, scale: f32) -> Residual {
        Residual {
            body,
            shortcut,
            scale,
            shapes: None,
        }
    }
    fn apply_scale(&self, mut b: Tensor) -> Tensor {
        if self.scale != 1.0 {
            b.data.iter_mut().for_each(|v| *v *= self.scale);
        }
        b
    }
    /// Inference pass.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let b = self.apply_scale(self.body.forward(x));
        if self.shortcut.layers.is_empty() {
            add_padded(b, x)
        } else {
            let s = self.shortcut.forward(x);
            add_padded(b, &s)
        }
    }
    /// Training pass (see the module docs).
    pub fn forward_train(&mut self, x: Tensor, rng: &mut dyn rand::RngCore) -> Tensor {
        let s = if self.shortcut.layers.is_empty() {
            x.clone()
        } else {
            self.shortcut.forward_train(x.clone(), rng)
        };
        let b = self.body.forward_train(x, rng);
        let b = self.apply_scale(b);
        self.shapes = Some((b.shape.clone(), s.shape.clone()));
        add_padded(b, &s)
    }
    /// Backward pass (see the module docs).
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let (bs, ss) = self
            .shapes
            .clone()
            .expect("residual backward without forward_train");
        let db = self.apply_scale(crop(&dy, &bs));
        let ds = crop(&dy, &ss);
        let gb = self.body.backward(db, need_dx);
        let gs = if self.shortcut.layers.is_empty() {
            Some(ds)
        } else {
            self.shortcut.backward(ds, need_dx)
        };
        if !need_dx {
            return None;
        }
        let (mut gb, gs) = (gb?, gs?);
        assert_eq!(
            gb.shape, gs.shape,
            "residual: input gradients of the branches"
        );
        super::add_into(&mut gb.data, &gs.data);
        Some(gb)
    }
}

/// `a ⊕ b`: dlib's `tt::add` (sizes may differ; missing values are zero). Reuses `a`'s
/// buffer when the shapes agree.
pub fn add_padded(mut a: Tensor, b: &Tensor) -> Tensor {
    if a.shape == b.shape {
        super::add_into(&mut a.data, &b.data);
        return a;
    }
    assert_eq!(a.shape.len(), b.shape.len(), "residual: ranks differ");
    assert_eq!(a.shape[0], b.shape[0], "residual: batch sizes differ");
    let shape: Vec<usize> = a
        .shape
        .iter()
        .zip(&b.shape)
        .map(|(p, q)| *p.max(q))
        .collect();
    let mut out = Tensor::zeros(shape.clone());
    for t in [&a, b] {
        scatter_add(&mut out.data, &shape, &t.data, &t.shape);
    }
    out
}

/// Adds `src` (shape `src_shape`, each axis ≤ `shape`'s) into the top-left corner of `dst`.
fn scatter_add(dst: &mut [f32], shape: &[usize], src: &[f32], src_shape: &[usize]) {
    let (c, h, w) = dims_chw(shape);
    let (sc, sh, sw) = dims_chw(src_shape);
    if sw == 0 {
        return;
    }
    for (i, row) in src.chunks_exact(sw).enumerate() {
        let y = i % sh;
        let ch = (i / sh) % sc;
        let n = i / (sh * sc);
        let at = ((n * c + ch) * h + y) * w;
        super::add_into(&mut dst[at..at + sw], row);
    }
}

/// The part of `dy` (shape of the sum) inside `shape` (one operand's).
fn crop(dy: &Tensor, shape: &[usize]) -> Tensor {
    if dy.shape == shape {
        return dy.clone();
    }
    let (c, h, w) = dims_chw(&dy.shape);
    let (sc, sh, sw) = dims_chw(shape);
    let mut out = Tensor::zeros(shape.to_vec());
    if sw > 0 {
        for (i, row) in out.data.chunks_exact_mut(sw).enumerate() {
            let y = i % sh;
            let ch = (i / sh) % sc;
            let n = i / (sh * sc);
            let at = ((n * c + ch) * h + y) * w;
            row.copy_from_slice(&dy.data[at..at + sw]);
        }
    }
    out
}

/// `(c, h, w)` of an NCHW shape, or of `[n, f]` taken as `[n, f, 1, 1]`.
fn dims_chw(s: &[usize]) -> (usize, usize, usize) {
    match s.len() {
        4 => (s[1], s[2], s[3]),
        2 => (s[1], 1, 1),
        _ => panic!("residual: expected an NCHW or [n, f] tensor, got {s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dlib's `tt::add` with different sizes: the larger extent on each axis, zeros elsewhere.
    #[test]
    fn padded_add_matches_dlib_semantics() {
        // a: [1, 2, 2, 2], b: [1, 1, 3, 1]
        let a = Tensor::new(vec![1, 2, 2, 2], (1..=8).map(|v| v as f32).collect());
        let b = Tensor::new(vec![1, 1, 3, 1], vec![10.0, 20.0, 30.0]);
        let y = add_padded(a.clone(), &b);
        assert_eq!(y.shape, vec![1, 2, 3, 2]);
        #[rustfmt::skip]
        let want = vec![
            11.0, 2.0, 23.0, 4.0, 30.0, 0.0,
            5.0, 6.0, 7.0, 8.0, 0.0, 0.0,
        ];
        assert_eq!(y.data, want);
        assert_eq!(
            crop(&y, &a.shape).data,
            vec![11.0, 2.0, 23.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        );
        assert_eq!(crop(&y, &b.shape).data, vec![11.0, 23.0, 30.0]);
    }
}
