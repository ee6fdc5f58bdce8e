//! `dlib_resnet`: dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`,
//! `facemark_recog::resnet`) as a landmark backbone, for transfer learning (`facemark train
//! --init dlib_face_recognition_resnet_model_v1.dat`).
//!
//! From the input:
//! ```text
//! rgb_in      1×1 conv 1 → 3, fixed: facemark's gray input v/127.5 − 1 → dlib's
//!             (v − mean_c)/256 per channel (the gray value in all three channels)
//! con1        7×7/2 (32), affine1, ReLU, max pool 3×3/2
//! level 4     3 × ares<32>
//! level 3     ares_down<64>,  3 × ares<64>
//! level 2     ares_down<128>, 2 × ares<128>
//! level 1     ares_down<256>, 2 × ares<256>
//! level 0     ares_down<256>
//! flatten, dense `head` (2N)
//! ```
//! `ares<N>` = ReLU(x + affine(con 3×3(ReLU(affine(con 3×3(x)))))), `ares_down` the same with
//! the first convolution at stride 2 (no padding, as dlib's `con` with stride ≠ 1) and a 2×2
//! average pool as shortcut ([`Residual`] adds the two over dlib's zero-padded overlap).
//! Names count each kind from the input as `facemark_recog::convert` does (`con1 … con29`,
//! `affine1 … affine29`), so `--init` copies the recognition network's weights by name; its
//! global average pool and 128-d `fc1` are left out: the head reads the last map flattened
//! (2 × 2 × 256 at 150 × 150 input), which keeps where things are, as landmarks need. The
//! last block, `ares_down<256>` of level 0, is `con28 con29 affine28 affine29`.
//! `affine` layers are batch norms with mean 0, variance 1, ε 0 and fixed statistics
//! ([`BatchNorm::fixed_stats`]): `γx + β` in training too.

use crate::arch::{ArchConfig, ArchError, ArchKind};
use facemark_nn::layers::{ActKind, Activation, AvgPool2d, BatchNorm, Conv2d, Dense, Layer};
use facemark_nn::{MaxPool2d, Network, Residual};
use rand::RngCore;

/// dlib's `input_rgb_image_sized` channel means (red, green, blue), 8-bit units: the face
/// model's defaults, which `--init` replaces with the file's own.
pub const DLIB_MEAN: [f32; 3] = [122.782, 117.001, 104.298];

/// Name of the fixed gray → dlib-input layer.
pub const RGB_IN: &str = "rgb_in";

/// The parameters frozen for "all but the last block" (seed 000's recipe): every one except
/// the last residual block's and the head's.
pub const FREEZE_ALL_BUT_LAST_BLOCK: [&str; 6] = [
    "*",
    "!con28.",
    "!con29.",
    "!affine28.",
    "!affine29.",
    "!head.",
];

/// The residual blocks from the input: `(channels, down-sampling)`.
fn blocks() -> Vec<(usize, bool)> {
    let mut b = vec![(32, false); 3];
    for (c, n) in [(64, 3), (128, 2), (256, 2)] {
        b.push((c, true));
        b.extend(std::iter::repeat_n((c, false), n));
    }
    b.push((256, true));
    b
}

fn channels(cfg: &ArchConfig, c: usize) -> usize {
    ((c as f32 * cfg.width).round() as usize).max(1)
}

/// Side of the last map, `None` when the input is too small for the strides.
pub(crate) fn final_map_side(input: usize) -> Option<usize> {
    // a k×k window of stride s without padding
    let down = |m: usize, k: usize| m.checked_sub(k).map(|v| v / 2 + 1);
    let mut m = down(input, 7)?;
    m = down(m, 3)?;
    for (_, d) in blocks() {
        if d {
            let body = down(m, 3)?;
            let shortcut = m / 2;
            m = body.max(shortcut);
        }
    }
    (m > 0).then_some(m)
}

