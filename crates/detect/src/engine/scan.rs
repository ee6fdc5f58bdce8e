//! One pyramid level of `detectMultiScale`: the resized image's integral tables ([`Layer`]),
//! the cascade compiled to offsets into them (`Opt`, bounds-checked once by `check_reads`),
//! and the scan of a level's windows ([`Scanner`]: OpenCV's `runAt` per window, or the
//! dense first-stage pass over whole rows).

use super::round_f32;
use crate::cascade::{CascadeModel, FeatureType};
use crate::integral::{integral_sum, integral_sum_sq, integral_tilted};
use crate::resize::resize_linear_exact;
use crate::DetectError;

/// One pyramid level: the integral images of the resized image.
pub(super) struct Layer {
    /// Size of the resized image.
    w: usize,
    pub(super) h: usize,
    /// Row stride of the integral tables (`w + 1`).
    pub(super) stride: usize,
    /// `sum` followed (Haar with tilted features) by the tilted table at `tofs`.
    pub(super) sum: Vec<i32>,
    pub(super) sq: Vec<i32>,
    pub(super) ystep: usize,
}

impl Layer {
    pub(super) fn build(
        model: &CascadeModel,
        gray: &[u8],
        iw: usize,
        ih: usize,
        scale: f32,
    ) -> Layer {
        let w = round_f32(iw as f32 / scale).max(0) as usize;
        let h = round_f32(ih as f32 / scale).max(0) as usize;
        let img = resize_linear_exact(gray, iw, ih, w, h);
        let stride = w + 1;
        let area = stride * (h + 1);
        let haar = model.feature_type == FeatureType::Haar;
        let tilted = haar && model.has_tilted;
        let mut sum = vec![0i32; if tilted { 2 * area } else { area }];
        let mut sq = Vec::new();
        if haar {
            sq = vec![0i32; area];
            integral_sum_sq(&img, w, h, &mut sum[..area], &mut sq);
            if tilted {
                integral_tilted(&img, w, h, &mut sum[area..]);
            }
        } else {
            integral_sum(&img, w, h, &mut sum);
        }
        Layer {
            w,
            h,
            stride,
            sum,
            sq,
            ystep: if scale >= 2.0 { 1 } else { 2 },
        }
    }
    /// Window positions `[0, ww) × [0, wh)`: `max(w + 1 - window, 0)`.
    pub(super) fn working(&self, window: (i32, i32)) -> (usize, usize) {
        (
            (self.w as i64 + 1 - window.0 as i64).max(0) as usize,
            (self.h as i64 + 1 - window.1 as i64).max(0) as usize,
        )
    }
}

/// A Haar stump with its rectangle corners as offsets into the layer's tables.
#[derive(Clone, Copy)]
pub(super) struct HaarStumpOpt {
    ofs: [[u32; 4]; 3],
    weight: [f32; 3],
    threshold: f32,
    left: f32,
    right: f32,
}

#[derive(Clone, Copy)]
pub(super) struct HaarFeatOpt {
    ofs: [[u32; 4]; 3],
    weight: [f32; 3],
}

/// `v` as a 32-bit table offset, or the error that the layer's tables are too large for them.
fn offset(v: usize) -> Result<u32, DetectError> {
    u32::try_from(v).map_err(|_| {
        DetectError::TooLarge(format!(
            "an integral-image offset ({v}) does not fit in 32 bits"
        ))
    })
}

pub(super) fn offsets<const N: usize>(v: [usize; N]) -> Result<[u32; N], DetectError> {
    let mut o = [0u32; N];
    for (o, v) in o.iter_mut().zip(v) {
        *o = offset(v)?;
    }
    Ok(o)
}

fn haar_offsets(
    model: &CascadeModel,
    fi: usize,
    stride: usize,
    tofs: usize,
) -> Result<HaarFeatOpt, DetectError> {
    let f = &model.haar[fi];
    let mut ofs = [[0u32; 4]; 3];
    let mut weight = [0f32; 3];
    for (k, r) in f.rects.iter().enumerate() {
        weight[k] = r.weight;
        let (x, y, w, h) = (r.x as usize, r.y as usize, r.w as usize, r.h as usize);
        ofs[k] = offsets(if f.tilted {
            [
                tofs + x + stride * y,
                tofs + x - h + stride * (y + h),
                tofs + x + w + stride * (y + w),
                tofs + x + w - h + stride * (y + w + h),
            ]
        } else {
            [
                x + stride * y,
                x + w + stride * y,
                x + stride * (y + h),
                x + w + stride * (y + h),
            ]
        })?;
    }
    Ok(HaarFeatOpt { ofs, weight })
}

