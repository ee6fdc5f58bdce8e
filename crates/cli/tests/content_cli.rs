//! One photo loader, by content (issue 20, item 6): every command that reads photos (`detect`,
//! `faces`, `filter`, `data`, `eval`, `train`) decodes a PNG named `.jpg`, and says of a text
//! file named `.jpg`, in the same words, that it is not an image, naming the file.

mod common;
use common::{bin, face_points, gradient_png_bytes, run, tiny_model};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A 300-W style folder `dir/w` of four faces whose `.jpg` images are PNG bytes.
fn png_named_jpg_set(dir: &Path) -> PathBuf {
    let w = dir.join("w");
    std::fs::create_dir(&w).unwrap();
    for k in 1..=4 {
        std::fs::write(w.join(format!("p{k}_1.jpg")), gradient_png_bytes()).unwrap();
        facemark_formats::pts::write_pts(&w.join(format!("p{k}_1.pts")), &face_points(), true)
            .unwrap();
    }
    w
}

/// The commands that read `w/p1_1.jpg` (or the whole set `w`).
fn commands(dir: &Path, w: &Path, model: &Path) -> Vec<(&'static str, Command)> {
    let photo = w.join("p1_1.jpg");
    let pts = w.join("p1_1.pts");
    let mut v = Vec::new();
    let mut c = bin();
    c.args([
        "detect",
        "--box",
        "30,20,60,60",
        "--format",
        "json",
        "--model",
    ])
    .arg(model)
    .arg("--out")
    .arg(dir.join("out"))
    .arg(&photo);
    v.push(("detect", c));
    let mut c = bin();
    c.args(["faces", "--detector", "haar"]).arg(&photo);
    v.push(("faces", c));
    let mut c = bin();
    c.args(["filter", "--effect", "blur", "--points"])
        .arg(&pts)
        .arg(&photo)
        .arg(dir.join("filtered.png"));
    v.push(("filter", c));
    let mut c = bin();
    c.args(["data", "inspect", "--decode"]).arg(w);
    v.push(("data", c));
    let mut c = bin();
    c.args([
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
    .arg(w)
    .arg("--out")
    .arg(dir.join("run"));
    v.push(("train", c));
    v
}

#[test]
fn a_png_named_jpg_reads_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let w = png_named_jpg_set(dir.path());
    for (name, mut c) in commands(dir.path(), &w, &model) {
        let (code, _, err) = run(&mut c);
        assert_eq!(code, Some(0), "{name}: {err}");
    }
    assert!(dir.path().join("run/model.safetensors").is_file());
    let (code, out, err) = run(bin()
        .args(["eval", "--quiet", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&w));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("faces 4 (0 skipped)"), "{out}");
}

#[test]
fn a_text_file_named_jpg_is_a_clear_error_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let w = png_named_jpg_set(dir.path());
    std::fs::write(w.join("p1_1.jpg"), "hello, not a photo\n").unwrap();
    let said = "p1_1.jpg: not an image: its content is none of the types facemark reads";
    for (name, mut c) in commands(dir.path(), &w, &model) {
        let (code, _, err) = run(&mut c);
        assert_eq!(code, Some(1), "{name}: {err}");
        assert!(err.contains(said), "{name}: {err}");
        // said once, not repeated by the error chain
        assert_eq!(err.matches("not an image").count(), 1, "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    // eval skips a face it cannot read, and says why
    let (code, out, err) = run(bin()
        .args(["eval", "--quiet", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&w));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("faces 3 (1 skipped)"), "{out}");
    assert!(err.contains(said), "{err}");
    // an overlay that is no image
    let (code, _, err) = run(bin()
        .args(["filter", "--points"])
        .arg(w.join("p2_1.pts"))
        .arg("--overlay")
        .arg(w.join("p1_1.jpg"))
        .arg(w.join("p2_1.jpg"))
        .arg(dir.path().join("o.png")));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(said) && err.matches("not an image").count() == 1,
        "{err}"
    );
}
