//! The keypoint architectures as configs: `seed001`, `naimish`, `mobile`, `dlib_resnet`
//! ([`crate::resnet`]), `facenet` ([`crate::facenet`]).

use facemark_nn::integral::IntegralLayout;
use facemark_nn::layers::{
    ActKind, Activation, BatchNorm, Conv2d, Dense, DepthwiseConv2d, Dropout, Layer, MaxPool2d,
};
use facemark_nn::pip::{PipLayout, PipWeights};
use facemark_nn::{weighted_masked_loss, LossKind, Network};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchKind {
    /// Seed 001's 224×224 gray CNN: conv5-32, pool3, conv3-64+BN, pool3, conv3-128, pool3,
    /// dropout 0.1/0.2/0.3, dense 512+BN, dense 2N.
    Seed001,
    /// NaimishNet (arXiv 1710.00977), 96×96 gray: conv4-32, conv3-64, conv2-128, conv1-256
    /// each with ELU, pool2 and dropout 0.1…0.4, dense 1000 (ELU) + dropout 0.5, dense 1000
    /// (linear) + dropout 0.6, dense 2N.
    Naimish,
    /// facemark's fast default: a depthwise-separable net (MobileNet-style blocks) on a small
    /// gray input; see [`ArchConfig::mobile`].
    Mobile,
    /// dlib's face-recognition ResNet as a backbone, 150×150, with a dense landmark head
    /// ([`crate::resnet`]): for `--init dlib_face_recognition_resnet_model_v1.dat`.
    #[serde(rename = "dlib_resnet")]
    DlibResnet,
    /// FaceNet's InceptionResNetV1 as a backbone, 160×160, with a dense landmark head
    /// ([`crate::facenet`]): for `--init FILE.pt` (facenet-pytorch) or `FILE.h5` (Keras).
    #[serde(rename = "facenet")]
    Facenet,
}

impl std::str::FromStr for ArchKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "seed001" => Ok(ArchKind::Seed001),
            "naimish" => Ok(ArchKind::Naimish),
            "mobile" => Ok(ArchKind::Mobile),
            "dlib_resnet" => Ok(ArchKind::DlibResnet),
            "facenet" => Ok(ArchKind::Facenet),
            _ => Err(format!(
                "unknown architecture `{s}` (expected seed001, naimish, mobile, dlib_resnet or facenet)"
            )),
        }
    }
}

impl std::fmt::Display for ArchKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ArchKind::Seed001 => "seed001",
            ArchKind::Naimish => "naimish",
            ArchKind::Mobile => "mobile",
            ArchKind::DlibResnet => "dlib_resnet",
            ArchKind::Facenet => "facenet",
        })
    }
}

/// An architecture: kind, gray input size (pixels, square), number of points (the output has
/// `2 · n_points` values, normalised `[-1, 1]`, x before y), and options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchConfig {
    /// Which network.
    pub kind: ArchKind,
    /// Square gray input side in pixels.
    pub input_size: u32,
    /// Number of landmarks.
    pub n_points: usize,
    /// Channel width multiplier (`mobile` only; 1.0 = 16…256 channels).
    #[serde(default = "one")]
    pub width: f32,
    /// Extra stride-1 blocks after each stride-2 block from the 1/16-resolution stage on
    /// (`mobile` only; 0 = the original plain stack). Depth at the small maps, where a block
    /// is cheap and sees the whole face, as MobileNet's repeated 14×14 blocks.
    #[serde(default)]
    pub repeats: usize,
    /// Hidden units of a dense layer `fc1` (+ batch norm `bn_fc1` and ReLU) between the
    /// flattened last map and the head (`mobile` only; 0 = the head reads the map directly, the
    /// original net). Capacity where the points are regressed, for a few per cent more
    /// multiply-adds.
    #[serde(default)]
    pub head_hidden: usize,
    /// Channel multiplier of the last stage, the 256-channel blocks on the smallest maps
    /// (`mobile` only; 0 = [`ArchConfig::width`]). Those maps are a few pixels, so their
    /// channels cost little time for many weights: capacity where it is cheap.
    #[serde(default)]
    pub late_width: f32,
    /// The landmark read-out (files without the field: [`Head::Dense`]).
    #[serde(default)]
    pub head: Head,
}

fn one() -> f32 {
    1.0
}

