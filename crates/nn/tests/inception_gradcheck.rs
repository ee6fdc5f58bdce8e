//! Finite-difference gradient checks for the Inception-ResNet pieces: rectangular convolutions,
//! branches concatenated along the channels ([`Concat`]), scaled residual blocks
//! ([`Residual::scaled`]) and L2 normalisation ([`L2Normalize`]). Same method as
//! `gradcheck.rs`: `L = Σ f(x)·r`, analytic gradients against central differences.

use facemark_nn::layers::{
    ActKind, Activation, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, GlobalAvgPool, L2Normalize,
    Layer, Residual,
};
use facemark_nn::{Network, Tensor};
use rand::Rng;

mod common;
use common::{check, rng};

#[test]
fn rectangular_conv_gradients() {
    for &(kh, kw, s, ph, pw) in &[
        (1, 3, 1, 0, 1),
        (3, 1, 1, 1, 0),
        (1, 7, 1, 0, 3),
        (2, 3, 2, 1, 0),
    ] {
        let net = Network::new(vec![Layer::Conv2d(Conv2d::rect(
            "c",
            2,
            3,
            (kh, kw),
            s,
            (ph, pw),
            &mut rng(),
        ))]);
        check(net, vec![2, 2, 6, 5], None, 2e-3);
    }
}

/// A rectangular kernel computes `y[o,i,j] = b + Σ w[o,c,ky,kx]·x[c, i·s+ky−ph, j·s+kx−pw]`.
#[test]
fn rectangular_conv_matches_direct_sum() {
    let conv = Conv2d::rect("c", 2, 3, (1, 3), 1, (0, 1), &mut rng());
    let mut r = rng();
    let x = Tensor::new(
        vec![1, 2, 4, 5],
        (0..40).map(|_| r.gen_range(-1.0..1.0)).collect(),
    );
    let y = conv.forward(&x);
    assert_eq!(y.shape, vec![1, 3, 4, 5]);
    for o in 0..3 {
        for i in 0..4 {
            for j in 0..5 {
                let mut want = 0.0f32;
                for c in 0..2 {
                    for kx in 0..3 {
                        let jx = j as isize + kx as isize - 1;
                        if (0..5).contains(&jx) {
                            want += conv.weight.value[(o * 2 + c) * 3 + kx]
                                * x.data[(c * 4 + i) * 5 + jx as usize];
                        }
                    }
                }
                let got = y.data[(o * 4 + i) * 5 + j];
                assert!((got - want).abs() < 1e-5, "{o},{i},{j}: {got} vs {want}");
            }
        }
    }
}

/// Inception's pattern: branches (one of them a pool, one the identity) concatenated,
/// a 1×1 convolution, a scaled residual addition; then pooling, a dense layer, batch norm and
/// L2 normalisation, as FaceNet ends. (FaceNet's reduction blocks have a max-pool branch;
/// an average pool stands for it here, as random inputs put max pooling's kinks within the
/// finite-difference step; `gradcheck.rs` checks max pooling on inputs made for it.)
#[test]
fn inception_block_gradients() {
    let r = &mut rng();
    let elu = || Layer::Act(Activation::new(ActKind::Elu));
    let branches = Concat::new(vec![
        Network::new(vec![
            Layer::Conv2d(Conv2d::new("b0", 2, 2, 1, 1, 0, r)),
            elu(),
        ]),
        Network::new(vec![
            Layer::Conv2d(Conv2d::rect("b1a", 2, 2, (1, 3), 1, (0, 1), r)),
            elu(),
            Layer::Conv2d(Conv2d::rect("b1b", 2, 2, (3, 1), 1, (1, 0), r)),
        ]),
        Network::new(vec![]),
    ]);
    let body = Network::new(vec![
        Layer::Concat(branches),
        Layer::Conv2d(Conv2d::new("up", 6, 2, 1, 1, 0, r)),
    ]);
    let block = Layer::Residual(Residual::scaled(body, Network::new(vec![]), 0.17));
    let mixed = Layer::Concat(Concat::new(vec![
        Network::new(vec![Layer::Conv2d(Conv2d::new("m0", 2, 3, 3, 2, 0, r))]),
        Network::new(vec![Layer::AvgPool(AvgPool2d::new(3, 2))]),
    ]));
    let net = Network::new(vec![
        block,
        elu(),
        mixed,
        Layer::GlobalAvgPool(GlobalAvgPool::new()),
        Layer::Dense(Dense::new("fc", 5, 4, 1.0, r)),
        Layer::BatchNorm(BatchNorm::new("bn", 4)),
        Layer::L2Norm(L2Normalize::new()),
    ]);
    check(net.clone(), vec![3, 2, 5, 5], None, 3e-3);
    // fused inference gives the same as the plain one
    let x = Tensor::new(
        vec![1, 2, 5, 5],
        (0..50)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0)
            .collect(),
    );
    let (a, b) = (net.forward(&x), net.fused().forward(&x));
    for (p, q) in a.data.iter().zip(&b.data) {
        assert!((p - q).abs() < 1e-5, "{p} vs {q}");
    }
}

#[test]
fn l2norm_gradients() {
    check(
        Network::new(vec![Layer::L2Norm(L2Normalize::new())]),
        vec![3, 5],
        None,
        2e-3,
    );
    check(
        Network::new(vec![Layer::L2Norm(L2Normalize::new())]),
        vec![2, 2, 2, 2],
        None,
        2e-3,
    );
}
