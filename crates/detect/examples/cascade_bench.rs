//! Benchmark helper for bench/cascade/compare.py: runs a detector on images and prints one JSON
//! object per image: `{"image", "width", "height", "ms" (median of --repeat runs), "boxes": [[x,y,w,h],…]}`.
//!
//! `cargo run --release -p facemark-detect --example cascade_bench -- [--cascade FILE.xml | --seeta]
//!   [--scale-factor 1.1] [--min-neighbors 5] [--min-size 20] [--seeta-min-size 40] [--repeat 3]
//!   [--threads N] IMAGE…`
//! Colour images are converted to gray as OpenCV does.

use facemark_core::FaceDetector;
use facemark_detect::{to_gray, Cascade, DetectParams, Seeta};
use std::time::Instant;

type DetectFn = Box<dyn Fn(&image::GrayImage) -> Vec<facemark_core::Detection>>;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut cascade: Option<String> = None;
    let mut seeta = false;
    let mut seeta_min: Option<u32> = None;
    let mut p = DetectParams {
        scale_factor: 1.1,
        min_neighbors: 5,
        min_size: (20, 20),
        max_size: (0, 0),
    };
    let mut repeat = 3usize;
    let mut threads = 0usize;
    let mut images = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("missing value");
        match a.as_str() {
            "--cascade" => cascade = Some(val()),
            "--seeta" => seeta = true,
            "--scale-factor" => p.scale_factor = val().parse().expect("number"),
            "--min-neighbors" => p.min_neighbors = val().parse().expect("number"),
            "--min-size" => {
                let v: u32 = val().parse().expect("number");
                p.min_size = (v, v)
            }
            "--seeta-min-size" => seeta_min = Some(val().parse().expect("number")),
            "--repeat" => repeat = val().parse().expect("number"),
            "--threads" => threads = val().parse().expect("number"),
            _ => images.push(a),
        }
    }
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .expect("pool");
    }
    let det: DetectFn = if seeta {
        // --seeta-min-size: SeetaFace's smallest face (default: its own, 40 px)
        let mut s = Seeta::embedded().expect("seeta");
        if let Some(m) = seeta_min {
            s.params.min_face_size = m; // detect() raises it to 20 at least
        }
        Box::new(move |g| s.detect(g))
    } else {
        let c = match &cascade {
            Some(f) => Cascade::from_xml_file(f).expect("cascade"),
            None => Cascade::embedded_frontal().expect("cascade"),
        };
        Box::new(move |g| c.detect_multi_scale(g, &p))
    };
    for path in images {
        let img = match facemark_core::photo::open_image(&path) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let g = to_gray(&img);
        let mut times = Vec::new();
        let mut out = Vec::new();
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            out = det(&g);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let boxes: Vec<[f32; 4]> = out
            .iter()
            .map(|d| [d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h])
            .collect();
        let j = serde_json::json!({
            "image": path, "width": g.width(), "height": g.height(),
            "ms": times[times.len() / 2], "boxes": boxes,
        });
        println!("{j}");
    }
}
