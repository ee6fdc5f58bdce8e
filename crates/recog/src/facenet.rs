//! FaceNet: InceptionResNetV1 as facenet-pytorch defines it (`models/inception_resnet_v1.py`,
//! Tim Esler's port of David Sandberg's TensorFlow FaceNet), in facemark's engine, with its
//! weights from a facenet-pytorch state dict (`.pt`) or a Keras `.h5` file in the layout of
//! keras-facenet's `facenet_keras.h5` ([`keras`]).
//!
//! 160 × 160 RGB chips, standardised as facenet-pytorch's `fixed_image_standardization`
//! (`(v − 127.5) / 128`), → a 512-d embedding of unit length.
//!
//! | facenet-pytorch | facemark-nn (parameter names = the state dict's keys) |
//! |---|---|
//! | `BasicConv2d` (`conv` without bias, `bn` ε 0.001, ReLU) | [`Conv2d`] `<p>.conv` (bias held at zero and frozen) + [`BatchNorm`] `<p>.bn` + ReLU |
//! | `Block35/17/8` (branches, `torch.cat`, `conv2d` with bias, `out·scale + x`, ReLU) | [`Residual::scaled`] over [`Concat`] + [`Conv2d`], then ReLU (none after `block8`) |
//! | `Mixed_6a/7a` (branches, one a `MaxPool2d(3, 2)`) | [`Concat`] |
//! | `(1, 7)`, `(7, 1)`, `(1, 3)`, `(3, 1)` kernels | [`Conv2d::rect`] |
//! | `avgpool_1a`, `dropout` (0.6), `last_linear` (no bias), `last_bn` (ε 0.001), `F.normalize` | [`GlobalAvgPool`], [`Dropout`], [`Dense`] (bias zero, frozen), [`BatchNorm`], [`L2Normalize`] |
//!
//! The classifier of the pretrained files (`logits.weight`, `logits.bias`) and batch norm's
//! `num_batches_tracked` counters are not part of the embedding network and are skipped; any
//! other key the network lacks, a key it needs that the file lacks, a shape or an element type
//! (float32 only) that differ are errors ([`FacenetError`]).
//!
//! [`FacenetConfig`] scales the widths and the block counts down for tests; the real network is
//! [`FacenetConfig::default`]. [`blocks`] describes its stages (names, parameter prefixes, layer
//! ranges, output shapes) for freezing and for cutting the network after a stage.

use facemark_formats::keras::KerasError;
use facemark_formats::torch::{read_state_dict, Dtype, TorchError, TorchTensor};
use facemark_nn::layers::{skip_init, ActKind};
use facemark_nn::{
    Activation, BatchNorm, Concat, Conv2d, Dense, Dropout, GlobalAvgPool, L2Normalize, Layer,
    MaxPool2d, Network, NnError, Residual,
};
use rand::SeedableRng;
use std::collections::HashSet;

/// The chip side facenet-pytorch's models take, pixels.
pub const FACENET_SIZE: usize = 160;

/// facenet-pytorch's `fixed_image_standardization`: `(v − 127.5) / 128` for a 0–255 value.
pub fn standardize(v: u8) -> f32 {
    (v as f32 - 127.5) / 128.0
}

