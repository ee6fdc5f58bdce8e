//! Tests of the int8 layers, kernels and network.

use super::kernels::{gemm_portable, gemm_u8i8};
use super::network::equalise;
use super::{kernel_name, vnni_available, QLinear, QuantNetwork};
use crate::layers::{ActKind, Conv2d, Dense, Layer};
use crate::{Network, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `FACEMARK_PORTABLE=1` turns the VNNI kernels off (CI runs these tests both ways).
#[test]
fn the_portable_switch_is_obeyed() {
    let forced = std::env::var(crate::PORTABLE_ENV).is_ok_and(|v| v.trim() == "1");
    assert_eq!(crate::simd_allowed(), !forced);
    if forced {
        assert!(!vnni_available());
        assert_eq!(kernel_name(), "portable");
        eprintln!("{}=1: the portable paths ran", crate::PORTABLE_ENV);
    }
}

#[test]
fn the_fast_kernel_equals_the_portable_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (p, cin4, cout16) in [(1, 4, 16), (7, 12, 48), (25, 192, 384), (9, 64, 144)] {
        let x: Vec<u8> = (0..p * cin4).map(|_| rng.gen()).collect();
        let w: Vec<i8> = (0..cin4 * cout16)
            .map(|_| rng.gen_range(-127..=127))
            .collect();
        let mut a = vec![0; p * cout16];
        let mut b = vec![1; p * cout16];
        gemm_u8i8(&x, p, &w, cin4, cout16, &mut a, true);
        gemm_portable(&x, p, &w, cin4, cout16, &mut b);
        assert_eq!(a, b, "p {p} cin4 {cin4} cout16 {cout16}");
    }
    if !vnni_available() {
        eprintln!("no AVX-512 VNNI here: only the portable kernel was checked");
    }
}

#[test]
fn fast_and_portable_layers_give_the_same_bits() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // channel counts off the 4 / 16 grid, pixel counts off the 16 grid, ReLU and none
    for (cin, cout, h, w, relu) in [
        (6, 5, 3, 3, true),
        (24, 48, 40, 40, true),
        (96, 20, 5, 5, false),
        // 17–25 pixels (a second register mostly padding): 25, 24, 21 and 17 pixels
        (37, 23, 5, 5, true),
        (40, 9, 4, 6, true),
        (13, 38, 3, 7, false),
        (17, 19, 1, 17, true),
        (8, 2, 5, 5, false),
    ] {
        let mut conv = Conv2d::new("pw", cin, cout, 1, 1, 0, &mut rng);
        conv.bias
            .value
            .iter_mut()
            .for_each(|b| *b = rng.gen_range(-0.5..0.5));
        conv.act = relu.then_some(ActKind::Relu);
        let per = cin * h * w;
        let mut vals: Vec<f32> = (0..3 * per).map(|_| rng.gen_range(-0.2..3.0f32)).collect();
        // a plain sample, then one with NaN and infinities (s_x infinite: all inputs 0) and
        // one of tiny values (1/s_x overflows): the same bits in each
        vals[per] = f32::NAN;
        vals[per + 1] = f32::INFINITY;
        vals[per + 2] = f32::NEG_INFINITY;
        vals[2 * per..].iter_mut().for_each(|v| *v *= 1e-38);
        let x = Tensor::new(vec![3, cin, h, w], vals);
        let q = QLinear::from_conv(&conv).unwrap();
        let (a, b) = (q.forward_with(&x, true), q.forward_with(&x, false));
        assert!(
            a.data
                .iter()
                .zip(&b.data)
                .all(|(u, v)| u.to_bits() == v.to_bits()),
            "{cin}→{cout} at {h}×{w}"
        );
    }
    if !vnni_available() {
        eprintln!("no AVX-512 VNNI here: the portable path was compared with itself");
    }
}

/// The whole pass (outputs kept per thread between calls) equals a layer-by-layer pass
/// on fresh outputs, bit for bit, also when calls alternate batch and map sizes, so a
/// kept buffer is reused, resized, or left over from another shape.
#[test]
fn kept_outputs_change_nothing() {
    use crate::layers::DepthwiseConv2d;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let relu = |mut c: Conv2d| {
        c.act = Some(ActKind::Relu);
        Layer::Conv2d(c)
    };
    let mut dw = DepthwiseConv2d::new("dw", 8, 3, 2, 1, &mut rng);
    dw.act = Some(ActKind::Relu);
    let net = Network::new(vec![
        relu(Conv2d::new("c1", 1, 8, 3, 2, 1, &mut rng)),
        Layer::Depthwise(dw),
        relu(Conv2d::new("pw", 8, 12, 1, 1, 0, &mut rng)),
    ]);
    let q = QuantNetwork::from_fused(&net);
    let input = |n: usize, s: usize, rng: &mut ChaCha8Rng| {
        Tensor::new(
            vec![n, 1, s, s],
            (0..n * s * s)
                .map(|_| rng.gen_range(-1.0..1.0f32))
                .collect(),
        )
    };
    let fresh = |x: &Tensor| (0..3).fold(x.clone(), |t, i| q.forward_layer(i, &t));
    for (n, s) in [(1, 20), (1, 20), (3, 20), (1, 12), (1, 20), (2, 9)] {
        let x = input(n, s, &mut rng);
        assert_eq!(q.forward(&x), fresh(&x), "batch {n}, {s}×{s}");
    }
}

