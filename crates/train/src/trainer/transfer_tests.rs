//! Transfer from a face-recognition backbone (`dlib_resnet`): a tiny copy of dlib's ResNet
//! (width 1/8, 112 × 112) trained on synthetic faces with the last block and the head free, the
//! frozen-prefix feature cache, a full fine-tune, the model file and its inference path;
//! `--init` from dlib's real file when `$FACEMARK_RECOGNITION_MODEL` names it.

use super::tests::{samples, weights};
use super::*;
use facemark_core::{Landmarker, Scheme};
use facemark_model::resnet::FREEZE_ALL_BUT_LAST_BLOCK;
use facemark_model::{ArchKind, KeypointModel};
use facemark_nn::Tensor;

fn tiny(out: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        out: out.to_path_buf(),
        arch: ArchKind::DlibResnet.into(),
        input_size: 112,
        width: 0.125,
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

fn last_block_or_head(name: &str) -> bool {
    ["con28.", "con29.", "affine28.", "affine29.", "head."]
        .iter()
        .any(|p| name.starts_with(p))
}

#[test]
fn last_block_and_head_train_the_rest_stays() {
    let data = samples(32);
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(dir.path(), 4);
    let summary = train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
    let start = arch_for(&cfg, 5).build(cfg.seed).unwrap();
    let after = weights(&dir.path().join("model.safetensors"));
    let mut changed = Vec::new();
    for (name, v) in &after {
        let before = &start.param(name).unwrap().value;
        if last_block_or_head(name) {
            if before != v && !name.contains("running") {
                changed.push(name.clone());
            }
        } else {
            assert!(before == v, "{name} is frozen but changed");
        }
    }
    // weights and biases of both convolutions and affine layers of the block, and the head
    assert_eq!(changed.len(), 10, "{changed:?}");
    // the head learns: the validation error falls
    let h = &summary.history;
    assert!(
        h.last().unwrap().val_nme < h[0].val_nme,
        "{:?}",
        h.iter().map(|r| r.val_nme).collect::<Vec<_>>()
    );
}

#[test]
fn cached_features_train_as_the_full_pass_does() {
    let data = samples(24);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = Scheme::generic(5);
    train_on(&tiny(a.path(), 2), &data, s.clone(), &RunOptions::default()).unwrap();
    let full = RunOptions {
        no_feature_cache: true,
        ..RunOptions::default()
    };
    train_on(&tiny(b.path(), 2), &data, s, &full).unwrap();
    let (wa, wb) = (
        weights(&a.path().join("model.safetensors")),
        weights(&b.path().join("model.safetensors")),
    );
    for ((n, x), (_, y)) in wa.iter().zip(&wb) {
        for (p, q) in x.iter().zip(y) {
            // fused prefix against the unfused one: float rounding, through two epochs of Adam
            assert!((p - q).abs() <= 1e-3 * (1.0 + p.abs()), "{n}: {p} vs {q}");
        }
    }
}

#[test]
fn full_fine_tune_moves_the_backbone_but_not_its_statistics() {
    let data = samples(16);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(dir.path(), 1);
    cfg.freeze.clear();
    train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
    let start = arch_for(&cfg, 5).build(cfg.seed).unwrap();
    for (name, v) in weights(&dir.path().join("model.safetensors")) {
        let before = &start.param(&name).unwrap().value;
        // affine layers keep mean 0 / variance 1 (no batch statistics); rgb_in is fixed
        let fixed = name.contains("running") || name.starts_with("rgb_in");
        assert_eq!(before == &v, fixed, "{name}");
    }
}

#[test]
fn the_model_file_runs_with_its_input_layer() {
    let data = samples(16);
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(dir.path(), 1);
    train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
    let m = KeypointModel::load(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(m.meta.arch.kind, ArchKind::DlibResnet);
    assert_eq!(m.input_size(), 112);
    // the inference path (fused, as `facemark detect` and `eval` run it) from a gray photo:
    // the same as the trained network on the gray crop, whose first layer makes dlib's input
    let img = facemark_formats::load_gray(&data[0].image).unwrap();
    let b = data[0].landmark_box().unwrap();
    let t = m.crop_for_box(&b);
    let input = m.input_through(&img, &t);
    let y = m.net.forward(&Tensor::new(vec![1, 1, 112, 112], input));
    let direct = m.to_photo(&y.data, &t);
    let f32_model = m.clone().with_precision(facemark_model::Precision::F32);
    let via = f32_model.landmarks(&img, &b);
    for (p, q) in via.iter().zip(&direct) {
        assert!(
            (p[0] - q[0]).abs() < 1e-3 && (p[1] - q[1]).abs() < 1e-3,
            "{via:?} vs {direct:?}"
        );
    }
    // int8 (where the CPU has VNNI) within a fraction of a pixel
    let int8 = m.clone().with_precision(facemark_model::Precision::Int8);
    for (p, q) in int8.landmarks(&img, &b).iter().zip(&direct) {
        assert!((p[0] - q[0]).abs() < 0.5 && (p[1] - q[1]).abs() < 0.5);
    }
    // the first layer is the fixed gray → dlib-input map: v = 255 → (255 − mean) / 256
    let white = m.net.layers[0].forward(&Tensor::new(vec![1, 1, 1, 1], vec![1.0]));
    let mean = facemark_model::resnet::DLIB_MEAN;
    for (c, v) in white.data.iter().enumerate() {
        assert!((v - (255.0 - mean[c]) / 256.0).abs() < 1e-6);
    }
}

#[test]
fn init_from_a_wrong_dlib_file_is_a_clear_error() {
    let data = samples(12);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(dir.path(), 1);
    cfg.width = 1.0;
    cfg.input_size = 150;
    // a dlib DNN of another architecture (the recog crate's tiny fixture)
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recog/tests/data/tiny_resnet.dat");
    cfg.init = Some(fixture.clone());
    let e = train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("--init") && msg.contains("tiny_resnet.dat"),
        "{msg}"
    );
    // not a file at all
    cfg.init = Some(dir.path().join("missing.dat"));
    let msg = train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("missing.dat"), "{msg}");
    // an exception that names nothing is a typo, as a pattern is
    let mut cfg = tiny(dir.path(), 1);
    cfg.freeze.push("!con99".into());
    assert!(matches!(
        train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()),
        Err(TrainError::Freeze(p)) if p == "!con99"
    ));
}

