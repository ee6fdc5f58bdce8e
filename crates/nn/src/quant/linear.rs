//! The int8 pointwise convolution / dense layer ([`QLinear`]): quantising its weights, and
//! its forward pass on one sample (the products run in [`super::kernels`] or `super::vnni`).

use super::kernels::{conv_portable, gemm_u8i8, max_non_negative, pack_pixels, quantise};
#[cfg(target_arch = "x86_64")]
use super::vnni;
use super::vnni_available;
use crate::layers::{ActKind, Conv2d, Dense};
use crate::Tensor;
use rayon::prelude::*;

/// An int8 1×1 convolution (`NCHW` in and out) or dense layer (`[n, in]` → `[n, out]`).
///
/// Two layouts, one per shape of the product: a convolution has many pixels, so its kernel
/// puts 16 pixels in a register and broadcasts weights (inputs and outputs stay channel-major,
/// no transposes); a dense layer has one "pixel", so its kernel puts 16 outputs in a register
/// and broadcasts inputs.
#[derive(Debug, Clone)]
pub struct QLinear {
    pub(super) cin: usize,
    pub(super) cout: usize,
    /// `cin` rounded up to a multiple of 4 (one `vpdpbusd` lane sums 4 products).
    pub(super) cin4: usize,
    /// `cout` rounded up to a multiple of 16 (dense: one 512-bit register of i32 sums).
    cout16: usize,
    /// Convolution: `[cout][cin4]` row-major, 4 consecutive inputs broadcast as one i32.
    /// Dense: `[cin4 / 4][cout16][4]`, the 16 outputs × 4 inputs of one instruction in 64
    /// contiguous bytes. Zero padded.
    pub(super) w: Vec<i8>,
    /// Per output channel weight scale (`cout16`, 0 in the padding).
    pub(super) w_scale: Vec<f32>,
    pub(super) bias: Vec<f32>,
    pub(super) act: Option<ActKind>,
    pub(super) dense: bool,
}

impl QLinear {
    /// Quantise `weight` (`[cout, cin]` row-major) with `bias`.
    fn new(
        weight: &[f32],
        bias: &[f32],
        cin: usize,
        cout: usize,
        act: Option<ActKind>,
        dense: bool,
    ) -> QLinear {
        let cin4 = cin.div_ceil(4) * 4;
        let cout16 = cout.div_ceil(16) * 16;
        let mut w = vec![0i8; cin4 * cout16];
        let mut w_scale = vec![0.0f32; cout16];
        for o in 0..cout {
            let row = &weight[o * cin..(o + 1) * cin];
            let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            w_scale[o] = s;
            for (i, v) in row.iter().enumerate() {
                let q = (v / s).round().clamp(-127.0, 127.0) as i8;
                let at = if dense {
                    ((i / 4) * cout16 + o) * 4 + i % 4
                } else {
                    o * cin4 + i
                };
                w[at] = q;
            }
        }
        QLinear {
            cin,
            cout,
            cin4,
            cout16,
            w,
            w_scale,
            bias: bias.to_vec(),
            act,
            dense,
        }
    }

    /// A pointwise convolution (1×1, stride 1, no padding); `None` for any other.
    pub fn from_conv(c: &Conv2d) -> Option<QLinear> {
        c.pointwise().then(|| {
            QLinear::new(
                &c.weight.value,
                &c.bias.value,
                c.in_c,
                c.out_c,
                c.act,
                false,
            )
        })
    }

    /// The first `n` output channels of a convolution (`n ≤ cout`), their weights, scales and
    /// biases as quantised here: the same outputs as those channels of `self`.
    pub(super) fn first_outputs(&self, n: usize) -> QLinear {
        assert!(
            !self.dense && n <= self.cout,
            "first_outputs: a convolution's channels"
        );
        let cout16 = n.div_ceil(16) * 16;
        let mut w_scale = self.w_scale[..n].to_vec();
        w_scale.resize(cout16, 0.0);
        QLinear {
            cin: self.cin,
            cout: n,
            cin4: self.cin4,
            cout16,
            w: self.w[..n * self.cin4].to_vec(),
            w_scale,
            bias: self.bias[..n].to_vec(),
            act: self.act,
            dense: false,
        }
    }

    /// A dense layer, quantised.
    pub fn from_dense(d: &Dense) -> QLinear {
        QLinear::new(&d.weight.value, &d.bias.value, d.in_f, d.out_f, None, true)
    }

