//! Helpers shared by the CLI tests: the binary, tiny fixtures the tests make.
#![allow(dead_code)] // each test file uses some of them

use facemark_core::{CropSpec, Scheme};
use facemark_model::{ArchConfig, KeypointModel, ModelMeta};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `facemark` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_facemark"))
}

/// Runs `cmd`: (exit code, stdout, stderr); panics if it cannot start.
pub fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let o: Output = cmd.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// An untrained (randomly initialised) 68-point mobile model at `dir/tiny.safetensors`: enough
/// to exercise the plumbing.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let arch = ArchConfig::mobile(68);
    let net = arch.build(7).unwrap();
    let model = KeypointModel::new(
        ModelMeta::new(arch, Scheme::ibug68(), CropSpec::default()),
        net,
    );
    let p = dir.join("tiny.safetensors");
    model.save(&p).unwrap();
    p
}

/// A 120×100 gray gradient saved as `path`, in the type its extension names.
pub fn gradient_image(path: &Path) {
    image::GrayImage::from_fn(120, 100, |x, y| image::Luma([((x * 2 + y) % 256) as u8]))
        .save(path)
        .unwrap();
}

/// The same picture as PNG bytes (to save under any name).
pub fn gradient_png_bytes() -> Vec<u8> {
    let mut png = std::io::Cursor::new(Vec::new());
    image::GrayImage::from_fn(120, 100, |x, y| image::Luma([((x * 2 + y) % 256) as u8]))
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    png.into_inner()
}

/// 68 points spread over the middle of a 120×100 picture.
pub fn face_points() -> Vec<[f32; 2]> {
    (0..68)
        .map(|i| [30.0 + (i % 10) as f32 * 6.0, 25.0 + (i / 10) as f32 * 8.0])
        .collect()
}

/// A 300-W style folder `dir/NAME` of four faces (`pK_1.png` gradients, `pK_1.pts` with
/// [`face_points`]), enough for `eval`, `train` and `calibrate` to run.
pub fn face_set(dir: &Path, name: &str) -> PathBuf {
    let w = dir.join(name);
    std::fs::create_dir(&w).unwrap();
    for k in 1..=4 {
        gradient_image(&w.join(format!("p{k}_1.png")));
        let pts = w.join(format!("p{k}_1.pts"));
        facemark_formats::pts::write_pts(&pts, &face_points(), true).unwrap();
    }
    w
}
