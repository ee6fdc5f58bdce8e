//! Build a face-crop cache from the YouTube-Faces training CSV and time building, saving and
//! reloading it. Run in release mode:
//!
//! ```text
//! cargo run --release -p facemark-formats --example cache_bench -- [SIZE] [CSV]
//! ```
//! Defaults: SIZE 96, CSV `../shared/data/youtube-faces-68/training_frames_keypoints.csv`.

use facemark_core::CropSpec;
use facemark_formats::{load_any, FaceCache};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let size: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(96);
    let csv = match args.next() {
        Some(p) => PathBuf::from(p),
        None => facemark_core::testdata::shared_data()
            .ok_or("no shared data; give the CSV path")?
            .join("youtube-faces-68/training_frames_keypoints.csv"),
    };
    let t = Instant::now();
    let samples = load_any(&csv)?;
    println!(
        "read {} samples in {:.3} s",
        samples.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let cache = FaceCache::build(&samples, size, CropSpec::default())?;
    println!(
        "built {} crops of {size}×{size} in {:.3} s ({} threads)",
        cache.len(),
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let dir = std::env::temp_dir().join(format!("fm-cache-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("youtube.fmc");
    let t = Instant::now();
    cache.save(&path)?;
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "saved {:.1} MB in {:.3} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let back = FaceCache::load(&path)?;
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(back.len(), cache.len());
    }
    println!(
        "reloaded {} faces in {:.3} s (best of 5)",
        cache.len(),
        best
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
