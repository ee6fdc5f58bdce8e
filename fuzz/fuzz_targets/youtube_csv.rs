//! Fuzz target: YouTube-Faces CSV parser must return Ok or Err on any input, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = facemark_formats::youtube::parse_csv(s, Path::new("f.csv"), Path::new("."));
    }
});
