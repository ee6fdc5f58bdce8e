//! FaceNet's structure and its state-dict loader on a reduced network (widths / 16, one block
//! of each kind): the same layout and names as the real one, a few thousand parameters. The
//! real network against facenet-pytorch: `bench/facenet/agree.sh`.

use super::*;
use facemark_nn::Tensor;
use rand::Rng;

const SMALL: FacenetConfig = FacenetConfig {
    width_div: 16,
    repeats: [1, 1, 1],
    embedding: 8,
};

/// A network of `SMALL` with random parameters (including batch-norm statistics) and its
/// state dict as facenet-pytorch would write it (plus `num_batches_tracked` and `logits.*`).
fn random_state_dict() -> (Network, Vec<(String, TorchTensor)>) {
    let mut net = inception_resnet_v1(SMALL).0;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut sd = Vec::new();
    for p in net.params_mut() {
        if p.frozen {
            continue; // bias-free layers' zero biases
        }
        let var = p.name.ends_with("running_var");
        for v in &mut p.value {
            *v = if var {
                rng.gen_range(0.5..1.5)
            } else {
                *v * 0.5 + rng.gen_range(-0.1..0.1)
            };
        }
        sd.push((p.name.clone(), f32_tensor(&p.shape, &p.value)));
        if var {
            let bn = p.name.trim_end_matches("running_var");
            sd.push((
                format!("{bn}num_batches_tracked"),
                TorchTensor {
                    shape: vec![],
                    dtype: Dtype::I64,
                    values: vec![],
                },
            ));
        }
    }
    sd.push(("logits.weight".into(), f32_tensor(&[3, 8], &[0.0; 24])));
    (net, sd)
}

fn f32_tensor(shape: &[usize], values: &[f32]) -> TorchTensor {
    TorchTensor {
        shape: shape.to_vec(),
        dtype: Dtype::F32,
        values: values.to_vec(),
    }
}

fn input(n: usize) -> Tensor {
    let len = n * 3 * FACENET_SIZE * FACENET_SIZE;
    Tensor::new(
        vec![n, 3, FACENET_SIZE, FACENET_SIZE],
        (0..len)
            .map(|i| standardize(((i * 7919) % 256) as u8))
            .collect(),
    )
}

#[test]
fn names_and_stages_follow_facenet_pytorch() {
    let (net, blocks) = skip_init(|| inception_resnet_v1(FacenetConfig::default()));
    let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names.len(), 7 + 5 + 1 + 10 + 1 + 5 + 1 + 3);
    assert_eq!(
        &names[..4],
        ["conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a"]
    );
    assert_eq!(
        &names[names.len() - 4..],
        ["block8", "avgpool_1a", "last_linear", "last_bn"]
    );
    let shape = |n: &str| {
        blocks
            .iter()
            .find(|b| b.name == n)
            .unwrap()
            .out_shape
            .clone()
    };
    assert_eq!(shape("conv2d_4b"), [256, 17, 17]);
    assert_eq!(shape("mixed_6a"), [896, 8, 8]);
    assert_eq!(shape("repeat_3.4"), [1792, 3, 3]);
    assert_eq!(blocks.last().unwrap().layers.end, net.layers.len());
    // the state dict's keys (facenet-pytorch 2.6) and shapes
    for (name, shape) in [
        ("conv2d_1a.conv.weight", vec![32, 3, 3, 3]),
        ("conv2d_1a.bn.running_var", vec![32]),
        ("repeat_1.0.branch0.conv.weight", vec![32, 256, 1, 1]),
        ("repeat_1.4.branch2.2.bn.weight", vec![32]),
        ("repeat_1.0.conv2d.bias", vec![256]),
        ("repeat_2.9.branch1.1.conv.weight", vec![128, 128, 1, 7]),
        ("repeat_2.9.branch1.2.conv.weight", vec![128, 128, 7, 1]),
        ("mixed_6a.branch0.conv.weight", vec![384, 256, 3, 3]),
        ("mixed_7a.branch2.2.conv.weight", vec![256, 256, 3, 3]),
        ("block8.branch1.1.conv.weight", vec![192, 192, 1, 3]),
        ("block8.conv2d.weight", vec![1792, 384, 1, 1]),
        ("last_linear.weight", vec![512, 1792]),
        ("last_bn.running_mean", vec![512]),
    ] {
        let p = net.param(name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(p.shape, shape, "{name}");
    }
    // every parameter belongs to its stage's prefix
    for b in &blocks {
        for l in &net.layers[b.layers.clone()] {
            for p in l.params() {
                assert!(
                    p.name.starts_with(&b.prefix),
                    "{} outside {}",
                    p.name,
                    b.prefix
                );
            }
        }
    }
    // the values of facenet-pytorch 2.6's state dict without the classifier (torch's count,
    // `num_batches_tracked` aside); the bias-free layers' zero biases are not in it
    let file: usize = net
        .params()
        .iter()
        .filter(|p| !p.frozen)
        .map(|p| p.value.len())
        .sum();
    assert_eq!(file, 23_512_224);
}

#[test]
fn state_dict_round_trip_gives_the_same_embeddings() {
    let (net, sd) = random_state_dict();
    let loaded = from_state_dict(&sd, SMALL).unwrap();
    let x = input(2);
    let (a, b) = (net.forward(&x), loaded.forward(&x));
    assert_eq!(a.shape, [2, 8]);
    assert_eq!(a.data, b.data);
    for row in a.data.chunks(8) {
        let n: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5, "unit length: {n}");
    }
    // the fused inference network of the recognizer agrees
    let rec = crate::FaceRecognizer::facenet(loaded, 8);
    let f = rec.network().forward(&x);
    for (p, q) in a.data.iter().zip(&f.data) {
        assert!((p - q).abs() < 1e-5, "{p} vs {q}");
    }
}

#[test]
fn wrong_state_dicts_are_clear_errors() {
    let (_, sd) = random_state_dict();
    let err = |sd: &[(String, TorchTensor)]| from_state_dict(sd, SMALL).unwrap_err().to_string();
    let missing: Vec<_> = sd
        .iter()
        .filter(|(n, _)| n != "block8.conv2d.bias")
        .cloned()
        .collect();
    assert_eq!(err(&missing), "missing parameter `block8.conv2d.bias`");
    let mut unknown = sd.clone();
    unknown.push(("fc.weight".into(), f32_tensor(&[1], &[0.0])));
    assert_eq!(err(&unknown), "unknown parameter `fc.weight`");
    let mut shape = sd.clone();
    let i = shape
        .iter()
        .position(|(n, _)| n == "last_linear.weight")
        .unwrap();
    shape[i].1 = f32_tensor(&[8, 3], &[0.0; 24]);
    assert!(
        err(&shape).starts_with("shape mismatch for last_linear.weight"),
        "{}",
        err(&shape)
    );
    let mut dtype = sd.clone();
    dtype[0].1.dtype = Dtype::F16;
    assert_eq!(
        err(&dtype),
        "`conv2d_1a.conv.weight` is F16; float32 expected"
    );
    // the real network refuses the small one's file
    let e = from_state_dict(&sd, FacenetConfig::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("shape mismatch for conv2d_1a.conv.weight"),
        "{e}"
    );
    // bytes that are no .pt at all
    let e = load_pt(b"not a state dict").unwrap_err();
    assert!(e.to_string().contains("not a PyTorch file"), "{e}");
}
