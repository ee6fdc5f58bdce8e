//! Fuzz target: model file (safetensors + facemark metadata) loading must return Ok or Err on
//! any input, never panic nor allocate beyond the file's size; a model that loads must run.
//!
//! Seed with a real model so the fuzzer starts from a valid header, e.g.
//! `mkdir -p corpus/model && cp ../models/default.safetensors corpus/model/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = facemark_model::KeypointModel::from_bytes(data) {
        let s = m.input_size() as usize;
        let out = m
            .predict_batch(&vec![0.0; s * s], 1)
            .expect("a loaded model runs");
        assert_eq!(out.len(), 2 * m.meta.arch.n_points);
    }
});
