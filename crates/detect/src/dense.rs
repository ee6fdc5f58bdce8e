//! The first cascade stage (and OpenCV's variance check) evaluated for a whole row of windows
//! at once: plain loops over contiguous slices that the compiler vectorises (SSE2 everywhere,
//! AVX2 when the CPU has it, chosen at run time). Same IEEE operations in the same order as the
//! scalar path, so the results are bit-identical; profiling showed these two steps are about a
//! quarter of the detection time on photos.

/// A first-stage stump, offsets relative to the window origin.
#[derive(Clone, Copy)]
pub(crate) struct Stump0 {
    pub ofs: [[u32; 4]; 3],
    pub weight: [f32; 3],
    pub threshold: f32,
    pub left: f32,
    pub right: f32,
}

/// For windows at `base + i`, `i < n`: `state[i]` = 0 (flat patch: OpenCV's `setWindow` fails),
/// 1 (rejected by the first stage), 2 (passed it); `vnf[i]` = the variance normalisation factor.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stage0_row(
    sum: &[i32],
    sq: &[i32],
    base: usize,
    n: usize,
    nofs: &[u32; 4],
    narea: f64,
    stumps: &[Stump0],
    threshold: f32,
    vnf: &mut [f32],
    acc: &mut [f64],
    state: &mut [u8],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe {
                return stage0_avx2(
                    sum, sq, base, n, nofs, narea, stumps, threshold, vnf, acc, state,
                );
            }
        }
    }
    stage0_generic(
        sum, sq, base, n, nofs, narea, stumps, threshold, vnf, acc, state,
    )
}

/// [`stage0_generic`] compiled for AVX2.
///
/// # Safety
///
/// The CPU must support AVX2 (`is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn stage0_avx2(
    sum: &[i32],
    sq: &[i32],
    base: usize,
    n: usize,
    nofs: &[u32; 4],
    narea: f64,
    stumps: &[Stump0],
    threshold: f32,
    vnf: &mut [f32],
    acc: &mut [f64],
    state: &mut [u8],
) {
    stage0_generic(
        sum, sq, base, n, nofs, narea, stumps, threshold, vnf, acc, state,
    )
}

#[inline(always)]
fn corners<'a>(t: &'a [i32], base: usize, o: &[u32; 4], n: usize) -> [&'a [i32]; 4] {
    o.map(|k| {
        let s = &t[base + k as usize..];
        &s[..n]
    })
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn stage0_generic(
    sum: &[i32],
    sq: &[i32],
    base: usize,
    n: usize,
    nofs: &[u32; 4],
    narea: f64,
    stumps: &[Stump0],
    threshold: f32,
    vnf: &mut [f32],
    acc: &mut [f64],
    state: &mut [u8],
) {
    let (vnf, acc, state) = (&mut vnf[..n], &mut acc[..n], &mut state[..n]);
    let mut vals = vec![0f32; n];
    let [a, b, c, d] = corners(sum, base, nofs, n);
    let [qa, qb, qc, qd] = corners(sq, base, nofs, n);
    for i in 0..n {
        let vs = a[i]
            .wrapping_sub(b[i])
            .wrapping_sub(c[i])
            .wrapping_add(d[i]);
        let vq = qa[i]
            .wrapping_sub(qb[i])
            .wrapping_sub(qc[i])
            .wrapping_add(qd[i]) as u32;
        let nf = narea * vq as f64 - vs as f64 * vs as f64;
        let pos = nf > 0.0;
        let inv = (1.0 / nf.max(1e-300).sqrt()) as f32;
        vnf[i] = if pos { inv } else { 1.0 };
        state[i] = (pos && narea * (inv as f64) < 1e-1) as u8;
        acc[i] = 0.0;
    }
    for s in stumps {
        let [r0a, r0b, r0c, r0d] = corners(sum, base, &s.ofs[0], n);
        let [r1a, r1b, r1c, r1d] = corners(sum, base, &s.ofs[1], n);
        let (w0, w1, w2) = (s.weight[0], s.weight[1], s.weight[2]);
        let (thr, left, right) = (s.threshold, s.left as f64, s.right as f64);
        if w2 != 0.0 {
            let [r2a, r2b, r2c, r2d] = corners(sum, base, &s.ofs[2], n);
            let (r0a, r0b, r0c, r0d) = (&r0a[..n], &r0b[..n], &r0c[..n], &r0d[..n]);
            let (r1a, r1b, r1c, r1d) = (&r1a[..n], &r1b[..n], &r1c[..n], &r1d[..n]);
            let (r2a, r2b, r2c, r2d) = (&r2a[..n], &r2b[..n], &r2c[..n], &r2d[..n]);
            let (vnf, vals) = (&vnf[..n], &mut vals[..n]);
            for i in 0..n {
                let s0 = r0a[i]
                    .wrapping_sub(r0b[i])
                    .wrapping_sub(r0c[i])
                    .wrapping_add(r0d[i]);
                let s1 = r1a[i]
                    .wrapping_sub(r1b[i])
                    .wrapping_sub(r1c[i])
                    .wrapping_add(r1d[i]);
                let s2 = r2a[i]
                    .wrapping_sub(r2b[i])
                    .wrapping_sub(r2c[i])
                    .wrapping_add(r2d[i]);
                let mut v = w0 * s0 as f32 + w1 * s1 as f32;
                v += w2 * s2 as f32;
                vals[i] = v * vnf[i];
            }
        } else {
            let (r0a, r0b, r0c, r0d) = (&r0a[..n], &r0b[..n], &r0c[..n], &r0d[..n]);
            let (r1a, r1b, r1c, r1d) = (&r1a[..n], &r1b[..n], &r1c[..n], &r1d[..n]);
            let (vnf, vals) = (&vnf[..n], &mut vals[..n]);
            for i in 0..n {
                let s0 = r0a[i]
                    .wrapping_sub(r0b[i])
                    .wrapping_sub(r0c[i])
                    .wrapping_add(r0d[i]);
                let s1 = r1a[i]
                    .wrapping_sub(r1b[i])
                    .wrapping_sub(r1c[i])
                    .wrapping_add(r1d[i]);
                vals[i] = (w0 * s0 as f32 + w1 * s1 as f32) * vnf[i];
            }
        }
        let (vals, acc) = (&vals[..n], &mut acc[..n]);
        for i in 0..n {
            acc[i] += if vals[i] < thr { left } else { right };
        }
    }
    let thr = threshold as f64;
    for i in 0..n {
        if state[i] != 0 {
            state[i] = if acc[i] < thr { 1 } else { 2 };
        }
    }
}
