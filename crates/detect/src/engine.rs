//! `detectMultiScale`: the image pyramid, the sliding-window cascade evaluation and OpenCV's
//! rectangle grouping, following OpenCV 4.x `CascadeClassifierImpl` step by step so that the
//! same cascade and parameters give the same faces.
//!
//! Per scale `s` (1, f, f², … while the scaled window fits): the image is resized to
//! `round(W/s) × round(H/s)` (bit-exact `INTER_LINEAR_EXACT`), its integral images are built,
//! and the cascade is run on the original window size at every `ystep` pixels (2 below scale 2,
//! 1 above; a window rejected by the first stage skips the next position). Scales run in
//! parallel (rayon), and the rows of a scale in parallel chunks.

use crate::cascade::{CascadeModel, FeatureType};
use crate::integral::{integral_sum, integral_sum_sq, integral_tilted};
use crate::resize::resize_linear_exact;
use crate::DetectError;
use facemark_core::{BoxF, Detection};
use image::GrayImage;
use rayon::prelude::*;

/// Parameters of [`crate::Cascade::detect_multi_scale`], with OpenCV's meaning and defaults
/// (`scaleFactor 1.1, minNeighbors 3, minSize 0×0, maxSize 0×0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectParams {
    /// Ratio between successive pyramid scales; must be in `[1.001, 100]`.
    pub scale_factor: f64,
    /// A face needs more than this many raw windows in its group (0: no grouping at all).
    pub min_neighbors: u32,
    /// Smallest window `(width, height)` in pixels; `(0, 0)`: the cascade's own size.
    pub min_size: (u32, u32),
    /// Largest window `(width, height)` in pixels; `(0, 0)`: the image size.
    pub max_size: (u32, u32),
}

impl Default for DetectParams {
    fn default() -> Self {
        DetectParams {
            scale_factor: 1.1,
            min_neighbors: 3,
            min_size: (0, 0),
            max_size: (0, 0),
        }
    }
}

impl DetectParams {
    /// Checks `1.001 ≤ scale_factor ≤ 100` (OpenCV only asks for > 1; steps below 1.001 would
    /// mean thousands of scales) and window sides of at most
    /// [`facemark_core::limits::MAX_FACE_SIZE`] (larger ones wrapped to negative `i32`s).
    pub fn validate(&self) -> Result<(), DetectError> {
        let sizes = [
            ("min_size", self.min_size.0),
            ("min_size", self.min_size.1),
            ("max_size", self.max_size.0),
            ("max_size", self.max_size.1),
        ];
        for (what, v) in sizes {
            facemark_core::limits::check_face_size(what, v).map_err(DetectError::Params)?;
        }
        if !(self.scale_factor >= 1.001 && self.scale_factor <= 100.0) {
            return Err(DetectError::Params(format!(
                "scale_factor must be between 1.001 and 100, got {}",
                self.scale_factor
            )));
        }
        Ok(())
    }
}

/// An integer rectangle (OpenCV `cv::Rect`), pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

#[inline]
fn round_f32(v: f32) -> i32 {
    v.round_ties_even() as i32
}
#[inline]
fn round_f64(v: f64) -> i32 {
    v.round_ties_even() as i32
}

/// The scales OpenCV would search for an `img_w × img_h` image.
pub(crate) fn scales_for(window: (i32, i32), img_w: i32, img_h: i32, p: &DetectParams) -> Vec<f32> {
    let (ww, wh) = window;
    if img_w < ww || img_h < wh {
        return vec![];
    }
    let (mut max_w, mut max_h) = (p.max_size.0 as i32, p.max_size.1 as i32);
    if max_w == 0 || max_h == 0 {
        max_w = img_w;
        max_h = img_h;
    }
    let (min_w, min_h) = (p.min_size.0 as i32, p.min_size.1 as i32);
    let mut all = Vec::new();
    let mut factor = 1.0f64;
    loop {
        let (w, h) = (round_f64(ww as f64 * factor), round_f64(wh as f64 * factor));
        if w > img_w || h > img_h {
            break;
        }
        all.push(factor as f32);
        factor *= p.scale_factor;
    }
    let win = |s: f32| (round_f32(ww as f32 * s), round_f32(wh as f32 * s));
    let mut scales = Vec::new();
    for &s in &all {
        let (w, h) = win(s);
        if w > max_w || h > max_h {
            break;
        }
        if w < min_w || h < min_h {
            continue;
        }
        scales.push(s);
    }
    if scales.is_empty() && !all.is_empty() {
        // OpenCV: take the scale closest to min_size (meant for min_size == max_size).
        let mut best = 0;
        let mut best_d = f64::INFINITY;
        for (i, &s) in all.iter().enumerate() {
            let (w, h) = win(s);
            let d = ((min_w - w) as f64).powi(2) + ((min_h - h) as f64).powi(2);
            if d < best_d {
                best_d = d;
                best = i;
            }
        }
        scales.push(all[best]);
    }
    scales
}