/// dlib's real file: every backbone tensor copied, and the backbone (gray input through
/// `rgb_in`) computes what the recognition network computes on the same face in gray.
#[test]
fn init_from_dlibs_face_recognition_model() {
    let Some(path) = std::env::var_os(facemark_recog::MODEL_ENV).map(std::path::PathBuf::from)
    else {
        eprintln!(
            "skipped: set {} to dlib_face_recognition_resnet_model_v1.dat",
            facemark_recog::MODEL_ENV
        );
        return;
    };
    let arch = facemark_model::ArchConfig::new(ArchKind::DlibResnet, 68);
    let mut net = arch.build(1).unwrap();
    assert!(!init::transfer_from(&path, &mut net, &arch).unwrap());
    let (dlib, mean) = facemark_recog::load_network(&path).unwrap();
    let gray: Vec<u8> = (0..150 * 150)
        .map(|i| ((i * 7 + i / 150 * 3) % 256) as u8)
        .collect();
    let ours = Tensor::new(
        vec![1, 1, 150, 150],
        gray.iter().map(|&v| v as f32 / 127.5 - 1.0).collect(),
    );
    let theirs = Tensor::new(
        vec![1, 3, 150, 150],
        (0..3)
            .flat_map(|c| gray.iter().map(move |&v| (v as f32 - mean[c]) / 256.0))
            .collect(),
    );
    // ours up to the flatten, theirs up to the global average pool
    let flatten = net.layers.len() - 2;
    let a = Network::new(net.layers[..flatten].to_vec()).forward(&ours);
    let gap = dlib
        .layers
        .iter()
        .position(|l| matches!(l, facemark_nn::Layer::GlobalAvgPool(_)))
        .unwrap();
    let b = Network::new(dlib.layers[..gap].to_vec()).forward(&theirs);
    assert_eq!(a.shape, b.shape);
    let worst = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(p, q)| (p - q).abs() / (1.0 + q.abs()))
        .fold(0.0f32, f32::max);
    eprintln!(
        "backbone map {:?}: worst relative difference {worst:e}",
        a.shape
    );
    assert!(worst < 1e-4);
}