/// How the network reads landmarks out (`mobile` only for the map heads).
///
/// `Dense` regresses all `2N` coordinates from the flattened last map (the original nets).
/// The map heads stop the `mobile` backbone at its stride-16 map (5×5 at 80×80 input) and put
/// one 1×1 convolution `head` on it, so each point is found where it is on the map
/// (`facemark_nn::pip`, `facemark_nn::integral`); the network output is then that map, and
/// [`ArchConfig::decode`] turns it into coordinates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum Head {
    /// Dense layer on the flattened last map: `2N` outputs.
    #[default]
    Dense,
    /// Pixel-in-pixel: score maps, offsets and neighbour offsets (`N · (3 + 2C)` channels).
    /// `neighbours[i]` are the `C` points landmark `i` also predicts (from the training mean
    /// shape), stored in the model file so decoding never depends on the data.
    Pip {
        /// For each landmark, the indices of the points it also predicts.
        neighbours: Vec<Vec<usize>>,
    },
    /// Soft-argmax expectation with per-cell offsets (`3N` channels).
    Integral,
}

impl Head {
    /// Name as in configs: `dense`, `pip`, `integral`.
    pub fn name(&self) -> &'static str {
        match self {
            Head::Dense => "dense",
            Head::Pip { .. } => "pip",
            Head::Integral => "integral",
        }
    }
}

