//! The int8 network ([`QuantNetwork`]): which layers become int8, cross-layer equalisation
//! before quantising, and the forward pass.

use super::{vnni_available, QLinear, QuantPipHead};
use crate::layers::{ActKind, Layer};
use crate::pip::PipLayout;
use crate::small_pw::SmallPointwise;
use crate::{Network, Tensor};
use std::sync::OnceLock;

/// Cross-layer equalisation (Nagel et al. 2019, "Data-free quantization"): for each depthwise
/// convolution with a fused ReLU followed by a pointwise one, output channel `c` of the first
/// is divided by `s_c` and input channel `c` of the second multiplied by it — the same function
/// in f32, as ReLU commutes with positive scales. With `s_c = √(r1_c / r2_c)` (`r1`: largest
/// |weight| of the depthwise channel, `r2`: of the pointwise input column) both ranges become
/// `√(r1_c · r2_c)`: channels with outsized activations shrink, so one per-tensor activation
/// scale and per-row weight scales lose far less to rounding.
pub(super) fn equalise(net: &mut Network) {
    for i in 1..net.layers.len() {
        let (head, tail) = net.layers.split_at_mut(i);
        let (Layer::Depthwise(dw), Layer::Conv2d(pw)) = (&mut head[i - 1], &mut tail[0]) else {
            continue;
        };
        if dw.act != Some(ActKind::Relu) || pw.win.k != 1 || pw.win_x.k != 1 || pw.in_c != dw.c {
            continue;
        }
        let per = dw.weight.value.len() / dw.c;
        for c in 0..dw.c {
            let r1 = dw.weight.value[c * per..(c + 1) * per]
                .iter()
                .fold(0.0f32, |m, v| m.max(v.abs()));
            let r2 =
                (0..pw.out_c).fold(0.0f32, |m, o| m.max(pw.weight.value[o * pw.in_c + c].abs()));
            if !(r1 > 0.0 && r2 > 0.0) {
                continue;
            }
            let sc = (r1 / r2).sqrt();
            dw.weight.value[c * per..(c + 1) * per]
                .iter_mut()
                .for_each(|v| *v /= sc);
            dw.bias.value[c] /= sc;
            for o in 0..pw.out_c {
                pw.weight.value[o * pw.in_c + c] *= sc;
            }
        }
    }
}

/// One layer of a [`QuantNetwork`].
#[derive(Debug, Clone)]
pub(super) enum QLayer {
    F32(Layer),
    /// The int8 layer and its f32 original, which runs on maps below [`MIN_INT8_PIXELS`]
    /// (through [`SmallPointwise`] where the CPU has AVX-512F; made on first use).
    Int8(QLinear, Layer, OnceLock<Option<SmallPointwise>>),
}

/// Pointwise layers on smaller maps run in f32: a register holds 16 pixels, so the int8 kernel
/// wastes lanes there, and a few values set the per-tensor scale, so one outlier costs the
/// rest their precision. Measured on the 3×3 map of the `mobile` net at 80² input (equalised):
/// in int8 it raised cross-validation fold 5's NME from 5.74 to 6.04 % (README "int8 inference").
pub const MIN_INT8_PIXELS: usize = 16;

/// [`QuantNetwork::forward`] keeps its per-layer outputs for the next call while they hold at
/// most this many values (16 MB).
const KEEP_OUTPUTS_MAX_VALUES: usize = 4 << 20;

/// An inference network with its eligible layers in int8 (see the module docs); the others run
/// as in the f32 network they came from.
#[derive(Debug, Clone)]
pub struct QuantNetwork {
    layers: Vec<QLayer>,
}

