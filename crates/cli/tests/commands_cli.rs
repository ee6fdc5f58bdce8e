//! End-to-end runs of `filter`, `faces`, `train`, `kaggle` and `calibrate` through the real
//! binary, on tiny fixtures the tests make (a few KB; each run well under a few seconds).

mod common;
use common::{bin, face_points, face_set, gradient_image, run, tiny_model};
use std::path::Path;

#[test]
fn filter_draws_on_the_given_points_and_runs_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("face.png");
    edge_face(&img);
    let pts = dir.path().join("face.pts");
    facemark_formats::pts::write_pts(&pts, &face_points(), true).unwrap();
    let before = image::open(&img).unwrap().to_rgb8();
    for effect in ["sunglasses", "blur", "pixelate"] {
        let out = dir.path().join(format!("{effect}.png"));
        let (code, _, err) = run(bin()
            .args(["filter", "-e", effect, "--points"])
            .arg(&pts)
            .arg(&img)
            .arg(&out));
        assert_eq!(code, Some(0), "{effect}: {err}");
        assert!(err.contains("1 face(s)"), "{err}");
        let after = image::open(&out).unwrap().to_rgb8();
        assert_eq!(after.dimensions(), before.dimensions(), "{effect}");
        assert!(after != before, "{effect} changed nothing");
    }
    // through the detector and the landmark model: a gradient has no face, the photo is
    // written unchanged
    let out = dir.path().join("none.png");
    let (code, _, err) = run(bin()
        .args(["filter", "-e", "hat", "--no-flip", "--model"])
        .arg(tiny_model(dir.path()))
        .arg(&img)
        .arg(&out));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("0 face(s)"), "{err}");
    assert!(
        image::open(&out).unwrap().to_rgb8() == before,
        "a face was drawn"
    );
    // the output may not overwrite the input
    let (code, _, err) = run(bin()
        .args(["filter", "-e", "blur", "--points"])
        .arg(&pts)
        .arg(&img)
        .arg(&img));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("overwrite the input"), "{err}");
}

/// A 12×12 Haar cascade that fires on a vertical edge, dark left, bright right.
const EDGE_CASCADE: &str = r#"<?xml version="1.0"?>
<opencv_storage><cascade>
  <stageType>BOOST</stageType><featureType>HAAR</featureType>
  <height>12</height><width>12</width>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stages><_><stageThreshold>0.5</stageThreshold><weakClassifiers><_>
    <internalNodes>0 -1 0 0.15</internalNodes>
    <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features><_><rects><_>1 1 10 10 -1.</_><_>6 1 5 10 2.</_></rects></_></features>
</cascade></opencv_storage>
"#;

/// A 120×100 picture with what [`EDGE_CASCADE`] sees as a face: a square around the points of
/// [`face_points`], its left half dark and its right half bright, on a textured background.
fn edge_face(path: &Path) {
    image::GrayImage::from_fn(120, 100, |x, y| {
        let base = 40 + ((x * 7 + y * 3) % 11) as u8;
        if (27..87).contains(&x) && (23..83).contains(&y) {
            image::Luma([if x >= 57 { 220 } else { base }])
        } else {
            image::Luma([base])
        }
    })
    .save(path)
    .unwrap();
}

#[test]
fn faces_prints_text_json_and_csv_and_draws() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("edge.png");
    edge_face(&img);
    let xml = dir.path().join("edge.xml");
    std::fs::write(&xml, EDGE_CASCADE).unwrap();
    let faces = |extra: &[&str]| {
        run(bin()
            .arg("faces")
            .arg("--cascade")
            .arg(&xml)
            .args(extra)
            .arg(&img))
    };
    let (code, out, err) = faces(&["--json"]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json[0]["width"], 120);
    assert_eq!(json[0]["height"], 100);
    let found = json[0]["faces"].as_array().unwrap();
    assert!(!found.is_empty(), "{out}");
    for f in found {
        for k in ["x", "y", "w", "h", "score"] {
            assert!(f[k].is_number(), "{k}: {f}");
        }
    }
    let (code, out, err) = faces(&["--csv"]);
    assert_eq!(code, Some(0), "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("image,x,y,w,h,score"));
    assert_eq!(lines.count(), found.len());
    let png = dir.path().join("boxes.png");
    let (code, out, err) = faces(&["--out", png.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&format!("{} face", found.len())), "{out}");
    assert_eq!(image::image_dimensions(&png).unwrap(), (120, 100));
    // the built-in detectors run too; a gradient has no face
    let flat = dir.path().join("flat.png");
    gradient_image(&flat);
    for det in ["seeta", "haar"] {
        let (code, out, err) = run(bin().args(["faces", "--detector", det]).arg(&flat));
        assert_eq!(code, Some(0), "{det}: {err}");
        assert!(out.contains("0 faces"), "{det}: {out}");
    }
}

