//! Int8 inference for the layers that hold most of a small keypoint net's multiply-adds: the
//! 1×1 (pointwise) convolutions and the dense head, when their input comes out of a ReLU.
//!
//! Why: in the `mobile` net these products take over half of the network's time in f32, at
//! close to the core's f32 FMA peak. An AVX-512 VNNI instruction (`vpdpbusd`) does 64 u8 × i8
//! multiply-adds where an f32 FMA does 16, so the same products run several times faster
//! (figures in README, `layer_times --int8`).
//!
//! Scheme (what [`QuantNetwork::forward`] computes for such a layer):
//! - weights: symmetric, per output channel: `w ≈ s_w[o] · q_w`, `q_w ∈ [-127, 127]`;
//! - inputs: per sample, from the sample's own maximum: `x ≈ s_x · q_x`, `q_x ∈ [0, 255]`
//!   (inputs are ≥ 0: only layers fed by a ReLU are quantised);
//! - products summed exactly in i32, then `y = s_x · s_w[o] · Σ q_x q_w + bias[o]`, activation.
//!
//! Before quantising, the network is equalised ([`QuantNetwork::from_fused`]), and pointwise
//! layers on maps under [`MIN_INT8_PIXELS`] run in f32. Accuracy and speed: README "int8
//! inference".
//!
//! The integer sums are exact and the f32 steps around them are the same operations in the
//! same order, so for these layers the VNNI kernels and the portable fallback give
//! bit-identical outputs; only the speed differs. (The f32 layers are as in the f32 network,
//! except the pointwise ones on tiny maps, which run [`SmallPointwise`] where the CPU has
//! AVX-512F: the same products summed in another order.)

use crate::layers::{ActKind, Conv2d, Dense, Layer};
use crate::small_pw::SmallPointwise;
use crate::{Network, Tensor};
use rayon::prelude::*;
use std::sync::OnceLock;

/// An int8 1×1 convolution (`NCHW` in and out) or dense layer (`[n, in]` → `[n, out]`).
///
/// Two layouts, one per shape of the product: a convolution has many pixels, so its kernel
/// puts 16 pixels in a register and broadcasts weights (inputs and outputs stay channel-major,
/// no transposes); a dense layer has one "pixel", so its kernel puts 16 outputs in a register
/// and broadcasts inputs.
#[derive(Debug, Clone)]
pub struct QLinear {
    cin: usize,
    cout: usize,
    /// `cin` rounded up to a multiple of 4 (one `vpdpbusd` lane sums 4 products).
    cin4: usize,
    /// `cout` rounded up to a multiple of 16 (dense: one 512-bit register of i32 sums).
    cout16: usize,
    /// Convolution: `[cout][cin4]` row-major, 4 consecutive inputs broadcast as one i32.
    /// Dense: `[cin4 / 4][cout16][4]`, the 16 outputs × 4 inputs of one instruction in 64
    /// contiguous bytes. Zero padded.
    w: Vec<i8>,
    /// Per output channel weight scale (`cout16`, 0 in the padding).
    w_scale: Vec<f32>,
    bias: Vec<f32>,
    act: Option<ActKind>,
    dense: bool,
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
    fn forward_with(&self, x: &Tensor, fast: bool) -> Tensor {
        let mut out = Tensor::zeros(vec![0]);
        self.forward_into(x, &mut out, fast);
        out
    }