/// One pyramid level: the integral images of the resized image.
struct Layer {
    /// Size of the resized image.
    w: usize,
    h: usize,
    /// Row stride of the integral tables (`w + 1`).
    stride: usize,
    /// `sum` followed (Haar with tilted features) by the tilted table at `tofs`.
    sum: Vec<i32>,
    sq: Vec<i32>,
    ystep: usize,
}

impl Layer {
    fn build(model: &CascadeModel, gray: &[u8], iw: usize, ih: usize, scale: f32) -> Layer {
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
    fn working(&self, window: (i32, i32)) -> (usize, usize) {
        (
            (self.w as i64 + 1 - window.0 as i64).max(0) as usize,
            (self.h as i64 + 1 - window.1 as i64).max(0) as usize,
        )
    }
}

/// A Haar stump with its rectangle corners as offsets into the layer's tables.
#[derive(Clone, Copy)]
struct HaarStumpOpt {
    ofs: [[u32; 4]; 3],
    weight: [f32; 3],
    threshold: f32,
    left: f32,
    right: f32,
}

#[derive(Clone, Copy)]
struct HaarFeatOpt {
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

fn offsets<const N: usize>(v: [usize; N]) -> Result<[u32; N], DetectError> {
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
enum Opt {
    HaarStumps(Vec<HaarStumpOpt>),
    HaarTrees(Vec<HaarFeatOpt>),
    Lbp(Vec<[u32; 16]>),
}

/// The offsets of every feature for a layer of row stride `stride` (tilted table at `tofs`);
/// an error when one does not fit in 32 bits.
fn build_opt(model: &CascadeModel, stride: usize, tofs: usize) -> Result<Opt, DetectError> {
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
fn check_reads(
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

struct Scanner<'a> {
    model: &'a CascadeModel,
    layer: &'a Layer,
    opt: &'a Opt,
    /// Offsets of the variance rectangle (1, 1, W-2, H-2).
    nofs: [u32; 4],
    narea: f64,
}

impl Scanner<'_> {
    /// OpenCV's `runAt`: 1 = accepted, `-k` = rejected at stage k (0 at the first stage),
    /// -1 also when the window is too flat (variance check).
    #[inline]
    fn run_at(&self, p: usize) -> i32 {
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
    fn scan_rows(&self, y0: usize, y1: usize, wx: usize, out: &mut Vec<(u32, u32)>) {
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
    fn scan_with(
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

/// All raw (ungrouped) windows, in image pixels, OpenCV's `detectMultiScaleNoGrouping`.
/// Deterministic order: by scale, then row, then column.
///
/// An error ([`DetectError::TooLarge`]) when the image is too large for the engine's 32-bit
/// table offsets.
pub(crate) fn raw_windows(
    model: &CascadeModel,
    img: &GrayImage,
    p: &DetectParams,
) -> Result<Vec<Rect>, DetectError> {
    raw_windows_impl(model, img, p, true)
}

/// `dense = false` forces the plain per-window path (tests compare the two).
fn raw_windows_impl(
    model: &CascadeModel,
    img: &GrayImage,
    p: &DetectParams,
    dense: bool,
) -> Result<Vec<Rect>, DetectError> {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    if iw == 0 || ih == 0 {
        return Ok(vec![]);
    }
    if iw > i32::MAX as usize / 2 || ih > i32::MAX as usize / 2 {
        return Err(DetectError::TooLarge(format!(
            "{iw}x{ih} pixels is larger than the cascade engine's {}x{} limit",
            i32::MAX / 2,
            i32::MAX / 2
        )));
    }
    let scales = scales_for(model.window, iw as i32, ih as i32, p);
    let gray = img.as_raw();
    let (ww, wh) = model.window;
    let per_scale: Vec<Vec<Rect>> = scales
        .par_iter()
        .map(|&scale| {
            let layer = Layer::build(model, gray, iw, ih, scale);
            let tofs = layer.stride * (layer.h + 1);
            let opt = build_opt(model, layer.stride, tofs)?;
            let n = [1usize, 1, (ww - 2) as usize, (wh - 2) as usize];
            let nofs = offsets([
                n[0] + layer.stride * n[1],
                n[0] + n[2] + layer.stride * n[1],
                n[0] + layer.stride * (n[1] + n[3]),
                n[0] + n[2] + layer.stride * (n[1] + n[3]),
            ])?;
            let sc = Scanner {
                model,
                layer: &layer,
                opt: &opt,
                nofs,
                narea: ((ww - 2) * (wh - 2)) as f64,
            };
            let (wx, wy) = layer.working(model.window);
            if wx > 0 && wy > 0 {
                let last = (wy - 1) * layer.stride + wx - 1;
                check_reads(&opt, &nofs, last, layer.sum.len(), layer.sq.len())?;
            }
            let step = layer.ystep;
            // Row chunks of ~16 scanned rows, a multiple of the step.
            let chunk = 16 * step;
            let nchunks = wy.div_ceil(chunk);
            let hits: Vec<(u32, u32)> = (0..nchunks)
                .into_par_iter()
                .flat_map_iter(|c| {
                    let mut v = Vec::new();
                    let (y0, y1) = (c * chunk, ((c + 1) * chunk).min(wy));
                    if dense {
                        sc.scan_rows(y0, y1, wx, &mut v);
                    } else {
                        sc.scan_with(y0, y1, wx, &mut v, |p| sc.run_at(p));
                    }
                    v
                })
                .collect();
            let win = (round_f32(ww as f32 * scale), round_f32(wh as f32 * scale));
            Ok(hits
                .into_iter()
                .map(|(x, y)| Rect {
                    x: round_f32(x as f32 * scale),
                    y: round_f32(y as f32 * scale),
                    w: win.0,
                    h: win.1,
                })
                .collect())
        })
        .collect::<Result<_, DetectError>>()?;
    Ok(per_scale.into_iter().flatten().collect())
}

/// OpenCV's `partition` with `SimilarRects(eps)`: connected components; labels numbered in
/// order of first appearance.
#[allow(clippy::needless_range_loop)] // parallel arrays indexed together
fn partition(rects: &[Rect], eps: f64) -> (Vec<usize>, usize) {
    let n = rects.len();
    let similar = |a: &Rect, b: &Rect| {
        let delta = eps * ((a.w.min(b.w) + a.h.min(b.h)) as f64) * 0.5;
        ((a.x - b.x).abs() as f64) <= delta
            && ((a.y - b.y).abs() as f64) <= delta
            && ((a.x + a.w - b.x - b.w).abs() as f64) <= delta
            && ((a.y + a.h - b.y - b.h).abs() as f64) <= delta
    };
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..n {
        for j in i + 1..n {
            if similar(&rects[i], &rects[j]) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut label = vec![usize::MAX; n];
    let mut labels = vec![0; n];
    let mut nclasses = 0;
    for i in 0..n {
        let r = find(&mut parent, i);
        if label[r] == usize::MAX {
            label[r] = nclasses;
            nclasses += 1;
        }
        labels[i] = label[r];
    }
    (labels, nclasses)
}

/// OpenCV's `groupRectangles(rects, groupThreshold, eps)` returning `(rect, neighbours)`.
pub fn group_rectangles(rects: &[Rect], group_threshold: i32, eps: f64) -> Vec<(Rect, i32)> {
    if group_threshold <= 0 || rects.is_empty() {
        return rects.iter().map(|&r| (r, 1)).collect();
    }
    let (labels, nclasses) = partition(rects, eps);
    let mut sums = vec![(0i64, 0i64, 0i64, 0i64); nclasses];
    let mut counts = vec![0i32; nclasses];
    for (r, &c) in rects.iter().zip(&labels) {
        sums[c].0 += r.x as i64;
        sums[c].1 += r.y as i64;
        sums[c].2 += r.w as i64;
        sums[c].3 += r.h as i64;
        counts[c] += 1;
    }
    let avg: Vec<Rect> = (0..nclasses)
        .map(|c| {
            let s = 1.0f32 / counts[c] as f32;
            let f = |v: i64| round_f32(v as f32 * s);
            Rect {
                x: f(sums[c].0),
                y: f(sums[c].1),
                w: f(sums[c].2),
                h: f(sums[c].3),
            }
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..nclasses {
        let r1 = avg[i];
        let n1 = counts[i];
        if n1 <= group_threshold {
            continue;
        }
        let mut inside = false;
        for j in 0..nclasses {
            let n2 = counts[j];
            if j == i || n2 <= group_threshold {
                continue;
            }
            let r2 = avg[j];
            let dx = round_f64(r2.w as f64 * eps);
            let dy = round_f64(r2.h as f64 * eps);
            if r1.x >= r2.x - dx
                && r1.y >= r2.y - dy
                && r1.x + r1.w <= r2.x + r2.w + dx
                && r1.y + r1.h <= r2.y + r2.h + dy
                && (n2 > n1.max(3) || n1 < 3)
            {
                inside = true;
                break;
            }
        }
        if !inside {
            out.push((r1, n1));
        }
    }
    out
}

/// The full `detectMultiScale`: raw windows, grouping (eps 0.2), clipping to the image.
pub(crate) fn detect_multi_scale(
    model: &CascadeModel,
    img: &GrayImage,
    p: &DetectParams,
) -> Result<Vec<Detection>, DetectError> {
    let raw = raw_windows(model, img, p)?;
    let grouped = group_rectangles(&raw, p.min_neighbors.min(i32::MAX as u32) as i32, 0.2);
    let (iw, ih) = (img.width() as i32, img.height() as i32);
    Ok(grouped
        .into_iter()
        .filter_map(|(r, n)| {
            let x0 = r.x.max(0);
            let y0 = r.y.max(0);
            let x1 = (r.x + r.w).min(iw);
            let y1 = (r.y + r.h).min(ih);
            (x1 > x0 && y1 > y0).then(|| Detection {
                bbox: BoxF::new(x0 as f32, y0 as f32, (x1 - x0) as f32, (y1 - y0) as f32),
                score: n as f32,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use facemark_core::limits::MAX_FACE_SIZE;

    #[test]
    fn scales_follow_opencv() {
        let p = DetectParams {
            scale_factor: 1.1,
            min_neighbors: 3,
            min_size: (30, 30),
            max_size: (0, 0),
        };
        let s = scales_for((24, 24), 100, 80, &p);
        // windows 24·1.1^k ≤ 80 and ≥ 30: k = 3 (31.9) … 12 (75.3)
        assert_eq!(s.len(), 10);
        assert!((s[0] - 1.331).abs() < 1e-4);
        assert!(scales_for((24, 24), 20, 80, &p).is_empty());
    }

    #[test]
    fn dense_first_stage_gives_the_same_windows() {
        let xml = include_str!("../data/haarcascade_frontalface_default.xml");
        let model = CascadeModel::from_xml_str(xml).unwrap();
        // Smooth blobs plus noise: plenty of windows reach later stages.
        let mut s = 12345u32;
        let img = GrayImage::from_fn(180, 140, |x, y| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let blob = ((x as f32 * 0.11).sin() * (y as f32 * 0.07).cos() * 90.0) as i32;
            image::Luma([(128 + blob + (s % 40) as i32 - 20).clamp(0, 255) as u8])
        });
        let p = DetectParams {
            min_neighbors: 0,
            ..DetectParams::default()
        };
        let a = raw_windows_impl(&model, &img, &p, true).unwrap();
        let b = raw_windows_impl(&model, &img, &p, false).unwrap();
        assert_eq!(a, b);
    }

    /// A one-feature 12×12 Haar cascade.
    fn edge_model() -> CascadeModel {
        CascadeModel::from_xml_str(
            r#"<?xml version="1.0"?>
<opencv_storage><cascade>
  <stageType>BOOST</stageType><featureType>HAAR</featureType>
  <height>12</height><width>12</width>
  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>1</stageNum>
  <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>0.5</stageThreshold>
    <weakClassifiers><_><internalNodes>0 -1 0 0.15</internalNodes>
      <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features><_><rects><_>1 1 10 10 -1.</_><_>6 1 5 10 2.</_></rects></_></features>
</cascade></opencv_storage>"#,
        )
        .unwrap()
    }

    #[test]
    fn offsets_past_32_bits_are_refused_not_cut() {
        let model = edge_model();
        assert!(build_opt(&model, 1000, 0).is_ok());
        // rows 2^29 values apart (an image 2^29 pixels wide): the feature's lower corners
        // are 11 rows down, past 2^32; cut to 32 bits they pointed elsewhere
        let err = build_opt(&model, 1 << 29, 0).err().expect("refused");
        assert!(matches!(err, DetectError::TooLarge(_)), "{err}");
        assert!(err.to_string().contains("32 bits"), "{err}");
    }

    #[test]
    fn reads_past_the_tables_are_refused_in_every_build() {
        let model = edge_model();
        // a 20×20 image: tables of 21×21, window origins up to (8, 8)
        let stride = 21;
        let opt = build_opt(&model, stride, 0).unwrap();
        let nofs = [1 + stride, 11 + stride, 1 + 11 * stride, 11 + 11 * stride].map(|v| v as u32);
        let last = 8 * stride + 8;
        assert!(check_reads(&opt, &nofs, last, 21 * 21, 21 * 21).is_ok());
        // the farthest read: the last origin + the lower right corner (11, 11)
        let need = last + 11 + 11 * stride + 1;
        assert!(check_reads(&opt, &nofs, last, need, need).is_ok());
        // tables one value short, or a window origin past the end: refused
        for (last, sum, sq) in [
            (last, need - 1, need),
            (last, need, need - 1),
            (last + 1, need, need),
            (usize::MAX, need, need),
        ] {
            let err = check_reads(&opt, &nofs, last, sum, sq).unwrap_err();
            assert!(matches!(err, DetectError::TooLarge(_)), "{err}");
        }
    }

    #[test]
    fn window_sizes_that_would_wrap_are_refused() {
        let model = edge_model();
        let img = GrayImage::from_fn(64, 48, |x, y| image::Luma([((x * 7 + y * 13) % 251) as u8]));
        for (min, max) in [(3_000_000_000, 0), (0, 3_000_000_000), (u32::MAX, u32::MAX)] {
            let p = DetectParams {
                min_neighbors: 0,
                min_size: (min, min),
                max_size: (max, max),
                ..DetectParams::default()
            };
            let err = p.validate().unwrap_err();
            assert!(err.to_string().contains("larger than any image"), "{err}");
        }
        // within the limit: accepted, and a minimum larger than the image finds nothing
        let p = DetectParams {
            min_neighbors: 0,
            min_size: (MAX_FACE_SIZE, MAX_FACE_SIZE),
            ..DetectParams::default()
        };
        assert!(p.validate().is_ok());
        assert!(detect_multi_scale(&model, &img, &p).unwrap().is_empty());
    }

    #[test]
    fn grouping_needs_neighbours_and_averages() {
        let r = |x, y, w| Rect { x, y, w, h: w };
        let rects = vec![r(10, 10, 20), r(11, 10, 20), r(10, 11, 21), r(100, 100, 20)];
        let g = group_rectangles(&rects, 2, 0.2);
        assert_eq!(g.len(), 1);
        assert_eq!(
            g[0],
            (
                Rect {
                    x: 10,
                    y: 10,
                    w: 20,
                    h: 20
                },
                3
            )
        );
        assert_eq!(group_rectangles(&rects, 0, 0.2).len(), 4);
        assert!(group_rectangles(&rects, 3, 0.2).is_empty());
    }
}
