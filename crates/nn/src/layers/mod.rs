//! Layers with hand-written forward and backward passes, one module per layer family:
//! `conv` ([`Conv2d`]), `depthwise` ([`DepthwiseConv2d`] and its kernels), `dense`
//! ([`Dense`]), `norm` ([`BatchNorm`]), `pool` ([`MaxPool2d`]), `avgpool` ([`AvgPool2d`],
//! [`GlobalAvgPool`]), `residual` ([`Residual`]), `concat` ([`Concat`]), `l2norm`
//! ([`L2Normalize`]) and `activation` ([`ActKind`],
//! [`Activation`], [`Dropout`]). This module holds the [`Layer`] enum that a
//! [`crate::Network`] is a sequence of and its dispatch, weight initialisation ([`kaiming`],
//! [`skip_init`]) and the helpers the families share. The family modules are private and
//! everything public is re-exported here: paths are `facemark_nn::layers::X`. Each family
//! module opens with the contract of its layers; how to add a layer: `crates/nn/README.md`.
//!
//! Each layer offers `forward` (inference, `&self`, no cache), `forward_train` (keeps what the
//! backward pass needs) and `backward` (accumulates parameter gradients, returns the input
//! gradient when asked).
//!
//! # The contract every layer keeps
//!
//! (In the manner of dlib's `layers_abstract.h`; the family modules say what is particular.)
//!
//! Layouts: row-major `f32`; images NCHW (`[batch, channels, height, width]`), dense
//! activations `[batch, features]`. Parameters in PyTorch's layouts, named
//! `"<layer>.<param>"` from the `name` given to the layer's `new` (`conv1.weight`,
//! `bn1.running_mean`): model files, `--init`, `--freeze` and Adam's state go by these names.
//!
//! `forward(&self, x) -> y`
//! - ensures: the inference output. Reads and writes no cache, so one network can serve many
//!   threads. Batch norm uses its running statistics; dropout is the identity (in
//!   [`Layer::forward`]: `Dropout` has no `forward` of its own).
//!
//! `forward_into(&self, x, out)` ([`Layer::forward_into`])
//! - ensures: `*out` holds `forward(x)`. The two convolutions reuse `out`'s buffer
//!   ([`Tensor::reuse_as`]); the other layers assign a fresh tensor.
//!
//! `forward_train(&mut self, x) -> y`
//! - ensures: the training output (batch statistics; dropout's mask drawn from the `rng`
//!   given to [`Layer::forward_train`]) and, kept in the layer, what `backward` needs (the
//!   input, im2col columns, normalised input, arg-max, output or mask). Batch norm also
//!   updates its running statistics here, at every call. Takes `x` by value: its buffer may
//!   become the cache or the output.
//!
//! `backward(&mut self, dy, need_dx) -> Option<dx>`
//! - requires: `forward_train` ran, since the last [`Layer::clear_cache`], on the batch this
//!   `dy` (the gradient of the loss with respect to its output, same shape) belongs to: it
//!   reads the cache of the *most recent* `forward_train`. Without a cache most layers panic;
//!   activation and dropout return `dy` unchanged. The cache stays after `backward`, until the
//!   next `forward_train` or `clear_cache`.
//! - ensures, parameters: gradients are **added** to [`Param::grad`] (`+=`, never
//!   overwritten), summed over the batch. Two backward passes with no
//!   [`crate::Network::zero_grad`] in between sum their gradients; the trainer calls
//!   `zero_grad` before each batch. Buffers (batch norm's running statistics,
//!   [`Param::buffer`]) have no gradient.
//! - ensures, frozen parameters: conv and dense skip their parameter gradients when weight
//!   *and* bias are frozen; depthwise computes them regardless; a batch norm whose `weight` is
//!   frozen is a fixed affine map, with no parameter gradients (and no running-statistics
//!   update in `forward_train`). The optimiser never moves a frozen parameter, whatever its
//!   `grad` holds.
//! - `need_dx`: `false` → returns `None` without computing the input gradient (the layers
//!   without parameters return at once); `true` → `Some(dx)`, `dx` with the input's shape.
//!   [`Layer::backward`] for dropout and flatten ignores `need_dx` and always returns `Some`.
//!   [`crate::Network::backward`] passes `need_dx = true` to every layer above the lowest one
//!   with a trainable, unfrozen parameter (to that one and those below only when its own
//!   caller wants the input gradient), and ends the pass at the first `None`.
//!
//! # Fused networks
//!
//! [`crate::Network::fused`] folds each batch norm that follows a conv, depthwise or dense
//! layer into that layer's weight and bias, and each activation that follows a conv or
//! depthwise layer into its `act` field. Only a layer carrying such a fused activation refuses
//! `forward_train`: [`Conv2d`] and [`DepthwiseConv2d`] panic ("fused layers are
//! inference-only") when `act` is `Some`. Nothing else is refused: a dense layer, or a
//! convolution with a folded batch norm and no activation after it, trains its folded weights
//! without complaint (without the batch norm), and a batch norm that was not folded updates
//! its running statistics. Train the unfused network; fuse for inference.
//!
//! # Flatten
//!
//! [`Layer::Flatten`] has no struct: `[n, ...]` → `[n, prod(...)]` in the dispatch below; its
//! backward reshapes `dy` to the `in_shape` that [`crate::Network`] recorded in
//! `forward_train`.

