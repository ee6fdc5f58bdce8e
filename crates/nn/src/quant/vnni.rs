//! The AVX-512 VNNI kernels (x86-64 only; run when [`super::vnni_available`]).

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
/// `super::kernels::pack_pixels`), the products (as `super::kernels::conv_portable`, 16 pixels
/// per register, weights broadcast), then scale, bias and ReLU (as `QLinear::sample`'s portable
/// path, with the same f32 operations in the same order, so the outputs are bit-identical).
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
            relu: q.act == Some(crate::layers::ActKind::Relu),
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

/// See `super::kernels::max_non_negative`.
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

/// See `super::kernels::gemm_u8i8`.
///
/// # Safety
///
/// The CPU must support AVX-512F and VNNI; `x.len() ≥ p·cin4`, `w.len() ≥ cin4·cout16`,
/// `acc.len() ≥ p·cout16`, `cin4` a multiple of 4 and `cout16` of 16 (as
/// `super::kernels::gemm_u8i8` checks).
#[target_feature(enable = "avx512f,avx512vnni")]
pub unsafe fn gemm(x: &[u8], p: usize, w: &[i8], cin4: usize, cout16: usize, acc: &mut [i32]) {
    // SAFETY: the caller upholds the `# Safety` contract above.
    unsafe {
        // tiles of up to 4 pixels × 4 blocks of 16 outputs
        let (xp, wp, ap) = (x.as_ptr(), w.as_ptr(), acc.as_mut_ptr());
        tiles_4x4!(p, cout16 / 16, tile, (xp, wp, ap, cin4, cout16));
    }
}
