//! FaceNet's weights from a Keras `.h5` file in the layout of keras-facenet's
//! `facenet_keras.h5` (Hiroki Taniai's `inception_resnet_v1.py`, Sandberg's 20170512-110547
//! model converted: 128-d embeddings), into the same network as the `.pt` loader.
//!
//! | Keras layer (`model_weights/<layer>/<layer>/<weight>:0`) | facemark parameter |
//! |---|---|
//! | `Conv2d_1a_3x3` … `Conv2d_4b_3x3`, `Block35_<i>_Branch_<b>_Conv2d_…`, `Mixed_6a_Branch_…`, … `kernel` `[kh, kw, in, out]` | `<p>.conv.weight` `[out, in, kh, kw]` |
//! | `<layer>_BatchNorm` `beta`, `moving_mean`, `moving_variance` (`scale=False`: no `gamma`, γ = 1) | `<p>.bn.bias`, `.running_mean`, `.running_var` (`.weight` = 1, or `gamma` if the file has one) |
//! | `Block35_<i>_Conv2d_1x1` (Block17, Block8 alike) `kernel`, `bias` | `repeat_1.<i−1>.conv2d.weight`, `.bias` |
//! | `Block8_6_…` (the last, unscaled block) | `block8.…` |
//! | `Bottleneck` `kernel` `[in, out]`, `Bottleneck_BatchNorm` | `last_linear.weight` `[out, in]`, `last_bn.*` |
//!
//! The scales (0.17, 0.10, 0.20, 1), ε = 0.001, "same" padding (symmetric for these odd
//! kernels at stride 1) and the layer order are those of the network itself. Keras' model ends
//! at the bottleneck's batch norm; facemark's adds the L2 normalisation users apply to its
//! output. Every dataset must be used and every parameter found ([`FacenetError::KerasMissing`],
//! [`FacenetError::KerasShape`], [`FacenetError::KerasUnused`]).

use super::{inception_resnet_v1, FacenetConfig, FacenetError};
use facemark_formats::keras::{read_keras_weights, KerasWeight};
use facemark_nn::layers::skip_init;
use facemark_nn::{Network, NnError};
use std::collections::HashMap;