/// Per-layer evaluation data (offsets depend on the layer's stride).
pub(super) enum Opt {
    HaarStumps(Vec<HaarStumpOpt>),
    HaarTrees(Vec<HaarFeatOpt>),
    Lbp(Vec<[u32; 16]>),
}

/// The offsets of every feature for a layer of row stride `stride` (tilted table at `tofs`);
/// an error when one does not fit in 32 bits.
pub(super) fn build_opt(
    model: &CascadeModel,
    stride: usize,
    tofs: usize,
) -> Result<Opt, DetectError> {
    Ok(match model.feature_type {
        FeatureType::Haar if !model.stumps.is_empty() => Opt::HaarStumps(
            model
                .stumps
                .iter()
                .map(|s| {
                    let f = haar_offsets(model, s.feature as usize, stride, tofs)?;
                    Ok(HaarStumpOpt {
                        ofs: f.ofs,
                        weight: f.weight,
                        threshold: s.threshold,
                        left: s.left,
                        right: s.right,
                    })
                })
                .collect::<Result<_, DetectError>>()?,
        ),
        FeatureType::Haar => Opt::HaarTrees(
            (0..model.haar.len())
                .map(|i| haar_offsets(model, i, stride, tofs))
                .collect::<Result<_, DetectError>>()?,
        ),
        FeatureType::Lbp => Opt::Lbp(
            model
                .lbp
                .iter()
                .map(|f| {
                    let mut o = [0u32; 16];
                    for gy in 0..4 {
                        for gx in 0..4 {
                            let x = (f.x + gx * f.w) as usize;
                            let y = (f.y + gy * f.h) as usize;
                            o[(gy * 4 + gx) as usize] = offset(x + stride * y)?;
                        }
                    }
                    Ok(o)
                })
                .collect::<Result<_, DetectError>>()?,
        ),
    })
}

impl Opt {
    /// The largest offset of any feature (0 when there are none).
    fn max_offset(&self) -> usize {
        let m = match self {
            Opt::HaarStumps(v) => v.iter().flat_map(|s| s.ofs.iter().flatten()).max(),
            Opt::HaarTrees(v) => v.iter().flat_map(|f| f.ofs.iter().flatten()).max(),
            Opt::Lbp(v) => v.iter().flatten().max(),
        };
        m.copied().unwrap_or(0) as usize
    }
}

/// Checks, in every build, what the unchecked reads of [`rect_sum`] and [`lbp_code`] rely on:
/// for every window origin `p ≤ last` (the last origin of the working area), `p + o` is inside
/// the table read, for every feature offset `o` in `opt` (read from `sum`) and variance offset
/// in `nofs` (read from `sum` and `sq`; Haar only, `sq_len` is 0 for LBP).
pub(super) fn check_reads(
    opt: &Opt,
    nofs: &[u32; 4],
    last: usize,
    sum_len: usize,
    sq_len: usize,
) -> Result<(), DetectError> {
    let nmax = nofs.iter().max().copied().unwrap_or(0) as usize;
    let haar = !matches!(opt, Opt::Lbp(_));
    let fits = |o: usize, len: usize| last.checked_add(o).is_some_and(|i| i < len);
    if fits(opt.max_offset(), sum_len) && (!haar || (fits(nmax, sum_len) && fits(nmax, sq_len))) {
        Ok(())
    } else {
        Err(DetectError::TooLarge(format!(
            "a window read would leave the integral image (last window at {last}, tables of \
             {sum_len} and {sq_len} values)"
        )))
    }
}

/// Sum over a rectangle from its four corner offsets (wrap-around arithmetic, as OpenCV).
///
/// Unchecked reads: `p` is a window origin inside the layer's working area, and
/// [`check_reads`] verified, before the layer was scanned, that every origin of that area plus
/// every offset of the layer's features is inside the table (also checked here in debug builds).
#[inline(always)]
fn rect_sum(t: &[i32], p: usize, o: &[u32; 4]) -> i32 {
    let g = |k: usize| {
        let i = p + o[k] as usize;
        debug_assert!(i < t.len());
        // SAFETY: see above.
        unsafe { *t.get_unchecked(i) }
    };
    g(0).wrapping_sub(g(1))
        .wrapping_sub(g(2))
        .wrapping_add(g(3))
}

#[inline(always)]
fn haar_value(t: &[i32], p: usize, ofs: &[[u32; 4]; 3], weight: &[f32; 3]) -> f32 {
    let mut r =
        weight[0] * rect_sum(t, p, &ofs[0]) as f32 + weight[1] * rect_sum(t, p, &ofs[1]) as f32;
    if weight[2] != 0.0 {
        r += weight[2] * rect_sum(t, p, &ofs[2]) as f32;
    }
    r
}

