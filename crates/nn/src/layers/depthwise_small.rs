//! 3×3 depthwise convolution (stride 1, padding 1) on tiny planes, in AVX-512: the default
//! model's two extra blocks on its 5×5 map (512 channels), which the channels-last kernel ran
//! at about 41 µs each, most of it in its scalar transposes in and out.
//!
//! Here each channel's plane stays where it is: its `h·w ≤ 64` outputs sit in up to four
//! registers of 16 pixels, and each tap is one masked load of the plane shifted by the tap's
//! offset (the mask drops the pixels whose tap falls in the padding) and one multiply-add.
//! The sums are formed as the channels-last kernel forms them: bias first, then each tap's
//! product (rounded, no FMA) added in tap order, the padding taps skipped (a masked add, not
//! `+ 0`), so the outputs are the same bits.

use super::ActKind;

/// Largest plane (`h·w`, pixels) [`image`] takes: four registers of 16.
pub(super) const MAX_PLANE: usize = 64;

/// Whether [`image`] runs here: AVX-512F present and SIMD allowed ([`crate::simd_allowed`]).
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::simd_allowed() && std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// 3×3 depthwise convolution, stride 1, padding 1, of one image (`x`: `[c, h, w]`, `wk`:
/// `[c, 3, 3]`, `bias`: `[c]`, `out`: `[c, h, w]`), then `act`.
///
/// Requires [`available`] and `1 ≤ h·w ≤` [`MAX_PLANE`] (panics otherwise) and the slices at
/// least as long as said.
pub(super) fn image(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    wk: &[f32],
    bias: &[f32],
    act: Option<ActKind>,
    out: &mut [f32],
) {
    let n = h * w;
    assert!(available(), "small depthwise kernel without AVX-512F");
    assert!(
        (1..=MAX_PLANE).contains(&n),
        "small depthwise kernel: plane {h}×{w}"
    );
    assert!(x.len() >= c * n && out.len() >= c * n && wk.len() >= 9 * c && bias.len() >= c);
    // masks[v][t]: the pixels of register `v` whose tap `t` lies inside the plane
    let mut masks = [[0u16; 9]; MAX_PLANE / 16];
    for q in 0..n {
        let (y, xx) = (q / w, q % w);
        for (t, m) in masks[q / 16].iter_mut().enumerate() {
            let (ky, kx) = (t / 3, t % 3);
            if (1..=h).contains(&(y + ky)) && (1..=w).contains(&(xx + kx)) {
                *m |= 1 << (q % 16);
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F present and the sizes checked above.
    unsafe {
        avx512::image(x, c, h, w, wk, bias, act, &masks, out)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::ActKind;
    use std::arch::x86_64::*;

    /// See [`super::image`] (whose checks this relies on).
    ///
    /// # Safety
    ///
    /// AVX-512F; `1 ≤ h·w ≤ MAX_PLANE`, `x` and `out` hold `c·h·w` values, `wk` `9c`, `bias`
    /// `c`; `masks` as [`super::image`] computes them.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn image(
        x: &[f32],
        c: usize,
        h: usize,
        w: usize,
        wk: &[f32],
        bias: &[f32],
        act: Option<ActKind>,
        masks: &[[u16; 9]; super::MAX_PLANE / 16],
        out: &mut [f32],
    ) {
        // SAFETY: as this function's contract.
        unsafe {
            match (h * w).div_ceil(16) {
                1 => planes::<1>(x, c, h, w, wk, bias, act, masks, out),
                2 => planes::<2>(x, c, h, w, wk, bias, act, masks, out),
                3 => planes::<3>(x, c, h, w, wk, bias, act, masks, out),
                _ => planes::<4>(x, c, h, w, wk, bias, act, masks, out),
            }
        }
        if let Some(a) = act.filter(|&a| a != ActKind::Relu) {
            out[..c * h * w].iter_mut().for_each(|v| *v = a.apply(*v));
        }
    }

    /// [`image`] with `NV = ⌈h·w / 16⌉` registers per plane, the taps outer (so the
    /// registers' sums are independent chains).
    ///
    /// # Safety
    ///
    /// As [`image`], with `NV` as said.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    unsafe fn planes<const NV: usize>(
        x: &[f32],
        c: usize,
        h: usize,
        w: usize,
        wk: &[f32],
        bias: &[f32],
        act: Option<ActKind>,
        masks: &[[u16; 9]; super::MAX_PLANE / 16],
        out: &mut [f32],
    ) {
        let n = h * w;
        let relu = act == Some(ActKind::Relu);
        let zero = _mm512_setzero_ps();
        // tap t reads the pixel `t / 3 − 1` rows and `t % 3 − 1` columns away
        let shift: [isize; 9] =
            std::array::from_fn(|t| ((t / 3) as isize - 1) * w as isize + (t % 3) as isize - 1);
        let store: [__mmask16; NV] = std::array::from_fn(|v| {
            let keep = n.saturating_sub(16 * v).min(16);
            ((1u32 << keep) - 1) as u16
        });
        // SAFETY: every load is masked to the pixels whose source (`q + shift`, `q < n`, the
        // mask keeps it inside the plane) lies in channel `ch`'s `n` values; masked-off lanes
        // are not read. Stores are masked to the plane's `n` outputs.
        unsafe {
            for ch in 0..c {
                let xp = x.as_ptr().add(ch * n);
                let op = out.as_mut_ptr().add(ch * n);
                let kc = &wk[ch * 9..ch * 9 + 9];
                let mut o = [_mm512_set1_ps(bias[ch]); NV];
                for t in 0..9 {
                    let wt = _mm512_set1_ps(kc[t]);
                    for (v, ov) in o.iter_mut().enumerate() {
                        let m = masks[v][t];
                        let src = xp.wrapping_offset((16 * v) as isize + shift[t]);
                        let prod = _mm512_mul_ps(wt, _mm512_maskz_loadu_ps(m, src));
                        *ov = _mm512_mask_add_ps(*ov, m, *ov, prod);
                    }
                }
                for (v, ov) in o.iter().enumerate() {
                    // max returns its second operand (0) on NaN, as `f32::max`
                    let y = if relu { _mm512_max_ps(*ov, zero) } else { *ov };
                    _mm512_mask_storeu_ps(op.add(16 * v), store[v], y);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::depthwise::dw_image_channels_last;
    use super::*;
    use crate::ops::Window;
    use rand::{Rng, SeedableRng};

    /// Same values as the channels-last kernel (the reference) on random planes of odd and
    /// even sizes up to [`MAX_PLANE`], one and many channels, every activation, with NaN,
    /// infinities and zeros among the inputs.
    #[test]
    fn small_depthwise_equals_the_channels_last_kernel() {
        if !available() {
            eprintln!("skipped: no AVX-512F here (or FACEMARK_PORTABLE=1)");
            return;
        }
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let win = Window {
            k: 3,
            stride: 1,
            pad: 1,
        };
        let sizes = [
            (1, 1),
            (1, 7),
            (7, 1),
            (2, 2),
            (3, 3),
            (5, 5),
            (4, 9),
            (7, 9),
            (8, 8),
            (2, 13),
            (6, 10),
        ];
        let acts = [
            None,
            Some(ActKind::Relu),
            Some(ActKind::Relu6),
            Some(ActKind::Elu),
        ];
        for (h, w) in sizes {
            for c in [1, 3, 37] {
                for act in acts {
                    let mut x: Vec<f32> =
                        (0..c * h * w).map(|_| rng.gen_range(-3.0..3.0)).collect();
                    if x.len() > 8 {
                        x[1] = f32::NAN;
                        x[4] = f32::INFINITY;
                        x[7] = 0.0;
                    }
                    let wk: Vec<f32> = (0..9 * c).map(|_| rng.gen_range(-1.0..1.0)).collect();
                    let bias: Vec<f32> = (0..c).map(|_| rng.gen_range(-0.5..0.5)).collect();
                    let mut want = vec![-7.0; c * h * w];
                    dw_image_channels_last(&x, (c, h, w), &wk, &bias, win, act, &mut want);
                    let mut got = vec![-9.0; c * h * w];
                    image(&x, (c, h, w), &wk, &bias, act, &mut got);
                    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            a == b || (a.is_nan() && b.is_nan()),
                            "{c}×{h}×{w} {act:?} value {i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}