/// facemark module prefix → Keras layer name of every `BasicConv2d` and residual up-projection
/// of a network of configuration `cfg`; the bottleneck is handled by its parameter names.
pub fn keras_layer_names(cfg: FacenetConfig) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = [
        ("conv2d_1a", "Conv2d_1a_3x3"),
        ("conv2d_2a", "Conv2d_2a_3x3"),
        ("conv2d_2b", "Conv2d_2b_3x3"),
        ("conv2d_3b", "Conv2d_3b_1x1"),
        ("conv2d_4a", "Conv2d_4a_3x3"),
        ("conv2d_4b", "Conv2d_4b_3x3"),
        ("mixed_6a.branch0", "Mixed_6a_Branch_0_Conv2d_1a_3x3"),
        ("mixed_6a.branch1.0", "Mixed_6a_Branch_1_Conv2d_0a_1x1"),
        ("mixed_6a.branch1.1", "Mixed_6a_Branch_1_Conv2d_0b_3x3"),
        ("mixed_6a.branch1.2", "Mixed_6a_Branch_1_Conv2d_1a_3x3"),
        ("mixed_7a.branch0.0", "Mixed_7a_Branch_0_Conv2d_0a_1x1"),
        ("mixed_7a.branch0.1", "Mixed_7a_Branch_0_Conv2d_1a_3x3"),
        ("mixed_7a.branch1.0", "Mixed_7a_Branch_1_Conv2d_0a_1x1"),
        ("mixed_7a.branch1.1", "Mixed_7a_Branch_1_Conv2d_1a_3x3"),
        ("mixed_7a.branch2.0", "Mixed_7a_Branch_2_Conv2d_0a_1x1"),
        ("mixed_7a.branch2.1", "Mixed_7a_Branch_2_Conv2d_0b_3x3"),
        ("mixed_7a.branch2.2", "Mixed_7a_Branch_2_Conv2d_1a_3x3"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let mut block = |ours: String, keras: String, branches: &[(&str, &str)]| {
        for (o, k) in branches {
            m.push((format!("{ours}.{o}"), format!("{keras}_{k}")));
        }
        m.push((format!("{ours}.conv2d"), format!("{keras}_Conv2d_1x1")));
    };
    let b35 = [
        ("branch0", "Branch_0_Conv2d_1x1"),
        ("branch1.0", "Branch_1_Conv2d_0a_1x1"),
        ("branch1.1", "Branch_1_Conv2d_0b_3x3"),
        ("branch2.0", "Branch_2_Conv2d_0a_1x1"),
        ("branch2.1", "Branch_2_Conv2d_0b_3x3"),
        ("branch2.2", "Branch_2_Conv2d_0c_3x3"),
    ];
    let b17 = [
        ("branch0", "Branch_0_Conv2d_1x1"),
        ("branch1.0", "Branch_1_Conv2d_0a_1x1"),
        ("branch1.1", "Branch_1_Conv2d_0b_1x7"),
        ("branch1.2", "Branch_1_Conv2d_0c_7x1"),
    ];
    let b8 = [
        ("branch0", "Branch_0_Conv2d_1x1"),
        ("branch1.0", "Branch_1_Conv2d_0a_1x1"),
        ("branch1.1", "Branch_1_Conv2d_0b_1x3"),
        ("branch1.2", "Branch_1_Conv2d_0c_3x1"),
    ];
    for i in 0..cfg.repeats[0] {
        block(format!("repeat_1.{i}"), format!("Block35_{}", i + 1), &b35);
    }
    for i in 0..cfg.repeats[1] {
        block(format!("repeat_2.{i}"), format!("Block17_{}", i + 1), &b17);
    }
    for i in 0..cfg.repeats[2] {
        block(format!("repeat_3.{i}"), format!("Block8_{}", i + 1), &b8);
    }
    block(
        "block8".into(),
        format!("Block8_{}", cfg.repeats[2] + 1),
        &b8,
    );
    m
}

/// How a Keras array becomes a facemark parameter.
#[derive(Clone, Copy)]
enum Layout {
    /// Same shape, same order.
    Same,
    /// Convolution kernel `[kh, kw, in, out]` → `[out, in, kh, kw]`.
    Hwio,
    /// Dense kernel `[in, out]` → `[out, in]`.
    InOut,
}

/// The Keras source (layer, weight, layout) of facemark parameter `name`, given the module
/// map; `None` for parameters Keras does not store (bias-free layers' zero biases).
fn source(name: &str, modules: &HashMap<&str, &str>) -> Option<(String, &'static str, Layout)> {
    const BN: [(&str, &str); 4] = [
        ("weight", "gamma"),
        ("bias", "beta"),
        ("running_mean", "moving_mean"),
        ("running_var", "moving_variance"),
    ];
    let bn = |layer: String, field: &str| {
        BN.iter()
            .find(|(o, _)| *o == field)
            .map(|(_, k)| (layer, *k, Layout::Same))
    };
    if name == "last_linear.weight" {
        return Some(("Bottleneck".into(), "kernel", Layout::InOut));
    }
    if let Some(field) = name.strip_prefix("last_bn.") {
        return bn("Bottleneck_BatchNorm".into(), field);
    }
    let (module, field) = name.rsplit_once('.')?;
    let (module, part) = module.rsplit_once('.')?;
    match part {
        "conv" => {
            let layer = modules.get(module)?;
            (field == "weight").then(|| (layer.to_string(), "kernel", Layout::Hwio))
        }
        "bn" => bn(format!("{}_BatchNorm", modules.get(module)?), field),
        "conv2d" => {
            let layer = modules.get(name.rsplit_once('.')?.0)?;
            match field {
                "weight" => Some((layer.to_string(), "kernel", Layout::Hwio)),
                "bias" => Some((layer.to_string(), "bias", Layout::Same)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn keras_shape(shape: &[usize], layout: Layout) -> Vec<usize> {
    match (layout, shape) {
        (Layout::Hwio, &[o, i, kh, kw]) => vec![kh, kw, i, o],
        (Layout::InOut, &[o, i]) => vec![i, o],
        _ => shape.to_vec(),
    }
}

/// `values` of Keras shape `ks` (`layout`) in facemark's order.
fn reorder(values: &[f32], ks: &[usize], layout: Layout) -> Vec<f32> {
    match (layout, ks) {
        (Layout::Hwio, &[kh, kw, ci, co]) => {
            let mut out = vec![0.0; values.len()];
            for y in 0..kh {
                for x in 0..kw {
                    for i in 0..ci {
                        for o in 0..co {
                            out[((o * ci + i) * kh + y) * kw + x] =
                                values[((y * kw + x) * ci + i) * co + o];
                        }
                    }
                }
            }
            out
        }
        (Layout::InOut, &[ni, no]) => {
            let mut out = vec![0.0; values.len()];
            for i in 0..ni {
                for o in 0..no {
                    out[o * ni + i] = values[i * no + o];
                }
            }
            out
        }
        _ => values.to_vec(),
    }
}

/// The network of configuration `cfg` with every weight from `weights` (a Keras file's
/// datasets, [`read_keras_weights`]); unfused, trainable, parameter names as the `.pt`
/// loader's. Batch norms without `gamma` get γ = 1.
pub fn from_keras_weights(
    weights: &[KerasWeight],
    cfg: FacenetConfig,
) -> Result<Network, FacenetError> {
    let mut net = skip_init(|| inception_resnet_v1(cfg)).0;
    let names = keras_layer_names(cfg);
    let modules: HashMap<&str, &str> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let index: HashMap<(&str, &str), &KerasWeight> = weights
        .iter()
        .map(|w| ((w.layer.as_str(), w.name.as_str()), w))
        .collect();
    let mut used = std::collections::HashSet::new();
    for p in net.params_mut() {
        if p.frozen {
            continue; // the zero biases of bias-free layers
        }
        let Some((layer, weight, layout)) = source(&p.name, &modules) else {
            return Err(NnError::UnknownParam(p.name.clone()).into());
        };
        let expected = keras_shape(&p.shape, layout);
        let Some(w) = index.get(&(layer.as_str(), weight)) else {
            if weight == "gamma" {
                p.value.fill(1.0); // BatchNormalization(scale=False)
                continue;
            }
            return Err(FacenetError::KerasMissing {
                dataset: format!("{layer}/{layer}/{weight}:0"),
                param: p.name.clone(),
            });
        };
        if w.shape != expected {
            return Err(FacenetError::KerasShape {
                dataset: w.path.clone(),
                shape: w.shape.clone(),
                expected,
                param: p.name.clone(),
            });
        }
        p.value = reorder(&w.values, &w.shape, layout);
        used.insert((w.layer.as_str(), w.name.as_str()));
    }
    if let Some(w) = weights
        .iter()
        .find(|w| !used.contains(&(w.layer.as_str(), w.name.as_str())))
    {
        return Err(FacenetError::KerasUnused(w.path.clone()));
    }
    Ok(net)
}

/// The Keras weights of `net` (an InceptionResNetV1 of configuration `cfg`) in
/// keras-facenet's names, shapes and orders: what [`from_keras_weights`] reads back. Batch
/// norms' γ is left out (Keras' `scale=False`), so it is exact only where γ = 1.
pub fn to_keras_weights(net: &Network, cfg: FacenetConfig) -> Vec<KerasWeight> {
    let names = keras_layer_names(cfg);
    let modules: HashMap<&str, &str> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut w = Vec::new();
    for p in net.params() {
        let Some((layer, weight, layout)) = source(&p.name, &modules) else {
            continue;
        };
        if p.frozen || weight == "gamma" {
            continue;
        }
        let shape = keras_shape(&p.shape, layout);
        let values = (0..p.value.len())
            .map(|k| match (layout, shape.as_slice()) {
                (Layout::Hwio, &[kh, _, ci, co]) => {
                    let (o, i, x, y) = (
                        k % co,
                        k / co % ci,
                        k / co / ci % shape[1],
                        k / co / ci / shape[1],
                    );
                    p.value[((o * ci + i) * kh + y) * shape[1] + x]
                }
                (Layout::InOut, &[ni, no]) => p.value[(k % no) * ni + k / no],
                _ => p.value[k],
            })
            .collect();
        w.push(KerasWeight {
            path: format!("model_weights/{layer}/{layer}/{weight}:0"),
            layer,
            name: weight.to_string(),
            shape,
            values,
        });
    }
    w
}

/// The real InceptionResNetV1 ([`FacenetConfig::default`] but the embedding length, read from
/// the `Bottleneck` kernel: 128 in `facenet_keras.h5`) from the bytes of a Keras `.h5` file.
pub fn load_h5(bytes: &[u8]) -> Result<Network, FacenetError> {
    let weights = read_keras_weights(bytes)?;
    let embedding = weights
        .iter()
        .find(|w| w.layer == "Bottleneck" && w.name == "kernel" && w.shape.len() == 2)
        .map_or(128, |w| w.shape[1]);
    from_keras_weights(
        &weights,
        FacenetConfig {
            embedding,
            ..FacenetConfig::default()
        },
    )
}

#[cfg(test)]
mod tests;