/// Parameter count (running statistics included) of [`build`]'s network.
pub(crate) fn param_count(cfg: &ArchConfig, side: usize) -> usize {
    let conv = |cin: usize, cout: usize, k: usize| cout * cin * k * k + cout;
    let bn = |c: usize| 4 * c;
    let c0 = channels(cfg, 32);
    let mut n = conv(1, 3, 1) + conv(3, c0, 7) + bn(c0);
    let mut cin = c0;
    for (c, _) in blocks() {
        let c = channels(cfg, c);
        n += conv(cin, c, 3) + bn(c) + conv(c, c, 3) + bn(c);
        cin = c;
    }
    n + cin * side * side * 2 * cfg.n_points + 2 * cfg.n_points
}

fn affine(name: String, c: usize) -> Layer {
    let mut bn = BatchNorm::new(&name, c);
    bn.eps = 0.0;
    bn.fixed_stats = true;
    Layer::BatchNorm(bn)
}

fn relu() -> Layer {
    Layer::Act(Activation::new(ActKind::Relu))
}

/// The gray → dlib-input layer for channel means `mean` (8-bit units): `x·127.5/256 +
/// (127.5 − mean_c)/256`, frozen and not trainable.
pub fn rgb_in(mean: [f32; 3]) -> Conv2d {
    gray_to_three(RGB_IN, 127.5 / 256.0, mean.map(|m| (127.5 - m) / 256.0))
}

/// A fixed 1×1 convolution from the gray crop to a backbone's three input channels,
/// `x·scale + bias_c` per channel, frozen and not trainable: how a backbone trained on RGB
/// chips reads facemark's gray crops (`rgb_in` here, `facenet::gray_in`).
pub(crate) fn gray_to_three(name: &str, scale: f32, bias: [f32; 3]) -> Conv2d {
    let mut r = rand::rngs::mock::StepRng::new(0, 1);
    let mut c = facemark_nn::layers::skip_init(|| Conv2d::new(name, 1, 3, 1, 1, 0, &mut r));
    c.weight.value.fill(scale);
    c.bias.value.copy_from_slice(&bias);
    for p in [&mut c.weight, &mut c.bias] {
        p.trainable = false;
        p.frozen = true;
    }
    c
}

/// The network of a `dlib_resnet` architecture (see the module docs), Kaiming-initialised
/// from `rng` (`--init` then overwrites the backbone).
pub(crate) fn build(cfg: &ArchConfig, rng: &mut dyn RngCore) -> Result<Network, ArchError> {
    let side = final_map_side(cfg.input_size as usize).ok_or(ArchError::InputTooSmall {
        kind: ArchKind::DlibResnet,
        size: cfg.input_size,
    })?;
    let c0 = channels(cfg, 32);
    let mut l = vec![
        Layer::Conv2d(rgb_in(DLIB_MEAN)),
        Layer::Conv2d(Conv2d::new("con1", 3, c0, 7, 2, 0, rng)),
        affine("affine1".into(), c0),
        relu(),
        Layer::MaxPool(MaxPool2d::new(3, 2)),
    ];
    let mut k = 1;
    let mut cin = c0;
    for (c, down) in blocks() {
        let c = channels(cfg, c);
        let (stride, pad) = if down { (2, 0) } else { (1, 1) };
        let body = Network::new(vec![
            Layer::Conv2d(Conv2d::new(
                &format!("con{}", k + 1),
                cin,
                c,
                3,
                stride,
                pad,
                rng,
            )),
            affine(format!("affine{}", k + 1), c),
            relu(),
            Layer::Conv2d(Conv2d::new(&format!("con{}", k + 2), c, c, 3, 1, 1, rng)),
            affine(format!("affine{}", k + 2), c),
        ]);
        let shortcut = if down {
            vec![Layer::AvgPool(AvgPool2d::new(2, 2))]
        } else {
            vec![]
        };
        l.push(Layer::Residual(Residual::new(body, Network::new(shortcut))));
        l.push(relu());
        k += 2;
        cin = c;
    }
    l.push(Layer::Flatten);
    l.push(Layer::Dense(Dense::new(
        "head",
        cin * side * side,
        2 * cfg.n_points,
        1.0,
        rng,
    )));
    Ok(Network::new(l))
}
