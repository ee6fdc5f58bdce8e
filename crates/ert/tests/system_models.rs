//! The real models, where installed: Debian's `libdlib-data` 68-point model
//! (`/usr/share/dlib/shape_predictor_68_face_landmarks.dat`) and, when `$FACEMARK_DLIB5` names
//! it, the 5-point model from PyPI `face_recognition_models`. Each test skips with a printed
//! reason when its file is absent.

use facemark_ert::ShapePredictor;
use std::path::PathBuf;

fn model(path: Option<PathBuf>, what: &str) -> Option<(PathBuf, Vec<u8>)> {
    let Some(p) = path.filter(|p| p.is_file()) else {
        eprintln!("skipping: {what} not installed");
        return None;
    };
    let bytes = std::fs::read(&p).unwrap();
    Some((p, bytes))
}

fn dlib68() -> Option<(PathBuf, Vec<u8>)> {
    model(
        Some("/usr/share/dlib/shape_predictor_68_face_landmarks.dat".into()),
        "/usr/share/dlib/shape_predictor_68_face_landmarks.dat (Debian libdlib-data)",
    )
}

fn dlib5() -> Option<(PathBuf, Vec<u8>)> {
    model(
        std::env::var_os("FACEMARK_DLIB5").map(PathBuf::from),
        "the 5-point model ($FACEMARK_DLIB5 unset)",
    )
}

#[test]
fn real_models_read_and_write_back_byte_for_byte() {
    for (path, bytes) in [dlib68(), dlib5()].into_iter().flatten() {
        let sp = ShapePredictor::load(&path).unwrap();
        eprintln!(
            "{}: {} points, {} levels, {} trees, {} features per level",
            path.display(),
            sp.num_parts(),
            sp.levels().len(),
            sp.num_trees(),
            sp.levels()[0].anchor_idx.len()
        );
        assert!(
            sp.to_bytes() == bytes,
            "{} not written back identically",
            path.display()
        );
    }
}

#[test]
fn truncated_real_model_is_a_clear_error() {
    let Some((_, bytes)) = dlib68() else { return };
    for cut in [0, 1, 5, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = ShapePredictor::from_bytes(&bytes[..cut])
            .unwrap_err()
            .to_string();
        assert!(err.contains("byte "), "{err}");
        assert!(err.contains("truncated") || err.contains("found"), "{err}");
    }
}
