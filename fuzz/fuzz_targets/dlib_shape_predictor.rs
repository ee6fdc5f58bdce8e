//! dlib `.dat` shape predictors (`facemark_ert::ShapePredictor::from_bytes`): any bytes give a
//! model or an error, never a panic or a huge allocation; a model that loads runs on a small
//! image, and what it writes reads back to the same bytes.
//!
//! Seed: `mkdir -p corpus/dlib_shape_predictor && cp ../crates/ert/tests/data/tiny*.dat corpus/dlib_shape_predictor/`.
#![no_main]

use facemark_ert::{DlibRect, ShapePredictor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sp) = ShapePredictor::from_bytes(data) {
        let img = image::GrayImage::from_fn(32, 24, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
        let _ = sp.predict_dlib(&img, &DlibRect::new(2.0, 3.0, 25.0, 20.0));
        let bytes = sp.to_bytes();
        let again = ShapePredictor::from_bytes(&bytes).expect("written bytes read back");
        assert_eq!(again.to_bytes(), bytes);
    }
});
