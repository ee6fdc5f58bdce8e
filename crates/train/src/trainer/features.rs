//! Frozen-prefix features, computed once per face: the trade-off that makes transfer learning
//! from a large frozen backbone (dlib's face-recognition ResNet: about 1.3 G multiply-adds per
//! face) take minutes on a CPU.
//!
//! When nothing changes a face's input from epoch to epoch (no augmentation:
//! [`AugmentConfig::none`]) and the network's first layers are fixed
//! ([`Network::frozen_prefix`]: frozen, no dropout, no batch statistics), their output for a
//! face is the same at every epoch. It is then computed once, before the first epoch, for the
//! training and the validation faces, and the epochs run only the layers after it
//! ([`Network::forward_train_from`], [`Network::forward_from`]). The prefix runs fused (each
//! batch norm / affine folded into its convolution), so the features equal those of the
//! unfused training pass to float rounding.
//!
//! The price: no augmentation (random crops, flips, photometric jitter would change the
//! prefix's input, so the cache would have to hold every variant); on 870 HELEN faces
//! augmentation is worth having, so the cached run trades accuracy for time. Memory: one
//! feature map per face (16 KB for the dlib backbone's last-block input, 4 × 4 × 256 f32).

use super::data::{coord_mask, RunData};
use super::LOG_TARGET;
use crate::augment::AugmentConfig;
use crate::config::TrainConfig;
use facemark_nn::{Network, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::time::Instant;

/// The cached outputs of the network's first [`Features::start`] layers.
pub(super) struct Features {
    /// Layers the features come out of (the epochs run `layers[start..]`).
    pub(super) start: usize,
    /// One face's feature shape (e.g. `[256, 4, 4]`).
    pub(super) shape: Vec<usize>,
    /// Training faces' features, face after face.
    pub(super) train: Vec<f32>,
    /// Training faces' normalised targets (`2N` per face) and coordinate masks.
    pub(super) targets: Vec<f32>,
    pub(super) masks: Vec<bool>,
    /// Validation faces' features (the validation set's order).
    pub(super) val: Vec<f32>,
}

impl Features {
    /// Values per face.
    pub(super) fn per_face(&self) -> usize {
        self.shape.iter().product()
    }
    /// The batch of training faces `chunk`: features `[n, shape…]`, targets, masks.
    pub(super) fn batch(&self, chunk: &[usize], k: usize) -> (Tensor, Vec<f32>, Vec<bool>) {
        let per = self.per_face();
        let mut x = Vec::with_capacity(chunk.len() * per);
        let mut t = Vec::with_capacity(chunk.len() * k);
        let mut m = Vec::with_capacity(chunk.len() * k);
        for &i in chunk {
            x.extend_from_slice(&self.train[i * per..(i + 1) * per]);
            t.extend_from_slice(&self.targets[i * k..(i + 1) * k]);
            m.extend_from_slice(&self.masks[i * k..(i + 1) * k]);
        }
        let mut shape = vec![chunk.len()];
        shape.extend(&self.shape);
        (Tensor::new(shape, x), t, m)
    }
}

/// Whether a run caches features (see the module docs): no augmentation and a fixed prefix
/// with at least one frozen layer that could have trained (not only a fixed input map such as
/// `dlib_resnet`'s `rgb_in`, whose output is three times its input).
pub(super) fn applies(cfg: &TrainConfig, net: &Network) -> bool {
    let start = net.frozen_prefix();
    cfg.augment == AugmentConfig::none()
        && start < net.layers.len()
        && net.layers[..start]
            .iter()
            .any(|l| l.params().iter().any(|p| p.trainable))
}

/// The features of `run`'s training and validation faces through `net`'s fixed prefix.
pub(super) fn compute(run: &RunData, net: &Network) -> Features {
    let t0 = Instant::now();
    let start = net.frozen_prefix();
    let prefix = Network::new(net.layers[..start].to_vec()).fused();
    let s = run.arch.input_size as usize;
    let px = s * s;
    let data = &run.train;
    // inference crops (no augmentation: what every epoch would draw)
    let rows: Vec<(Vec<f32>, Vec<f32>, Vec<bool>)> = (0..data.images.len())
        .into_par_iter()
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let (x, t, m) = run.aug.make(
                &data.images[i],
                &data.points[i],
                &data.visible[i],
                &mut rng,
                false,
            );
            (x, t, coord_mask(&m))
        })
        .collect();
    let mut inputs = Vec::with_capacity(rows.len() * px);
    let mut targets = Vec::new();
    let mut masks = Vec::new();
    for (x, t, m) in rows {
        inputs.extend(x);
        targets.extend(t);
        masks.extend(m);
    }
    let through = |inputs: &[f32]| -> (Vec<f32>, Vec<usize>) {
        let n = inputs.len() / px;
        let mut out = Vec::new();
        let mut shape = Vec::new();
        for b in (0..n).step_by(16) {
            let e = (b + 16).min(n);
            let y = prefix.forward(&Tensor::new(
                vec![e - b, 1, s, s],
                inputs[b * px..e * px].to_vec(),
            ));
            shape = y.shape[1..].to_vec();
            out.extend(y.data);
        }
        (out, shape)
    };
    let (train, shape) = through(&inputs);
    let (val, val_shape) = through(&run.val.inputs);
    let shape = if shape.is_empty() { val_shape } else { shape };
    tracing::info!(
        target: LOG_TARGET,
        "features of the first {start} layers (frozen) cached: {} faces, {:?} each, {:.1} s",
        data.images.len() + run.val.n,
        shape,
        t0.elapsed().as_secs_f32()
    );
    Features {
        start,
        shape,
        train,
        targets,
        masks,
        val,
    }
}
