//! A sequential network: named layers, training and inference passes, parameter access.

use crate::layers::Layer;
use crate::tensor::{Param, Tensor};
use crate::NnError;
use rand::RngCore;

/// A sequential stack of layers.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// The layers, input first. Parameter names must be unique: model files, the optimiser's
    /// state and `freeze` find parameters by name.
    pub layers: Vec<Layer>,
    in_shapes: Vec<Vec<usize>>,
}

impl Network {
    /// A network running `layers` in order.
    pub fn new(layers: Vec<Layer>) -> Network {
        Network {
            layers,
            in_shapes: Vec::new(),
        }
    }
    /// Inference: batch norm with running statistics, no dropout. `&self`, so one network can
    /// serve many threads.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut t = x.clone();
        for l in &self.layers {
            t = l.forward(&t);
        }
        t
    }
    /// Training forward pass (batch statistics, dropout from `rng`); call [`Network::backward`]
    /// with the loss gradient next.
    pub fn forward_train(&mut self, x: Tensor, rng: &mut dyn RngCore) -> Tensor {
        self.in_shapes.clear();
        let mut t = x;
        for l in &mut self.layers {
            self.in_shapes.push(t.shape.clone());
            t = l.forward_train(t, rng);
        }
        t
    }
    /// Number of leading layers that training leaves as they are and that compute in training
    /// what they compute at inference: no trainable unfrozen parameter, no dropout, no batch
    /// norm on batch statistics (nested layers included). Their output for an input never
    /// changes during a run, so it can be computed once ([`Network::forward_from`],
    /// [`Network::forward_train_from`]).
    pub fn frozen_prefix(&self) -> usize {
        self.layers
            .iter()
            .position(|l| !l.is_fixed())
            .unwrap_or(self.layers.len())
    }
    /// Inference through `layers[start..]` only (`x`: the output of `layers[..start]`).
    pub fn forward_from(&self, start: usize, x: &Tensor) -> Tensor {
        let mut t = x.clone();
        for l in &self.layers[start.min(self.layers.len())..] {
            t = l.forward(&t);
        }
        t
    }
    /// [`Network::forward_train`] through `layers[start..]` only (`x`: the output of
    /// `layers[..start]`), for a `start` of at most [`Network::frozen_prefix`]; the backward
    /// pass after it stops at `start` (requires `need_dx = false`).
    pub fn forward_train_from(&mut self, start: usize, x: Tensor, rng: &mut dyn RngCore) -> Tensor {
        assert!(
            start <= self.frozen_prefix(),
            "forward_train_from({start}): layers below {start} train"
        );
        self.in_shapes.clear();
        // the skipped layers' input shapes: never read (the backward pass ends below the
        // lowest trainable layer, at or above `start`)
        self.in_shapes.resize(start, Vec::new());
        let mut t = x;
        for l in &mut self.layers[start..] {
            self.in_shapes.push(t.shape.clone());
            t = l.forward_train(t, rng);
        }
        t
    }
    /// Backward pass from `dy` (gradient of the loss w.r.t. the output); accumulates into the
    /// parameters' `grad`. Returns the input gradient when `need_dx`.
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let mut g = dy;
        let n = self.layers.len();
        // below the lowest layer with a trainable parameter no gradient is needed (frozen
        // early layers in transfer learning cost nothing in the backward pass)
        let lowest = self
            .layers
            .iter()
            .position(|l| l.params().iter().any(|p| p.trainable && !p.frozen))
            .unwrap_or(n);
        for i in (0..n).rev() {
            if i < lowest && !need_dx {
                return None;
            }
            let need = (i > 0 && i > lowest) || need_dx;
            match self.layers[i].backward(g, need, &self.in_shapes[i]) {
                Some(d) => g = d,
                None => return None,
            }
        }
        Some(g)
    }
    /// All parameters and buffers, in layer order.
    pub fn params(&self) -> Vec<&Param> {
        self.layers.iter().flat_map(|l| l.params()).collect()
    }
    /// [`Network::params`], mutable (for the optimiser, loading and freezing).
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect()
    }
    /// The parameter or buffer named `name` (`"conv1.weight"`), if the network has one.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params().into_iter().find(|p| p.name == name)
    }
    /// Number of trainable values.
    pub fn n_trainable(&self) -> usize {
        self.params()
            .iter()
            .filter(|p| p.trainable)
            .map(|p| p.value.len())
            .sum()
    }
    /// Bytes of all stored tensors (f32).
    pub fn size_bytes(&self) -> usize {
        self.params().iter().map(|p| p.value.len() * 4).sum()
    }
    /// Sets every gradient to zero. Backward passes *add* to the gradients, so call this
    /// before each batch.
    pub fn zero_grad(&mut self) {
        for p in self.params_mut() {
            p.zero_grad();
        }
    }
    /// Drops what `forward_train` kept for the backward pass (inputs, columns, masks), freeing
    /// its memory; a `backward` after it has nothing to read.
    pub fn clear_cache(&mut self) {
        for l in &mut self.layers {
            l.clear_cache();
        }
        self.in_shapes.clear();
    }
    /// Freeze every parameter whose name matches one of `patterns` (see [`name_matches`]) and
    /// none of the exceptions among them (a pattern `!PAT`: `["*", "!head"]` freezes all but
    /// the head). Returns the names frozen.
    pub fn freeze(&mut self, patterns: &[String]) -> Vec<String> {
        let (except, take): (Vec<&String>, Vec<&String>) =
            patterns.iter().partition(|p| p.starts_with('!'));
        let mut out = Vec::new();
        for p in self.params_mut() {
            if take.iter().any(|pat| name_matches(pat, &p.name))
                && !except.iter().any(|pat| name_matches(&pat[1..], &p.name))
            {
                p.frozen = true;
                out.push(p.name.clone());
            }
        }
        out
    }
    /// Set a tensor by name; errors on unknown names or shape mismatch.
    pub fn set(&mut self, name: &str, shape: &[usize], values: &[f32]) -> Result<(), NnError> {
        let p = self
            .params_mut()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| NnError::UnknownParam(name.to_string()))?;
        if p.shape != shape || p.value.len() != values.len() {
            return Err(NnError::Shape {
                what: name.to_string(),
                expected: p.shape.clone(),
                got: shape.to_vec(),
            });
        }
        p.value.copy_from_slice(values);
        Ok(())
    }
    /// An inference copy with every batch norm that follows a convolution or dense layer
    /// folded into that layer's weights, and activations that follow a convolution applied in
    /// its output loop (same outputs, fewer passes over memory). Inference only: its fused
    /// layers refuse `forward_train`.
    pub fn fused(&self) -> Network {
        let mut out: Vec<Layer> = Vec::new();
        for l in &self.layers {
            if let Layer::BatchNorm(bn) = l {
                let (scale, shift) = bn.inference_affine();
                let folded = match out.last_mut() {
                    Some(Layer::Conv2d(c)) => Some((&mut c.weight, &mut c.bias)),
                    Some(Layer::Depthwise(c)) => Some((&mut c.weight, &mut c.bias)),
                    Some(Layer::Dense(c)) => Some((&mut c.weight, &mut c.bias)),
                    _ => None,
                };
                if let Some((w, b)) = folded {
                    let per = w.value.len() / bn.c;
                    for (o, chunk) in w.value.chunks_exact_mut(per).enumerate() {
                        chunk.iter_mut().for_each(|v| *v *= scale[o]);
                        b.value[o] = b.value[o] * scale[o] + shift[o];
                    }
                    continue;
                }
            }
            if let Layer::Act(a) = l {
                let target = match out.last_mut() {
                    Some(Layer::Conv2d(c)) if c.act.is_none() => Some(&mut c.act),
                    Some(Layer::Depthwise(c)) if c.act.is_none() => Some(&mut c.act),
                    _ => None,
                };
                if let Some(t) = target {
                    *t = Some(a.kind);
                    continue;
                }
            }
            if let Layer::Residual(r) = l {
                out.push(Layer::Residual(crate::layers::Residual::scaled(
                    r.body.fused(),
                    r.shortcut.fused(),
                    r.scale,
                )));
                continue;
            }
            if let Layer::Concat(c) = l {
                let branches = c.branches.iter().map(Network::fused).collect();
                out.push(Layer::Concat(crate::layers::Concat::new(branches)));
                continue;
            }
            let mut l = l.clone();
            l.clear_cache();
            out.push(l);
        }
        Network::new(out)
    }
}

