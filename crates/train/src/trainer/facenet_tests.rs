//! Transfer from FaceNet (`facenet`): a test-sized InceptionResNetV1 (widths / 16, one block of
//! each kind, 96 × 96) with seeded random weights, written as a Keras `.h5` in keras-facenet's
//! layout, is the backbone of a landmark model trained with all but `block8` and the head
//! frozen (frozen-prefix feature cache on); the model file runs; a file of another width is
//! a clear error.

use super::tests::{samples, weights};
use super::*;
use facemark_core::{Landmarker, Scheme};
use facemark_model::facenet::FREEZE_ALL_BUT_LAST_BLOCK;
use facemark_model::{ArchConfig, ArchKind, KeypointModel};
use facemark_recog::facenet::{inception_resnet_v1, keras::to_keras_weights, FacenetConfig};
use rand::{Rng, SeedableRng};

const TINY: FacenetConfig = FacenetConfig {
    width_div: 16,
    repeats: [1, 1, 1],
    embedding: 8,
};

/// A FaceNet `.h5` of configuration `fc` in `dir`, random weights (γ = 1 as in Keras), and
/// the network it holds.
fn facenet_h5(dir: &Path, fc: FacenetConfig) -> (PathBuf, facemark_nn::Network) {
    let mut net = inception_resnet_v1(fc).0;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for p in net.params_mut() {
        if p.frozen || p.name.ends_with("bn.weight") {
            continue;
        }
        let var = p.name.ends_with("running_var");
        for v in &mut p.value {
            *v = if var {
                rng.gen_range(0.5..1.5)
            } else {
                *v * 0.5 + rng.gen_range(-0.05..0.05)
            };
        }
    }
    let bytes = facemark_formats::keras::write_keras_weights(&to_keras_weights(&net, fc)).unwrap();
    let path = dir.join("facenet_tiny.h5");
    std::fs::write(&path, bytes).unwrap();
    (path, net)
}

fn tiny(out: &Path, init: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        out: out.to_path_buf(),
        init: Some(init.to_path_buf()),
        input_size: 96,
        width: 1.0 / 16.0,
        repeats: 1,
        epochs,
        batch_size: 8,
        lr: 3e-3,
        val_fraction: 0.2,
        threads: 2,
        patience: 0,
        augment: crate::augment::AugmentConfig::none(),
        freeze: FREEZE_ALL_BUT_LAST_BLOCK
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..TrainConfig::default()
    }
}

#[test]
fn facenet_backbone_from_h5_trains_its_last_block_and_head() {
    let data = samples(24);
    let dir = tempfile::tempdir().unwrap();
    let (h5, src) = facenet_h5(dir.path(), TINY);
    let out = dir.path().join("run");
    let cfg = tiny(&out, &h5, 3);
    // the architecture comes from the file's kind
    assert_eq!(arch_for(&cfg, 5).kind, ArchKind::Facenet);
    let summary = train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
    let trained = weights(&out.join("model.safetensors"));
    let mut changed = Vec::new();
    for (name, v) in &trained {
        match src.param(name) {
            // the backbone: the file's values, frozen but for block8
            Some(p) if !name.starts_with("block8.") => {
                assert!(&p.value == v, "{name} is frozen but differs from the file");
            }
            Some(p) => {
                if &p.value != v && !name.contains("running") {
                    changed.push(name.clone());
                }
            }
            None => assert!(
                name.starts_with("head.") || name.starts_with("gray_in."),
                "{name} is neither backbone nor head"
            ),
        }
    }
    assert!(
        changed.iter().any(|n| n.starts_with("block8.branch"))
            && changed.iter().any(|n| n.starts_with("block8.conv2d")),
        "{changed:?}"
    );
    assert!(summary.history.iter().all(|r| r.val_nme.is_finite()));
    // the model file runs from a gray photo, its first layer FaceNet's input map
    let m = KeypointModel::load(&out.join("model.safetensors")).unwrap();
    assert_eq!((m.meta.arch.kind, m.input_size()), (ArchKind::Facenet, 96));
    let img = facemark_formats::load_gray(&data[0].image).unwrap();
    let pts = m.landmarks(&img, &data[0].landmark_box().unwrap());
    assert_eq!(pts.len(), 5);
    assert!(pts.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    let white = m.net.layers[0].forward(&facemark_nn::Tensor::new(vec![1, 1, 1, 1], vec![1.0]));
    for v in &white.data {
        assert!((v - 127.5 / 128.0).abs() < 1e-6); // (255 − 127.5) / 128
    }
}

#[test]
fn the_feature_cache_applies_to_a_frozen_facenet_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let (h5, _) = facenet_h5(dir.path(), TINY);
    let cfg = tiny(dir.path(), &h5, 1);
    let mut net = arch_for(&cfg, 5).build(1).unwrap();
    assert!(!init::transfer_from(&h5, &mut net, &arch_for(&cfg, 5)).unwrap());
    init::freeze(&mut net, &cfg.freeze).unwrap();
    assert!(features::applies(&cfg, &net));
    // everything up to block8 is the fixed prefix
    let arch = ArchConfig {
        input_size: 96,
        width: 1.0 / 16.0,
        repeats: 1,
        ..ArchConfig::new(ArchKind::Facenet, 5)
    };
    let fc = facemark_model::facenet::backbone_config(&arch).unwrap();
    let blocks = facemark_nn::layers::skip_init(|| inception_resnet_v1(fc)).1;
    let block8 = blocks.iter().find(|b| b.name == "block8").unwrap();
    assert_eq!(net.frozen_prefix(), 1 + block8.layers.start);
}

#[test]
fn a_facenet_file_of_another_width_is_a_clear_error() {
    let data = samples(12);
    let dir = tempfile::tempdir().unwrap();
    let (h5, _) = facenet_h5(
        dir.path(),
        FacenetConfig {
            width_div: 8,
            ..TINY
        },
    );
    let cfg = tiny(&dir.path().join("run"), &h5, 1);
    let msg = train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("facenet_tiny.h5")
            && msg.contains("Conv2d_1a_3x3")
            && msg.contains("expected"),
        "{msg}"
    );
}
