//! Time of one int8 pointwise layer (`facemark_nn::quant::QLinear`, 512 → 512, ReLU) by map
//! size, one thread, median of `REPS` calls per size, three passes:
//! `cargo run --release -p facemark-nn --example int8_pointwise_pixels -- [REPS]`.
//!
//! What it shows: the convolution kernel keeps 16 pixels per register, so its time follows
//! the number of 16-pixel registers (16, 25, 32, 48 pixels: 1, 2, 2, 3), not the weights'
//! bytes (the same 256 KB at every size) — where the default model's 5×5-map layers stand.

use facemark_nn::layers::{ActKind, Conv2d};
use facemark_nn::quant::QLinear;
use facemark_nn::Tensor;
use rand::SeedableRng;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reps: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(3000)
        .max(1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut conv = Conv2d::new("pw", 512, 512, 1, 1, 0, &mut rng);
    conv.act = Some(ActKind::Relu);
    let q = QLinear::from_conv(&conv).ok_or("a pointwise convolution")?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    println!("kernel: {}", facemark_nn::quant::kernel_name());
    pool.install(|| {
        for _ in 0..3 {
            for (h, w) in [(4, 4), (5, 5), (4, 8), (6, 8)] {
                let x = Tensor::new(
                    vec![1, 512, h, w],
                    (0..512 * h * w).map(|i| (i % 13) as f32 * 0.1).collect(),
                );
                let mut ts: Vec<f64> = (0..reps)
                    .map(|_| {
                        let t0 = Instant::now();
                        std::hint::black_box(q.forward(&x));
                        t0.elapsed().as_secs_f64() * 1e6
                    })
                    .collect();
                ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
                print!("{:>3} px {:6.1} µs   ", h * w, ts[ts.len() / 2]);
            }
            println!();
        }
    });
    Ok(())
}
