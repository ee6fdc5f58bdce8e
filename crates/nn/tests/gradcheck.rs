#![allow(clippy::needless_range_loop)]
//! Finite-difference gradient checks for every layer, on tiny shapes.
//!
//! For a network `f` and a fixed random `r`, the loss is `L = Σ f(x)·r`; the analytic
//! gradients (backward with `dy = r`) must match central differences of `L` for the input and
//! every trainable parameter.

use facemark_nn::layers::{
    ActKind, Activation, AvgPool2d, BatchNorm, Conv2d, Dense, DepthwiseConv2d, Dropout,
    GlobalAvgPool, Layer, MaxPool2d, Residual,
};
use facemark_nn::{Network, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

mod common;
use common::{check, rng};

#[test]
fn conv2d_gradients() {
    for &(k, s, p) in &[(3, 1, 0), (3, 2, 1), (2, 1, 1), (1, 1, 0), (5, 3, 2)] {
        let mut r = rng();
        let net = Network::new(vec![Layer::Conv2d(Conv2d::new("c", 2, 3, k, s, p, &mut r))]);
        check(net, vec![2, 2, 6, 5], None, 2e-3);
    }
}

#[test]
fn depthwise_gradients() {
    for &(k, s, p) in &[(3, 1, 1), (3, 2, 1), (3, 1, 0), (2, 2, 0)] {
        let mut r = rng();
        let net = Network::new(vec![Layer::Depthwise(DepthwiseConv2d::new(
            "dw", 3, k, s, p, &mut r,
        ))]);
        check(net, vec![2, 3, 6, 7], None, 2e-3);
    }
}

#[test]
fn dense_gradients() {
    let mut r = rng();
    let net = Network::new(vec![Layer::Dense(Dense::new("d", 5, 4, 1.0, &mut r))]);
    check(net, vec![3, 5], None, 2e-3);
}

#[test]
fn batchnorm_2d_and_1d_gradients() {
    let mut bn = BatchNorm::new("bn", 3);
    bn.weight.value = vec![1.5, 0.7, -0.4];
    bn.bias.value = vec![0.1, -0.2, 0.3];
    check(
        Network::new(vec![Layer::BatchNorm(bn.clone())]),
        vec![2, 3, 3, 2],
        None,
        5e-3,
    );
    check(
        Network::new(vec![Layer::BatchNorm(bn)]),
        vec![5, 3],
        None,
        5e-3,
    );
}

/// An affine layer ([`BatchNorm::fixed_stats`], dlib's `affine`): the running statistics in
/// training too, gradients for weight, bias and input; the statistics never move.
#[test]
fn fixed_stats_batchnorm_gradients() {
    let mut bn = BatchNorm::new("aff", 3);
    bn.fixed_stats = true;
    bn.weight.value = vec![1.5, 0.7, -0.4];
    bn.bias.value = vec![0.1, -0.2, 0.3];
    bn.running_mean.value = vec![0.2, -0.1, 0.05];
    bn.running_var.value = vec![0.5, 2.0, 1.3];
    let net = Network::new(vec![Layer::BatchNorm(bn.clone())]);
    check(net.clone(), vec![2, 3, 3, 2], None, 5e-3);
    // one sample behaves as at inference, and the statistics stay
    let mut net = net;
    let x = Tensor::new(vec![1, 3, 1, 2], vec![0.3, -0.5, 1.0, 0.2, -0.7, 0.9]);
    let a = net.forward(&x);
    let b = net.forward_train(x, &mut rng());
    for (p, q) in a.data.iter().zip(&b.data) {
        assert!((p - q).abs() < 1e-6, "{p} vs {q}");
    }
    assert_eq!(
        net.param("aff.running_mean").unwrap().value,
        bn.running_mean.value
    );
    assert_eq!(
        net.param("aff.running_var").unwrap().value,
        bn.running_var.value
    );
}

#[test]
fn maxpool_gradients() {
    // distinct, well separated values so that a ±h step never changes the arg-max
    let n = 2 * 2 * 7 * 7;
    let mut vals: Vec<f32> = (0..n).map(|i| i as f32 * 0.05).collect();
    let mut r = rng();
    for i in (1..n).rev() {
        vals.swap(i, r.gen_range(0..=i));
    }
    for &(k, s) in &[(3, 3), (2, 2), (3, 2)] {
        let net = Network::new(vec![Layer::MaxPool(MaxPool2d::new(k, s))]);
        check(net, vec![2, 2, 7, 7], Some(vals.clone()), 2e-3);
    }
}

#[test]
fn activation_gradients() {
    let mut r = rng();
    // values away from the kinks (0 and 6)
    let vals: Vec<f32> = (0..40)
        .map(|_| {
            let v: f32 = r.gen_range(0.1..3.0);
            if r.gen::<bool>() {
                v
            } else {
                -v
            }
        })
        .collect();
    for kind in [ActKind::Relu, ActKind::Relu6, ActKind::Elu] {
        let net = Network::new(vec![Layer::Act(Activation::new(kind))]);
        check(net, vec![4, 10], Some(vals.clone()), 2e-3);
    }
}

#[test]
fn dropout_and_flatten_gradients() {
    let net = Network::new(vec![Layer::Dropout(Dropout::new(0.3)), Layer::Flatten]);
    check(net, vec![2, 2, 3, 3], None, 2e-3);
}

#[test]
fn small_network_end_to_end_gradients() {
    // conv → BN → ReLU6-free smooth path (ELU) → pool → depthwise → flatten → dense → BN → dense
    let mut r = rng();
    let net = Network::new(vec![
        Layer::Conv2d(Conv2d::new("conv1", 1, 3, 3, 1, 1, &mut r)),
        Layer::BatchNorm(BatchNorm::new("bn1", 3)),
        Layer::Act(Activation::new(ActKind::Elu)),
        Layer::Depthwise(DepthwiseConv2d::new("dw", 3, 3, 2, 1, &mut r)),
        Layer::Flatten,
        Layer::Dense(Dense::new("fc", 3 * 4 * 4, 6, 1.0, &mut r)),
        Layer::BatchNorm(BatchNorm::new("bn2", 6)),
        Layer::Act(Activation::new(ActKind::Elu)),
        Layer::Dense(Dense::new("head", 6, 4, 1.0, &mut r)),
    ]);
    check(net, vec![3, 1, 8, 8], None, 1e-2);
}

#[test]
fn fused_network_matches_unfused_inference() {
    let mut r = rng();
    let mut net = Network::new(vec![
        Layer::Conv2d(Conv2d::new("conv1", 1, 4, 3, 2, 1, &mut r)),
        Layer::BatchNorm(BatchNorm::new("bn1", 4)),
        Layer::Act(Activation::new(ActKind::Relu)),
        Layer::Depthwise(DepthwiseConv2d::new("dw", 4, 3, 1, 1, &mut r)),
        Layer::BatchNorm(BatchNorm::new("bn2", 4)),
        Layer::Flatten,
        Layer::Dense(Dense::new("head", 4 * 4 * 4, 3, 1.0, &mut r)),
    ]);
    // give the batch norms non-trivial running statistics
    let x = Tensor::new(
        vec![4, 1, 8, 8],
        (0..256).map(|i| ((i * 7) % 13) as f32 * 0.1).collect(),
    );
    for _ in 0..3 {
        net.forward_train(x.clone(), &mut r);
    }
    let a = net.forward(&x);
    let b = net.fused().forward(&x);
    assert_eq!(net.fused().layers.len(), net.layers.len() - 3); // 2 BN + 1 ReLU folded
    for (u, v) in a.data.iter().zip(&b.data) {
        assert!((u - v).abs() < 1e-4, "{u} vs {v}");
    }
}

#[test]
fn frozen_layers_get_no_gradient_and_stop_the_backward_pass() {
    let mut r = rng();
    let mut net = Network::new(vec![
        Layer::Conv2d(Conv2d::new("conv1", 1, 2, 3, 1, 1, &mut r)),
        Layer::BatchNorm(BatchNorm::new("bn1", 2)),
        Layer::Act(Activation::new(ActKind::Relu)),
        Layer::Flatten,
        Layer::Dense(Dense::new("head", 2 * 4 * 4, 3, 1.0, &mut r)),
    ]);
    let frozen = net.freeze(&["conv1".into(), "bn1".into()]);
    assert_eq!(frozen.len(), 6);
    let x = Tensor::new(
        vec![2, 1, 4, 4],
        (0..32).map(|i| i as f32 * 0.1 - 1.0).collect(),
    );
    let bn_mean = net.param("bn1.running_mean").unwrap().value.clone();
    let y = net.forward_train(x, &mut r);
    // a frozen batch norm keeps its running statistics
    assert_eq!(net.param("bn1.running_mean").unwrap().value, bn_mean);
    net.zero_grad();
    assert!(net
        .backward(Tensor::new(y.shape.clone(), vec![1.0; 6]), false)
        .is_none());
    assert!(net
        .param("conv1.weight")
        .unwrap()
        .grad
        .iter()
        .all(|g| *g == 0.0));
    assert!(net
        .param("head.weight")
        .unwrap()
        .grad
        .iter()
        .any(|g| *g != 0.0));
}

#[test]
fn depthwise_3x3_fast_path_matches_the_definition() {
    for &(h, w) in &[(5, 6), (1, 1), (2, 2), (1, 4)] {
        let mut r = rng();
        let dw = DepthwiseConv2d::new("dw", 2, 3, 1, 1, &mut r);
        let x = Tensor::new(
            vec![1, 2, h, w],
            (0..2 * h * w).map(|_| r.gen_range(-1.0..1.0)).collect(),
        );
        let y = dw.forward(&x);
        for c in 0..2 {
            for oy in 0..h {
                for ox in 0..w {
                    let mut want = dw.bias.value[c];
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) =
                                (oy as isize + ky as isize - 1, ox as isize + kx as isize - 1);
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                want += dw.weight.value[c * 9 + ky * 3 + kx]
                                    * x.data[(c * h + iy as usize) * w + ix as usize];
                            }
                        }
                    }
                    let got = y.data[(c * h + oy) * w + ox];
                    assert!(
                        (got - want).abs() < 1e-5,
                        "{h}x{w} c{c} ({ox},{oy}): {got} vs {want}"
                    );
                }
            }
        }
        let net = Network::new(vec![Layer::Depthwise(dw)]);
        check(net, vec![1, 2, h, w], None, 2e-3);
    }
}