    /// [`QLinear::forward_with`] into `out`, whose buffer is reused when its size fits
    /// ([`Tensor::reuse_as`]; every value is written).
    fn forward_into(&self, x: &Tensor, out: &mut Tensor, fast: bool) {
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
        let max = max_non_negative(xs, fast);
        let sx = if max > 0.0 { max / 255.0 } else { 1.0 };
        let inv = 1.0 / sx;
        let scale: Vec<f32> = self.w_scale[..self.cout].iter().map(|w| sx * w).collect();
        SCRATCH.with(|cell| {
            let (xq, acc) = &mut *cell.borrow_mut();
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
                return;
            }
            let p16 = p.div_ceil(16) * 16;
            let xq = grown(xq, self.cin4 * p16);
            #[cfg(target_arch = "x86_64")]
            if fast && vnni_available() && matches!(self.act, None | Some(ActKind::Relu)) {
                // SAFETY: AVX-512F/BW + VNNI present (checked); sizes as documented there.
                unsafe {
                    vnni::conv_sample(self, xs, p, inv, &scale, xq, o);
                }
                return;
            }
            pack_pixels(xs, p, p16, self.cin, self.cin4, inv, xq);
            let acc = grown(acc, self.cout * p16);
            conv_portable(xq, p16, &self.w, self.cin4, self.cout, acc);
            for (oc, (row, out)) in acc.chunks_exact(p16).zip(o.chunks_exact_mut(p)).enumerate() {
                for (y, &a) in out.iter_mut().zip(row) {
                    *y = self.activate(a as f32 * scale[oc] + self.bias[oc]);
                }
            }
        });
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

/// The largest value of `xs`, at least 0 (NaN ignored): exact, so the same with or without
/// AVX-512.
fn max_non_negative(xs: &[f32], fast: bool) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if fast && vnni_available() {
        // SAFETY: AVX-512F present (checked).
        return unsafe { vnni::max_non_negative(xs) };
    }
    xs.iter().fold(0.0f32, |m, &v| m.max(v))
}

/// `v / s_x` rounded to `[0, 255]` (`inv = 1 / s_x`; `as` saturates, negatives and NaN → 0).
#[inline]
fn quantise(v: f32, inv: f32) -> u8 {
    (v * inv + 0.5) as u8
}

/// Quantise `xs` (`[cin][p]`) into `xq` laid out `[cin4 / 4][p16][4]`: for each group of 4
/// channels, each pixel's 4 values side by side (zero padded).
fn pack_pixels(xs: &[f32], p: usize, p16: usize, cin: usize, cin4: usize, inv: f32, xq: &mut [u8]) {
    xq[..cin4 * p16].fill(0);
    for c in 0..cin {
        let (g, b) = (c / 4, c % 4);
        for (q, &v) in xs[c * p..(c + 1) * p].iter().enumerate() {
            xq[(g * p16 + q) * 4 + b] = quantise(v, inv);
        }
    }
}

/// `acc[o][q] = Σ_i x[i][q] · w[o][i]` (exact i32), `x` packed by [`pack_pixels`], `w`
/// `[cout][cin4]`: the reference of the VNNI convolution kernel.
fn conv_portable(xq: &[u8], p16: usize, w: &[i8], cin4: usize, cout: usize, acc: &mut [i32]) {
    for o in 0..cout {
        let row = &mut acc[o * p16..(o + 1) * p16];
        row.fill(0);
        for g in 0..cin4 / 4 {
            let w4 = &w[o * cin4 + 4 * g..o * cin4 + 4 * g + 4];
            for (q, a) in row.iter_mut().enumerate() {
                let x4 = &xq[(g * p16 + q) * 4..(g * p16 + q) * 4 + 4];
                *a += (0..4).map(|b| x4[b] as i32 * w4[b] as i32).sum::<i32>();
            }
        }
    }
}

/// `acc[q][o] = Σ_i x[q][i] · w[o][i]` in exact i32 arithmetic, for `x` `[p][cin4]` and `w`
/// packed as in [`QLinear`]. AVX-512 VNNI when the CPU has it, else a portable loop.
fn gemm_u8i8(
    x: &[u8],
    p: usize,
    w: &[i8],
    cin4: usize,
    cout16: usize,
    acc: &mut [i32],
    fast: bool,
) {
    assert!(x.len() >= p * cin4 && w.len() >= cin4 * cout16 && acc.len() >= p * cout16);
    #[cfg(target_arch = "x86_64")]
    if fast && vnni_available() {
        // SAFETY: the CPU has AVX-512F and VNNI (checked); the slices were bounds-checked
        // above for the sizes the kernel reads and writes.
        unsafe { vnni::gemm(x, p, w, cin4, cout16, acc) };
        return;
    }
    gemm_portable(x, p, w, cin4, cout16, acc);
}

