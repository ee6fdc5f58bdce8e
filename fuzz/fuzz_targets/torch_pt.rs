//! Fuzz target: PyTorch state dicts (`facemark_formats::torch`) must read as Ok or Err on any
//! input, never panic nor allocate beyond a small multiple of the file's size; what reads must
//! hold tensors whose values fit their shapes, and the FaceNet loader must map it or refuse it.
//!
//! Seed with the fixtures: `mkdir -p corpus/torch_pt && cp ../crates/formats/tests/data/torch_*.pt corpus/torch_pt/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sd) = facemark_formats::torch::read_state_dict(data) {
        for (_, t) in &sd {
            if t.dtype == facemark_formats::torch::Dtype::F32 {
                assert_eq!(t.values.len(), t.shape.iter().product::<usize>());
            }
        }
        let cfg = facemark_recog::facenet::FacenetConfig {
            width_div: 16,
            repeats: [1, 1, 1],
            embedding: 8,
        };
        let _ = facemark_recog::facenet::from_state_dict(&sd, cfg);
    }
});
