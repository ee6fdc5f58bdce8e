//! The Keras loader on a reduced network (widths / 16, one block of each kind): its weights
//! written in keras-facenet's layout, as arrays and as an HDF5 file (by `hdf5-pure`), load
//! back into the same network. Against Keras' and facenet-pytorch's own forward passes:
//! `bench/facenet/agree.sh`.

use super::*;
use crate::facenet::FACENET_SIZE;
use facemark_nn::Tensor;
use rand::{Rng, SeedableRng};

const SMALL: FacenetConfig = FacenetConfig {
    width_div: 16,
    repeats: [1, 1, 1],
    embedding: 8,
};

/// A `SMALL` network with random parameters (batch-norm γ = 1, as Keras' `scale=False`) and
/// its weights in Keras' layout, names and orders.
fn random_keras() -> (Network, Vec<KerasWeight>) {
    let mut net = inception_resnet_v1(SMALL).0;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for p in net.params_mut() {
        let gamma = p.name.ends_with("bn.weight");
        for v in &mut p.value {
            *v = match () {
                _ if p.frozen || gamma => *v,
                _ if p.name.ends_with("running_var") => rng.gen_range(0.5..1.5),
                _ => *v * 0.5 + rng.gen_range(-0.1..0.1),
            };
        }
    }
    let w = to_keras_weights(&net, SMALL);
    (net, w)
}

fn input(n: usize) -> Tensor {
    let len = n * 3 * FACENET_SIZE * FACENET_SIZE;
    Tensor::new(
        vec![n, 3, FACENET_SIZE, FACENET_SIZE],
        (0..len)
            .map(|i| ((i * 7919) % 256) as f32 / 128.0 - 1.0)
            .collect(),
    )
}

/// The weights as Keras 2 writes them: `model_weights/<layer>/<layer>/<weight>:0`.
fn h5(weights: &[KerasWeight]) -> Vec<u8> {
    facemark_formats::keras::write_keras_weights(weights).unwrap()
}

#[test]
fn keras_names_cover_the_real_layout() {
    let names = keras_layer_names(FacenetConfig::default());
    let has = |o: &str, k: &str| names.iter().any(|(a, b)| a == o && b == k);
    assert!(has(
        "repeat_1.4.branch2.2",
        "Block35_5_Branch_2_Conv2d_0c_3x3"
    ));
    assert!(has(
        "repeat_2.9.branch1.1",
        "Block17_10_Branch_1_Conv2d_0b_1x7"
    ));
    assert!(has("repeat_3.4.conv2d", "Block8_5_Conv2d_1x1"));
    assert!(has("block8.branch1.2", "Block8_6_Branch_1_Conv2d_0c_3x1"));
    // every trainable parameter of the real network has a Keras source, all distinct
    let net = skip_init(|| inception_resnet_v1(FacenetConfig::default())).0;
    let modules: HashMap<&str, &str> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for p in net.params().iter().filter(|p| !p.frozen) {
        let s = source(&p.name, &modules).unwrap_or_else(|| panic!("{}", p.name));
        assert!(seen.insert((s.0.clone(), s.1)), "{} twice", p.name);
    }
    // Keras' convolution layers (conv + BN: 2 each) and the block up-projections (kernel + bias)
    let basic = names.iter().filter(|(a, _)| !a.ends_with("conv2d")).count();
    assert_eq!(basic, 6 + 5 * 6 + 4 + 10 * 4 + 7 + 6 * 4);
    assert_eq!(names.len() - basic, 5 + 10 + 6);
}

#[test]
fn keras_weights_load_into_the_same_network() {
    let (net, w) = random_keras();
    let loaded = from_keras_weights(&w, SMALL).unwrap();
    for (p, q) in net.params().iter().zip(loaded.params()) {
        assert_eq!((&p.name, &p.value), (&q.name, &q.value));
    }
    let x = input(2);
    assert_eq!(net.forward(&x).data, loaded.forward(&x).data);
    // through an HDF5 file in Keras' layout
    let bytes = h5(&w);
    let from_file = from_keras_weights(&read_keras_weights(&bytes).unwrap(), SMALL).unwrap();
    assert_eq!(net.forward(&x).data, from_file.forward(&x).data);
    // a file with γ (BatchNormalization(scale=True)) uses it
    let mut g = w.clone();
    g.push(KerasWeight {
        layer: "Bottleneck_BatchNorm".into(),
        name: "gamma".into(),
        path: "gamma".into(),
        shape: vec![8],
        values: vec![2.0; 8],
    });
    let scaled = from_keras_weights(&g, SMALL).unwrap();
    assert_eq!(scaled.param("last_bn.weight").unwrap().value, [2.0; 8]);
}

#[test]
fn wrong_keras_files_are_clear_errors() {
    let (_, w) = random_keras();
    let err = |w: &[KerasWeight]| from_keras_weights(w, SMALL).unwrap_err().to_string();
    let missing: Vec<_> = w
        .iter()
        .filter(|w| !(w.layer == "Block17_1_Branch_1_Conv2d_0b_1x7" && w.name == "kernel"))
        .cloned()
        .collect();
    assert_eq!(
        err(&missing),
        "dataset `Block17_1_Branch_1_Conv2d_0b_1x7/Block17_1_Branch_1_Conv2d_0b_1x7/kernel:0` \
         (for `repeat_2.0.branch1.1.conv.weight`) is missing"
    );
    let mut shape = w.clone();
    let i = shape
        .iter()
        .position(|w| w.layer == "Conv2d_1a_3x3")
        .unwrap();
    shape[i].shape = vec![3, 3, 3, 32];
    assert_eq!(
        err(&shape),
        "dataset `model_weights/Conv2d_1a_3x3/Conv2d_1a_3x3/kernel:0` has shape [3, 3, 3, 32]; \
         [3, 3, 3, 2] expected (for `conv2d_1a.conv.weight`)"
    );
    let mut extra = w.clone();
    extra.push(KerasWeight {
        layer: "Logits".into(),
        name: "kernel".into(),
        path: "model_weights/Logits/Logits/kernel:0".into(),
        shape: vec![1],
        values: vec![0.0],
    });
    assert_eq!(
        err(&extra),
        "dataset `model_weights/Logits/Logits/kernel:0` is not a weight of InceptionResNetV1"
    );
    // the real network refuses the small one's file, naming both shapes
    let e = load_h5(&h5(&w)).unwrap_err().to_string();
    assert!(
        e.contains("has shape [3, 3, 3, 2]; [3, 3, 3, 32] expected"),
        "{e}"
    );
    // damaged bytes: errors, not panics
    let bytes = h5(&w);
    for len in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        assert!(load_h5(&bytes[..len]).is_err());
    }
    assert!(load_h5(b"not hdf5")
        .unwrap_err()
        .to_string()
        .contains("not an HDF5 file"));
}

#[test]
fn prewhiten_standardises_each_chip() {
    let mut v: Vec<f32> = (0..300).map(|i| (i % 17) as f32 * 9.0).collect();
    crate::prewhiten(&mut v);
    let n = v.len() as f32;
    let mean = v.iter().sum::<f32>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n;
    assert!(
        mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
        "{mean} {var}"
    );
    // a flat chip: std clamped at 1/√n, values 0 (no division by zero)
    let mut flat = vec![7.0f32; 12];
    crate::prewhiten(&mut flat);
    assert_eq!(flat, [0.0; 12]);
}