/// Why a FaceNet state dict could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FacenetError {
    /// The `.pt` container or its pickle.
    #[error(transparent)]
    Torch(#[from] TorchError),
    /// A tensor's name or shape does not fit InceptionResNetV1 (another architecture), or one
    /// the network needs is missing.
    #[error(transparent)]
    Network(#[from] NnError),
    /// The `.h5` container (HDF5, Keras' layout).
    #[error(transparent)]
    Keras(#[from] KerasError),
    /// A weight the network needs is not in the Keras file.
    #[error("dataset `{dataset}` (for `{param}`) is missing")]
    KerasMissing {
        /// The dataset's path below the file's layer groups (`<layer>/<layer>/<weight>:0`).
        dataset: String,
        /// The facemark parameter it would fill.
        param: String,
    },
    /// A Keras dataset's shape does not fit the network.
    #[error("dataset `{dataset}` has shape {shape:?}; {expected:?} expected (for `{param}`)")]
    KerasShape {
        /// The dataset's path in the file.
        dataset: String,
        /// Its shape.
        shape: Vec<usize>,
        /// The shape the network needs, in Keras' order.
        expected: Vec<usize>,
        /// The facemark parameter it would fill.
        param: String,
    },
    /// A Keras dataset that is no weight of InceptionResNetV1 (another architecture).
    #[error("dataset `{0}` is not a weight of InceptionResNetV1")]
    KerasUnused(String),
    /// A tensor the network needs is not float32.
    #[error("`{name}` is {dtype:?}; float32 expected")]
    Dtype {
        /// The tensor's key.
        name: String,
        /// Its element type.
        dtype: Dtype,
    },
}

/// Widths and depths of an InceptionResNetV1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FacenetConfig {
    /// Every channel count of the real network divided by this (1, or a divisor of 16 for
    /// test-sized networks).
    pub width_div: usize,
    /// Block35, Block17 and Block8 repeats (5, 10, 5 in the real network).
    pub repeats: [usize; 3],
    /// Embedding length before the division (512 in the real network).
    pub embedding: usize,
}

impl Default for FacenetConfig {
    fn default() -> FacenetConfig {
        FacenetConfig {
            width_div: 1,
            repeats: [5, 10, 5],
            embedding: 512,
        }
    }
}

/// One stage of the network, input first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacenetBlock {
    /// facenet-pytorch's module name (`conv2d_1a`, `repeat_1.0`, `mixed_6a`, `block8`,
    /// `last_linear`, …).
    pub name: String,
    /// Every parameter of the stage starts with this (`repeat_1.0.`), for `--freeze`.
    pub prefix: String,
    /// The stage's layers in [`inception_resnet_v1`]'s top-level list.
    pub layers: std::ops::Range<usize>,
    /// Output shape for a 160 × 160 input, `[c, h, w]` (`[f]` after the pooling).
    pub out_shape: Vec<usize>,
}

struct Builder {
    layers: Vec<Layer>,
    blocks: Vec<FacenetBlock>,
    rng: rand_chacha::ChaCha8Rng,
    div: usize,
}

impl Builder {
    fn c(&self, n: usize) -> usize {
        (n / self.div).max(1)
    }
    /// `BasicConv2d`: conv (no bias) + bn (ε 0.001) + ReLU; channels in real-network units.
    fn basic(
        &mut self,
        name: &str,
        cin: usize,
        cout: usize,
        k: (usize, usize),
        s: usize,
        p: (usize, usize),
    ) -> Vec<Layer> {
        let (cin, cout) = (if cin == 3 { 3 } else { self.c(cin) }, self.c(cout));
        let mut conv = Conv2d::rect(&format!("{name}.conv"), cin, cout, k, s, p, &mut self.rng);
        conv.bias.frozen = true;
        let mut bn = BatchNorm::new(&format!("{name}.bn"), cout);
        bn.eps = 1e-3;
        vec![
            Layer::Conv2d(conv),
            Layer::BatchNorm(bn),
            Layer::Act(Activation::new(ActKind::Relu)),
        ]
    }
    fn sq(
        &mut self,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        s: usize,
        p: usize,
    ) -> Vec<Layer> {
        self.basic(name, cin, cout, (k, k), s, (p, p))
    }
    /// A `nn.Sequential` of BasicConv2d: `(cin, cout, (kh, kw), stride, (ph, pw))`.
    fn seq(&mut self, name: &str, convs: &[ConvSpec]) -> Network {
        let mut l = Vec::new();
        for (i, &(cin, cout, k, s, p)) in convs.iter().enumerate() {
            l.extend(self.basic(&format!("{name}.{i}"), cin, cout, k, s, p));
        }
        Network::new(l)
    }
    fn stage(&mut self, name: &str, layers: Vec<Layer>, out_shape: Vec<usize>) {
        let start = self.layers.len();
        self.layers.extend(layers);
        self.blocks.push(FacenetBlock {
            name: name.to_string(),
            prefix: format!("{name}."),
            layers: start..self.layers.len(),
            out_shape,
        });
    }
    /// Block35 / Block17 / Block8: branches (`cat` channels together), 1×1 conv (with bias)
    /// back to `c`, scaled residual, ReLU unless `relu` is false; `hw`: the map's side.
    fn block(
        &mut self,
        name: &str,
        (c, cat, hw): (usize, usize, usize),
        branches: Vec<Network>,
        scale: f32,
        relu: bool,
    ) {
        let conv = Conv2d::new(
            &format!("{name}.conv2d"),
            self.c(cat),
            self.c(c),
            1,
            1,
            0,
            &mut self.rng,
        );
        let body = Network::new(vec![
            Layer::Concat(Concat::new(branches)),
            Layer::Conv2d(conv),
        ]);
        let mut l = vec![Layer::Residual(Residual::scaled(
            body,
            Network::new(vec![]),
            scale,
        ))];
        if relu {
            l.push(Layer::Act(Activation::new(ActKind::Relu)));
        }
        let out = vec![self.c(c), hw, hw];
        self.stage(name, l, out);
    }
}

