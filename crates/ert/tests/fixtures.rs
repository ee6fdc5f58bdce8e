//! Tiny shape predictors made by dlib's own trainer (`bench/dlib/sp_fixtures.cpp`, which has the
//! command) and dlib's own predictions on them: read, run with exactly dlib's points, written
//! back byte for byte; broken files give errors, never panics.

use facemark_core::{BoxF, Landmarker};
use facemark_ert::{dlib_round, DlibRect, ErtError, ShapePredictor};
use image::GrayImage;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The procedural test image of sp_fixtures.cpp (`test_pixel`), 120 × 90.
fn test_image() -> GrayImage {
    GrayImage::from_fn(120, 90, |x, y| {
        let (x, y) = (x as i64, y as i64);
        let v = (x * x + 3 * y * y + 7 * x * y + 11 * x) / 5 + ((x / 9 + y / 7) % 2) * 90;
        image::Luma([(v % 256) as u8])
    })
}

#[test]
fn tiny_models_give_dlibs_points() {
    let img = test_image();
    for n in [5usize, 7] {
        let sp = ShapePredictor::load(&data(&format!("tiny{n}.dat"))).unwrap();
        assert_eq!(sp.num_parts(), n);
        let expected = std::fs::read_to_string(data(&format!("tiny{n}.expected"))).unwrap();
        let mut faces = 0;
        for line in expected.lines() {
            let v: Vec<i64> = line
                .split_whitespace()
                .map(|t| t.parse().unwrap())
                .collect();
            assert_eq!(v.len(), 4 + 2 * n);
            let rect = DlibRect::new(v[0] as f64, v[1] as f64, v[2] as f64, v[3] as f64);
            let ours: Vec<i64> = sp
                .predict_dlib(&img, &rect)
                .iter()
                .flat_map(|p| [dlib_round(p[0]), dlib_round(p[1])])
                .collect();
            assert_eq!(ours, v[4..], "tiny{n}, rectangle {:?}", &v[..4]);
            faces += 1;
        }
        assert_eq!(faces, 9);
    }
}

#[test]
fn tiny_models_write_back_byte_for_byte() {
    for n in [5, 7] {
        let bytes = std::fs::read(data(&format!("tiny{n}.dat"))).unwrap();
        let sp = ShapePredictor::from_bytes(&bytes).unwrap();
        assert_eq!(sp.to_bytes(), bytes);
        // and through a file
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("copy.dat");
        sp.save(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
    }
}

#[test]
fn every_truncation_is_an_error_naming_the_byte() {
    let bytes = std::fs::read(data("tiny5.dat")).unwrap();
    for cut in 0..bytes.len() {
        let err = ShapePredictor::from_bytes(&bytes[..cut])
            .expect_err("a truncated file must not load")
            .to_string();
        assert!(err.contains("not a dlib shape_predictor: byte "), "{err}");
    }
}

#[test]
fn corrupt_bytes_never_panic() {
    let bytes = std::fs::read(data("tiny7.dat")).unwrap();
    let img = test_image();
    let rect = DlibRect::new(10.0, 10.0, 70.0, 70.0);
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            // Either a clear error or a model that runs (a changed float is still a model).
            if let Ok(sp) = ShapePredictor::from_bytes(&b) {
                let _ = sp.predict_dlib(&img, &rect);
            }
        }
    }
}

#[test]
fn errors_say_what_was_expected() {
    let bytes = std::fs::read(data("tiny5.dat")).unwrap();
    let mut b = bytes.clone();
    b[1] = 2; // version 2
    let err = ShapePredictor::from_bytes(&b).unwrap_err().to_string();
    assert!(
        err.contains("byte 0: shape_predictor version 1, found 2"),
        "{err}"
    );
    // a dlib DNN or any other file
    let err = ShapePredictor::from_bytes(b"\x0a\x00garbage")
        .unwrap_err()
        .to_string();
    assert!(err.contains("byte 0"), "{err}");
    let err = ShapePredictor::load(&data("missing.dat")).unwrap_err();
    assert!(matches!(err, ErtError::Io { .. }));
    assert!(err.to_string().contains("missing.dat"));
}