/// Errors building an architecture.
#[derive(Debug, thiserror::Error)]
pub enum ArchError {
    /// The input is too small for the network's strides.
    #[error("architecture {kind}: input size {size} is too small (the feature map vanishes)")]
    InputTooSmall {
        /// The network.
        kind: ArchKind,
        /// The input side asked for.
        size: u32,
    },
    /// `n_points` is 0.
    #[error("architecture {0}: n_points must be at least 1")]
    NoPoints(ArchKind),
    /// The landmark head does not fit the network (a map head needs `mobile`, a PIP table one
    /// row per point, `head_hidden` the dense head).
    #[error("architecture {kind}: {detail}")]
    Head {
        /// The network.
        kind: ArchKind,
        /// Why.
        detail: String,
    },
    /// A field is out of its range.
    #[error("architecture {kind}: {field} {detail}")]
    Field {
        /// The network.
        kind: ArchKind,
        /// The field's name.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// Largest input side ([`ArchConfig::input_size`]), pixels.
pub const MAX_INPUT_SIZE: u32 = 1024;
/// Largest [`ArchConfig::width`] and [`ArchConfig::late_width`].
pub const MAX_WIDTH: f32 = 8.0;
/// Largest [`ArchConfig::repeats`].
pub const MAX_REPEATS: usize = 8;
/// Largest [`ArchConfig::head_hidden`].
pub const MAX_HEAD_HIDDEN: usize = 4096;
/// Largest [`ArchConfig::n_points`].
pub const MAX_N_POINTS: usize = 10_000;
/// Largest network, in parameters (f32 values, running statistics included): 1 GB of
/// weights. Checked before anything is allocated.
pub const MAX_PARAMS: usize = 256 << 20;

impl ArchConfig {
    /// The default config of `kind` for `n_points` (input 224 for seed001, 96 for naimish,
    /// 64 for mobile).
    pub fn new(kind: ArchKind, n_points: usize) -> ArchConfig {
        let input_size = match kind {
            ArchKind::Seed001 => 224,
            ArchKind::Naimish => 96,
            ArchKind::Mobile => 64,
            ArchKind::DlibResnet => 150,
            ArchKind::Facenet => 160,
        };
        ArchConfig {
            kind,
            input_size,
            n_points,
            width: 1.0,
            repeats: 0,
            head_hidden: 0,
            late_width: 0.0,
            head: Head::Dense,
        }
    }
    /// `seed001` for `n_points` points at its 224-pixel input.
    pub fn seed001(n_points: usize) -> ArchConfig {
        Self::new(ArchKind::Seed001, n_points)
    }
    /// `naimish` for `n_points` points at its 96-pixel input.
    pub fn naimish(n_points: usize) -> ArchConfig {
        Self::new(ArchKind::Naimish, n_points)
    }
    /// `mobile`: conv3×3/2 (16) + BN + ReLU, then six depthwise-separable blocks
    /// (dw3×3 + BN + ReLU, pw1×1 + BN + ReLU) to 32, 64/2, 64, 128/2, 128, 256/2 channels,
    /// flatten (keeps the spatial layout, which landmark regression needs) and a dense head.
    /// Inputs above 64 add stride-2 blocks (256 channels, `dw7 …`) until the last map is at
    /// most 4×4, so the head does not grow with the input. At 64×64 input: ≈ 2.5 MB of weights.
    /// [`ArchConfig::repeats`] adds stride-1 blocks at the smallest maps (`dw6r1 …`).
    pub fn mobile(n_points: usize) -> ArchConfig {
        Self::new(ArchKind::Mobile, n_points)
    }

    /// Build the network with Kaiming-initialised weights from `seed`.
    ///
    /// Layer names are stable (model files and `--freeze` use them):
    /// seed001 `conv1 conv2 bn2 conv3 fc1 bn_fc1 head`; naimish `conv1..conv4 fc1 fc2 head`;
    /// mobile `conv1 bn1`, `dw{i} dwbn{i} pw{i} pwbn{i}` for i = 1..=6 (more above 64² input;
    /// `repeats` copies of block i are `dw{i}r{j} …`), `fc1 bn_fc1` when `head_hidden > 0`, `head`.
    pub fn build(&self, seed: u64) -> Result<Network, ArchError> {
        // every size bounded before anything is allocated
        self.param_count()?;
        let rng = &mut ChaCha8Rng::seed_from_u64(seed);
        let out = 2 * self.n_points;
        let s = self.input_size as usize;
        let relu = || Layer::Act(Activation::new(ActKind::Relu));
        let elu = || Layer::Act(Activation::new(ActKind::Elu));
        let pool = |k| Layer::MaxPool(MaxPool2d::new(k, k));
        let layers = match self.kind {
            ArchKind::DlibResnet => return crate::resnet::build(self, rng),
            ArchKind::Facenet => return crate::facenet::build(self, rng),
            ArchKind::Seed001 => {
                let c = self.final_map_side()?;
                vec![
                    Layer::Conv2d(Conv2d::new("conv1", 1, 32, 5, 1, 0, rng)),
                    relu(),
                    pool(3),
                    Layer::Dropout(Dropout::new(0.1)),
                    Layer::Conv2d(Conv2d::new("conv2", 32, 64, 3, 1, 0, rng)),
                    Layer::BatchNorm(BatchNorm::new("bn2", 64)),
                    relu(),
                    pool(3),
                    Layer::Dropout(Dropout::new(0.2)),
                    Layer::Conv2d(Conv2d::new("conv3", 64, 128, 3, 1, 0, rng)),
                    relu(),
                    pool(3),
                    Layer::Dropout(Dropout::new(0.3)),
                    Layer::Flatten,
                    Layer::Dense(Dense::new("fc1", 128 * c * c, 512, 2f32.sqrt(), rng)),
                    Layer::BatchNorm(BatchNorm::new("bn_fc1", 512)),
                    relu(),
                    Layer::Dense(Dense::new("head", 512, out, 1.0, rng)),
                ]
            }
            ArchKind::Naimish => {
                let d = self.final_map_side()?;
                vec![
                    Layer::Conv2d(Conv2d::new("conv1", 1, 32, 4, 1, 0, rng)),
                    elu(),
                    pool(2),
                    Layer::Dropout(Dropout::new(0.1)),
                    Layer::Conv2d(Conv2d::new("conv2", 32, 64, 3, 1, 0, rng)),
                    elu(),
                    pool(2),
                    Layer::Dropout(Dropout::new(0.2)),
                    Layer::Conv2d(Conv2d::new("conv3", 64, 128, 2, 1, 0, rng)),
                    elu(),
                    pool(2),
                    Layer::Dropout(Dropout::new(0.3)),
                    Layer::Conv2d(Conv2d::new("conv4", 128, 256, 1, 1, 0, rng)),
                    elu(),
                    pool(2),
                    Layer::Dropout(Dropout::new(0.4)),
                    Layer::Flatten,
                    Layer::Dense(Dense::new("fc1", 256 * d * d, 1000, 2f32.sqrt(), rng)),
                    elu(),
                    Layer::Dropout(Dropout::new(0.5)),
                    Layer::Dense(Dense::new("fc2", 1000, 1000, 1.0, rng)),
                    Layer::Dropout(Dropout::new(0.6)),
                    Layer::Dense(Dense::new("head", 1000, out, 1.0, rng)),
                ]
            }
            ArchKind::Mobile => {
                let c0 = self.mobile_channels(16);
                let mut l = vec![
                    Layer::Conv2d(Conv2d::new("conv1", 1, c0, 3, 2, 1, rng)),
                    Layer::BatchNorm(BatchNorm::new("bn1", c0)),
                    relu(),
                ];
                let mut size = s.div_ceil(2);
                let mut cin = c0;
                for (n, cout, stride) in self.mobile_blocks() {
                    let cout = self.mobile_channels(cout);
                    l.push(Layer::Depthwise(DepthwiseConv2d::new(
                        &format!("dw{n}"),
                        cin,
                        3,
                        stride,
                        1,
                        rng,
                    )));
                    l.push(Layer::BatchNorm(BatchNorm::new(&format!("dwbn{n}"), cin)));
                    l.push(relu());
                    l.push(Layer::Conv2d(Conv2d::new(
                        &format!("pw{n}"),
                        cin,
                        cout,
                        1,
                        1,
                        0,
                        rng,
                    )));
                    l.push(Layer::BatchNorm(BatchNorm::new(&format!("pwbn{n}"), cout)));
                    l.push(relu());
                    size = if stride == 2 { size.div_ceil(2) } else { size };
                    cin = cout;
                }
                if let Some(channels) = self.map_channels() {
                    l.push(Layer::Conv2d(Conv2d::new(
                        "head", cin, channels, 1, 1, 0, rng,
                    )));
                    return Ok(Network::new(l));
                }
                l.push(Layer::Flatten);
                let mut features = cin * size * size;
                if self.head_hidden > 0 {
                    // batch norm as seed001's fc1: without it Adam's first steps, summed
                    // over thousands of non-negative inputs, pushed every unit below zero and
                    // the layer died (training loss flat from epoch 1)
                    l.push(Layer::Dense(Dense::new(
                        "fc1",
                        features,
                        self.head_hidden,
                        2f32.sqrt(),
                        rng,
                    )));
                    l.push(Layer::BatchNorm(BatchNorm::new("bn_fc1", self.head_hidden)));
                    l.push(relu());
                    features = self.head_hidden;
                }
                l.push(Layer::Dense(Dense::new("head", features, out, 1.0, rng)));
                l
            }
        };
        Ok(Network::new(layers))
    }
}

impl ArchConfig {
    /// Side of the last feature map (the input of the flatten or of a map head); an error
    /// when the input is too small for the architecture.
    fn final_map_side(&self) -> Result<usize, ArchError> {
        let s = self.input_size as usize;
        let too_small = || ArchError::InputTooSmall {
            kind: self.kind,
            size: self.input_size,
        };
        let side = match self.kind {
            // s-4, /3, -2, /3, -2, /3
            ArchKind::Seed001 => {
                let a = s.checked_sub(4).ok_or_else(too_small)? / 3;
                let b = a.checked_sub(2).ok_or_else(too_small)? / 3;
                b.checked_sub(2).ok_or_else(too_small)? / 3
            }
            // s-3, /2, -2, /2, -1, /2, -0, /2
            ArchKind::Naimish => {
                let a = s.checked_sub(3).ok_or_else(too_small)? / 2;
                let b = a.checked_sub(2).ok_or_else(too_small)? / 2;
                b.checked_sub(1).ok_or_else(too_small)? / 2 / 2
            }
            ArchKind::DlibResnet => crate::resnet::final_map_side(s).unwrap_or(0),
            ArchKind::Facenet => crate::facenet::final_map_side(s).unwrap_or(0),
            ArchKind::Mobile => {
                if s < 16 {
                    return Err(too_small());
                }
                self.mobile_blocks().iter().fold(s.div_ceil(2), |m, b| {
                    if b.2 == 2 {
                        m.div_ceil(2)
                    } else {
                        m
                    }
                })
            }
        };
        if side == 0 {
            return Err(too_small());
        }
        Ok(side)
    }

    /// Output channels of a `mobile` block of base width `c` (256 = the last stage, under
    /// [`ArchConfig::late_width`]).
    fn mobile_channels(&self, c: usize) -> usize {
        let late = if self.late_width > 0.0 {
            self.late_width
        } else {
            self.width
        };
        let m = if c == 256 { late } else { self.width };
        ((c as f32 * m).round() as usize).max(4)
    }

    /// The `mobile` blocks after `conv1`: `(name, base channels, stride)`.
    fn mobile_blocks(&self) -> Vec<(String, usize, usize)> {
        let mut blocks = vec![(32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (256, 2)];
        // Inputs above 64 get more stride-2 blocks (256 channels) until the last map is at
        // most 4×4, so the dense head — most of the weights — stays the same size.
        let mut last = blocks
            .iter()
            .fold((self.input_size as usize).div_ceil(2), |m, b| {
                if b.1 == 2 {
                    m.div_ceil(2)
                } else {
                    m
                }
            });
        // (a map head reads the stride-16 map itself: no more blocks)
        while last > 4 && self.head == Head::Dense {
            blocks.push((256, 2));
            last = last.div_ceil(2);
        }
        // `repeats` stride-1 copies after the 1/16 stage's and later stride-2 blocks, named
        // after their block (`dw6r1` …) so the base blocks keep their numbers (`--init` and
        // `--freeze` go by name)
        blocks
            .iter()
            .enumerate()
            .flat_map(|(i, &(c, st))| {
                let extra = if st == 2 && i >= 5 { self.repeats } else { 0 };
                let n = i + 1;
                std::iter::once((n.to_string(), c, st))
                    .chain((1..=extra).map(move |r| (format!("{n}r{r}"), c, 1)))
            })
            .collect()
    }

    /// Checks every field against its bounds ([`MAX_INPUT_SIZE`], [`MAX_WIDTH`],
    /// [`MAX_REPEATS`], [`MAX_HEAD_HIDDEN`], [`MAX_N_POINTS`]), the head against the backbone
    /// and the point count ([`ArchConfig::check_head`]), and that the input is large enough.
    pub fn validate(&self) -> Result<(), ArchError> {
        let field = |field: &'static str, detail: String| ArchError::Field {
            kind: self.kind,
            field,
            detail,
        };
        if self.n_points == 0 {
            return Err(ArchError::NoPoints(self.kind));
        }
        if self.n_points > MAX_N_POINTS {
            return Err(field(
                "n_points",
                format!("{} is above the limit {MAX_N_POINTS}", self.n_points),
            ));
        }
        if self.input_size > MAX_INPUT_SIZE {
            return Err(field(
                "input_size",
                format!("{} is above the limit {MAX_INPUT_SIZE}", self.input_size),
            ));
        }
        if !(self.width > 0.0 && self.width <= MAX_WIDTH) {
            return Err(field(
                "width",
                format!("{} is not in (0, {MAX_WIDTH}]", self.width),
            ));
        }
        if !(self.late_width >= 0.0 && self.late_width <= MAX_WIDTH) {
            return Err(field(
                "late_width",
                format!("{} is not in [0, {MAX_WIDTH}]", self.late_width),
            ));
        }
        if self.repeats > MAX_REPEATS {
            return Err(field(
                "repeats",
                format!("{} is above the limit {MAX_REPEATS}", self.repeats),
            ));
        }
        if self.head_hidden > MAX_HEAD_HIDDEN {
            return Err(field(
                "head_hidden",
                format!("{} is above the limit {MAX_HEAD_HIDDEN}", self.head_hidden),
            ));
        }
        self.check_head()?;
        self.final_map_side().map(|_| ())
    }

    /// Number of f32 values of the network [`ArchConfig::build`] makes (running statistics
    /// included), computed without building it, after [`ArchConfig::validate`]; an error when
    /// above [`MAX_PARAMS`].
    pub fn param_count(&self) -> Result<usize, ArchError> {
        self.validate()?;
        let conv = |cin: usize, cout: usize, k: usize| cout * cin * k * k + cout;
        let dense = |fin: usize, fout: usize| fin * fout + fout;
        let bn = |c: usize| 4 * c;
        let side = self.final_map_side()?;
        let out = 2 * self.n_points;
        // all factors are bounded above (input ≤ 1024, channels ≤ 2048, points ≤ 10 000):
        // no product overflows a 64-bit usize
        let n = match self.kind {
            ArchKind::DlibResnet => crate::resnet::param_count(self, side),
            ArchKind::Facenet => crate::facenet::param_count(self, side)?,
            ArchKind::Seed001 => {
                conv(1, 32, 5)
                    + conv(32, 64, 3)
                    + bn(64)
                    + conv(64, 128, 3)
                    + dense(128 * side * side, 512)
                    + bn(512)
                    + dense(512, out)
            }
            ArchKind::Naimish => {
                conv(1, 32, 4)
                    + conv(32, 64, 3)
                    + conv(64, 128, 2)
                    + conv(128, 256, 1)
                    + dense(256 * side * side, 1000)
                    + dense(1000, 1000)
                    + dense(1000, out)
            }
            ArchKind::Mobile => {
                let c0 = self.mobile_channels(16);
                let mut n = conv(1, c0, 3) + bn(c0);
                let mut cin = c0;
                for (_, c, _) in self.mobile_blocks() {
                    let cout = self.mobile_channels(c);
                    n += cin * 9 + cin + bn(cin) + conv(cin, cout, 1) + bn(cout);
                    cin = cout;
                }
                if let Some(channels) = self.map_channels() {
                    n + conv(cin, channels, 1)
                } else if self.head_hidden > 0 {
                    n + dense(cin * side * side, self.head_hidden)
                        + bn(self.head_hidden)
                        + dense(self.head_hidden, out)
                } else {
                    n + dense(cin * side * side, out)
                }
            }
        };
        if n > MAX_PARAMS {
            return Err(ArchError::Field {
                kind: self.kind,
                field: "size",
                detail: format!(
                    "{n} parameters is above the limit {MAX_PARAMS} (input_size {}, width {}, \
                     repeats {}, head_hidden {}, n_points {})",
                    self.input_size, self.width, self.repeats, self.head_hidden, self.n_points
                ),
            });
        }
        Ok(n)
    }

    /// Output channels of a map head (`None` for [`Head::Dense`]).
    pub fn map_channels(&self) -> Option<usize> {
        match &self.head {
            Head::Dense => None,
            Head::Pip { neighbours } => {
                Some(self.n_points * (3 + 2 * neighbours.first().map_or(0, Vec::len)))
            }
            Head::Integral => Some(3 * self.n_points),
        }
    }

    /// The PIP layout of a [`Head::Pip`] (checked against `n_points`); `None` for other heads.
    pub fn pip_layout(&self) -> Result<Option<PipLayout>, ArchError> {
        let Head::Pip { neighbours } = &self.head else {
            return Ok(None);
        };
        let err = |detail: String| ArchError::Head {
            kind: self.kind,
            detail,
        };
        if neighbours.len() != self.n_points {
            return Err(err(format!(
                "the PIP neighbour table has {} rows for {} points",
                neighbours.len(),
                self.n_points
            )));
        }
        PipLayout::new(neighbours.clone())
            .map(Some)
            .map_err(|e| err(e.to_string()))
    }

    /// A map head is `mobile`-only, and a PIP table must fit the point count.
    pub fn check_head(&self) -> Result<(), ArchError> {
        if self.head != Head::Dense && self.kind != ArchKind::Mobile {
            return Err(ArchError::Head {
                kind: self.kind,
                detail: format!("the {} head needs the mobile backbone", self.head.name()),
            });
        }
        if self.head != Head::Dense && self.head_hidden > 0 {
            return Err(ArchError::Head {
                kind: self.kind,
                detail: "head_hidden is a dense-head option".into(),
            });
        }
        self.pip_layout().map(|_| ())
    }

    /// Network output (`shape` as the network gives it) → `batch × 2N` normalised
    /// coordinates in `[-1, 1]` about the crop centre, x before y. The dense head's output is
    /// that already. Requires an output of this architecture.
    pub fn decode(&self, out: &[f32], shape: &[usize]) -> Vec<f32> {
        match &self.head {
            Head::Dense => out.to_vec(),
            Head::Pip { neighbours } => PipLayout {
                neighbours: neighbours.clone(),
            }
            .decode(out, shape),
            Head::Integral => IntegralLayout {
                n_points: self.n_points,
            }
            .decode(out, shape),
        }
    }

    /// Training loss of a network output against `targets` (`batch × 2N` normalised, `mask`
    /// per coordinate) and its gradient with respect to the output. Dense and integral heads
    /// apply `kind` (with optional per-face weights) to the coordinates; PIP has its own
    /// score-map and offset losses ([`PipWeights`], PIPNet's weights) and ignores `kind` and
    /// the weights.
    pub fn loss(
        &self,
        kind: LossKind,
        out: &[f32],
        shape: &[usize],
        targets: &[f32],
        mask: &[bool],
        face_weights: Option<&[f32]>,
    ) -> (f32, Vec<f32>) {
        match &self.head {
            Head::Dense => weighted_masked_loss(kind, out, targets, mask, face_weights),
            Head::Pip { neighbours } => PipLayout {
                neighbours: neighbours.clone(),
            }
            .loss(out, shape, targets, mask, PipWeights::default()),
            Head::Integral => IntegralLayout {
                n_points: self.n_points,
            }
            .loss(kind, out, shape, targets, mask, face_weights),
        }
    }
}