/// The reference the fast kernel must equal.
fn gemm_portable(x: &[u8], p: usize, w: &[i8], cin4: usize, cout16: usize, acc: &mut [i32]) {
    for q in 0..p {
        let xr = &x[q * cin4..(q + 1) * cin4];
        for o in 0..cout16 {
            let mut s = 0i32;
            for (k, x4) in xr.chunks_exact(4).enumerate() {
                let w4 = &w[(k * cout16 + o) * 4..(k * cout16 + o) * 4 + 4];
                for b in 0..4 {
                    // wrapping as `vpdpbusd` (no overflow below ~66 000 inputs)
                    s = s.wrapping_add(x4[b] as i32 * w4[b] as i32);
                }
            }
            acc[q * cout16 + o] = s;
        }
    }
}

/// Which int8 kernel runs here, for reports: "AVX-512 VNNI" or "portable".
pub fn kernel_name() -> &'static str {
    if vnni_available() {
        "AVX-512 VNNI"
    } else {
        "portable"
    }
}

/// Whether the VNNI kernel runs here (checked once): the CPU has AVX-512 VNNI and
/// [`crate::simd_allowed`] (the portable paths are not forced by [`crate::PORTABLE_ENV`]).
pub fn vnni_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if !crate::simd_allowed() {
            return false;
        }
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| {
            std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vnni")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    /// Covers an `na × nb` grid with tiles of up to 4 × 4: calls `f::<A, B>(args…, a0, b0)`
    /// with the tile's sizes `A`, `B` as constants (so its sums stay in registers).
    macro_rules! tiles_4x4 {
        ($na:expr, $nb:expr, $f:ident, ($($arg:expr),*)) => {{
            let (na, nb) = ($na, $nb);
            let mut a0 = 0;
            while a0 < na {
                let a = (na - a0).min(4);
                let mut b0 = 0;
                while b0 < nb {
                    let b = (nb - b0).min(4);
                    match (a, b) {
                        (4, 4) => $f::<4, 4>($($arg,)* a0, b0),
                        (4, 3) => $f::<4, 3>($($arg,)* a0, b0),
                        (4, 2) => $f::<4, 2>($($arg,)* a0, b0),
                        (4, _) => $f::<4, 1>($($arg,)* a0, b0),
                        (3, 4) => $f::<3, 4>($($arg,)* a0, b0),
                        (3, 3) => $f::<3, 3>($($arg,)* a0, b0),
                        (3, 2) => $f::<3, 2>($($arg,)* a0, b0),
                        (3, _) => $f::<3, 1>($($arg,)* a0, b0),
                        (2, 4) => $f::<2, 4>($($arg,)* a0, b0),
                        (2, 3) => $f::<2, 3>($($arg,)* a0, b0),
                        (2, 2) => $f::<2, 2>($($arg,)* a0, b0),
                        (2, _) => $f::<2, 1>($($arg,)* a0, b0),
                        (_, 4) => $f::<1, 4>($($arg,)* a0, b0),
                        (_, 3) => $f::<1, 3>($($arg,)* a0, b0),
                        (_, 2) => $f::<1, 2>($($arg,)* a0, b0),
                        (_, _) => $f::<1, 1>($($arg,)* a0, b0),
                    }
                    b0 += b;
                }
                a0 += a;
            }
        }};
    }

    /// Tiles of `PQ` pixels × `NO` blocks of 16 outputs, summed over all inputs in registers.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F and VNNI; `x` must point to `(q0 + PQ)·cin4` readable
    /// bytes, `w` to `cin4·cout16` values and `acc` to `(q0 + PQ)·cout16` writable values,
    /// with `(ob0 + NO)·16 ≤ cout16` and `cin4` a multiple of 4.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn tile<const PQ: usize, const NO: usize>(
        x: *const u8,
        w: *const i8,
        acc: *mut i32,
        cin4: usize,
        cout16: usize,
        q0: usize,
        ob0: usize,
    ) {
        // SAFETY: the caller upholds the `# Safety` contract above.
        unsafe {
            let mut s = [[_mm512_setzero_si512(); NO]; PQ];
            for k in 0..cin4 / 4 {
                let mut wv = [_mm512_setzero_si512(); NO];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(w.add((k * cout16 + (ob0 + j) * 16) * 4) as *const _);
                }
                for (i, row) in s.iter_mut().enumerate() {
                    let x4 = (x.add((q0 + i) * cin4 + 4 * k) as *const i32).read_unaligned();
                    let xb = _mm512_set1_epi32(x4);
                    for j in 0..NO {
                        row[j] = _mm512_dpbusd_epi32(row[j], xb, wv[j]);
                    }
                }
            }
            for (i, row) in s.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    _mm512_storeu_si512(acc.add((q0 + i) * cout16 + (ob0 + j) * 16) as *mut _, *v);
                }
            }
        }
    }

    /// One convolution sample, all in AVX-512: quantise and pack the input (as
    /// `super::pack_pixels`), the products (as `super::conv_portable`, 16 pixels per register,
    /// weights broadcast), then scale, bias and ReLU (as `QLinear::sample`'s portable path,
    /// with the same f32 operations in the same order, so the outputs are bit-identical).
    ///
    /// Requires `q.act` none or ReLU.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F/BW and VNNI. (The sizes, `xs.len() ≥ cin·p`,
    /// `xq.len() ≥ cin4·p16`, `o.len() ≥ cout·p`, `scale.len() ≥ cout`, are asserted.)
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn conv_sample(
        q: &super::QLinear,
        xs: &[f32],
        p: usize,
        inv: f32,
        scale: &[f32],
        xq: &mut [u8],
        o: &mut [f32],
    ) {
        // SAFETY: the CPU features are the contract; the sizes the loads, stores and `conv_tile` need are asserted first.
        unsafe {
            let p16 = p.div_ceil(16) * 16;
            let (cin, cin4, cout) = (q.cin, q.cin4, q.cout);
            assert!(xs.len() >= cin * p && xq.len() >= cin4 * p16);
            assert!(o.len() >= cout * p && scale.len() >= cout && q.bias.len() >= cout);
            // quantise 16 pixels of 4 channels at a time and interleave them to [q][4]
            let vinv = _mm512_set1_ps(inv);
            let half = _mm512_set1_ps(0.5);
            let (fzero, f255) = (_mm512_setzero_ps(), _mm512_set1_ps(255.0));
            let quant16 = |c: usize, q0: usize| -> __m128i {
                if c >= cin {
                    return _mm_setzero_si128();
                }
                let n = (p - q0).min(16);
                let m: __mmask16 = if n == 16 {
                    0xffff
                } else {
                    (1u32 << n) as u16 - 1
                };
                let v = _mm512_maskz_loadu_ps(m, xs.as_ptr().add(c * p + q0));
                let t = _mm512_add_ps(_mm512_mul_ps(v, vinv), half);
                // clamp in float first, as `as u8` saturates: NaN and negatives → 0 (max returns
                // its second operand on NaN), +∞ and anything ≥ 255 → 255
                let t = _mm512_min_ps(_mm512_max_ps(t, fzero), f255);
                _mm512_maskz_cvtusepi32_epi8(m, _mm512_cvttps_epi32(t))
            };
            for g in 0..cin4 / 4 {
                for q0 in (0..p16).step_by(16) {
                    let (a, b) = (quant16(4 * g, q0), quant16(4 * g + 1, q0));
                    let (c, d) = (quant16(4 * g + 2, q0), quant16(4 * g + 3, q0));
                    let (ab_lo, ab_hi) = (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b));
                    let (cd_lo, cd_hi) = (_mm_unpacklo_epi8(c, d), _mm_unpackhi_epi8(c, d));
                    let dst = xq.as_mut_ptr().add((g * p16 + q0) * 4) as *mut __m128i;
                    _mm_storeu_si128(dst, _mm_unpacklo_epi16(ab_lo, cd_lo));
                    _mm_storeu_si128(dst.add(1), _mm_unpackhi_epi16(ab_lo, cd_lo));
                    _mm_storeu_si128(dst.add(2), _mm_unpacklo_epi16(ab_hi, cd_hi));
                    _mm_storeu_si128(dst.add(3), _mm_unpackhi_epi16(ab_hi, cd_hi));
                }
            }
            // products: tiles of up to 4 output rows × 4 registers of 16 pixels, each tile's sums
            // turned into outputs in registers: writing them to an i32 buffer and reading it back
            // cost the default model's pointwise layers about 20 µs of 110 (`layer_times --int8`;
            // `pw1` 41 → 28 µs)
            let out = Dequant {
                y: o.as_mut_ptr(),
                p,
                scale: scale.as_ptr(),
                bias: q.bias.as_ptr(),
                relu: q.act == Some(super::ActKind::Relu),
            };
            let (xp, wp) = (xq.as_ptr(), q.w.as_ptr());
            tiles_4x4!(cout, p16 / 16, conv_tile, (xp, wp, cin4, p16, out));
        }
    }

    /// Where and how `conv_tile` writes: `y` `[cout][p]` f32, `y = sum · scale[o] + bias[o]`
    /// (mul then add, as the portable path), then ReLU when `relu`.
    #[derive(Clone, Copy)]
    pub struct Dequant {
        y: *mut f32,
        p: usize,
        scale: *const f32,
        bias: *const f32,
        relu: bool,
    }

    /// `R` output rows × `V` registers of 16 pixels from pixel `16·v0`, over all inputs.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F and VNNI; `x` must point to `cin4·p16` readable bytes,
    /// `w` to `cout·cin4` values, `out` to `cout·p` writable outputs and `cout` scales and
    /// biases, with `o0 + R ≤ cout`, `16·(v0 + V) ≤ p16` and `cin4` a multiple of 4.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn conv_tile<const R: usize, const V: usize>(
        x: *const u8,
        w: *const i8,
        cin4: usize,
        p16: usize,
        out: Dequant,
        o0: usize,
        v0: usize,
    ) {
        // SAFETY: the caller upholds the `# Safety` contract above.
        unsafe {
            let mut s = [[_mm512_setzero_si512(); V]; R];
            for g in 0..cin4 / 4 {
                let mut xv = [_mm512_setzero_si512(); V];
                for (j, v) in xv.iter_mut().enumerate() {
                    *v = _mm512_loadu_si512(x.add((g * p16 + (v0 + j) * 16) * 4) as *const _);
                }
                for (r, row) in s.iter_mut().enumerate() {
                    let w4 = (w.add((o0 + r) * cin4 + 4 * g) as *const i32).read_unaligned();
                    let wb = _mm512_set1_epi32(w4);
                    for j in 0..V {
                        row[j] = _mm512_dpbusd_epi32(row[j], xv[j], wb);
                    }
                }
            }
            let fzero = _mm512_setzero_ps();
            for (r, row) in s.iter().enumerate() {
                let oc = o0 + r;
                let (sc, bi) = (
                    _mm512_set1_ps(*out.scale.add(oc)),
                    _mm512_set1_ps(*out.bias.add(oc)),
                );
                for (j, v) in row.iter().enumerate() {
                    let q0 = (v0 + j) * 16;
                    if q0 >= out.p {
                        break; // the padding pixels of the last register
                    }
                    let n = (out.p - q0).min(16);
                    let m: __mmask16 = if n == 16 {
                        0xffff
                    } else {
                        (1u32 << n) as u16 - 1
                    };
                    let mut y = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(*v), sc), bi);
                    if out.relu {
                        y = _mm512_max_ps(y, fzero);
                    }
                    _mm512_mask_storeu_ps(out.y.add(oc * out.p + q0), m, y);
                }
            }
        }
    }

    /// See `super::max_non_negative`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn max_non_negative(xs: &[f32]) -> f32 {
        // SAFETY: AVX-512F present (the contract); every load reads a whole chunk of 16 of `xs`.
        unsafe {
            let mut m = _mm512_setzero_ps();
            let chunks = xs.chunks_exact(16);
            let rest = chunks.remainder();
            for c in chunks {
                // max(v, m) returns m when v is NaN
                m = _mm512_max_ps(_mm512_loadu_ps(c.as_ptr()), m);
            }
            let mut best = _mm512_reduce_max_ps(m);
            for &v in rest {
                best = best.max(v);
            }
            best.max(0.0)
        }
    }

    /// See `super::gemm_u8i8`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F and VNNI; `x.len() ≥ p·cin4`, `w.len() ≥ cin4·cout16`,
    /// `acc.len() ≥ p·cout16`, `cin4` a multiple of 4 and `cout16` of 16 (as
    /// `super::gemm_u8i8` checks).
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn gemm(x: &[u8], p: usize, w: &[i8], cin4: usize, cout16: usize, acc: &mut [i32]) {
        // SAFETY: the caller upholds the `# Safety` contract above.
        unsafe {
            // tiles of up to 4 pixels × 4 blocks of 16 outputs
            let (xp, wp, ap) = (x.as_ptr(), w.as_ptr(), acc.as_mut_ptr());
            tiles_4x4!(p, cout16 / 16, tile, (xp, wp, ap, cin4, cout16));
        }
    }
}

