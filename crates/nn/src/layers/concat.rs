//! Parallel branches joined along the channels: [`Concat`], the building block of Inception
//! networks (`torch.cat((branch0(x), branch1(x), …), 1)`).
//!
//! # Concat
//!
//! What it represents: `y = [b₀(x); b₁(x); …]`, every branch a [`Network`] run on the same
//! input, their outputs stacked along dim 1 (channels) in branch order. The outputs must agree
//! on every other dimension (batch and, for images, height and width; panics otherwise). A
//! branch with no layers is the identity. NCHW `[n, c_i, h, w]` → `[n, Σ c_i, h, w]`; `[n, f_i]`
//! → `[n, Σ f_i]`.
//!
//! Parameters: the branches', in branch then layer order, with the names their layers were given
//! (no prefix is added; names must stay unique across the whole network).
//!
//! `forward(&self, x)`
//! - ensures: `y`; no cache (each branch runs its inference pass).
//!
//! `forward_train(&mut self, x)`
//! - ensures: `y` from the branches' training passes (which keep their own caches); keeps each
//!   branch's output channel count.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before.
//! - ensures: each branch gets its channels of `dy` ([`Network::backward`]: parameter gradients
//!   **added**, frozen branches cost what they cost there). `need_dx = false`: `None`; `true`:
//!   `Some(dx)`, the sum of the branches' input gradients.

use crate::network::Network;
use crate::tensor::Tensor;

/// Branches on one input, outputs concatenated along the channels (see the module docs).
#[derive(Debug, Clone)]
pub struct Concat {
    /// The branches, in output-channel order.
    pub branches: Vec<Network>,
    pub(super) channels: Vec<usize>,
}

impl Concat {
    /// Branches concatenated in this order.
    pub fn new(branches: Vec<Network>) -> Concat {
        Concat {
            branches,
            channels: Vec::new(),
        }
    }
    /// Inference pass.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let outs: Vec<Tensor> = self.branches.iter().map(|b| b.forward(x)).collect();
        cat(&outs)
    }
    /// Training pass (see the module docs).
    pub fn forward_train(&mut self, x: Tensor, rng: &mut dyn rand::RngCore) -> Tensor {
        let outs: Vec<Tensor> = self
            .branches
            .iter_mut()
            .map(|b| b.forward_train(x.clone(), rng))
            .collect();
        self.channels = outs.iter().map(|t| t.shape[1]).collect();
        cat(&outs)
    }
    /// Backward pass (see the module docs).
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        assert_eq!(
            self.channels.len(),
            self.branches.len(),
            "concat backward without forward_train"
        );
        let parts = split(&dy, &self.channels);
        let mut dx: Option<Tensor> = None;
        for (b, part) in self.branches.iter_mut().zip(parts) {
            let g = if b.layers.is_empty() {
                Some(part)
            } else {
                b.backward(part, need_dx)
            };
            if let (true, Some(g)) = (need_dx, g) {
                match &mut dx {
                    None => dx = Some(g),
                    Some(d) => {
                        assert_eq!(d.shape, g.shape, "concat: input gradients of the branches");
                        super::add_into(&mut d.data, &g.data);
                    }
                }
            }
        }
        if need_dx {
            dx
        } else {
            None
        }
    }
}

/// `[n, c_i, …]` tensors → `[n, Σ c_i, …]`.
fn cat(parts: &[Tensor]) -> Tensor {
    assert!(!parts.is_empty(), "concat of no branch");
    let first = &parts[0].shape;
    let n = first[0];
    let inner: usize = first[2..].iter().product();
    for p in parts {
        assert!(
            p.shape.len() == first.len() && p.shape[0] == n && p.shape[2..] == first[2..],
            "concat: branch outputs {:?} and {:?} differ beyond the channels",
            first,
            p.shape
        );
    }
    let total: usize = parts.iter().map(|p| p.shape[1]).sum();
    let mut shape = first.clone();
    shape[1] = total;
    let mut data = Vec::with_capacity(n * total * inner);
    for b in 0..n {
        for p in parts {
            let per = p.shape[1] * inner;
            data.extend_from_slice(&p.data[b * per..(b + 1) * per]);
        }
    }
    Tensor::new(shape, data)
}

/// The inverse of [`cat`]: `dy` split into tensors of `channels[i]` channels.
fn split(dy: &Tensor, channels: &[usize]) -> Vec<Tensor> {
    let n = dy.shape[0];
    let inner: usize = dy.shape[2..].iter().product();
    let total: usize = channels.iter().sum();
    assert_eq!(total, dy.shape[1], "concat: gradient channels");
    let mut out = Vec::with_capacity(channels.len());
    let mut off = 0;
    for &c in channels {
        let mut data = Vec::with_capacity(n * c * inner);
        for b in 0..n {
            let at = (b * total + off) * inner;
            data.extend_from_slice(&dy.data[at..at + c * inner]);
        }
        let mut shape = dy.shape.clone();
        shape[1] = c;
        out.push(Tensor::new(shape, data));
        off += c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cat_and_split_are_inverse() {
        let a = Tensor::new(vec![2, 1, 1, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let b = Tensor::new(vec![2, 2, 1, 2], (10..18).map(|v| v as f32).collect());
        let y = cat(&[a.clone(), b.clone()]);
        assert_eq!(y.shape, vec![2, 3, 1, 2]);
        #[rustfmt::skip]
        let want = vec![1.0, 2.0, 10.0, 11.0, 12.0, 13.0, 3.0, 4.0, 14.0, 15.0, 16.0, 17.0];
        assert_eq!(y.data, want);
        let parts = split(&y, &[1, 2]);
        assert_eq!(parts[0], a);
        assert_eq!(parts[1], b);
    }
}
