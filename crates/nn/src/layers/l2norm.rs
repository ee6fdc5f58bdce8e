//! L2 normalisation of each sample: [`L2Normalize`] (FaceNet's embedding,
//! `torch.nn.functional.normalize(x, p=2, dim=1)`).
//!
//! # L2Normalize
//!
//! What it represents: `y = x / max(‖x‖₂, eps)` per sample, the norm over all of a sample's
//! values (`[n, f]`: the features; images: all of `c·h·w`), `eps = 1e-12` as PyTorch's. Same
//! shape in and out, no parameters.
//!
//! `forward(&self, x)`
//! - ensures: `y`; no cache. Norms are summed in f64.
//!
//! `forward_train(&mut self, x)`
//! - ensures: `y`; caches `y` and each sample's divisor.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before.
//! - ensures: `need_dx = false`: `None` at once; `true`: `Some(dx)`, `dx = (dy − y·⟨y, dy⟩) / ‖x‖`
//!   for a sample whose norm exceeds `eps`, `dy / eps` for one that does not (there the map is
//!   `x / eps`, linear).

use crate::tensor::Tensor;

/// Each sample divided by its Euclidean norm (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct L2Normalize {
    pub(super) out: Vec<f32>,
    pub(super) norms: Vec<f32>,
}

/// PyTorch's `F.normalize` default: the smallest divisor.
const EPS: f64 = 1e-12;

impl L2Normalize {
    /// The layer.
    pub fn new() -> L2Normalize {
        L2Normalize::default()
    }
    fn normalise(x: &Tensor) -> (Tensor, Vec<f32>) {
        let mut y = x.clone();
        let per = x.per_sample().max(1);
        let mut norms = Vec::with_capacity(x.batch());
        for row in y.data.chunks_exact_mut(per) {
            let n = row
                .iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum::<f64>()
                .sqrt()
                .max(EPS);
            row.iter_mut().for_each(|v| *v = (*v as f64 / n) as f32);
            norms.push(n as f32);
        }
        (y, norms)
    }
    /// Inference pass.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        Self::normalise(x).0
    }
    /// Training pass: as [`L2Normalize::forward`], keeping the output and the norms.
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        let (y, norms) = Self::normalise(&x);
        self.out = y.data.clone();
        self.norms = norms;
        y
    }
    /// Backward pass (see the module docs).
    pub fn backward(&mut self, mut dy: Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        assert_eq!(
            self.out.len(),
            dy.len(),
            "l2norm backward without forward_train"
        );
        let per = dy.per_sample().max(1);
        for ((g, y), &n) in dy
            .data
            .chunks_exact_mut(per)
            .zip(self.out.chunks_exact(per))
            .zip(&self.norms)
        {
            let n = n as f64;
            if n <= EPS {
                g.iter_mut().for_each(|v| *v = (*v as f64 / EPS) as f32);
                continue;
            }
            let dot: f64 = g.iter().zip(y).map(|(a, b)| *a as f64 * *b as f64).sum();
            for (gv, yv) in g.iter_mut().zip(y) {
                *gv = ((*gv as f64 - *yv as f64 * dot) / n) as f32;
            }
        }
        Some(dy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_norm_per_sample() {
        let x = Tensor::new(vec![2, 2], vec![3.0, 4.0, 0.0, 0.0]);
        let y = L2Normalize::new().forward(&x);
        assert_eq!(y.data, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
