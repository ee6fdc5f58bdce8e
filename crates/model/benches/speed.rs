//! Speed of the keypoint networks on this machine (not a test: prints figures).
//!
//! `cargo bench -p facemark-model --bench speed [-- FILTER]`
//! Measures, for each architecture (`mobile` at width 1.5, inputs 64, 80 and 96): one-face inference on one thread (fused batch norm), and
//! a training step (forward, MSE, backward, Adam) at the architecture's usual batch size on
//! the rayon pool (`RAYON_NUM_THREADS`, default all cores).

use facemark_model::ArchConfig;
use facemark_nn::{masked_loss, Adam, AdamConfig, LossKind, Network, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn infer_ms(net: &Network, s: usize, reps: usize, threads: usize) -> f64 {
    let x = Tensor::new(
        vec![1, 1, s, s],
        (0..s * s).map(|i| ((i % 97) as f32) / 48.5 - 1.0).collect(),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        for _ in 0..3 {
            std::hint::black_box(net.forward(&x));
        }
        let t: Vec<f64> = (0..reps)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(net.forward(&x));
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        median(t)
    })
}

fn train_step_ms(net: &mut Network, s: usize, batch: usize, reps: usize) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let n = batch * s * s;
    let x = Tensor::new(
        vec![batch, 1, s, s],
        (0..n).map(|i| ((i % 97) as f32) / 48.5 - 1.0).collect(),
    );
    let mut opt = Adam::new(AdamConfig::default());
    let mut step = || {
        net.zero_grad();
        let y = net.forward_train(x.clone(), &mut rng);
        let tgt = vec![0.1; y.len()];
        let mask = vec![true; y.len()];
        let (_, g) = masked_loss(LossKind::Mse, &y.data, &tgt, &mask);
        net.backward(Tensor::new(y.shape.clone(), g), false);
        let mut ps = net.params_mut();
        opt.step(&mut ps, 1e-4);
    };
    step();
    let t: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            step();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    median(t)
}

fn main() {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let threads = rayon::current_num_threads();
    let mut cases: Vec<(String, ArchConfig, usize, usize)> = Vec::new();
    // The default recipe's width (1.5) at the input sizes it was tried at.
    for s in [64u32, 80, 96] {
        let mut a = ArchConfig::mobile(68);
        a.input_size = s;
        a.width = 1.5;
        cases.push((format!("mobile{s}"), a, 32, 20));
    }
    cases.push(("naimish".into(), ArchConfig::naimish(15), 32, 5));
    cases.push(("seed001".into(), ArchConfig::seed001(68), 16, 5));
    for (name, arch, batch, reps) in cases {
        if !name.contains(&filter) {
            continue;
        }
        let mut net = arch.build(0).unwrap();
        let s = arch.input_size as usize;
        let plain = infer_ms(&net, s, reps * 10, 1);
        let fused = infer_ms(&net.fused(), s, reps * 10, 1);
        let fused_n = infer_ms(&net.fused(), s, reps * 10, threads);
        let step = train_step_ms(&mut net, s, batch, reps);
        println!(
            "{name:10} input {s:3}  weights {:6.2} MB  infer 1 face 1 thread: {plain:8.3} ms (fused BN {fused:8.3} ms; {threads} threads {fused_n:8.3} ms)  train step batch {batch} on {threads} threads: {step:8.1} ms = {:6.0} samples/s",
            net.size_bytes() as f64 / 1e6,
            batch as f64 / step * 1e3
        );
        println!(
            "JSON {{\"net\":\"{name}\",\"train_threads\":{threads},\"batch\":{batch},\"step_ms\":{step},\"infer_ms_1t\":{fused},\"infer_ms_{threads}t\":{fused_n},\"infer_unfused_ms_1t\":{plain}}}"
        );
    }
}
