//! What `detect`, `faces` and `eval` print on stdout: one rule for all three. A short summary
//! for people, unless `--json` asks for JSON (then stdout is that JSON and nothing else). In
//! these tests stdout is a pipe, not a terminal: the rule does not depend on it.

use facemark_core::{CropSpec, Scheme};
use facemark_model::{ArchConfig, KeypointModel, ModelMeta};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_facemark"))
}

/// An untrained 68-point mobile model: enough to exercise the plumbing.
fn tiny_model(dir: &Path) -> PathBuf {
    let arch = ArchConfig::mobile(68);
    let model = KeypointModel::new(
        ModelMeta::new(arch.clone(), Scheme::ibug68(), CropSpec::default()),
        arch.build(7).unwrap(),
    );
    let p = dir.join("tiny.safetensors");
    model.save(&p).unwrap();
    p
}

fn gradient_image(path: &Path) {
    image::GrayImage::from_fn(120, 100, |x, y| image::Luma([((x * 2 + y) % 256) as u8]))
        .save(path)
        .unwrap();
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok()
}

#[test]
fn detect_prints_a_line_per_photo_and_json_only_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    gradient_image(&a);
    gradient_image(&b);
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        bin()
            .args(["detect", "--box", "30,20,60,60", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .arg(&a)
            .arg(&b)
            .output()
            .unwrap()
    };

    // default: one line per photo, in input order: the photo, its faces and size, the files
    let text = ok(&run(&["--format", "png,json,pts"]));
    assert!(!is_json(&text), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let o = out.display();
    assert_eq!(
        lines[0],
        format!(
            "{}: 1 face (120x100) → {o}/a.landmarks.{{png,json}}, {o}/a_0.pts",
            a.display()
        )
    );
    assert!(lines[1].starts_with(&format!("{}: 1 face", b.display())));
    for f in ["a.landmarks.png", "a.landmarks.json", "a_0.pts", "b_0.pts"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let text = ok(&run(&["--format", "csv"]));
    assert!(text.contains(&format!("→ {o}/a.landmarks.csv\n")), "{text}");

    // --json: stdout is the JSON array and nothing else, the same objects as the files
    let text = ok(&run(&["--format", "json", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("a.landmarks.json")).unwrap())
            .unwrap();
    assert_eq!(json[0], file);
}

#[test]
fn faces_prints_a_summary_and_json_only_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("p.png");
    gradient_image(&img);
    let text = ok(&bin().arg("faces").arg(&img).output().unwrap());
    assert!(!is_json(&text), "{text}");
    assert!(
        text.starts_with(&format!("{}: 0 faces (120x100, ", img.display())),
        "{text}"
    );
    let text = ok(&bin().args(["faces", "--json"]).arg(&img).output().unwrap());
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json[0]["width"], 120);
    assert_eq!(json[0]["faces"].as_array().unwrap().len(), 0);
}

#[test]
fn eval_prints_a_summary_and_json_only_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces");
    std::fs::create_dir(&data).unwrap();
    let mean = Scheme::ibug68().mean_shape().unwrap();
    for i in 0..4 {
        gradient_image(&data.join(format!("p{i}_1.png")));
        let mut pts = String::from("version: 1\nn_points: 68\n{\n");
        for p in &mean {
            pts += &format!("{} {}\n", 60.0 + 50.0 * p[0], 50.0 + 50.0 * p[1]);
        }
        std::fs::write(data.join(format!("p{i}_1.pts")), pts + "}\n").unwrap();
    }
    let run = |extra: &[&str]| {
        bin()
            .args(["eval", "--mean-shape", "--quiet", "--data"])
            .arg(&data)
            .args(extra)
            .output()
            .unwrap()
    };
    let text = ok(&run(&[]));
    assert!(!is_json(&text), "{text}");
    assert!(
        text.starts_with("mean-shape baseline (ibug68) on "),
        "{text}"
    );
    let text = ok(&run(&["--json"]));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["n_faces"], 4);
}
