//! Results are never lost (issue 20, item 2): outputs are named after each input's file stem,
//! so two inputs with the same stem (`a/x.png` and `b/x.png`, or `x.png` and `x.jpg`) are
//! refused before any work instead of overwriting each other's files.

mod common;
use common::{bin, gradient_image, run, tiny_model};

#[test]
fn detect_refuses_inputs_whose_outputs_would_collide() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    for sub in ["a", "b"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        gradient_image(&dir.path().join(sub).join("x.png"));
    }
    gradient_image(&dir.path().join("a").join("X.bmp"));
    let out = dir.path().join("out");
    let detect = |inputs: &[&str]| {
        let mut c = bin();
        c.args([
            "detect",
            "--box",
            "30,20,60,60",
            "--format",
            "json,pts",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&out);
        for i in inputs {
            c.arg(dir.path().join(i));
        }
        run(&mut c)
    };
    for inputs in [
        &["a/x.png", "b/x.png"][..],
        &["a", "b"],             // the same name in two folders
        &["a/x.png", "a/X.bmp"], // same stem, another type and case
    ] {
        let (code, _, err) = detect(inputs);
        assert_eq!(code, Some(1), "{inputs:?}: {err}");
        assert!(
            err.contains("would write the same files")
                && err.to_lowercase().contains("x.landmarks.*, x_n.pts"),
            "{inputs:?}: {err}"
        );
        // refused before any work: nothing written
        assert!(!out.exists(), "{inputs:?}: {out:?} was created");
    }
    // the same file twice (by name and in its folder) is one photo, not a collision
    std::fs::remove_file(dir.path().join("a").join("X.bmp")).unwrap();
    let (code, stdout, err) = detect(&["a/x.png", "a"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(out.join("x.landmarks.json").is_file());
}

#[test]
fn faces_refuses_images_whose_pictures_would_collide() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        gradient_image(&dir.path().join(sub).join("x.png"));
    }
    let out = dir.path().join("out");
    let (code, _, err) = run(bin()
        .args(["faces", "--detector", "haar"])
        .arg(dir.path().join("a/x.png"))
        .arg(dir.path().join("b/x.png"))
        .arg("--out")
        .arg(&out));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("x_faces.png"), "{err}");
    assert!(!out.exists());
    // without --out nothing is written: both are searched
    let (code, stdout, err) = run(bin()
        .args(["faces", "--detector", "haar"])
        .arg(dir.path().join("a/x.png"))
        .arg(dir.path().join("b/x.png")));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(stdout.lines().filter(|l| l.contains("x.png")).count(), 2);
}