#[test]
fn avgpool_gradients() {
    let net = Network::new(vec![Layer::AvgPool(AvgPool2d::new(2, 2))]);
    check(net, vec![2, 2, 5, 5], None, 2e-3);
    let net = Network::new(vec![Layer::AvgPool(AvgPool2d::new(3, 1))]);
    check(net, vec![1, 2, 4, 5], None, 2e-3);
    let net = Network::new(vec![Layer::GlobalAvgPool(GlobalAvgPool::new())]);
    check(net, vec![2, 3, 3, 4], None, 2e-3);
}

/// dlib's two ResNet blocks: an identity shortcut, and a down-sampling one whose shortcut
/// (avg pool) has fewer channels and a larger map than the body (zero-padded addition). ELU
/// inside the bodies: smooth, so that no input sits on a kink of the finite differences.
#[test]
fn residual_gradients() {
    let r = &mut rng();
    // the down block as dlib's: con, affine, activation, con, affine (affine = a batch norm
    // with fixed statistics, [`BatchNorm::fixed_stats`])
    let affine = |name: String, c: usize| {
        let mut bn = BatchNorm::new(&name, c);
        bn.fixed_stats = true;
        bn.weight.value = (0..c).map(|i| 0.8 + 0.1 * i as f32).collect();
        bn.bias.value = (0..c).map(|i| 0.05 * i as f32 - 0.1).collect();
        Layer::BatchNorm(bn)
    };
    let body = |name: &str, cin, cout, stride, r: &mut ChaCha8Rng| {
        Network::new(vec![
            Layer::Conv2d(Conv2d::new(&format!("{name}a"), cin, cout, 3, stride, 0, r)),
            affine(format!("{name}fa"), cout),
            Layer::Act(Activation::new(ActKind::Elu)),
            Layer::Conv2d(Conv2d::new(&format!("{name}b"), cout, cout, 3, 1, 1, r)),
            affine(format!("{name}fb"), cout),
        ])
    };
    // body: 8×8 → 3×3 (3×3 stride 2, no padding); shortcut: 8×8 → 4×4, 2 channels
    let down = Layer::Residual(Residual::new(
        body("r2", 2, 3, 2, r),
        Network::new(vec![Layer::AvgPool(AvgPool2d::new(2, 2))]),
    ));
    // the identity block needs a body that keeps the size: pad it
    let keep = Network::new(vec![
        Layer::Conv2d(Conv2d::new("k1", 2, 2, 3, 1, 1, r)),
        Layer::Act(Activation::new(ActKind::Elu)),
        Layer::Conv2d(Conv2d::new("k2", 2, 2, 3, 1, 1, r)),
    ]);
    let identity = Layer::Residual(Residual::new(keep, Network::new(vec![])));
    let net = Network::new(vec![
        identity,
        down,
        Layer::GlobalAvgPool(GlobalAvgPool::new()),
        Layer::Dense(Dense::new("fc", 3, 2, 1.0, r)),
    ]);
    check(net.clone(), vec![2, 2, 8, 8], None, 3e-3);
    // fused inference (ReLU folded into the convolutions inside the blocks) gives the same
    let x = Tensor::new(
        vec![1, 2, 8, 8],
        (0..128)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0)
            .collect(),
    );
    let (a, b) = (net.forward(&x), net.fused().forward(&x));
    for (p, q) in a.data.iter().zip(&b.data) {
        assert!((p - q).abs() < 1e-5, "{p} vs {q}");
    }
}
