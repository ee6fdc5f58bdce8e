//! Fuzz target: Keras `.h5` weight files (`facemark_formats::keras`, HDF5 through `hdf5-pure`)
//! must read as Ok or Err on any input, never panic nor allocate beyond the file's size per
//! dataset; what reads must hold arrays whose values fit their shapes, and the FaceNet loader
//! must map it or refuse it.
//!
//! Seed with the fixture: `mkdir -p corpus/keras_h5 && cp ../crates/formats/tests/data/keras_small.h5 corpus/keras_h5/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(w) = facemark_formats::keras::read_keras_weights(data) {
        for t in &w {
            assert_eq!(t.values.len(), t.shape.iter().product::<usize>());
        }
        let cfg = facemark_recog::facenet::FacenetConfig {
            width_div: 16,
            repeats: [1, 1, 1],
            embedding: 8,
        };
        let _ = facemark_recog::facenet::from_keras_weights(&w, cfg);
    }
});