/// Runs the compiled cascade at window origins of one [`Layer`].
pub(super) struct Scanner<'a> {
    pub(super) model: &'a CascadeModel,
    pub(super) layer: &'a Layer,
    pub(super) opt: &'a Opt,
    /// Offsets of the variance rectangle (1, 1, W-2, H-2).
    pub(super) nofs: [u32; 4],
    pub(super) narea: f64,
}

impl Scanner<'_> {
    /// OpenCV's `runAt`: 1 = accepted, `-k` = rejected at stage k (0 at the first stage),
    /// -1 also when the window is too flat (variance check).
    #[inline]
    pub(super) fn run_at(&self, p: usize) -> i32 {
        let l = self.layer;
        match self.opt {
            Opt::HaarStumps(stumps) => {
                let Some(vnf) = self.variance_norm(p) else {
                    return -1;
                };
                let mut k = 0usize;
                for (si, st) in self.model.stages.iter().enumerate() {
                    let mut tmp = 0f64;
                    for s in &stumps[k..k + st.ntrees] {
                        let v = haar_value(&l.sum, p, &s.ofs, &s.weight) * vnf;
                        tmp += if v < s.threshold { s.left } else { s.right } as f64;
                    }
                    if tmp < st.threshold as f64 {
                        return -(si as i32);
                    }
                    k += st.ntrees;
                }
                1
            }
            Opt::HaarTrees(feats) => {
                let Some(vnf) = self.variance_norm(p) else {
                    return -1;
                };
                let m = self.model;
                for (si, st) in m.stages.iter().enumerate() {
                    let mut sum = 0f64;
                    for &(n0, _, l0) in &m.trees[st.first..st.first + st.ntrees] {
                        let mut idx: i32 = 0;
                        loop {
                            let n = &m.nodes[n0 + idx as usize];
                            let f = &feats[n.feature as usize];
                            let v = haar_value(&l.sum, p, &f.ofs, &f.weight) * vnf;
                            idx = if v < n.threshold { n.left } else { n.right };
                            if idx <= 0 {
                                break;
                            }
                        }
                        sum += m.leaves[l0 + (-idx) as usize] as f64;
                    }
                    if sum < st.threshold as f64 {
                        return -(si as i32);
                    }
                }
                1
            }
            Opt::Lbp(feats) => {
                let m = self.model;
                let t = &l.sum;
                for (si, st) in m.stages.iter().enumerate() {
                    let mut sum = 0f64;
                    for (ti, &(n0, _, l0)) in
                        m.trees[st.first..st.first + st.ntrees].iter().enumerate()
                    {
                        let _ = ti;
                        let mut idx: i32 = 0;
                        loop {
                            let node = n0 + idx as usize;
                            let n = &m.nodes[node];
                            let c = lbp_code(t, p, &feats[n.feature as usize]);
                            let sub = &m.subsets[node * 8..node * 8 + 8];
                            let bit = sub[(c >> 5) as usize] & (1i32 << (c & 31));
                            idx = if bit != 0 { n.left } else { n.right };
                            if idx <= 0 {
                                break;
                            }
                        }
                        sum += m.leaves[l0 + (-idx) as usize] as f64;
                    }
                    if sum < st.threshold as f64 {
                        return -(si as i32);
                    }
                }
                1
            }
        }
    }

    /// `1 / sqrt(area·Σv² − (Σv)²)` over the normalisation rectangle, or `None` when OpenCV's
    /// `setWindow` refuses the window (flat patch).
    #[inline(always)]
    fn variance_norm(&self, p: usize) -> Option<f32> {
        let l = self.layer;
        let valsum = rect_sum(&l.sum, p, &self.nofs);
        let valsq = rect_sum(&l.sq, p, &self.nofs) as u32;
        let nf = self.narea * valsq as f64 - valsum as f64 * valsum as f64;
        if nf > 0.0 {
            let vnf = (1.0 / nf.sqrt()) as f32;
            if self.narea * (vnf as f64) < 1e-1 {
                Some(vnf)
            } else {
                None
            }
        } else {
            None
        }
    }

    /// Scan rows `y0..y1` (multiples of `ystep`), pushing accepted window origins.
    pub(super) fn scan_rows(&self, y0: usize, y1: usize, wx: usize, out: &mut Vec<(u32, u32)>) {
        match self.opt {
            Opt::HaarStumps(st) => self.scan_rows_dense(y0, y1, wx, out, st),
            _ => self.scan_with(y0, y1, wx, out, |p| self.run_at(p)),
        }
    }

    /// Stump cascades: the variance check and the first stage for a whole row at once
    /// (vectorised, see [`crate::dense`]), then OpenCV's sequential walk along the row (with
    /// its skip after a first-stage rejection) continuing the cascade from the second stage
    /// for the windows that passed. Same arithmetic, same order: same results.
    fn scan_rows_dense(
        &self,
        y0: usize,
        y1: usize,
        wx: usize,
        out: &mut Vec<(u32, u32)>,
        stumps: &[HaarStumpOpt],
    ) {
        let l = self.layer;
        let step = l.ystep;
        let st0 = self.model.stages[0];
        let mut vnf = vec![0f32; wx];
        let mut acc = vec![0f64; wx];
        let mut state = vec![0u8; wx];
        let stage0: Vec<crate::dense::Stump0> = stumps[..st0.ntrees]
            .iter()
            .map(|s| crate::dense::Stump0 {
                ofs: s.ofs,
                weight: s.weight,
                threshold: s.threshold,
                left: s.left,
                right: s.right,
            })
            .collect();
        let mut y = y0;
        while y < y1 {
            let base = y * l.stride;
            crate::dense::stage0_row(
                &l.sum,
                &l.sq,
                base,
                wx,
                &self.nofs,
                self.narea,
                &stage0,
                st0.threshold,
                &mut vnf,
                &mut acc,
                &mut state,
            );
            let mut x = 0;
            while x < wx {
                let r = match state[x] {
                    0 => -1,
                    1 => 0,
                    _ => self.run_haar_stumps_from(base + x, vnf[x], stumps),
                };
                if r > 0 {
                    out.push((x as u32, y as u32));
                }
                if r == 0 {
                    x += step;
                }
                x += step;
            }
            y += step;
        }
    }

    /// Stages 1.. of a stump cascade for the window at `p` (stage 0 already passed).
    #[inline(always)]
    fn run_haar_stumps_from(&self, p: usize, vnf: f32, stumps: &[HaarStumpOpt]) -> i32 {
        let t = &self.layer.sum;
        let mut k = self.model.stages[0].ntrees;
        for (si, st) in self.model.stages.iter().enumerate().skip(1) {
            let mut tmp = 0f64;
            for s in &stumps[k..k + st.ntrees] {
                let v = haar_value(t, p, &s.ofs, &s.weight) * vnf;
                tmp += if v < s.threshold { s.left } else { s.right } as f64;
            }
            if tmp < st.threshold as f64 {
                return -(si as i32);
            }
            k += st.ntrees;
        }
        1
    }

    #[inline(always)]
    pub(super) fn scan_with(
        &self,
        y0: usize,
        y1: usize,
        wx: usize,
        out: &mut Vec<(u32, u32)>,
        run: impl Fn(usize) -> i32,
    ) {
        let step = self.layer.ystep;
        let stride = self.layer.stride;
        let mut y = y0;
        while y < y1 {
            let mut x = 0;
            while x < wx {
                let r = run(y * stride + x);
                if r > 0 {
                    out.push((x as u32, y as u32));
                }
                if r == 0 {
                    x += step;
                }
                x += step;
            }
            y += step;
        }
    }
}

#[inline(always)]
fn lbp_code(t: &[i32], p: usize, o: &[u32; 16]) -> u32 {
    let g = |k: usize| {
        let i = p + o[k] as usize;
        debug_assert!(i < t.len());
        // SAFETY: as in `rect_sum`: `p + o[k]` checked inside the table by `check_reads`.
        unsafe { *t.get_unchecked(i) }
    };
    let s = |a: usize, b: usize, c: usize, d: usize| {
        g(a).wrapping_sub(g(b))
            .wrapping_sub(g(c))
            .wrapping_add(g(d))
    };
    let cval = s(5, 6, 9, 10);
    ((s(0, 1, 4, 5) >= cval) as u32) << 7
        | ((s(1, 2, 5, 6) >= cval) as u32) << 6
        | ((s(2, 3, 6, 7) >= cval) as u32) << 5
        | ((s(6, 7, 10, 11) >= cval) as u32) << 4
        | ((s(10, 11, 14, 15) >= cval) as u32) << 3
        | ((s(9, 10, 13, 14) >= cval) as u32) << 2
        | ((s(8, 9, 12, 13) >= cval) as u32) << 1
        | ((s(4, 5, 8, 9) >= cval) as u32)
}
