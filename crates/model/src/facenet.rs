//! `facenet`: FaceNet's InceptionResNetV1 ([`facemark_recog::facenet`], facenet-pytorch's
//! layout and parameter names) as a landmark backbone, for transfer learning (`facemark train
//! --init FILE.pt|FILE.h5`).
//!
//! From the input:
//! ```text
//! gray_in     1×1 conv 1 → 3, fixed: facemark's gray input v/127.5 − 1 → FaceNet's
//!             (v − 127.5)/128 (the gray value in all three channels)
//! conv2d_1a … block8   InceptionResNetV1 up to its last block (1792 × 3 × 3 at 160 × 160)
//! flatten, dense `head` (2N)
//! ```
//! FaceNet's average pool, bottleneck and embedding are left out: the head reads the last map
//! flattened, which keeps where things are, as landmarks need. [`ArchConfig::width`] divides
//! every width (1/w must be 1, 2, 4, 8 or 16) and [`ArchConfig::repeats`], when not 0, sets the
//! Block35/17/8 counts (5, 10, 5 in the real network), for test-sized networks.
//!
//! The Keras FaceNet (`facenet_keras.h5`) was trained on chips standardised per chip
//! (`facemark_recog::prewhiten`); `gray_in` is a fixed affine map, so with that file the
//! backbone sees inputs scaled differently from its training (about 2× smaller for typical
//! faces); the trained layers adapt to it, frozen ones do not.

use crate::arch::{ArchConfig, ArchError, ArchKind};
use facemark_nn::layers::{skip_init, Conv2d, Dense, Layer};
use facemark_nn::Network;
use facemark_recog::facenet::{inception_resnet_v1, FacenetConfig};
use rand::RngCore;

/// Name of the fixed gray → FaceNet-input layer.
pub const GRAY_IN: &str = "gray_in";

/// The parameters frozen for "all but the last block" (seed 000's recipe): every one except
/// the last block's (`block8`, FaceNet's unscaled Block8) and the head's.
pub const FREEZE_ALL_BUT_LAST_BLOCK: [&str; 3] = ["*", "!block8.", "!head."];

/// The InceptionResNetV1 widths and depths of `cfg` (see the module docs).
pub fn backbone_config(cfg: &ArchConfig) -> Result<FacenetConfig, ArchError> {
    let div = (1.0 / cfg.width).round() as usize;
    if ![1, 2, 4, 8, 16].contains(&div) || (cfg.width * div as f32 - 1.0).abs() > 1e-3 {
        return Err(ArchError::Field {
            kind: ArchKind::Facenet,
            field: "width",
            detail: format!("{} is not 1, 1/2, 1/4, 1/8 or 1/16", cfg.width),
        });
    }
    let r = cfg.repeats;
    Ok(FacenetConfig {
        width_div: div,
        repeats: if r == 0 { [5, 10, 5] } else { [r, r, r] },
        embedding: 512,
    })
}

/// Side of the last map (after `block8`), `None` when the input is too small for the strides.
pub(crate) fn final_map_side(input: usize) -> Option<usize> {
    // a 3×3 window of stride 2 without padding
    let down = |m: usize| m.checked_sub(3).map(|v| v / 2 + 1);
    let m = down(input)?.checked_sub(2)?; // conv2d_1a, conv2d_2a (conv2d_2b keeps the size)
    let m = down(m)?.checked_sub(2)?; // maxpool_3a, conv2d_4a (conv2d_3b is 1×1)
    let m = down(down(down(m)?)?)?; // conv2d_4b, mixed_6a, mixed_7a
    (m > 0).then_some(m)
}

/// Parameter count (running statistics and the fixed zero biases included) of [`build`]'s
/// network; the backbone is built without its values' initialisation to count it.
pub(crate) fn param_count(cfg: &ArchConfig, side: usize) -> Result<usize, ArchError> {
    let fc = backbone_config(cfg)?;
    let back = backbone(fc);
    let n: usize = back.params().iter().map(|p| p.value.len()).sum();
    let c = channels(fc);
    Ok(6 + n + c * side * side * 2 * cfg.n_points + 2 * cfg.n_points)
}

