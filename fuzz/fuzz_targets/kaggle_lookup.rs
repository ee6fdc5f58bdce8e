//! Fuzz target: Kaggle IdLookupTable parser must return Ok or Err on any input, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = facemark_formats::kaggle::parse_id_lookup(s, Path::new("IdLookupTable.csv"));
    }
});
