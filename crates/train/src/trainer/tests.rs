//! Whole runs on synthetic faces: reproducibility, resume, weight averaging, folds, `--init`,
//! `--freeze`.

use super::*;
use facemark_core::{ImageSource, Sample};
use facemark_model::{st, KeypointModel};
/// Synthetic faces: a bright square on a dark 48×48 image, 5 points = its corners and
/// centre; the square moves and changes size from face to face.
pub(super) fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let (w, h) = (48u32, 48u32);
            let side = 14.0 + (i % 5) as f32 * 2.0;
            let x0 = 8.0 + ((i * 7) % 13) as f32;
            let y0 = 6.0 + ((i * 5) % 11) as f32;
            let mut pixels = vec![20u8; (w * h) as usize];
            for y in 0..h {
                for x in 0..w {
                    let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                    if fx >= x0 && fx < x0 + side && fy >= y0 && fy < y0 + side {
                        pixels[(y * w + x) as usize] = 200 + (x % 3) as u8 * 20;
                    }
                }
            }
            let pts = vec![
                [x0, y0],
                [x0 + side, y0],
                [x0, y0 + side],
                [x0 + side, y0 + side],
                [x0 + side / 2.0, y0 + side / 2.0],
            ];
            Sample::new(
                ImageSource::Gray {
                    width: w,
                    height: h,
                    pixels,
                },
                pts,
                format!("face{i}_01.png"),
            )
        })
        .collect()
}

fn config(out: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        out: out.to_path_buf(),
        arch: crate::config::ArchName::Mobile,
        input_size: 32,
        width: 0.25,
        epochs,
        batch_size: 8,
        lr: 3e-3,
        val_fraction: 0.2,
        threads: 2,
        patience: 0,
        ..TrainConfig::default()
    }
}

pub(super) fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
    let m = KeypointModel::load(path).unwrap();
    m.net
        .params()
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect()
}

/// The checkpoint's tensors: weights, buffers and Adam moments.
fn ckpt_tensors(out: &Path) -> std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    st::read(&bytes, "checkpoint").unwrap().tensors
}