/// InceptionResNetV1 of `fc` up to `block8`; values zero (`init`: false) or its own seeded
/// initialisation.
fn backbone_layers(fc: FacenetConfig, init: bool) -> Vec<Layer> {
    let (net, blocks) = if init {
        inception_resnet_v1(fc)
    } else {
        skip_init(|| inception_resnet_v1(fc))
    };
    let end = blocks
        .iter()
        .find(|b| b.name == "block8")
        .map_or(net.layers.len(), |b| b.layers.end);
    net.layers.into_iter().take(end).collect()
}

fn backbone(fc: FacenetConfig) -> Network {
    Network::new(backbone_layers(fc, false))
}

/// Channels of the last map (1792 in the real network).
fn channels(fc: FacenetConfig) -> usize {
    (1792 / fc.width_div).max(1)
}

/// The gray → FaceNet-input layer: `x·127.5/128` in each of 3 channels, frozen, not trainable.
pub fn gray_in() -> Conv2d {
    crate::resnet::gray_to_three(GRAY_IN, 127.5 / 128.0, [0.0; 3])
}

/// The network of a `facenet` architecture (see the module docs): the backbone with
/// InceptionResNetV1's own seeded initialisation (`--init` then overwrites it), the head
/// Kaiming-initialised from `rng`.
pub(crate) fn build(cfg: &ArchConfig, rng: &mut dyn RngCore) -> Result<Network, ArchError> {
    let side = final_map_side(cfg.input_size as usize).ok_or(ArchError::InputTooSmall {
        kind: ArchKind::Facenet,
        size: cfg.input_size,
    })?;
    let fc = backbone_config(cfg)?;
    let mut l = vec![Layer::Conv2d(gray_in())];
    l.extend(backbone_layers(fc, true));
    let c = channels(fc);
    l.push(Layer::Flatten);
    l.push(Layer::Dense(Dense::new(
        "head",
        c * side * side,
        2 * cfg.n_points,
        1.0,
        rng,
    )));
    Ok(Network::new(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arch(input: u32, width: f32, repeats: usize) -> ArchConfig {
        ArchConfig {
            input_size: input,
            width,
            repeats,
            ..ArchConfig::new(ArchKind::Facenet, 68)
        }
    }

    #[test]
    fn sizes_and_counts_match_the_built_network() {
        // facenet-pytorch's maps: 160 → 3 × 3 after block8 (blocks()' out_shape)
        assert_eq!(final_map_side(160), Some(3));
        assert_eq!(final_map_side(96), Some(1));
        assert_eq!(final_map_side(70), None);
        for a in [
            arch(160, 1.0, 0),
            arch(96, 1.0 / 16.0, 1),
            arch(200, 0.25, 2),
        ] {
            let net = a.build(1).unwrap();
            let n: usize = net.params().iter().map(|p| p.value.len()).sum();
            assert_eq!(a.param_count().unwrap(), n, "{a:?}");
            let side = final_map_side(a.input_size as usize).unwrap();
            let c = channels(backbone_config(&a).unwrap());
            assert_eq!(
                net.param("head.weight").unwrap().shape,
                [2 * 68, c * side * side]
            );
            let y = net.forward(&facemark_nn::Tensor::new(
                vec![1, 1, a.input_size as usize, a.input_size as usize],
                vec![0.1; (a.input_size * a.input_size) as usize],
            ));
            assert_eq!(y.shape, [1, 2 * 68]);
        }
        assert!(matches!(
            arch(160, 0.3, 0).build(1),
            Err(ArchError::Field { field: "width", .. })
        ));
        assert!(matches!(
            arch(64, 1.0, 0).build(1),
            Err(ArchError::InputTooSmall { .. })
        ));
        assert_eq!("facenet".parse::<ArchKind>(), Ok(ArchKind::Facenet));
    }
}