/// A `BasicConv2d`: `(in, out, (kh, kw), stride, (ph, pw))`, channels in real-network units.
type ConvSpec = (usize, usize, (usize, usize), usize, (usize, usize));

const K1: (usize, usize) = (1, 1);
const K3: (usize, usize) = (3, 3);
const P0: (usize, usize) = (0, 0);
const P1: (usize, usize) = (1, 1);

/// The network and its stages (see the module docs), weights random (Kaiming, seeded) or zero
/// inside [`skip_init`]; batch norms at their defaults but ε 0.001.
pub fn inception_resnet_v1(cfg: FacenetConfig) -> (Network, Vec<FacenetBlock>) {
    let mut b = Builder {
        layers: Vec::new(),
        blocks: Vec::new(),
        rng: rand_chacha::ChaCha8Rng::seed_from_u64(0),
        div: cfg.width_div.max(1),
    };
    let stem = [
        ("conv2d_1a", 3, 32, 3, 2, 0, 79),
        ("conv2d_2a", 32, 32, 3, 1, 0, 77),
        ("conv2d_2b", 32, 64, 3, 1, 1, 77),
    ];
    for (name, cin, cout, k, s, p, hw) in stem {
        let l = b.sq(name, cin, cout, k, s, p);
        b.stage(name, l, vec![b.c(cout), hw, hw]);
    }
    b.stage(
        "maxpool_3a",
        vec![Layer::MaxPool(MaxPool2d::new(3, 2))],
        vec![b.c(64), 38, 38],
    );
    for (name, cin, cout, k, s, hw) in [
        ("conv2d_3b", 64, 80, 1, 1, 38),
        ("conv2d_4a", 80, 192, 3, 1, 36),
        ("conv2d_4b", 192, 256, 3, 2, 17),
    ] {
        let l = b.sq(name, cin, cout, k, s, 0);
        b.stage(name, l, vec![b.c(cout), hw, hw]);
    }
    for i in 0..cfg.repeats[0] {
        let n = format!("repeat_1.{i}");
        let br = vec![
            b.seq(&format!("{n}.branch0"), &[(256, 32, K1, 1, P0)])
                .layers,
            b.seq(
                &format!("{n}.branch1"),
                &[(256, 32, K1, 1, P0), (32, 32, K3, 1, P1)],
            )
            .layers,
            b.seq(
                &format!("{n}.branch2"),
                &[
                    (256, 32, K1, 1, P0),
                    (32, 32, K3, 1, P1),
                    (32, 32, K3, 1, P1),
                ],
            )
            .layers,
        ];
        // branch0 is a bare BasicConv2d in facenet-pytorch: `branch0.conv`, not `branch0.0.conv`
        let br = rename_branch0(br, &n);
        b.block(&n, (256, 96, 17), br, 0.17, true);
    }
    let m6 = vec![
        Network::new(b.sq("mixed_6a.branch0", 256, 384, 3, 2, 0)),
        b.seq(
            "mixed_6a.branch1",
            &[
                (256, 192, K1, 1, P0),
                (192, 192, K3, 1, P1),
                (192, 256, K3, 2, P0),
            ],
        ),
        Network::new(vec![Layer::MaxPool(MaxPool2d::new(3, 2))]),
    ];
    b.stage(
        "mixed_6a",
        vec![Layer::Concat(Concat::new(m6))],
        vec![b.c(896), 8, 8],
    );
    for i in 0..cfg.repeats[1] {
        let n = format!("repeat_2.{i}");
        let br = vec![
            b.seq(&format!("{n}.branch0"), &[(896, 128, K1, 1, P0)])
                .layers,
            b.seq(
                &format!("{n}.branch1"),
                &[
                    (896, 128, K1, 1, P0),
                    (128, 128, (1, 7), 1, (0, 3)),
                    (128, 128, (7, 1), 1, (3, 0)),
                ],
            )
            .layers,
        ];
        let br = rename_branch0(br, &n);
        b.block(&n, (896, 256, 8), br, 0.10, true);
    }
    let m7 = vec![
        b.seq(
            "mixed_7a.branch0",
            &[(896, 256, K1, 1, P0), (256, 384, K3, 2, P0)],
        ),
        b.seq(
            "mixed_7a.branch1",
            &[(896, 256, K1, 1, P0), (256, 256, K3, 2, P0)],
        ),
        b.seq(
            "mixed_7a.branch2",
            &[
                (896, 256, K1, 1, P0),
                (256, 256, K3, 1, P1),
                (256, 256, K3, 2, P0),
            ],
        ),
        Network::new(vec![Layer::MaxPool(MaxPool2d::new(3, 2))]),
    ];
    b.stage(
        "mixed_7a",
        vec![Layer::Concat(Concat::new(m7))],
        vec![b.c(1792), 3, 3],
    );
    let block8 = |b: &mut Builder, n: &str, scale, relu| {
        let br = vec![
            b.seq(&format!("{n}.branch0"), &[(1792, 192, K1, 1, P0)])
                .layers,
            b.seq(
                &format!("{n}.branch1"),
                &[
                    (1792, 192, K1, 1, P0),
                    (192, 192, (1, 3), 1, (0, 1)),
                    (192, 192, (3, 1), 1, (1, 0)),
                ],
            )
            .layers,
        ];
        let br = rename_branch0(br, n);
        b.block(n, (1792, 384, 3), br, scale, relu);
    };
    for i in 0..cfg.repeats[2] {
        block8(&mut b, &format!("repeat_3.{i}"), 0.20, true);
    }
    block8(&mut b, "block8", 1.0, false);
    let feat = b.c(1792);
    b.stage(
        "avgpool_1a",
        vec![
            Layer::GlobalAvgPool(GlobalAvgPool::new()),
            Layer::Dropout(Dropout::new(0.6)),
        ],
        vec![feat],
    );
    let mut fc = Dense::new("last_linear", feat, cfg.embedding, 1.0, &mut b.rng);
    fc.bias.frozen = true;
    b.stage("last_linear", vec![Layer::Dense(fc)], vec![cfg.embedding]);
    let mut bn = BatchNorm::new("last_bn", cfg.embedding);
    bn.eps = 1e-3;
    b.stage(
        "last_bn",
        vec![Layer::BatchNorm(bn), Layer::L2Norm(L2Normalize::new())],
        vec![cfg.embedding],
    );
    (Network::new(b.layers), b.blocks)
}

