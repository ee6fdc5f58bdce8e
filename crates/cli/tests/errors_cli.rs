//! Errors say each thing once and come before the work (issue 20, item 8): the model path is
//! not repeated, `filter` checks its output before running the pipeline, cascade errors found
//! after parsing give the real line.

mod common;
use common::{bin, gradient_image, run, tiny_model};

#[test]
fn the_model_path_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model").unwrap();
    let gone = dir.path().join("gone.safetensors");
    let data = dir.path().join("w");
    std::fs::create_dir(&data).unwrap();
    for k in 1..=4 {
        gradient_image(&data.join(format!("p{k}_1.png")));
        let pts = data.join(format!("p{k}_1.pts"));
        facemark_formats::pts::write_pts(&pts, &common::face_points(), true).unwrap();
    }
    for model in [&junk, &gone] {
        let name = model.file_name().unwrap().to_str().unwrap();
        let cases: Vec<Vec<std::ffi::OsString>> = vec![
            vec![
                "detect".into(),
                "--model".into(),
                model.into(),
                img.clone().into(),
            ],
            vec![
                "detect".into(),
                "--refiner".into(),
                model.into(),
                img.clone().into(),
            ],
            vec![
                "eval".into(),
                "--model".into(),
                model.into(),
                "--data".into(),
                data.clone().into(),
            ],
            vec![
                "train".into(),
                "--init".into(),
                model.into(),
                "--data".into(),
                data.clone().into(),
                "--epochs".into(),
                "1".into(),
                "--out".into(),
                dir.path().join("run").into(),
            ],
            vec![
                "kaggle".into(),
                "--model".into(),
                model.into(),
                "--test".into(),
                "t.csv".into(),
                "--lookup".into(),
                "l.csv".into(),
            ],
        ];
        for args in cases {
            let (code, _, err) = run(bin().args(&args));
            assert_eq!(code, Some(1), "{args:?}: {err}");
            assert_eq!(err.matches(name).count(), 1, "{args:?}: {err}");
            if model == &gone {
                assert_eq!(err.matches("No such file").count(), 1, "{args:?}: {err}");
            }
        }
    }
}

#[test]
fn filter_checks_its_output_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("face.png");
    gradient_image(&img);
    // a model that cannot load: had the pipeline run first, its error would come instead
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model").unwrap();
    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, b"not read").unwrap();
    for (input, output, expect) in [
        (&img, "out.mp4", "cannot write a picture of this type"),
        (&img, "out.txt", "cannot write a picture of this type"),
        (&img, "out", "cannot write a picture of this type"),
        (&img, "nowhere/out.png", "does not exist"),
        (&clip, "out.png", "a video input needs a video output"),
        (&clip, "nowhere/out.mp4", "does not exist"),
    ] {
        let out = dir.path().join(output);
        let (code, _, err) = run(bin()
            .args(["filter", "-e", "blur", "--model"])
            .arg(&junk)
            .arg(input)
            .arg(&out));
        assert_eq!(code, Some(1), "{output}: {err}");
        assert!(
            err.contains(expect) && err.contains(output),
            "{output}: {err}"
        );
        assert!(
            !err.contains("junk"),
            "{output}: the pipeline ran first: {err}"
        );
        assert!(!out.exists());
    }
    // and `--stats-json` into a missing folder
    let (code, _, err) = run(bin()
        .args(["filter", "-e", "blur", "--model"])
        .arg(&junk)
        .arg(&clip)
        .arg(dir.path().join("out.mp4"))
        .arg("--stats-json")
        .arg(dir.path().join("nowhere/s.json")));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    // a writable output still works (no detector involved with --points)
    let pts = dir.path().join("p.pts");
    facemark_formats::pts::write_pts(&pts, &common::face_points(), true).unwrap();
    for output in ["out.bmp", "out.jpg", "out.webp"] {
        let out = dir.path().join(output);
        let (code, _, err) = run(bin()
            .args(["filter", "-e", "blur", "--points"])
            .arg(&pts)
            .arg(&img)
            .arg(&out));
        assert_eq!(code, Some(0), "{output}: {err}");
        assert!(out.is_file(), "{output}");
    }
}

#[test]
fn cascade_errors_give_the_real_line() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let xml = dir.path().join("bad.xml");
    // a one-feature Haar cascade whose rectangle leaves the 12×12 window (line 9)
    std::fs::write(
        &xml,
        "<opencv_storage><cascade>\n<stageType>BOOST</stageType>\n<featureType>HAAR</featureType>\n\
         <height>12</height><width>12</width>\n<featureParams><maxCatCount>0</maxCatCount></featureParams>\n\
         <stages><_><stageThreshold>0.5</stageThreshold><weakClassifiers>\n\
         <_><internalNodes>0 -1 0 0.15</internalNodes><leafValues>-1. 1.</leafValues></_>\n\
         </weakClassifiers></_></stages><features>\n<_><rects><_>9 1 5 10 2.</_></rects></_>\n\
         </features></cascade></opencv_storage>\n",
    )
    .unwrap();
    let (code, _, err) = run(bin().arg("faces").arg("--cascade").arg(&xml).arg(&img));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("bad.xml: cascade XML, line 9: Haar feature 0"),
        "{err}"
    );
    let model = tiny_model(dir.path());
    let (code, _, err) = run(bin()
        .args(["detect", "--model"])
        .arg(&model)
        .arg("--detector")
        .arg(&xml)
        .arg(&img));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("line 9"), "{err}");
}