#[test]
fn train_one_epoch_gives_a_model_detect_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let w = face_set(dir.path(), "w");
    let run_dir = dir.path().join("run");
    let (code, out, err) = run(bin()
        .args([
            "train",
            "--epochs",
            "1",
            "--input-size",
            "32",
            "--batch-size",
            "2",
            "--quiet",
        ])
        .arg("--data")
        .arg(&w)
        .arg("--out")
        .arg(&run_dir));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("best model:") && out.contains("(epoch 1"),
        "{out}"
    );
    for f in [
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.csv",
        "config.toml",
    ] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }
    let metrics = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "{metrics}");
    let (code, out, err) = run(bin()
        .args([
            "detect",
            "--box",
            "30,25,54,56",
            "--format",
            "json",
            "--json",
            "--model",
        ])
        .arg(run_dir.join("model.safetensors"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg(w.join("p1_1.png")));
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json[0]["faces"][0]["points"].as_array().unwrap().len(), 68);
    // bad flags are refused before training
    let (code, _, err) = run(bin()
        .args(["train", "--epochs", "1", "--val-fraction", "2"])
        .arg("--data")
        .arg(&w));
    assert_ne!(code, Some(0), "{err}");
}

/// A Kaggle `training.csv` of four 96×96 faces (gradients) with 15 points.
fn kaggle_csv(path: &Path) {
    let names = facemark_core::scheme::KAGGLE15_NAMES;
    let mut s = String::new();
    for n in names {
        s += &format!("{n}_x,{n}_y,");
    }
    s += "Image\n";
    for k in 0..4u32 {
        for i in 0..names.len() {
            s += &format!("{},{},", 25 + (i % 5) * 10 + k as usize, 30 + (i / 5) * 15);
        }
        let px: Vec<String> = (0..96 * 96)
            .map(|p| ((p % 96 + p / 96 + k * 9) % 256).to_string())
            .collect();
        s += &px.join(" ");
        s += "\n";
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn kaggle_makes_a_test_set_predicts_and_scores_it() {
    use facemark_core::{CropSpec, Scheme};
    use facemark_model::{ArchConfig, KeypointModel, ModelMeta};
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("training.csv");
    kaggle_csv(&train);
    let test_dir = dir.path().join("test");
    let (code, out, err) = run(bin()
        .args(["kaggle", "--split", "all", "--make-test"])
        .arg(&test_dir)
        .arg("--data")
        .arg(&train));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("4 test faces"), "{out}");
    let arch = ArchConfig::mobile(15);
    let net = arch.build(3).unwrap();
    let model = dir.path().join("k15.safetensors");
    KeypointModel::new(
        ModelMeta::new(arch, Scheme::kaggle15(), CropSpec::default()),
        net,
    )
    .save(&model)
    .unwrap();
    let sub = dir.path().join("submission.csv");
    let (code, out, err) = run(bin()
        .args(["kaggle", "--refine", "0", "--model"])
        .arg(&model)
        .arg("--test")
        .arg(test_dir.join("test.csv"))
        .arg("--lookup")
        .arg(test_dir.join("IdLookupTable.csv"))
        .arg("--truth")
        .arg(test_dir.join("truth.csv"))
        .arg("--box-from")
        .arg(&train)
        .arg("--out")
        .arg(&sub));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("4 test faces, 120 submission rows"), "{out}");
    assert!(out.contains("Kaggle RMSE"), "{out}");
    let text = std::fs::read_to_string(&sub).unwrap();
    assert_eq!(text.lines().next(), Some("RowId,Location"));
    assert_eq!(text.lines().count(), 121);
    // a 68-point model cannot answer for the 15 Kaggle points
    let (code, _, err) = run(bin()
        .args(["kaggle", "--model"])
        .arg(tiny_model(dir.path()))
        .arg("--test")
        .arg(test_dir.join("test.csv"))
        .arg("--lookup")
        .arg(test_dir.join("IdLookupTable.csv"))
        .arg("--out")
        .arg(dir.path().join("bad.csv")));
    assert_eq!(code, Some(1), "{err}");
    assert!(!dir.path().join("bad.csv").exists());
}

