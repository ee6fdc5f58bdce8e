//! The finite-difference gradient check shared by the gradient-check test files.
//!
//! For a network `f` and a fixed random `r`, the loss is `L = Σ f(x)·r`; the analytic
//! gradients (backward with `dy = r`) must match central differences of `L` for the input and
//! every trainable parameter.
#![allow(clippy::needless_range_loop, dead_code)]

use facemark_nn::{Network, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn loss(net: &mut Network, x: &Tensor, r: &[f32], seed: u64) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let y = net.forward_train(x.clone(), &mut rng);
    y.data
        .iter()
        .zip(r)
        .map(|(a, b)| *a as f64 * *b as f64)
        .sum()
}

/// Checks input and parameter gradients on `x_values` (random in [-1, 1) when `None`);
/// `tol` relative to max(1, |g|).
pub fn check(mut net: Network, in_shape: Vec<usize>, x_values: Option<Vec<f32>>, tol: f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n: usize = in_shape.iter().product();
    let xv = x_values.unwrap_or_else(|| (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect());
    let x = Tensor::new(in_shape, xv);
    let seed = 99;
    let y = {
        let mut r2 = ChaCha8Rng::seed_from_u64(seed);
        net.forward_train(x.clone(), &mut r2)
    };
    let r: Vec<f32> = (0..y.len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
    net.zero_grad();
    let dx = net
        .backward(Tensor::new(y.shape.clone(), r.clone()), true)
        .expect("input gradient");
    let h = 1e-2f32;
    let mut worst = 0.0f32;
    // input gradient
    for i in 0..x.len() {
        let mut xp = x.clone();
        xp.data[i] += h;
        let lp = loss(&mut net, &xp, &r, seed);
        xp.data[i] -= 2.0 * h;
        let lm = loss(&mut net, &xp, &r, seed);
        let num = ((lp - lm) / (2.0 * h as f64)) as f32;
        let err = (num - dx.data[i]).abs() / dx.data[i].abs().max(1.0);
        worst = worst.max(err);
        assert!(
            err < tol,
            "input[{i}]: numeric {num} vs analytic {}",
            dx.data[i]
        );
    }
    // parameter gradients
    let grads: Vec<(String, Vec<f32>)> = net
        .params()
        .iter()
        .filter(|p| p.trainable)
        .map(|p| (p.name.clone(), p.grad.clone()))
        .collect();
    assert!(!grads.is_empty() || net.params().is_empty());
    for (name, g) in grads {
        for i in 0..g.len() {
            let orig = net.param(&name).unwrap().value[i];
            let set = |net: &mut Network, v: f32| {
                let p = net
                    .params_mut()
                    .into_iter()
                    .find(|p| p.name == name)
                    .unwrap();
                p.value[i] = v;
            };
            set(&mut net, orig + h);
            let lp = loss(&mut net, &x, &r, seed);
            set(&mut net, orig - h);
            let lm = loss(&mut net, &x, &r, seed);
            set(&mut net, orig);
            let num = ((lp - lm) / (2.0 * h as f64)) as f32;
            let err = (num - g[i]).abs() / g[i].abs().max(1.0);
            worst = worst.max(err);
            assert!(err < tol, "{name}[{i}]: numeric {num} vs analytic {}", g[i]);
        }
    }
    eprintln!("worst relative error {worst:e}");
}

/// The tests' seeded generator.
pub fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(3)
}
