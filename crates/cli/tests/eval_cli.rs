//! `facemark eval` selections through the real binary: cross-validation folds and splits.

use facemark_core::{CropSpec, Scheme};
use facemark_model::{ArchConfig, KeypointModel, ModelMeta};
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_facemark"))
}

/// A 300-W style folder: 12 photos (`pNN_1.png` + `.pts`, one identity each) with the 68-point
/// mean shape placed at slightly different spots.
fn folder(dir: &Path) {
    let mean = Scheme::ibug68().mean_shape().unwrap();
    for i in 0..12 {
        let img =
            image::GrayImage::from_fn(80, 80, |x, y| image::Luma([((x + y * 3 + i) % 256) as u8]));
        img.save(dir.join(format!("p{i:02}_1.png"))).unwrap();
        let mut pts = String::from("version: 1\nn_points: 68\n{\n");
        for p in &mean {
            // mean shape (centre 0, longer side 1) → pixels
            pts += &format!("{} {}\n", 40.0 + i as f32 + 40.0 * p[0], 40.0 + 40.0 * p[1]);
        }
        pts += "}\n";
        std::fs::write(dir.join(format!("p{i:02}_1.pts")), pts).unwrap();
    }
}

fn n_faces(args: &[&str]) -> usize {
    let out = bin().args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["n_faces"].as_u64().unwrap() as usize
}

#[test]
fn folds_and_splits_partition_the_faces() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces");
    std::fs::create_dir(&data).unwrap();
    folder(&data);
    let arch = ArchConfig::mobile(68);
    let model = dir.path().join("m.safetensors");
    KeypointModel::new(
        ModelMeta::new(arch.clone(), Scheme::ibug68(), CropSpec::default()),
        arch.build(3).unwrap(),
    )
    .save(&model)
    .unwrap();
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let base = ["eval", "--model", m, "--data", d, "--quiet"];
    let with = |extra: &[&str]| n_faces(&[&base[..], extra].concat());
    assert_eq!(with(&[]), 12);
    // every face is in exactly one test fold
    let tests: Vec<usize> = (1..=3)
        .map(|k| with(&["--fold", &format!("{k}/3"), "--split", "test"]))
        .collect();
    assert_eq!(tests.iter().sum::<usize>(), 12, "{tests:?}");
    // a fold's held-out faces + the identity split of the others = all faces
    let f = ["--fold", "2/3", "--val-fraction", "0.3"];
    let parts: usize = ["test", "val", "train"]
        .iter()
        .map(|s| with(&[&f[..], &["--split", s]].concat()))
        .sum();
    assert_eq!(parts, 12);

    // mistakes are errors that say what was expected
    for (extra, want, code) in [
        (&["--split", "test"][..], "K/N", 1),
        (&["--fold", "2/3"][..], "split test", 1),
        (&["--fold", "4/3", "--split", "test"][..], "K/N", 2), // rejected by the parser
        (&["--split", "dev"][..], "all, val, train or test", 1),
    ] {
        let out = bin().args(base).args(extra).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{extra:?}: {err}");
    }

    // a refiner evaluates behind its first model, on every face; alone it is refused
    let refiner = dir.path().join("r.safetensors");
    let aligned = CropSpec {
        align: true,
        ..CropSpec::default()
    };
    KeypointModel::new(
        ModelMeta::new(arch.clone(), Scheme::ibug68(), aligned),
        arch.build(4).unwrap(),
    )
    .save(&refiner)
    .unwrap();
    let r = refiner.to_str().unwrap();
    assert_eq!(with(&["--refiner", r]), 12);
    assert_eq!(with(&["--refine", "1"]), 12);
    let out = bin()
        .args(["eval", "--model", r, "--data", d, "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("evaluate it as --refiner"));
}

/// Without `--model`, `eval` evaluates the model embedded in the binary, as `detect` does: the
/// same figures as that model saved to a file and named with `--model`. `--mean-shape` still
/// evaluates the baseline, and is refused beside a model, a detector or refinement.
#[test]
fn eval_without_model_uses_the_embedded_default() {
    let Ok(embedded) = facemark::default_model() else {
        eprintln!("skipping: this build has no embedded default model");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces");
    std::fs::create_dir(&data).unwrap();
    folder(&data);
    let d = data.to_str().unwrap();
    let report = |extra: &[&str]| {
        let out = bin()
            .args(["eval", "--data", d, "--box", "gt", "--quiet", "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let default = report(&["--precision", "f32"]);
    assert_eq!(default["n_faces"], 12);
    assert_eq!(default["scheme"], "ibug68");
    let file = dir.path().join("default.safetensors");
    embedded.save(&file).unwrap();
    let named = report(&["--precision", "f32", "--model", file.to_str().unwrap()]);
    for key in ["rmse_px", "mean_error_px", "per_point_px"] {
        assert_eq!(default[key], named[key], "{key}");
    }
    // the summary names what was evaluated
    let out = bin()
        .args(["eval", "--data", d, "--box", "gt", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("the embedded default model ("), "{text}");
    // --mean-shape: the baseline, not the default model
    let base = report(&["--mean-shape"]);
    assert_eq!(base["n_faces"], 12);
    assert_ne!(base["per_point_px"], default["per_point_px"]);
    for extra in [
        &["--mean-shape", "--model", file.to_str().unwrap()][..],
        &["--mean-shape", "--detector", "seeta"][..],
        &["--mean-shape", "--refine", "1"][..],
    ] {
        let out = bin()
            .args(["eval", "--data", d, "--quiet"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?} was accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    }
}