mod activation;
mod avgpool;
mod concat;
mod conv;
mod dense;
mod depthwise;
mod depthwise_small;
mod l2norm;
mod norm;
mod pool;
mod residual;

pub use activation::{ActKind, Activation, Dropout};
pub use avgpool::{AvgPool2d, GlobalAvgPool};
pub use concat::Concat;
pub use conv::Conv2d;
pub use dense::Dense;
pub use depthwise::DepthwiseConv2d;
pub use l2norm::L2Normalize;
pub use norm::BatchNorm;
pub use pool::MaxPool2d;
pub use residual::{add_padded, Residual};

use crate::network::Network;
use crate::tensor::{Param, Tensor};
use rand::{Rng, RngCore};

fn dims4(x: &Tensor) -> (usize, usize, usize, usize) {
    assert_eq!(
        x.shape.len(),
        4,
        "expected an NCHW tensor, got {:?}",
        x.shape
    );
    (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
}

fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

thread_local! {
    static SKIP_INIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with weight initialisation skipped on this thread ([`kaiming`] gives zeros), for
/// building a network whose every parameter is about to be loaded from a file, as PyTorch's
/// `skip_init`. The default model's Kaiming draws (1.3 M logarithms and cosines) were about 19
/// ms, 13 % of a one-photo `facemark detect` (`perf`).
pub fn skip_init<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SKIP_INIT.set(self.0); // also when `f` panics
        }
    }
    let _restore = Restore(SKIP_INIT.replace(true));
    f()
}

/// Kaiming-normal values (`std = gain / sqrt(fan_in)`), Box–Muller from `rng`; zeros inside
/// [`skip_init`].
pub fn kaiming(n: usize, fan_in: usize, gain: f32, rng: &mut dyn RngCore) -> Vec<f32> {
    if SKIP_INIT.get() {
        return vec![0.0; n];
    }
    let std = gain / (fan_in.max(1) as f32).sqrt();
    (0..n)
        .map(|_| {
            let u1: f32 = rng.gen_range(1e-7f32..1.0);
            let u2: f32 = rng.gen();
            std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect()
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += *s);
}

/// One layer of a sequential network. (Variants differ in size; a network holds a few dozen
/// layers, so boxing would buy nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Layer {
    /// A full 2-D convolution ([`Conv2d`]).
    Conv2d(Conv2d),
    /// A per-channel 2-D convolution ([`DepthwiseConv2d`]).
    Depthwise(DepthwiseConv2d),
    /// A fully connected layer ([`Dense`]).
    Dense(Dense),
    /// Batch normalisation ([`BatchNorm`]).
    BatchNorm(BatchNorm),
    /// An element-wise activation ([`Activation`]).
    Act(Activation),
    /// Max pooling ([`MaxPool2d`]).
    MaxPool(MaxPool2d),
    /// Dropout in training, the identity at inference ([`Dropout`]).
    Dropout(Dropout),
    /// `[n, ...]` → `[n, prod(...)]`.
    Flatten,
    /// Average pooling over a window ([`AvgPool2d`]).
    AvgPool(AvgPool2d),
    /// Average over each whole channel ([`GlobalAvgPool`]).
    GlobalAvgPool(GlobalAvgPool),
    /// A body and a shortcut, added with dlib's zero-padded `add_prev` ([`Residual`]).
    Residual(Residual),
    /// Branches on one input, concatenated along the channels ([`Concat`]).
    Concat(Concat),
    /// Each sample divided by its Euclidean norm ([`L2Normalize`]).
    L2Norm(L2Normalize),
}