#[test]
fn int8_layers_track_the_f32_ones() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut conv = Conv2d::new("pw", 10, 20, 1, 1, 0, &mut rng);
    conv.bias
        .value
        .iter_mut()
        .for_each(|b| *b = rng.gen_range(-0.5..0.5));
    conv.act = Some(ActKind::Relu);
    let x = Tensor::new(
        vec![2, 10, 3, 5],
        (0..300).map(|_| rng.gen_range(0.0..2.0f32)).collect(),
    );
    let want = conv.forward(&x);
    let got = QLinear::from_conv(&conv).unwrap().forward(&x);
    assert_eq!(got.shape, want.shape);
    let scale = want.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (g, w) in got.data.iter().zip(&want.data) {
        assert!((g - w).abs() < 0.02 * scale, "{g} vs {w}");
    }
    // a dense layer, [n, in] → [n, out]
    let dense = Dense::new("fc", 37, 5, 1.0, &mut rng);
    let x = Tensor::new(
        vec![3, 37],
        (0..111).map(|_| rng.gen_range(0.0..1.0f32)).collect(),
    );
    let want = dense.forward(&x);
    let got = QLinear::from_dense(&dense).forward(&x);
    assert_eq!(got.shape, vec![3, 5]);
    let scale = want.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (g, w) in got.data.iter().zip(&want.data) {
        assert!((g - w).abs() < 0.02 * scale, "{g} vs {w}");
    }
}

#[test]
fn equalisation_keeps_the_function_and_evens_the_channels() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut dw = crate::DepthwiseConv2d::new("dw", 6, 3, 1, 1, &mut rng);
    // one channel with outsized weights, as batch-norm folding can leave
    dw.weight.value[..9].iter_mut().for_each(|v| *v *= 40.0);
    let net = Network::new(vec![
        Layer::Conv2d(Conv2d::new("c1", 1, 6, 3, 1, 1, &mut rng)),
        Layer::Act(crate::Activation::new(ActKind::Relu)),
        Layer::Depthwise(dw),
        Layer::Act(crate::Activation::new(ActKind::Relu)),
        Layer::Conv2d(Conv2d::new("pw", 6, 5, 1, 1, 0, &mut rng)),
    ])
    .fused();
    let mut eq = net.clone();
    equalise(&mut eq);
    let x = Tensor::new(
        vec![1, 1, 5, 5],
        (0..25).map(|_| rng.gen_range(-1.0..1.0f32)).collect(),
    );
    let (a, b) = (net.forward(&x), eq.forward(&x));
    let scale = a.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (u, v) in a.data.iter().zip(&b.data) {
        assert!((u - v).abs() < 1e-4 * scale, "{u} vs {v}");
    }
    // the depthwise channel ranges moved toward each other
    let ranges = |n: &Network| -> Vec<f32> {
        let Layer::Depthwise(d) = &n.layers[1] else {
            panic!("layer 1 is depthwise")
        };
        d.weight
            .value
            .chunks(9)
            .map(|c| c.iter().fold(0.0f32, |m, v| m.max(v.abs())))
            .collect()
    };
    let spread = |r: Vec<f32>| {
        r.iter().cloned().fold(0.0f32, f32::max) / r.iter().cloned().fold(f32::INFINITY, f32::min)
    };
    assert!(spread(ranges(&eq)) < spread(ranges(&net)) / 3.0);
}

#[test]
fn only_layers_fed_by_a_relu_are_quantised() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let net = Network::new(vec![
        Layer::Conv2d(Conv2d::new("c1", 1, 4, 3, 1, 1, &mut rng)), // input may be negative
        Layer::Act(crate::Activation::new(ActKind::Relu)),
        Layer::Conv2d(Conv2d::new("pw1", 4, 8, 1, 1, 0, &mut rng)), // after a ReLU: int8
        Layer::Conv2d(Conv2d::new("pw2", 8, 8, 1, 1, 0, &mut rng)), // no ReLU before: f32
        Layer::Act(crate::Activation::new(ActKind::Relu)),
        Layer::Flatten,
        Layer::Dense(Dense::new("head", 8 * 16, 6, 1.0, &mut rng)), // ReLU, flatten: int8
    ])
    .fused();
    let q = QuantNetwork::from_fused(&net);
    assert_eq!(q.n_int8(), 2);
    let x = Tensor::new(
        vec![1, 1, 4, 4],
        (0..16).map(|_| rng.gen_range(-1.0..1.0f32)).collect(),
    );
    let (a, b) = (net.forward(&x), q.forward(&x));
    let scale = a.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (g, w) in b.data.iter().zip(&a.data) {
        assert!((g - w).abs() < 0.03 * scale, "{g} vs {w}");
    }
}
