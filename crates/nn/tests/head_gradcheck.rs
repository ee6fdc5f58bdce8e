//! Finite-difference checks of the map heads' losses (PIP, integral): the analytic gradient
//! with respect to the head's output equals central differences of the loss, on tiny maps,
//! with a missing point and several samples.

use facemark_nn::integral::IntegralLayout;
use facemark_nn::pip::{nearest_neighbours, PipLayout, PipWeights};
use facemark_nn::LossKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Central differences of `f` at `x` against `g`; relative tolerance `tol`.
fn check(x: &[f32], g: &[f32], tol: f32, f: impl Fn(&[f32]) -> f32) {
    let h = 1e-2f32; // the terms are quadratic, linear or smooth: exact enough, above f32 noise
    let mut checked = 0;
    for i in 0..x.len() {
        let mut xp = x.to_vec();
        xp[i] += h;
        let lp = f(&xp);
        xp[i] -= 2.0 * h;
        let lm = f(&xp);
        let num = (lp - lm) / (2.0 * h);
        let err = (num - g[i]).abs() / g[i].abs().max(1e-2);
        assert!(err < tol, "[{i}]: numeric {num} vs analytic {}", g[i]);
        checked += (g[i] != 0.0) as usize;
    }
    assert!(checked > 0, "no gradient at all");
}

fn targets_and_mask(b: usize, n: usize, rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<bool>) {
    let t: Vec<f32> = (0..b * 2 * n).map(|_| rng.gen_range(-0.95..0.95)).collect();
    let mut m = vec![true; t.len()];
    m[2] = false; // sample 0, point 1, x: point 1 missing in sample 0
    (t, m)
}

#[test]
fn pip_loss_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let shape: Vec<[f32; 2]> = (0..5).map(|_| [rng.gen(), rng.gen()]).collect();
    let l = PipLayout::new(nearest_neighbours(&shape, 3)).unwrap();
    let dims = [2, l.channels(), 3, 4];
    let out: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| rng.gen_range(-2.0..2.0))
        .collect();
    let (t, m) = targets_and_mask(2, 5, &mut rng);
    let w = PipWeights {
        score: 10.0,
        offset: 1.0,
        neighbour: 0.5,
    };
    let (_, g) = l.loss(&out, &dims, &t, &m, w);
    check(&out, &g, 2e-2, |o| l.loss(o, &dims, &t, &m, w).0);
}

#[test]
fn integral_loss_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let l = IntegralLayout { n_points: 4 };
    let dims = [2, l.channels(), 3, 5];
    let out: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| rng.gen_range(-1.0..1.0))
        .collect();
    let (t, m) = targets_and_mask(2, 4, &mut rng);
    for kind in [
        LossKind::Mse,
        LossKind::Wing {
            w: 0.05,
            epsilon: 0.01,
        },
    ] {
        let weights = [0.5f32, 1.5];
        let (_, g) = l.loss(kind, &out, &dims, &t, &m, Some(&weights));
        check(&out, &g, 2e-2, |o| {
            l.loss(kind, o, &dims, &t, &m, Some(&weights)).0
        });
    }
}
