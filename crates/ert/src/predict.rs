//! Running a shape predictor on a face: dlib's `shape_predictor::operator()`, computed the same
//! way (the same float and double operations in the same order), with what dlib recomputes
//! per face precomputed and no allocation per face beyond the result.

use crate::model::ShapePredictor;
use image::GrayImage;

/// A face rectangle in dlib's convention: pixel centres at whole coordinates, `left..=right`
/// and `top..=bottom` the pixels it covers (dlib's `rectangle(l, t, r, b)`); the predictor maps
/// the unit square's corners `(0,0)`, `(1,1)` to the centres of the pixels `(left, top)` and
/// `(right, bottom)`. Fractional values are allowed (facemark's boxes are sub-pixel); dlib's own
/// rectangles are whole numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DlibRect {
    /// Left column.
    pub left: f64,
    /// Top row.
    pub top: f64,
    /// Right column (inclusive).
    pub right: f64,
    /// Bottom row (inclusive).
    pub bottom: f64,
}

impl DlibRect {
    /// dlib's `rectangle(left, top, right, bottom)`.
    pub fn new(left: f64, top: f64, right: f64, bottom: f64) -> Self {
        DlibRect {
            left,
            top,
            right,
            bottom,
        }
    }

    /// The rectangle of `w × h` pixels from `(x, y)`: dlib's `rectangle(x, y, x+w−1, y+h−1)`
    /// (what dlib's `rect.left(), rect.top(), rect.width(), rect.height()` give back).
    pub fn from_xywh(x: f64, y: f64, w: f64, h: f64) -> Self {
        DlibRect::new(x, y, x + w - 1.0, y + h - 1.0)
    }

    /// Maps a point in image coordinates (dlib's) to the unit square of the rectangle, as
    /// dlib's `normalizing_tform` does: `(left, top)` → (0, 0), `(right, bottom)` → (1, 1).
    /// The inverse of [`DlibRect::unnormalize`].
    #[inline]
    pub fn normalize(&self, p: [f64; 2]) -> [f32; 2] {
        let (sx, sy) = (self.right - self.left, self.bottom - self.top);
        [
            ((p[0] - self.left) / sx) as f32,
            ((p[1] - self.top) / sy) as f32,
        ]
    }

    /// Maps a point of the unit square to image coordinates as dlib's `unnormalizing_tform`
    /// does (`m·p + b` in double; `m = diag(right − left, bottom − top)`, `b = (left, top)`).
    #[inline]
    pub fn unnormalize(&self, p: [f32; 2]) -> [f64; 2] {
        [
            (self.right - self.left) * p[0] as f64 + self.left,
            (self.bottom - self.top) * p[1] as f64 + self.top,
        ]
    }
}

/// dlib's conversion of a `vector<double,2>` to a `point`: `floor(v + 0.5)`.
#[inline(always)]
pub fn dlib_round(v: f64) -> i64 {
    // floor without a libm call (x86-64's baseline has no rounding instruction); exact for
    // every finite value in i64's range, saturating beyond it (outside any image either way).
    let t = v + 0.5;
    let i = t as i64;
    if (i as f64) > t {
        i.saturating_sub(1)
    } else {
        i
    }
}

/// The pixel offset (`y·width + x`) of each feature of a level in an image of `size = (width,
/// height)`, for the face in `rect` whose shape is `shape` (the unit square's coordinates) and
/// whose similarity transform from the initial shape is `m` ([`ShapePredictor::similarity_to`]):
/// dlib's `extract_feature_pixel_values`. `usize::MAX` marks a pixel outside the image (dlib
/// reads 0 there). Offsets first, reads after, so that the cache misses of a large photo
/// overlap.
#[inline(always)]
pub(crate) fn feature_offsets(
    anchor_idx: &[u32],
    deltas: &[[f32; 2]],
    m: [f32; 4],
    shape: &[f32],
    rect: &DlibRect,
    (w, h): (i64, i64),
    offsets: &mut Vec<usize>,
) {
    let sx = rect.right - rect.left;
    let sy = rect.bottom - rect.top;
    offsets.clear();
    // (plain loops rather than closures: they inline into the AVX2 build)
    for (&a, d) in anchor_idx.iter().zip(deltas) {
        // dlib: tform*delta + location(current_shape, anchor), in float (a 2×2 float
        // matrix times a float vector: m00·dx + m01·dy), then unnormalizing_tform in
        // double, then floor(+0.5).
        let a = a as usize;
        let x = (m[0] * d[0] + m[1] * d[1]) + shape[2 * a];
        let y = (m[2] * d[0] + m[3] * d[1]) + shape[2 * a + 1];
        let px = sx * x as f64 + rect.left;
        let py = sy * y as f64 + rect.top;
        let mut o = usize::MAX;
        if px.is_finite() && py.is_finite() {
            let (ix, iy) = (dlib_round(px), dlib_round(py));
            if ix >= 0 && iy >= 0 && ix < w && iy < h {
                o = (iy * w + ix) as usize;
            }
        }
        offsets.push(o);
    }
}

