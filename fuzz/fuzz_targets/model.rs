//! Fuzz target: model file (safetensors + facemark metadata, and the refinement cascade a file
//! may carry) loading must return Ok or Err on any input, never panic nor allocate beyond the
//! file's size; a model that loads must run, its cascade too.
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
        if let Some(c) = &m.cascade {
            let img = image::GrayImage::from_fn(24, 20, |x, y| image::Luma([(x * 7 + y * 13) as u8]));
            let start: Vec<facemark_core::Point> = (0..c.num_parts())
                .map(|i| [4.0 + (i % 5) as f32 * 3.0, 3.0 + (i % 4) as f32 * 3.0])
                .collect();
            let out = c.refine_points(&img, &start, &mut facemark_ert::Scratch::default());
            assert_eq!(out.len(), start.len());
        }
    }
});
