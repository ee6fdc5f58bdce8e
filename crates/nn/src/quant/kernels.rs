//! The int8 kernels' entry points (AVX-512 VNNI where [`super::vnni_available`], else the
//! portable loops) and the portable loops themselves: the reference the VNNI kernels equal.

#[cfg(target_arch = "x86_64")]
use super::{vnni, vnni_available};

/// The largest value of `xs`, at least 0 (NaN ignored): exact, so the same with or without
/// AVX-512.
pub(super) fn max_non_negative(xs: &[f32], fast: bool) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if fast && vnni_available() {
        // SAFETY: AVX-512F present (checked).
        return unsafe { vnni::max_non_negative(xs) };
    }
    xs.iter().fold(0.0f32, |m, &v| m.max(v))
}

/// `v / s_x` rounded to `[0, 255]` (`inv = 1 / s_x`; `as` saturates, negatives and NaN → 0).
#[inline]
pub(super) fn quantise(v: f32, inv: f32) -> u8 {
    (v * inv + 0.5) as u8
}

/// Quantise `xs` (`[cin][p]`) into `xq` laid out `[cin4 / 4][p16][4]`: for each group of 4
/// channels, each pixel's 4 values side by side (zero padded).
pub(super) fn pack_pixels(
    xs: &[f32],
    p: usize,
    p16: usize,
    cin: usize,
    cin4: usize,
    inv: f32,
    xq: &mut [u8],
) {
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
pub(super) fn conv_portable(
    xq: &[u8],
    p16: usize,
    w: &[i8],
    cin4: usize,
    cout: usize,
    acc: &mut [i32],
) {
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
/// packed as in [`QLinear`](super::QLinear). AVX-512 VNNI when the CPU has it, else a portable
/// loop.
pub(super) fn gemm_u8i8(
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
pub(super) fn gemm_portable(
    x: &[u8],
    p: usize,
    w: &[i8],
    cin4: usize,
    cout16: usize,
    acc: &mut [i32],
) {
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