/// Reusable buffers of [`ShapePredictor::predict_normalized`], so that a caller running many
/// faces allocates once.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    shape: Vec<f32>,
    features: Vec<f32>,
    /// The chosen leaf of each tree of a level (offsets into its leaf values).
    leaves: Vec<usize>,
    /// The pixel offset of each feature of a level.
    offsets: Vec<usize>,
}

/// How many trees ahead the leaf adds prefetch.
const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to bring `data` into cache (a hint; no effect on results).
#[inline(always)]
fn prefetch(data: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in data.chunks(16) {
        // SAFETY: prefetching is a hint that never faults, and the pointer is valid anyway.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr() as *const i8
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

impl ShapePredictor {
    /// The shape for the face in `rect`: `[x, y]` per point in the unit square of `rect`
    /// (dlib's `current_shape` at the end of the cascade), in `scratch`.
    pub fn predict_normalized<'s>(
        &self,
        image: &GrayImage,
        rect: &DlibRect,
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        self.predict_normalized_from(image, rect, &self.initial_shape, scratch)
    }

    /// As [`ShapePredictor::predict_normalized`], but the cascade starts from `start` (`[x,
    /// y]` interleaved in the unit square of `rect`) instead of the mean shape: how a
    /// refinement cascade (trained with starting shapes, [`crate::train::TrainFace::start`])
    /// runs. dlib's own API always starts from the mean shape.
    ///
    /// Requires `start.len() == 2 × num_parts()` (panics otherwise).
    pub fn predict_normalized_from<'s>(
        &self,
        image: &GrayImage,
        rect: &DlibRect,
        start: &[f32],
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        assert_eq!(
            start.len(),
            self.initial_shape.len(),
            "starting shape of another point count"
        );
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            #[allow(unsafe_code)]
            return unsafe { self.predict_avx2(image, rect, start, scratch) };
        }
        self.predict_body(image, rect, start, scratch)
    }

    /// [`ShapePredictor::predict_body`] compiled for AVX2 (the leaf adds 8 floats at a time;
    /// the same operations, so the same results: Rust never fuses a multiply and an add).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn predict_avx2<'s>(
        &self,
        image: &GrayImage,
        rect: &DlibRect,
        start: &[f32],
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        self.predict_body(image, rect, start, scratch)
    }

    #[inline(always)]
    fn predict_body<'s>(
        &self,
        image: &GrayImage,
        rect: &DlibRect,
        start: &[f32],
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        let Scratch {
            shape,
            features,
            leaves,
            offsets,
        } = scratch;
        shape.clear();
        shape.extend_from_slice(start);
        features.resize(self.max_features, 0.0);
        let len = shape.len();
        let (w, h) = (image.width() as i64, image.height() as i64);
        let pixels = image.as_raw();
        for level in &self.levels {
            let m = self.similarity_to(shape);
            let nf = level.anchor_idx.len();
            // Pixel offsets first (usize::MAX: outside the image, which reads 0 as in dlib),
            // then the reads, so that the cache misses on a large photo overlap.
            feature_offsets(
                &level.anchor_idx,
                &level.deltas,
                m,
                shape,
                rect,
                (w, h),
                offsets,
            );
            for (f, &o) in features[..nf].iter_mut().zip(offsets.iter()) {
                *f = pixels.get(o).map_or(0.0, |&p| p as f32);
            }
            let feats = &features[..nf];
            // Two passes, the same sums in the same order as dlib's: first every tree's leaf
            // (branch-free descent: the features are fixed for the whole level), then the
            // leaves added in tree order with the next ones prefetched, so that the leaf loads
            // (the bulk of the time: a model's leaves are tens of MB) overlap.
            leaves.clear();
            for t in &level.trees {
                let splits = &level.splits
                    [t.split_start as usize..t.split_start as usize + t.n_splits as usize];
                let mut i = 0usize;
                while i < splits.len() {
                    let s = splits[i];
                    // left (2i+1) when the difference exceeds the threshold, else right
                    let left = feats[s.idx1 as usize] - feats[s.idx2 as usize] > s.thresh;
                    i = 2 * i + 2 - left as usize;
                }
                leaves.push((t.leaf_start as usize + i - splits.len()) * len);
            }
            for &first in leaves.iter().take(PREFETCH_AHEAD) {
                prefetch(&level.leaves[first..first + len]);
            }
            for k in 0..leaves.len() {
                if let Some(&ahead) = leaves.get(k + PREFETCH_AHEAD) {
                    prefetch(&level.leaves[ahead..ahead + len]);
                }
                let leaf = leaves[k];
                for (c, v) in shape.iter_mut().zip(&level.leaves[leaf..leaf + len]) {
                    *c += v;
                }
            }
        }
        shape
    }

    /// The points for the face in `rect`, in dlib's image coordinates (pixel centres at whole
    /// numbers), before dlib's rounding: dlib's `sp(img, rect).part(i)` is
    /// [`dlib_round`] of each coordinate.
    pub fn predict_dlib(&self, image: &GrayImage, rect: &DlibRect) -> Vec<[f64; 2]> {
        let mut s = Scratch::default();
        self.predict_normalized(image, rect, &mut s)
            .chunks_exact(2)
            .map(|p| rect.unnormalize([p[0], p[1]]))
            .collect()
    }

    /// The linear part of dlib's `find_tform_between_shapes(initial_shape, current)` as float
    /// (`[m00, m01, m10, m11]`): the least-squares similarity (Umeyama) from the initial shape
    /// to `current`. dlib computes it through an SVD in double and casts it to float; the
    /// closed form for 2-D used here is the same double to within a few ulps, which the cast
    /// to float absorbs.
    #[inline(always)]
    pub(crate) fn similarity_to(&self, current: &[f32]) -> [f32; 4] {
        let n = self.from_centered.len();
        if n == 1 {
            return [1.0, 0.0, 0.0, 1.0];
        }
        let mut mean = [0f64; 2];
        for p in current.chunks_exact(2) {
            mean[0] += p[0] as f64;
            mean[1] += p[1] as f64;
        }
        mean[0] /= n as f64;
        mean[1] /= n as f64;
        // cov = Σ (to − mean_to)(from − mean_from)ᵀ / n
        let (mut c00, mut c01, mut c10, mut c11) = (0f64, 0f64, 0f64, 0f64);
        for (p, f) in current.chunks_exact(2).zip(&self.from_centered) {
            let tx = p[0] as f64 - mean[0];
            let ty = p[1] as f64 - mean[1];
            c00 += tx * f[0];
            c01 += tx * f[1];
            c10 += ty * f[0];
            c11 += ty * f[1];
        }
        let nn = n as f64;
        let (c00, c01, c10, c11) = (c00 / nn, c01 / nn, c10 / nn, c11 / nn);
        // The best rotation r has cos ∝ c00 + c11, sin ∝ c10 − c01, and trace(d·s) (the sum of
        // the singular values, or their difference when det(cov) < 0) is the norm of that
        // vector, so c·r = [[P, −Q], [Q, P]] / sigma_from.
        let p = c00 + c11;
        let q = c10 - c01;
        let (a, b) = if self.from_sigma != 0.0 {
            (p / self.from_sigma, q / self.from_sigma)
        } else {
            let norm = (p * p + q * q).sqrt();
            if norm == 0.0 {
                (1.0, 0.0)
            } else {
                (p / norm, q / norm)
            }
        };
        [a as f32, -b as f32, b as f32, a as f32]
    }
}
