//! Embeds the default landmark model (`models/default.safetensors`, with the refinement
//! cascade it carries) and the detector box calibrations (`models/calibration.json`) into the
//! library when they exist, so a built binary works offline with no files beside it. When
//! absent, empty bytes are embedded and `Pipeline::default()` returns a clear error.
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../models");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for (name, fallback) in [("default.safetensors", ""), ("calibration.json", "{}")] {
        let src = root.join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let bytes = std::fs::read(&src).unwrap_or_else(|_| fallback.as_bytes().to_vec());
        std::fs::write(out.join(name), bytes).unwrap();
    }
}