#[test]
fn trains_saves_and_is_reproducible() {
    let data = samples(40);
    let scheme = Scheme::generic(5);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = RunOptions::default();
    let sa = train_on(&config(a.path(), 3), &data, scheme.clone(), &opts).unwrap();
    train_on(&config(b.path(), 3), &data, scheme.clone(), &opts).unwrap();
    assert_eq!(sa.history.len(), 3);
    assert!(sa.n_val > 0 && sa.n_train + sa.n_val == 40);
    assert!(sa.history.iter().all(|r| r.val_nme.is_finite()));
    assert!(
        sa.history[2].train_loss < sa.history[0].train_loss,
        "loss should fall: {:?}",
        sa.history
    );
    for f in ["model.safetensors", "metrics.csv", "config.toml"] {
        assert!(a.path().join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(a.path().join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    // same seed, same threads → the same run
    assert!(
        ckpt_tensors(a.path()) == ckpt_tensors(b.path()),
        "runs differ"
    );
    let m = KeypointModel::load(&a.path().join("model.safetensors")).unwrap();
    assert_eq!(m.meta.scheme, scheme);
    assert!(m.meta.metrics.contains_key("val_nme"));
}

#[test]
fn an_aligned_run_saves_a_refiner() {
    let data = samples(20);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        crop_align: true,
        ..config(dir.path(), 1)
    };
    train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
    let m = KeypointModel::load(&dir.path().join("model.safetensors")).unwrap();
    assert!(m.is_refiner() && m.meta.crop.align);
    let plain = tempfile::tempdir().unwrap();
    train_on(
        &config(plain.path(), 1),
        &data,
        Scheme::generic(5),
        &RunOptions::default(),
    )
    .unwrap();
    assert!(
        !KeypointModel::load(&plain.path().join("model.safetensors"))
            .unwrap()
            .is_refiner()
    );
}

#[test]
fn a_cross_validation_fold_is_held_out_of_training_and_validation() {
    let data = samples(40);
    let dir = tempfile::tempdir().unwrap();
    let fold: facemark_formats::Fold = "2/4".parse().unwrap();
    let cfg = TrainConfig {
        fold: Some(fold),
        ..config(dir.path(), 1)
    };
    let (_, held) = fold.split(&data, cfg.seed);
    assert!(!held.is_empty() && held.len() < 40);
    let s = train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
    assert_eq!(s.n_train + s.n_val, 40 - held.len());
    let m = KeypointModel::load(&s.model_path).unwrap();
    let note = format!("fold 2/4 ({} faces) held out", held.len());
    assert!(
        m.meta.training_data.contains(&note),
        "{}",
        m.meta.training_data
    );
}

#[test]
fn trains_on_real_youtube_faces_when_present() {
    let Some(root) = facemark_core::testdata::shared_data() else {
        return; // skip reason printed by shared_data()
    };
    let csv = root.join("youtube-faces-68/training_frames_keypoints.csv");
    if !csv.is_file() {
        eprintln!("skipping: {} not found", csv.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1);
    cfg.data = vec![csv];
    cfg.max_samples = 48;
    let s = train(&cfg, &RunOptions::default()).unwrap();
    assert_eq!(s.n_train + s.n_val, 48);
    assert_eq!(s.nme_norm, "outer-eye");
    let m = KeypointModel::load(&s.model_path).unwrap();
    assert_eq!(m.meta.scheme.name, "ibug68");
    assert_eq!(m.meta.n_points, 68);
}

#[test]
fn missing_points_are_masked() {
    let mut data = samples(24);
    for (i, s) in data.iter_mut().enumerate() {
        let j = i % 5;
        if i % 2 == 0 && j != 4 {
            s.points[j] = [f32::NAN, f32::NAN];
            s.visible[j] = false;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let s = train_on(
        &config(dir.path(), 2),
        &data,
        Scheme::generic(5),
        &RunOptions::default(),
    )
    .unwrap();
    assert!(s
        .history
        .iter()
        .all(|r| r.train_loss.is_finite() && r.val_loss.is_finite()));
}

#[test]
fn resume_continues_exactly() {
    let data = samples(32);
    let scheme = Scheme::generic(5);
    let (full, part) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = RunOptions::default();
    train_on(&config(full.path(), 3), &data, scheme.clone(), &opts).unwrap();
    // "killed" after epoch 1, then resumed
    let killed = RunOptions {
        stop_after: Some(1),
        ..RunOptions::default()
    };
    let s1 = train_on(&config(part.path(), 3), &data, scheme.clone(), &killed).unwrap();
    assert_eq!(s1.history.len(), 1);
    let resumed = RunOptions {
        resume: true,
        ..RunOptions::default()
    };
    // another split would leak validation faces into training: refused
    let other = TrainConfig {
        fold: facemark_formats::Fold::new(1, 3),
        ..config(part.path(), 3)
    };
    let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
    assert!(e.to_string().contains("same settings"), "{e}");
    // so would another data list (order and repeats set weights and split) or crop policy
    let other = TrainConfig {
        data: vec!["more.csv".into()],
        ..config(part.path(), 3)
    };
    let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
    assert!(e.to_string().contains("data list"), "{e}");
    let other = TrainConfig {
        crop_align: true,
        ..config(part.path(), 3)
    };
    let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
    assert!(e.to_string().contains("crop_align"), "{e}");
    let other = TrainConfig {
        ema_decay: 0.99,
        ..config(part.path(), 3)
    };
    let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
    assert!(e.to_string().contains("ema_decay"), "{e}");
    let s = train_on(&config(part.path(), 3), &data, scheme, &resumed).unwrap();
    assert_eq!(s.history.len(), 3);
    assert!(
        ckpt_tensors(full.path()) == ckpt_tensors(part.path()),
        "resumed run differs from the uninterrupted one"
    );
}

#[test]
fn weight_averaging_is_what_is_saved_and_resumes_exactly() {
    let data = samples(32);
    let scheme = Scheme::generic(5);
    let (full, part, plain) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let cfg = |out: &Path| TrainConfig {
        ema_decay: 0.9,
        ..config(out, 3)
    };
    let opts = RunOptions::default();
    let s = train_on(&cfg(full.path()), &data, scheme.clone(), &opts).unwrap();
    assert_eq!(s.history.len(), 3);
    // the checkpoint holds the average next to the last weights
    let ck = ckpt_tensors(full.path());
    let (_, last) = &ck["head.weight"];
    assert_ne!(last, &ck["optim.ema.head.weight"].1);
    // the same steps: averaging changes what is validated, not the training itself
    train_on(&config(plain.path(), 3), &data, scheme.clone(), &opts).unwrap();
    assert_eq!(&ckpt_tensors(plain.path())["head.weight"].1, last);
    // killed after epoch 1 and resumed: the same average as the uninterrupted run
    let killed = RunOptions {
        stop_after: Some(1),
        ..RunOptions::default()
    };
    let one = train_on(&cfg(part.path()), &data, scheme.clone(), &killed).unwrap();
    // after one epoch (the best so far) the model file holds the average, not the weights
    let saved = weights(&one.model_path);
    let head = &saved.iter().find(|(n, _)| n == "head.weight").unwrap().1;
    let ck1 = ckpt_tensors(part.path());
    assert_eq!(head, &ck1["optim.ema.head.weight"].1);
    assert_ne!(head, &ck1["head.weight"].1);
    let resumed = RunOptions {
        resume: true,
        ..RunOptions::default()
    };
    train_on(&cfg(part.path()), &data, scheme, &resumed).unwrap();
    assert!(ck == ckpt_tensors(part.path()), "resumed average differs");
}

#[test]
fn resume_with_a_longer_patience_goes_on_after_an_early_stop() {
    let data = samples(32);
    let scheme = Scheme::generic(5);
    let (full, part) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // lr 1e-30: steps of about 1e-30 leave every non-zero weight unchanged in f32, so
    // mostly batch-norm statistics move, the validation NME soon fails to improve and
    // patience 1 stops the run
    let cfg = |out: &Path, patience| TrainConfig {
        lr: 1e-30,
        patience,
        ..config(out, 6)
    };
    let opts = RunOptions::default();
    let stopped = train_on(&cfg(part.path(), 1), &data, scheme.clone(), &opts).unwrap();
    let n = stopped.history.len();
    assert!(stopped.stopped_early && n < 6, "{n} epochs");
    let resumed = RunOptions {
        resume: true,
        ..RunOptions::default()
    };
    // the same patience: still stopped, nothing more trained
    let again = train_on(&cfg(part.path(), 1), &data, scheme.clone(), &resumed).unwrap();
    assert_eq!(again.history.len(), n);
    // a longer patience: the remaining epochs, as a run that never stopped
    let s = train_on(&cfg(part.path(), 100), &data, scheme.clone(), &resumed).unwrap();
    assert!(!s.stopped_early);
    assert_eq!(s.history.len(), 6);
    train_on(&cfg(full.path(), 0), &data, scheme, &opts).unwrap();
    assert!(
        ckpt_tensors(full.path()) == ckpt_tensors(part.path()),
        "resumed run differs from the one that never stopped"
    );
}

#[test]
fn frozen_parameters_do_not_change() {
    let data = samples(24);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1);
    cfg.freeze = vec!["conv1".into(), "pw*".into()]; // pw1…, pwbn1… (BN fixed too)
    train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
    let init = arch_for(&cfg, 5).build(cfg.seed).unwrap();
    let after = weights(&dir.path().join("model.safetensors"));
    let mut changed = 0;
    for (name, v) in &after {
        let before = &init.param(name).unwrap().value;
        let frozen = name.starts_with("conv1") || name.starts_with("pw");
        if frozen {
            assert!(before == v, "{name} is frozen but changed");
        } else if before != v {
            changed += 1;
        }
    }
    assert!(changed > 0, "unfrozen parameters should train");
    cfg.freeze = vec!["nothing_like_this".into()];
    assert!(matches!(
        train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()),
        Err(TrainError::Freeze(_))
    ));
}

#[test]
fn init_transfers_weights_to_a_new_point_count() {
    let data = samples(24);
    let dir = tempfile::tempdir().unwrap();
    train_on(
        &config(dir.path(), 1),
        &data,
        Scheme::generic(5),
        &RunOptions::default(),
    )
    .unwrap();
    let src = dir.path().join("model.safetensors");
    // 3-point data: the head is new, the rest starts from the 5-point model
    let data3: Vec<Sample> = data
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.points.truncate(3);
            s.visible.truncate(3);
            s
        })
        .collect();
    let dir2 = tempfile::tempdir().unwrap();
    let mut cfg = config(dir2.path(), 1);
    cfg.init = Some(src.clone());
    cfg.freeze = vec!["conv1".into()];
    train_on(&cfg, &data3, Scheme::generic(3), &RunOptions::default()).unwrap();
    let a = weights(&src);
    let b = weights(&dir2.path().join("model.safetensors"));
    let get = |w: &[(String, Vec<f32>)], n: &str| w.iter().find(|x| x.0 == n).unwrap().1.clone();
    assert_eq!(get(&a, "conv1.weight"), get(&b, "conv1.weight"));
    assert_eq!(get(&b, "head.bias").len(), 6);
}

#[test]
fn an_observer_sees_every_epoch_and_step_and_changes_nothing() {
    #[derive(Default)]
    struct Log {
        calls: Vec<String>,
        records: Vec<EpochRecord>,
    }
    impl TrainObserver for Log {
        fn epoch_start(&mut self, epoch: usize, total_epochs: usize, steps: usize) {
            self.calls
                .push(format!("start {epoch}/{total_epochs}, {steps} steps"));
        }
        fn step(&mut self, info: &StepInfo) {
            assert!(info.loss.is_finite() && info.mean_loss.is_finite() && info.lr > 0.0);
            self.calls.push(format!(
                "step {}/{} of {}",
                info.step, info.steps, info.epoch
            ));
        }
        fn epoch_end(&mut self, record: &EpochRecord, total_epochs: usize) {
            self.calls
                .push(format!("end {}/{total_epochs}", record.epoch));
            self.records.push(record.clone());
        }
    }
    let data = samples(40);
    let scheme = Scheme::generic(5);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = RunOptions::default();
    let mut log = Log::default();
    let s = train_on_with_observer(&config(a.path(), 2), &data, scheme.clone(), &opts, &mut log)
        .unwrap();
    assert_eq!(log.records, s.history);
    let steps = s.n_train / 8 + usize::from(s.n_train % 8 >= 2);
    let mut want = Vec::new();
    for e in 1..=2 {
        want.push(format!("start {e}/2, {steps} steps"));
        want.extend((1..=steps).map(|i| format!("step {i}/{steps} of {e}")));
        want.push(format!("end {e}/2"));
    }
    assert_eq!(log.calls, want);
    assert!(s.history[0]
        .summary(2)
        .starts_with("epoch 1/2: train loss "));
    // watching does not change the run
    train_on(&config(b.path(), 2), &data, scheme, &opts).unwrap();
    assert!(ckpt_tensors(a.path()) == ckpt_tensors(b.path()));
}