#[test]
fn landmark_boxes_and_rectangles_convert_both_ways() {
    let sp = ShapePredictor::load(&data("tiny7.dat")).unwrap();
    let r = DlibRect::new(20.0, 15.0, 83.0, 80.0);
    let lb = sp.landmark_box_for_rect(&r);
    let back = sp.rect_for_landmark_box(&lb);
    for (a, b) in [
        (r.left, back.left),
        (r.top, back.top),
        (r.right, back.right),
        (r.bottom, back.bottom),
    ] {
        assert!((a - b).abs() < 1e-3, "{r:?} → {lb:?} → {back:?}");
    }
    // The mean shape placed in the rectangle fills the landmark box (facemark's convention:
    // dlib's coordinates + 0.5).
    let mean: Vec<[f64; 2]> = sp
        .initial_shape()
        .iter()
        .map(|&p| r.unnormalize(p))
        .collect();
    let xs = mean.iter().map(|p| p[0] + 0.5);
    let x0 = xs.clone().fold(f64::INFINITY, f64::min);
    let x1 = xs.fold(f64::NEG_INFINITY, f64::max);
    assert!((x0 - lb.x as f64).abs() < 1e-3 && (x1 - x0 - lb.w as f64).abs() < 1e-3);
    // The Landmarker answers dlib's points + 0.5 for that box.
    let img = test_image();
    let via_trait = sp.landmarks(&img, &lb);
    let direct = sp.predict_dlib(&img, &back);
    for (a, b) in via_trait.iter().zip(&direct) {
        assert!((a[0] as f64 - (b[0] + 0.5)).abs() < 1e-3);
        assert!((a[1] as f64 - (b[1] + 0.5)).abs() < 1e-3);
    }
    assert_eq!(sp.scheme().len(), 7);
    // A scheme of another size is refused.
    let err = sp
        .clone()
        .with_scheme(facemark_core::Scheme::ibug68())
        .unwrap_err();
    assert!(err.to_string().contains("68 points"), "{err}");
    let _ = BoxF::default();
}

#[test]
fn five_points_are_dlibs_layout() {
    let sp = ShapePredictor::load(&data("tiny5.dat")).unwrap();
    assert_eq!(sp.scheme().name, "dlib5");
}

#[test]
fn a_model_built_in_rust_writes_and_reads_back() {
    use facemark_ert::{Level, Split, Tree};
    // 2 points, one level, two trees of depth 1 over 3 feature pixels
    let tree = |t: f32, a: f32| Tree {
        splits: vec![Split {
            idx1: 0,
            idx2: 2,
            thresh: t,
        }],
        leaf_values: vec![a, 0.0, 0.0, a, -a, 0.5, 0.25, -a],
    };
    let level = Level::new(
        vec![0, 1, 1],
        vec![[0.1, 0.0], [-0.05, 0.2], [0.0, 0.0]],
        &[tree(3.0, 0.125), tree(-7.5, 1e-3)],
    );
    let sp = ShapePredictor::new(vec![0.3, 0.4, 0.7, 0.45], vec![level]).unwrap();
    let back = ShapePredictor::from_bytes(&sp.to_bytes()).unwrap();
    assert_eq!(back.to_bytes(), sp.to_bytes());
    assert_eq!(back.levels(), sp.levels());
    assert_eq!(back.initial_shape(), sp.initial_shape());
    let img = test_image();
    let r = DlibRect::new(10.0, 10.0, 70.0, 70.0);
    assert_eq!(back.predict_dlib(&img, &r), sp.predict_dlib(&img, &r));
    // inconsistent parts are refused
    let bad = Level::new(vec![5], vec![[0.0, 0.0]], &[]);
    assert!(ShapePredictor::new(vec![0.3, 0.4, 0.7, 0.45], vec![bad])
        .unwrap_err()
        .contains("anchor 5"));
}
