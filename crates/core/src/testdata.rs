//! Locating `../shared/data` for tests and benchmarks that use the real data sets, and small
//! fixtures tests build.

use std::path::PathBuf;

/// The shared data folder: `$FACEMARK_DATA` if set, else `../shared/data` beside the workspace
/// root. `None` (and a printed reason, for test logs) when it is absent, so tests can skip.
pub fn shared_data() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("FACEMARK_DATA") {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data"
        ))],
    };
    for c in candidates {
        if c.is_dir() {
            return Some(c);
        }
        eprintln!(
            "skipping: shared data not found at {} (set FACEMARK_DATA)",
            c.display()
        );
    }
    None
}

/// `jpeg` (a baseline JPEG from any encoder) with an EXIF APP1 segment carrying the orientation
/// tag `orientation` (1–8) inserted right after SOI, as cameras write it: `Exif\0\0`, a
/// little-endian TIFF header, one IFD with one entry (0x0112, SHORT, count 1). For tests of
/// [`crate::photo`]'s orientation handling; no encoder here writes the tag.
pub fn jpeg_with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    assert_eq!(&jpeg[..2], b"\xff\xd8", "not a JPEG");
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes()); // IFD0 right after the header
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // count
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]); // the value padded to 4 bytes
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}