#[test]
fn calibrate_fits_a_detector_and_updates_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    std::fs::create_dir(&w).unwrap();
    for k in 1..=3 {
        edge_face(&w.join(format!("p{k}_1.png")));
        let pts = w.join(format!("p{k}_1.pts"));
        facemark_formats::pts::write_pts(&pts, &face_points(), true).unwrap();
    }
    let xml = dir.path().join("edge.xml");
    std::fs::write(&xml, EDGE_CASCADE).unwrap();
    let map = dir.path().join("calibration.json");
    std::fs::write(
        &map,
        r#"{"other": {"dx": 0.0, "dy": 0.0, "sw": 1.0, "sh": 1.0}}"#,
    )
    .unwrap();
    let (code, out, err) = run(bin()
        .arg("calibrate")
        .arg("--data")
        .arg(&w)
        .arg("--detector")
        .arg(&xml)
        .arg("--write")
        .arg(&map));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("found 3/3 annotated faces"), "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&map).unwrap()).unwrap();
    let obj = written.as_object().unwrap();
    assert_eq!(obj.len(), 2, "{written}");
    assert!(obj.contains_key("other"));
    let (_, cal) = obj.iter().find(|(k, _)| *k != "other").unwrap();
    assert_eq!(cal, &printed);
    // a detector that finds none of the faces (plain gray pictures): a clear error, the map
    // untouched
    let flat = dir.path().join("flat");
    std::fs::create_dir(&flat).unwrap();
    for k in 1..=2 {
        image::GrayImage::from_pixel(120, 100, image::Luma([90]))
            .save(flat.join(format!("p{k}_1.png")))
            .unwrap();
        let pts = flat.join(format!("p{k}_1.pts"));
        facemark_formats::pts::write_pts(&pts, &face_points(), true).unwrap();
    }
    let before = std::fs::read_to_string(&map).unwrap();
    let (code, _, err) = run(bin()
        .arg("calibrate")
        .arg("--data")
        .arg(&flat)
        .arg("--detector")
        .arg(&xml)
        .arg("--write")
        .arg(&map));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("found none"), "{err}");
    assert_eq!(std::fs::read_to_string(&map).unwrap(), before);
}

#[test]
fn model_info_and_f16_convert() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let (code, out, err) = run(bin().args(["model", "info"]).arg(&model));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("stored as F32") && out.contains("points:"),
        "{out}"
    );

    let half = dir.path().join("half.safetensors");
    let (code, out, err) = run(bin().args(["model", "convert"]).arg(&model).arg(&half));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("f16"), "{out}");
    let (a, b) = (
        std::fs::metadata(&model).unwrap().len(),
        std::fs::metadata(&half).unwrap().len(),
    );
    assert!(b < a * 6 / 10, "{a} -> {b}");
    let (code, out, err) = run(bin().args(["model", "info", "--json"]).arg(&half));
    assert_eq!(code, Some(0), "{err}");
    let meta: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(meta["n_points"].as_u64().unwrap() > 0, "{out}");

    // not a model: a clear error, nothing written
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model").unwrap();
    let never = dir.path().join("never.safetensors");
    let (code, _, err) = run(bin().args(["model", "convert"]).arg(&junk).arg(&never));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("junk.safetensors"), "{err}");
    assert!(!never.exists());
    let (code, _, err) = run(bin()
        .args(["model", "convert", "--storage", "f8"])
        .arg(&model)
        .arg(&never));
    assert_eq!(code, Some(2), "{err}");
}