/// Cross-layer equalisation (Nagel et al. 2019, "Data-free quantization"): for each depthwise
/// convolution with a fused ReLU followed by a pointwise one, output channel `c` of the first
/// is divided by `s_c` and input channel `c` of the second multiplied by it — the same function
/// in f32, as ReLU commutes with positive scales. With `s_c = √(r1_c / r2_c)` (`r1`: largest
/// |weight| of the depthwise channel, `r2`: of the pointwise input column) both ranges become
/// `√(r1_c · r2_c)`: channels with outsized activations shrink, so one per-tensor activation
/// scale and per-row weight scales lose far less to rounding.
fn equalise(net: &mut Network) {
    for i in 1..net.layers.len() {
        let (head, tail) = net.layers.split_at_mut(i);
        let (Layer::Depthwise(dw), Layer::Conv2d(pw)) = (&mut head[i - 1], &mut tail[0]) else {
            continue;
        };
        if dw.act != Some(ActKind::Relu) || pw.win.k != 1 || pw.in_c != dw.c {
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
enum QLayer {
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
            self.layer_into(l, done.last().unwrap_or(x), &mut rest[0]);
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
        self.layer_into(&self.layers[i], x, &mut out);
        out
    }

    fn layer_into(&self, l: &QLayer, x: &Tensor, out: &mut Tensor) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
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
        ] {
            let mut conv = Conv2d::new("pw", cin, cout, 1, 1, 0, &mut rng);
            conv.bias
                .value
                .iter_mut()
                .for_each(|b| *b = rng.gen_range(-0.5..0.5));
            conv.act = relu.then_some(ActKind::Relu);
            let mut vals: Vec<f32> = (0..2 * cin * h * w)
                .map(|_| rng.gen_range(-0.2..3.0f32))
                .collect();
            // NaN, infinities and a sample of tiny values (1/s_x overflows): the same bits too
            vals[0] = f32::NAN;
            vals[1] = f32::INFINITY;
            vals[2] = f32::NEG_INFINITY;
            let half = vals.len() / 2;
            vals[half..].iter_mut().for_each(|v| *v *= 1e-38);
            let x = Tensor::new(vec![2, cin, h, w], vals);
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
            r.iter().cloned().fold(0.0f32, f32::max)
                / r.iter().cloned().fold(f32::INFINITY, f32::min)
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
}