impl Layer {
    /// Inference forward pass (batch norm uses running statistics, dropout is off).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Layer::Conv2d(l) => l.forward(x),
            Layer::Depthwise(l) => l.forward(x),
            Layer::Dense(l) => l.forward(x),
            Layer::BatchNorm(l) => l.forward(x),
            Layer::Act(l) => l.forward(x),
            Layer::MaxPool(l) => l.forward(x),
            Layer::Dropout(_) => x.clone(),
            Layer::Flatten => Tensor::new(vec![x.batch(), x.per_sample()], x.data.clone()),
            Layer::AvgPool(l) => l.forward(x),
            Layer::GlobalAvgPool(l) => l.forward(x),
            Layer::Residual(l) => l.forward(x),
            Layer::Concat(l) => l.forward(x),
            Layer::L2Norm(l) => l.forward(x),
        }
    }
    /// [`Layer::forward`] into `out`, reusing its buffer where the layer can (the
    /// convolutions; [`Tensor::reuse_as`]): inference engines that run the same network again
    /// and again keep one output per layer and skip an allocation and its zeroing per layer.
    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        match self {
            Layer::Conv2d(l) => l.forward_into(x, out),
            Layer::Depthwise(l) => l.forward_into(x, out),
            _ => *out = self.forward(x),
        }
    }
    /// Training forward pass; keeps what [`Layer::backward`] needs.
    pub fn forward_train(&mut self, x: Tensor, rng: &mut dyn RngCore) -> Tensor {
        match self {
            Layer::Conv2d(l) => l.forward_train(x),
            Layer::Depthwise(l) => l.forward_train(x),
            Layer::Dense(l) => l.forward_train(x),
            Layer::BatchNorm(l) => l.forward_train(x),
            Layer::Act(l) => l.forward_train(x),
            Layer::MaxPool(l) => l.forward_train(x),
            Layer::Dropout(l) => l.forward_train(x, rng),
            Layer::Flatten => {
                let (n, f) = (x.batch(), x.per_sample());
                Tensor::new(vec![n, f], x.data)
            }
            Layer::AvgPool(l) => l.forward_train(x),
            Layer::GlobalAvgPool(l) => l.forward_train(x),
            Layer::Residual(l) => l.forward_train(x, rng),
            Layer::Concat(l) => l.forward_train(x, rng),
            Layer::L2Norm(l) => l.forward_train(x),
        }
    }
    /// Backward pass: accumulates parameter gradients; returns the input gradient if
    /// `need_dx`. `in_shape` is the shape the layer received (for flatten).
    pub fn backward(&mut self, dy: Tensor, need_dx: bool, in_shape: &[usize]) -> Option<Tensor> {
        match self {
            Layer::Conv2d(l) => l.backward(dy, need_dx),
            Layer::Depthwise(l) => l.backward(dy, need_dx),
            Layer::Dense(l) => l.backward(dy, need_dx),
            Layer::BatchNorm(l) => l.backward(dy, need_dx),
            Layer::Act(l) => l.backward(dy, need_dx),
            Layer::MaxPool(l) => l.backward(dy, need_dx),
            Layer::Dropout(l) => Some(l.backward(dy)),
            Layer::Flatten => Some(Tensor::new(in_shape.to_vec(), dy.data)),
            Layer::AvgPool(l) => l.backward(dy, need_dx),
            Layer::GlobalAvgPool(l) => l.backward(dy, need_dx),
            Layer::Residual(l) => l.backward(dy, need_dx),
            Layer::Concat(l) => l.backward(dy, need_dx),
            Layer::L2Norm(l) => l.backward(dy, need_dx),
        }
    }
    /// The layer's parameters and buffers in file order (weight, bias, then batch norm's
    /// running statistics); empty for layers without any.
    pub fn params(&self) -> Vec<&Param> {
        match self {
            Layer::Conv2d(l) => vec![&l.weight, &l.bias],
            Layer::Depthwise(l) => vec![&l.weight, &l.bias],
            Layer::Dense(l) => vec![&l.weight, &l.bias],
            Layer::BatchNorm(l) => vec![&l.weight, &l.bias, &l.running_mean, &l.running_var],
            Layer::Residual(l) => {
                let mut v = l.body.params();
                v.extend(l.shortcut.params());
                v
            }
            Layer::Concat(l) => l.branches.iter().flat_map(|b| b.params()).collect(),
            _ => vec![],
        }
    }
    /// [`Layer::params`], mutable (for the optimiser, loading and freezing).
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        match self {
            Layer::Conv2d(l) => vec![&mut l.weight, &mut l.bias],
            Layer::Depthwise(l) => vec![&mut l.weight, &mut l.bias],
            Layer::Dense(l) => vec![&mut l.weight, &mut l.bias],
            Layer::BatchNorm(l) => vec![
                &mut l.weight,
                &mut l.bias,
                &mut l.running_mean,
                &mut l.running_var,
            ],
            Layer::Residual(l) => {
                let mut v = l.body.params_mut();
                v.extend(l.shortcut.params_mut());
                v
            }
            Layer::Concat(l) => l.branches.iter_mut().flat_map(|b| b.params_mut()).collect(),
            _ => vec![],
        }
    }
    /// Whether training leaves this layer as it is and it computes in training what it
    /// computes at inference: no trainable unfrozen parameter, not a dropout, not a batch norm
    /// on batch statistics (a frozen one, or one with [`BatchNorm::fixed_stats`], is fixed
    /// once its parameters are), the same for the layers inside a residual block.
    pub fn is_fixed(&self) -> bool {
        match self {
            Layer::Dropout(_) => false,
            Layer::Residual(r) => {
                r.body.layers.iter().all(Layer::is_fixed)
                    && r.shortcut.layers.iter().all(Layer::is_fixed)
            }
            l => l.params().iter().all(|p| !p.trainable || p.frozen),
        }
    }
    /// Drop training caches (frees memory after training).
    pub fn clear_cache(&mut self) {
        match self {
            Layer::Conv2d(l) => l.clear(),
            Layer::Depthwise(l) => l.input = None,
            Layer::Dense(l) => l.input = None,
            Layer::BatchNorm(l) => {
                l.xhat = Vec::new();
                l.inv_std = Vec::new();
            }
            Layer::Act(l) => l.out = Vec::new(),
            Layer::MaxPool(l) => l.argmax = Vec::new(),
            Layer::Dropout(l) => l.mask = Vec::new(),
            Layer::Flatten => {}
            Layer::AvgPool(l) => l.in_shape = Vec::new(),
            Layer::GlobalAvgPool(l) => l.in_shape = Vec::new(),
            Layer::Residual(l) => {
                l.body.clear_cache();
                l.shortcut.clear_cache();
                l.shapes = None;
            }
            Layer::Concat(l) => {
                l.branches.iter_mut().for_each(Network::clear_cache);
                l.channels = Vec::new();
            }
            Layer::L2Norm(l) => {
                l.out = Vec::new();
                l.norms = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inside `skip_init` weights are zeros; outside, and after a panic inside, Kaiming again.
    #[test]
    fn skip_init_is_scoped() {
        use rand::SeedableRng;
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let zeros = skip_init(|| kaiming(50, 9, 1.0, rng));
        assert!(zeros.iter().all(|&v| v == 0.0));
        assert!(kaiming(50, 9, 1.0, rng).iter().any(|&v| v != 0.0));
        let caught = std::panic::catch_unwind(|| skip_init(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(kaiming(50, 9, 1.0, rng).iter().any(|&v| v != 0.0));
    }
}
