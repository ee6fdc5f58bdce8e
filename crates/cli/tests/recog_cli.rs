//! `facemark embed` / `facemark compare`: missing and wrong model files are clear errors; with
//! the real model (`$FACEMARK_RECOGNITION_MODEL`) and the shared YouTube-Faces frames, two
//! frames of one person are the same person and two people are not.

use std::process::Command;

/// Runs `facemark args…` with `$FACEMARK_RECOGNITION_MODEL` set to `model` (removed when
/// `None`): (success, stdout, stderr).
fn run(args: &[&str], model: Option<&str>) -> (bool, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_facemark"));
    c.args(args);
    match model {
        Some(m) => c.env("FACEMARK_RECOGNITION_MODEL", m),
        None => c.env_remove("FACEMARK_RECOGNITION_MODEL"),
    };
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const TINY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../recog/tests/data/tiny_resnet.dat"
);

#[test]
fn model_errors_are_clear() {
    let (ok, _, err) = run(&["compare", "a.jpg", "b.jpg"], None);
    assert!(!ok && err.contains("FACEMARK_RECOGNITION_MODEL"), "{err}");
    let (ok, _, err) = run(&["embed", "a.jpg"], Some("/nonexistent/model.dat"));
    assert!(!ok && err.contains("/nonexistent/model.dat"), "{err}");
    // a dlib DNN file of another architecture: where and why
    let (ok, _, err) = run(&["embed", "--recognition-model", TINY, "a.jpg"], None);
    assert!(!ok && err.contains("dlib DNN file: byte"), "{err}");
    assert_eq!(err.matches("dlib DNN file").count(), 1, "said once: {err}");
    // a `.pt` is read as a FaceNet state dict: a torch file of other tensors is refused by name
    let pt = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../formats/tests/data/torch_zip.pt"
    );
    let (ok, _, err) = run(&["embed", "--recognition-model", pt, "a.jpg"], None);
    assert!(
        !ok && err.contains("torch_zip.pt: unknown parameter `a`"),
        "{err}"
    );
}

#[test]
fn same_and_different_people_on_youtube_frames() {
    let Some(model) = std::env::var_os("FACEMARK_RECOGNITION_MODEL") else {
        eprintln!("skipped: FACEMARK_RECOGNITION_MODEL is not set");
        return;
    };
    let Some(data) = facemark_core::testdata::shared_data() else {
        eprintln!("skipped: ../shared/data is absent");
        return;
    };
    let dir = data.join("youtube-faces-68/test").display().to_string();
    let m = model.to_str().unwrap();
    let f = |n: &str| format!("{dir}/{n}");
    let (ok, out, err) = run(
        &[
            "compare",
            "--json",
            &f("Adam_Sandler_01.jpg"),
            &f("Adam_Sandler_40.jpg"),
        ],
        Some(m),
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"same_person\":true"), "{out}");
    let (ok, out, err) = run(
        &[
            "compare",
            "--json",
            &f("Adam_Sandler_01.jpg"),
            &f("Abdullah_Gul_11.jpg"),
        ],
        Some(m),
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"same_person\":false"), "{out}");
    let (ok, out, err) = run(&["embed", &f("Adam_Sandler_01.jpg")], Some(m));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v[0]["faces"][0]["descriptor"].as_array().unwrap().len(),
        128
    );
}