impl QuantNetwork {
    /// Quantise a *fused* network ([`Network::fused`]) after cross-layer equalisation (`equalise`):
    /// each pointwise convolution and dense layer whose input comes straight out of a ReLU
    /// (fused into the layer before it, across a flatten) becomes int8, except pointwise
    /// layers on maps below [`MIN_INT8_PIXELS`]; everything else stays f32.
    pub fn from_fused(net: &Network) -> QuantNetwork {
        let mut net = net.clone();
        equalise(&mut net);
        let mut layers = Vec::with_capacity(net.layers.len());
        // does the current activation come out of a ReLU?
        let mut relu_in = false;
        for l in &net.layers {
            let q = match l {
                Layer::Conv2d(c) if relu_in => QLinear::from_conv(c),
                Layer::Dense(d) if relu_in => Some(QLinear::from_dense(d)),
                _ => None,
            };
            relu_in = match l {
                Layer::Conv2d(c) => c.act == Some(ActKind::Relu),
                Layer::Depthwise(c) => c.act == Some(ActKind::Relu),
                Layer::Act(a) => a.kind == ActKind::Relu,
                Layer::Flatten | Layer::Dropout(_) | Layer::MaxPool(_) => relu_in,
                _ => false,
            };
            layers.push(match q {
                Some(q) => QLayer::Int8(q, l.clone(), OnceLock::new()),
                None => QLayer::F32(l.clone()),
            });
        }
        QuantNetwork { layers }
    }

    /// Number of int8 layers.
    pub fn n_int8(&self) -> usize {
        self.layers
            .iter()
            .filter(|l| matches!(l, QLayer::Int8(..)))
            .count()
    }

    /// The network on `x`. Each layer writes into an output kept per thread from call to call
    /// (one per layer), so repeated single-face calls allocate and zero nothing: the fresh
    /// output of every layer had cost about 7 % of a forward pass in memset (`perf`, the
    /// default model).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        thread_local! {
            static OUTPUTS: std::cell::Cell<Vec<Tensor>> = const { std::cell::Cell::new(Vec::new()) };
        }
        // taken out, not borrowed: a rayon wait inside a layer may run another face's forward
        // on this thread, which then finds an empty list and makes its own
        let mut outs = OUTPUTS.take();
        outs.resize_with(self.layers.len(), || Tensor::zeros(vec![0]));
        for (i, l) in self.layers.iter().enumerate() {
            let (done, rest) = outs.split_at_mut(i);
            run_layer(l, done.last().unwrap_or(x), &mut rest[0]);
        }
        let y = outs.last().cloned().unwrap_or_else(|| x.clone());
        // kept for small batches only: a library call with a thousand faces must not leave
        // gigabytes behind on the thread (one face of the default model: 1.5 MB)
        if outs.iter().map(|t| t.data.len()).sum::<usize>() <= KEEP_OUTPUTS_MAX_VALUES {
            OUTPUTS.set(outs);
        }
        y
    }

    /// Forward through layer `i` alone (for per-layer timing).
    pub fn forward_layer(&self, i: usize, x: &Tensor) -> Tensor {
        let mut out = Tensor::zeros(vec![0]);
        run_layer(&self.layers[i], x, &mut out);
        out
    }

    /// Takes the last layer off as a [`QuantPipHead`] when it is a PIP head of `layout` run in
    /// int8 (a 1×1 convolution fed by a ReLU, with `layout.channels()` outputs and no
    /// activation); `None`, and the network unchanged, otherwise. [`QuantNetwork::forward`]
    /// then stops at the head's input, and the head's [`QuantPipHead::forward`] gives the
    /// points that its whole output, decoded ([`PipLayout::decode`]), would.
    pub fn split_pip_head(&mut self, layout: PipLayout) -> Option<QuantPipHead> {
        let Some(QLayer::Int8(q, Layer::Conv2d(_), _)) = self.layers.last() else {
            return None;
        };
        if q.dense || q.act.is_some() || q.cout != layout.channels() {
            return None;
        }
        let full = self.layers.pop()?;
        Some(QuantPipHead::new(full, layout))
    }
}

/// Layer `l` on `x` into `out`: int8 where the map is large enough, else in f32.
pub(super) fn run_layer(l: &QLayer, x: &Tensor, out: &mut Tensor) {
    match l {
        QLayer::F32(l) => l.forward_into(x, out),
        QLayer::Int8(q, f, small) => {
            if q.dense || x.per_sample() / q.cin >= MIN_INT8_PIXELS {
                return q.forward_into(x, out, vnni_available());
            }
            let small = small.get_or_init(|| match f {
                Layer::Conv2d(c) => SmallPointwise::from_conv(c),
                _ => None,
            });
            if !small.as_ref().is_some_and(|s| s.forward_into(x, out)) {
                f.forward_into(x, out);
            }
        }
    }
}
