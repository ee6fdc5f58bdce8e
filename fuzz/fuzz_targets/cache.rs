//! Fuzz target: face-cache binary reader must return Ok or Err on any input, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = facemark_formats::FaceCache::from_bytes(data, Path::new("f.fmc"));
});