    /// Inference on `x` (`NCHW` with `cin` channels, or `[n, cin]` for a dense layer).
    ///
    /// Requires inputs ≥ 0 (negative values count as 0).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with(x, vnni_available())
    }

    /// [`QLinear::forward`] with the AVX-512 kernels (`fast`, where the CPU has them) or the
    /// portable loops: the outputs are the same bits either way.
    pub(super) fn forward_with(&self, x: &Tensor, fast: bool) -> Tensor {
        let mut out = Tensor::zeros(vec![0]);
        self.forward_into(x, &mut out, fast);
        out
    }

    /// [`QLinear::forward_with`] into `out`, whose buffer is reused when its size fits
    /// ([`Tensor::reuse_as`]; every value is written).
    pub(super) fn forward_into(&self, x: &Tensor, out: &mut Tensor, fast: bool) {
        let n = x.batch();
        let per = x.per_sample();
        let p = per / self.cin;
        assert_eq!(p * self.cin, per, "int8 layer: input channels");
        let shape = if self.dense {
            vec![n, self.cout]
        } else {
            let mut s = x.shape.clone();
            s[1] = self.cout;
            s
        };
        out.reuse_as(shape)
            .par_chunks_mut(self.cout * p)
            .zip(x.data.par_chunks(per))
            .for_each(|(o, xs)| self.sample(xs, p, o, fast));
    }

    /// One sample: `xs` channel-major `[cin][p]`, `o` channel-major `[cout][p]` (a dense
    /// layer: `p == 1`).
    fn sample(&self, xs: &[f32], p: usize, o: &mut [f32], fast: bool) {
        assert!(
            !self.dense || p == 1,
            "dense int8 layer: one row per sample"
        );
        thread_local! {
            /// Per-thread scratch (quantised input, i32 sums), reused between calls.
            static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<i32>)> = Default::default();
        }
        SCRATCH.with(|cell| {
            let (xq, acc) = &mut *cell.borrow_mut();
            self.sample_in(xs, p, o, fast, xq, acc);
        });
    }

    /// [`QLinear::sample`] with the scratch buffers given: `xq` (quantised input) and `acc`
    /// (i32 sums), grown as needed. Returns the input's scale `s_x`; for a convolution `xq`
    /// then starts with the input quantised and packed as [`pack_pixels`] lays it out
    /// (`[cin4 / 4][p16][4]`, `p16 = p` rounded up to 16), the same bytes on either path.
    pub(super) fn sample_in(
        &self,
        xs: &[f32],
        p: usize,
        o: &mut [f32],
        fast: bool,
        xq: &mut Vec<u8>,
        acc: &mut Vec<i32>,
    ) -> f32 {
        let max = max_non_negative(xs, fast);
        let sx = if max > 0.0 { max / 255.0 } else { 1.0 };
        let inv = 1.0 / sx;
        let scale: Vec<f32> = self.w_scale[..self.cout].iter().map(|w| sx * w).collect();
        if self.dense {
            // one pixel: the input is already the `[1][cin4]` row the kernel wants
            let (xq, acc) = (grown(xq, self.cin4), grown(acc, self.cout16));
            let (x, pad) = xq.split_at_mut(self.cin);
            x.iter_mut()
                .zip(xs)
                .for_each(|(q, &v)| *q = quantise(v, inv));
            pad.fill(0);
            gemm_u8i8(xq, 1, &self.w, self.cin4, self.cout16, acc, fast);
            for (oc, y) in o.iter_mut().enumerate() {
                *y = self.activate(acc[oc] as f32 * scale[oc] + self.bias[oc]);
            }
            return sx;
        }
        let p16 = p.div_ceil(16) * 16;
        let xq = grown(xq, self.cin4 * p16);
        #[cfg(target_arch = "x86_64")]
        if fast && vnni_available() && matches!(self.act, None | Some(ActKind::Relu)) {
            // SAFETY: AVX-512F/BW + VNNI present (checked); sizes as documented there.
            unsafe {
                vnni::conv_sample(self, xs, p, inv, &scale, xq, o);
            }
            return sx;
        }
        pack_pixels(xs, p, p16, self.cin, self.cin4, inv, xq);
        let acc = grown(acc, self.cout * p16);
        conv_portable(xq, p16, &self.w, self.cin4, self.cout, acc);
        for (oc, (row, out)) in acc.chunks_exact(p16).zip(o.chunks_exact_mut(p)).enumerate() {
            for (y, &a) in out.iter_mut().zip(row) {
                *y = self.activate(a as f32 * scale[oc] + self.bias[oc]);
            }
        }
        sx
    }

    fn activate(&self, y: f32) -> f32 {
        match self.act {
            Some(k) => k.apply(y),
            None => y,
        }
    }
}

/// The first `n` elements of a scratch buffer, grown (never shrunk) to hold them: the kernels
/// write every element they later read, and re-zeroing on each layer's resize showed in
/// profiles.
fn grown<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}