/// facenet-pytorch's `branch0` of the residual blocks is a bare `BasicConv2d`
/// (`<block>.branch0.conv.weight`), the other branches `nn.Sequential`s (`branch1.0.conv`).
fn rename_branch0(branches: Vec<Vec<Layer>>, block: &str) -> Vec<Network> {
    let from = format!("{block}.branch0.0.");
    let to = format!("{block}.branch0.");
    branches
        .into_iter()
        .enumerate()
        .map(|(i, layers)| {
            let mut net = Network::new(layers);
            if i == 0 {
                for p in net.params_mut() {
                    if let Some(rest) = p.name.strip_prefix(&from) {
                        p.name = format!("{to}{rest}");
                    }
                }
            }
            net
        })
        .collect()
}

/// The stages of the real network ([`inception_resnet_v1`] with the default configuration).
pub fn blocks() -> Vec<FacenetBlock> {
    skip_init(|| inception_resnet_v1(FacenetConfig::default())).1
}

/// Whether a state-dict key belongs to no part of the embedding network (see the module docs).
fn skipped(name: &str) -> bool {
    name.ends_with(".num_batches_tracked") || name.starts_with("logits.")
}

/// The network of configuration `cfg` with every parameter and buffer from `tensors` (a state
/// dict's items); unfused, trainable.
pub fn from_state_dict(
    tensors: &[(String, TorchTensor)],
    cfg: FacenetConfig,
) -> Result<Network, FacenetError> {
    let mut net = skip_init(|| inception_resnet_v1(cfg)).0;
    let mut seen = HashSet::new();
    for (name, t) in tensors {
        if skipped(name) {
            continue;
        }
        if t.dtype != Dtype::F32 && net.param(name).is_some() {
            return Err(FacenetError::Dtype {
                name: name.clone(),
                dtype: t.dtype,
            });
        }
        net.set(name, &t.shape, &t.values)?;
        seen.insert(name.as_str());
    }
    // the zero biases of bias-free layers (frozen) are not in the file; all else must be
    if let Some(p) = net
        .params()
        .into_iter()
        .find(|p| !p.frozen && !seen.contains(p.name.as_str()))
    {
        return Err(NnError::MissingParam(p.name.clone()).into());
    }
    Ok(net)
}

/// The real InceptionResNetV1 from the bytes of a facenet-pytorch `.pt` state dict.
pub fn load_pt(bytes: &[u8]) -> Result<Network, FacenetError> {
    from_state_dict(&read_state_dict(bytes)?, FacenetConfig::default())
}

pub mod keras;
pub use keras::{from_keras_weights, load_h5};

#[cfg(test)]
mod tests;
