//! Time of the network crop: `warp_gray_f32` of an 80×80 face crop from a 640×480 photo, one
//! thread, best of 5 rounds:
//! `cargo run --release -p facemark-core --example warp_bench`.

use facemark_core::{BoxF, CropSpec};

fn main() {
    let img = image::GrayImage::from_fn(640, 480, |x, y| {
        image::Luma([((x * 7 + y * 3) % 251) as u8])
    });
    let t = CropSpec::default().transform(&BoxF::new(200.0, 120.0, 180.0, 200.0), 80);
    let n = 20_000;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = std::time::Instant::now();
        let mut s = 0.0f32;
        for _ in 0..n {
            s += facemark_core::geometry::warp_gray_f32(&img, &t, 80, 80)[1234];
        }
        best = best.min(t0.elapsed().as_secs_f64() * 1e6 / n as f64);
        std::hint::black_box(s);
    }
    println!("warp_gray_f32, 80×80 crop of a 640×480 photo: {best:.1} µs");
}
