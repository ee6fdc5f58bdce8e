//! Bit-exact reproduction of OpenCV's `resize(…, INTER_LINEAR_EXACT)` for 8-bit gray images,
//! the resampling `CascadeClassifier::detectMultiScale` uses to build its image pyramid
//! (OpenCV ≥ 4.0). Matching it bit for bit is what makes our detections equal OpenCV's.
//!
//! Fixed point as in OpenCV's `resize_bitExact<uchar, interpolationLinear>`: weights with 8
//! fractional bits (`round_half_even(frac · 256)`), horizontal pass kept at 8 fractional bits,
//! vertical pass at 16, final rounding half up. Pixels left/right of (above/below) the source
//! samples replicate the border sample.

/// Per output coordinate: source index and the two weights (sum 256), plus the range
/// `[min, max)` where interpolation applies (outside: replicate first/last source sample).
struct Axis {
    ofs: Vec<usize>,
    c: Vec<[u16; 2]>,
    min: usize,
    max: usize,
}

fn axis(src: usize, dst: usize) -> Axis {
    // cv::resize recomputes the scale from the sizes: inv = dst / src; scale = 1 / inv.
    let inv = dst as f64 / src as f64;
    let scale = 1.0 / inv;
    let mut ofs = vec![0usize; dst];
    let mut c = vec![[256u16, 0u16]; dst];
    let (mut min, mut max) = (0usize, dst);
    for v in 0..dst {
        let f = scale * (v as f64 + 0.5) - 0.5;
        let i = f.floor();
        if i >= 0.0 && src > 1 {
            let i = i as usize;
            if i < src - 1 {
                ofs[v] = i;
                let c1 = ((f - i as f64) * 256.0).round_ties_even() as u16;
                c[v] = [256u16.saturating_sub(c1), c1];
            } else {
                ofs[v] = src - 1;
                max = max.min(v);
            }
        } else {
            min = min.max(v + 1);
        }
    }
    if min > max {
        // Only possible for degenerate sizes; keep the ranges ordered.
        max = min;
    }
    Axis { ofs, c, min, max }
}

/// Resize an 8-bit gray image (`sw × sh`, row-major, tightly packed) to `dw × dh` exactly as
/// OpenCV's `cv::resize(src, dst, Size(dw, dh), 0, 0, INTER_LINEAR_EXACT)`.
#[allow(clippy::needless_range_loop)] // parallel arrays indexed together
pub fn resize_linear_exact(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    assert_eq!(src.len(), sw * sh, "source buffer size");
    if dw == 0 || dh == 0 || sw == 0 || sh == 0 {
        return vec![0; dw * dh];
    }
    if dw == sw && dh == sh {
        return src.to_vec();
    }
    // OpenCV switches to INTER_AREA (exactly the 2×2 mean) for an exact halving.
    if sw == 2 * dw && sh == 2 * dh {
        let mut out = vec![0u8; dw * dh];
        for y in 0..dh {
            let r0 = &src[2 * y * sw..];
            let r1 = &src[(2 * y + 1) * sw..];
            for x in 0..dw {
                let s = r0[2 * x] as u32
                    + r0[2 * x + 1] as u32
                    + r1[2 * x] as u32
                    + r1[2 * x + 1] as u32;
                out[y * dw + x] = ((s + 2) >> 2) as u8;
            }
        }
        return out;
    }
    let ax = axis(sw, dw);
    let ay = axis(sh, dh);
    let hline = |row: &[u8], out: &mut [u16]| {
        let first = (row[0] as u16) << 8;
        for v in out[..ax.min].iter_mut() {
            *v = first;
        }
        for x in ax.min..ax.max {
            let o = ax.ofs[x];
            let [c0, c1] = ax.c[x];
            out[x] = c0 * row[o] as u16 + c1 * row[o + 1] as u16;
        }
        let last = (row[ax.ofs[dw - 1]] as u16) << 8;
        for v in out[ax.max..].iter_mut() {
            *v = last;
        }
    };
    let mut out = vec![0u8; dw * dh];
    let mut h0 = vec![0u16; dw];
    let mut h1 = vec![0u16; dw];
    let mut cached: [usize; 2] = [usize::MAX, usize::MAX]; // source rows held in h0, h1
    let set = |h: &[u16], dst: &mut [u8]| {
        for (d, &v) in dst.iter_mut().zip(h) {
            *d = ((v as u32 + 128) >> 8).min(255) as u8;
        }
    };
    for y in 0..dh {
        let dst = &mut out[y * dw..(y + 1) * dw];
        if y < ay.min || y >= ay.max {
            let sy = if y < ay.min { 0 } else { sh - 1 };
            hline(&src[sy * sw..(sy + 1) * sw], &mut h0);
            cached[0] = usize::MAX;
            set(&h0, dst);
            continue;
        }
        let iy = ay.ofs[y];
        // Reuse the horizontal lines computed for the previous output row.
        if cached[0] != iy {
            if cached[1] == iy {
                std::mem::swap(&mut h0, &mut h1);
                cached[0] = iy;
                cached[1] = usize::MAX;
            } else {
                hline(&src[iy * sw..(iy + 1) * sw], &mut h0);
                cached[0] = iy;
            }
        }
        if cached[1] != iy + 1 {
            hline(&src[(iy + 1) * sw..(iy + 2) * sw], &mut h1);
            cached[1] = iy + 1;
        }
        let [c0, c1] = ay.c[y];
        let (c0, c1) = (c0 as u32, c1 as u32);
        for x in 0..dw {
            let v = c0 * h0[x] as u32 + c1 * h1[x] as u32;
            dst[x] = ((v + (1 << 15)) >> 16).min(255) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_constant() {
        let src: Vec<u8> = (0..30u8).collect();
        assert_eq!(resize_linear_exact(&src, 6, 5, 6, 5), src);
        let flat = vec![77u8; 50 * 40];
        let r = resize_linear_exact(&flat, 50, 40, 23, 17);
        assert!(r.iter().all(|&v| v == 77), "a flat image stays flat");
    }

    #[test]
    fn halving_is_box_mean() {
        let src = [0u8, 10, 20, 30, 40, 50, 60, 70];
        // 4×2 → 2×1: means of 2×2 blocks, rounded half up
        let r = resize_linear_exact(&src, 4, 2, 2, 1);
        assert_eq!(r, vec![25, 45]);
    }

    #[test]
    fn ramp_stays_monotonic_and_in_range() {
        let (sw, sh) = (97, 31);
        let src: Vec<u8> = (0..sw * sh)
            .map(|i| ((i % sw) * 255 / (sw - 1)) as u8)
            .collect();
        let (dw, dh) = (41, 13);
        let r = resize_linear_exact(&src, sw, sh, dw, dh);
        for row in r.chunks(dw) {
            assert!(row.windows(2).all(|p| p[0] <= p[1]));
        }
        // the sample at dst x maps to src (x + 0.5) * sw/dw - 0.5
        let x = 20usize;
        let f = (x as f64 + 0.5) * sw as f64 / dw as f64 - 0.5;
        let expect = f * 255.0 / (sw - 1) as f64;
        assert!((r[x] as f64 - expect).abs() <= 2.0, "{} vs {expect}", r[x]);
    }
}
