//! Fuzz target: iBUG .pts parser must return Ok or Err on any input, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = facemark_formats::pts::parse_pts(s, Path::new("f.pts")) {
            // Whatever parses must write and read back to the same points.
            let text = facemark_formats::pts::format_pts(&p, true);
            assert_eq!(
                facemark_formats::pts::parse_pts(&text, Path::new("g.pts")).unwrap(),
                p
            );
        }
    }
});