/// `--freeze` pattern matching: a pattern with `*` (any run of characters) or `?` (one
/// character) is a glob over the whole name; otherwise it is a prefix (`conv` matches
/// `conv1.weight`, `conv1.weight` matches itself).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern.contains('*') || pattern.contains('?') {
        glob(pattern.as_bytes(), name.as_bytes())
    } else {
        name.starts_with(pattern)
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freeze_patterns() {
        assert!(name_matches("conv*", "conv1.weight"));
        assert!(name_matches("*.bias", "head.bias"));
        assert!(!name_matches("*.bias", "head.weight"));
        assert!(name_matches("bn1", "bn1.running_mean"));
        assert!(!name_matches("bn1", "conv1.weight"));
        assert!(name_matches("conv?.weight", "conv3.weight"));
    }

    #[test]
    fn freeze_with_exceptions() {
        use crate::layers::{Dense, Layer};
        let r = &mut rand::rngs::mock::StepRng::new(0, 1);
        let mut net = Network::new(vec![
            Layer::Dense(Dense::new("con1", 2, 2, 1.0, r)),
            Layer::Dense(Dense::new("con28", 2, 2, 1.0, r)),
            Layer::Dense(Dense::new("head", 2, 2, 1.0, r)),
        ]);
        let all = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let frozen = net.freeze(&all(&["*", "!con28", "!head"]));
        assert_eq!(frozen, all(&["con1.weight", "con1.bias"]));
        assert_eq!(net.frozen_prefix(), 1);
        let mut net2 = net.clone();
        assert!(net2.freeze(&all(&["!head"])).is_empty());
    }
}
