//! Landmark-aware augmentation: one affine per sample, one resampling, points moved with pixels.
//!
//! For every training sample [`Augmenter::make`] builds the network input and its targets:
//!
//! 1. the *inference crop* `C = CropSpec::transform(&BoxF::around(visible points), size)`
//!    (photo pixels → input pixels), exactly what a [`facemark_core::Landmarker`] uses at
//!    inference time;
//! 2. with `train = true`, a random similarity `A` about the crop centre `(size/2, size/2)`:
//!    scale `s`, rotation `θ`, translation `(tx, ty)` in input pixels, and optionally the
//!    horizontal flip `F: x ↦ size − x`;
//! 3. ONE warp of the photo through `F ∘ A ∘ C` with [`warp_gray_f32`] (bilinear, no double
//!    resampling); the points go through the same map, and on a flip they are re-indexed with
//!    the scheme's mirror permutation (`new[mirror[i]] = F(A(C(old[i])))`) so that "left eye"
//!    stays the subject's left eye;
//! 4. photometric jitter on the float pixels (contrast, brightness, Gaussian blur, noise,
//!    occlusion box) — it never moves points.
//!
//! Input values are `v / 127.5 − 1` for 8-bit `v` (the scaling of
//! [`facemark_core::crop::gray_to_input`]), i.e. `[-1, 1]`; targets are
//! [`facemark_core::crop::normalise_points`] (`[-1, 1]` about the crop centre, x before y).

use facemark_core::crop::normalise_points;
use facemark_core::geometry::warp_gray_f32;
use facemark_core::{Affine2, BoxF, CropSpec, Point, Scheme};
use image::GrayImage;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Augmentation settings. Every field has a default (`#[serde(default)]`), so a TOML table may
/// give only the fields it changes. Ranges are `[low, high]`, drawn uniformly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentConfig {
    /// Maximum rotation in degrees; the angle is uniform in `[-rotation_deg, rotation_deg]`.
    pub rotation_deg: f32,
    /// Zoom factor range about the crop centre (`> 1` makes the face larger in the input).
    pub scale: [f32; 2],
    /// Maximum shift as a fraction of the input side, per axis, uniform in `[-t, t]`.
    pub translate: f32,
    /// Probability of a horizontal flip (with the scheme's mirror permutation).
    pub flip_prob: f32,
    /// Maximum additive brightness change in `[0, 1]` pixel units (uniform in `[-b, b]`).
    pub brightness: f32,
    /// Contrast factor range about the crop's mean intensity.
    pub contrast: [f32; 2],
    /// Probability of a Gaussian blur.
    pub blur_prob: f32,
    /// Blur sigma range in input pixels.
    pub blur_sigma: [f32; 2],
    /// Standard deviation of additive Gaussian pixel noise in `[0, 1]` units (0 = off).
    pub noise_std: f32,
    /// Probability of an occlusion box (a rectangle of uniform random gray).
    pub occlusion_prob: f32,
    /// Largest occlusion box side as a fraction of the input side.
    pub occlusion_max: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            rotation_deg: 15.0,
            scale: [0.9, 1.1],
            translate: 0.05,
            flip_prob: 0.5,
            brightness: 0.15,
            contrast: [0.75, 1.25],
            blur_prob: 0.2,
            blur_sigma: [0.5, 1.5],
            noise_std: 0.02,
            occlusion_prob: 0.0,
            occlusion_max: 0.3,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all: `make(.., train = true)` then equals `train = false`.
    pub fn none() -> Self {
        AugmentConfig {
            rotation_deg: 0.0,
            scale: [1.0, 1.0],
            translate: 0.0,
            flip_prob: 0.0,
            brightness: 0.0,
            contrast: [1.0, 1.0],
            blur_prob: 0.0,
            blur_sigma: [0.0, 0.0],
            noise_std: 0.0,
            occlusion_prob: 0.0,
            occlusion_max: 0.0,
        }
    }
}

/// The geometric part of one sample's augmentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Photo pixels → input pixels (crop, random similarity and flip composed).
    pub transform: Affine2,
    /// Whether the map contains the horizontal flip (points must be mirror-permuted).
    pub flipped: bool,
}

/// Builds network inputs and targets from annotated faces (see the module docs).
#[derive(Debug, Clone)]
pub struct Augmenter {
    cfg: AugmentConfig,
    scheme: Scheme,
    input_size: u32,
    crop: CropSpec,
    /// The mirror permutation when it is a valid permutation of `0..scheme.len()`.
    mirror: Option<Vec<usize>>,
}

/// `lo + (hi - lo)·u` with `u` uniform in `[0, 1)`; never panics on an empty or reversed range.
fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.gen::<f32>()
}

/// Standard normal variate (Box–Muller).
fn normal(rng: &mut impl Rng) -> f32 {
    let u1: f32 = rng.gen::<f32>().max(1e-7);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn valid_permutation(m: &[usize]) -> bool {
    let mut seen = vec![false; m.len()];
    for &j in m {
        if j >= m.len() || seen[j] {
            return false;
        }
        seen[j] = true;
    }
    true
}

impl Augmenter {
    /// `input_size`: side of the square network input in pixels. `scheme.mirror` is used for
    /// flips; when it is not a permutation of `0..scheme.len()` flips are disabled (logged).
    pub fn new(cfg: AugmentConfig, scheme: Scheme, input_size: u32, crop: CropSpec) -> Self {
        let mirror = if scheme.mirror.len() == scheme.len() && valid_permutation(&scheme.mirror) {
            Some(scheme.mirror.clone())
        } else {
            if cfg.flip_prob > 0.0 {
                tracing::warn!(
                    scheme = %scheme.name,
                    "scheme has no valid mirror permutation: horizontal flips disabled"
                );
            }
            None
        };
        Augmenter {
            cfg,
            scheme,
            input_size: input_size.max(1),
            crop,
            mirror,
        }
    }

    /// The augmentation settings given to [`Augmenter::new`].
    pub fn config(&self) -> &AugmentConfig {
        &self.cfg
    }
    /// The landmark scheme of the faces (its mirror permutation drives flips).
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }
    /// Side of the square network input, pixels (at least 1).
    pub fn input_size(&self) -> u32 {
        self.input_size
    }
    /// How a face's crop is placed around its landmark box, before random jitter.
    pub fn crop(&self) -> &CropSpec {
        &self.crop
    }

    /// The landmark box of a face: the tight box around its visible, finite points; the whole
    /// image when there is none (such a sample has an all-false mask anyway).
    pub fn landmark_box(img: &GrayImage, points: &[Point], visible: &[bool]) -> BoxF {
        let vis: Vec<Point> = points
            .iter()
            .zip(visible.iter().chain(std::iter::repeat(&true)))
            .filter(|(_, v)| **v)
            .map(|(p, _)| *p)
            .collect();
        match BoxF::around(&vis) {
            Some(b) if b.w > 0.0 || b.h > 0.0 => b,
            _ => BoxF::new(0.0, 0.0, img.width() as f32, img.height() as f32),
        }
    }

    /// The inference crop of an annotated face (photo pixels → input pixels): the square crop of
    /// its landmark box ([`Augmenter::landmark_box`]), or with an aligned [`CropSpec`] the
    /// roll-normalised crop of its visible points ([`CropSpec::transform_points`]), exactly as
    /// a model or refiner makes it at inference.
    pub fn base_crop(&self, img: &GrayImage, points: &[Point], visible: &[bool]) -> Affine2 {
        let size = self.input_size;
        if self.crop.align {
            let vis: Vec<Point> = points
                .iter()
                .zip(visible.iter().chain(std::iter::repeat(&false)))
                .map(|(p, v)| if *v { *p } else { [f32::NAN, f32::NAN] })
                .collect();
            if let Some(t) = self.crop.transform_points(&vis, &self.scheme, size) {
                return t;
            }
        }
        self.crop
            .transform(&Self::landmark_box(img, points, visible), size)
    }

    /// Draws the geometric transform for one sample (photo pixels → input pixels) on top of
    /// its inference crop `crop` ([`Augmenter::base_crop`]). With `train = false` it is exactly
    /// `crop` and consumes no randomness. The flip is only drawn when `n_points` matches the
    /// scheme (so the permutation applies).
    pub fn geometry(
        &self,
        crop: Affine2,
        n_points: usize,
        rng: &mut impl Rng,
        train: bool,
    ) -> Geometry {
        let size = self.input_size;
        if !train {
            return Geometry {
                transform: crop,
                flipped: false,
            };
        }
        let c = size as f32 * 0.5;
        let cfg = &self.cfg;
        let s = uniform(rng, cfg.scale[0], cfg.scale[1]);
        let theta = uniform(rng, -cfg.rotation_deg, cfg.rotation_deg).to_radians();
        let tx = uniform(rng, -cfg.translate, cfg.translate) * size as f32;
        let ty = uniform(rng, -cfg.translate, cfg.translate) * size as f32;
        let flip_draw: f32 = rng.gen();
        let s = if s.is_finite() && s > 1e-3 { s } else { 1.0 };
        let aug = Affine2::translate(-c, -c)
            .followed_by(&Affine2::scale(s, s))
            .followed_by(&Affine2::rotate(theta))
            .followed_by(&Affine2::translate(c + tx, c + ty));
        let mut transform = crop.followed_by(&aug);
        let flipped =
            flip_draw < cfg.flip_prob && self.mirror.as_ref().is_some_and(|m| m.len() == n_points);
        if flipped {
            let flip = Affine2 {
                a: -1.0,
                b: 0.0,
                c: 0.0,
                d: 1.0,
                tx: size as f32,
                ty: 0.0,
            };
            transform = transform.followed_by(&flip);
        }
        Geometry { transform, flipped }
    }

    /// Moves `points` (photo pixels) through `g` into input pixels, mirror-permuting on a flip.
    /// Returns the moved points and their mask (`visible[i]` and finite); missing points come
    /// back as NaN.
    pub fn move_points(
        &self,
        g: &Geometry,
        points: &[Point],
        visible: &[bool],
    ) -> (Vec<Point>, Vec<bool>) {
        let n = points.len();
        let mut out = vec![[f32::NAN, f32::NAN]; n];
        let mut mask = vec![false; n];
        for i in 0..n {
            let p = points[i];
            let present =
                visible.get(i).copied().unwrap_or(false) && p[0].is_finite() && p[1].is_finite();
            let j = match (&self.mirror, g.flipped) {
                (Some(m), true) => m[i],
                _ => i,
            };
            if present {
                out[j] = g.transform.apply(p);
                mask[j] = true;
            }
        }
        (out, mask)
    }

    /// One training/validation example for the network.
    ///
    /// `img`: the photo; `points`: its landmarks `[x, y]` in photo pixels; `visible[i] = false`
    /// marks a missing point. Returns `(input, targets, mask)`:
    /// - `input`: `input_size²` row-major values in `[-1, 1]` (`v/127.5 − 1`);
    /// - `targets`: `2·points.len()` values, x then y per point, `[-1, 1]` about the crop centre
    ///   (`normalise_points`); a missing point's two values are `0.0`;
    /// - `mask`: per point, `true` where the target is real (missing points stay masked).
    ///
    /// `train = false`: the inference crop, no randomness used, deterministic.
    /// `train = true`: random geometry and photometric jitter drawn from `rng`.
    pub fn make(
        &self,
        img: &GrayImage,
        points: &[Point],
        visible: &[bool],
        rng: &mut impl Rng,
        train: bool,
    ) -> (Vec<f32>, Vec<f32>, Vec<bool>) {
        let size = self.input_size;
        let crop = self.base_crop(img, points, visible);
        let g = self.geometry(crop, points.len(), rng, train);
        let mut pix = warp_gray_f32(img, &g.transform, size, size); // [0, 1]
        if train {
            self.photometric(&mut pix, rng);
        }
        let input: Vec<f32> = pix.iter().map(|&v| v * 2.0 - 1.0).collect();
        let (moved, mask) = self.move_points(&g, points, visible);
        let mut targets = normalise_points(&moved, size);
        for (i, m) in mask.iter().enumerate() {
            if !m {
                targets[2 * i] = 0.0;
                targets[2 * i + 1] = 0.0;
            }
        }
        (input, targets, mask)
    }

    /// Photometric jitter on `size²` pixels in `[0, 1]`; the result is clamped to `[0, 1]`.
    fn photometric(&self, pix: &mut [f32], rng: &mut impl Rng) {
        let cfg = &self.cfg;
        let size = self.input_size as usize;
        // Draw everything first so the number of draws does not depend on the image.
        let contrast = uniform(rng, cfg.contrast[0], cfg.contrast[1]);
        let bright = uniform(rng, -cfg.brightness, cfg.brightness);
        let blur = rng.gen::<f32>() < cfg.blur_prob;
        let sigma = uniform(rng, cfg.blur_sigma[0], cfg.blur_sigma[1]);
        let occl = rng.gen::<f32>() < cfg.occlusion_prob;
        let (ow, oh) = (
            uniform(rng, 0.05, cfg.occlusion_max.max(0.05)),
            uniform(rng, 0.05, cfg.occlusion_max.max(0.05)),
        );
        let (ox, oy, ogray) = (rng.gen::<f32>(), rng.gen::<f32>(), rng.gen::<f32>());

        if contrast != 1.0 || bright != 0.0 {
            let mean = pix.iter().sum::<f32>() / pix.len().max(1) as f32;
            for v in pix.iter_mut() {
                *v = (*v - mean) * contrast + mean + bright;
            }
        }
        if blur && sigma > 0.05 {
            gaussian_blur(pix, size, size, sigma);
        }
        if cfg.noise_std > 0.0 {
            for v in pix.iter_mut() {
                *v += cfg.noise_std * normal(rng);
            }
        }
        if occl && cfg.occlusion_max > 0.0 {
            let w = ((ow * size as f32) as usize).clamp(1, size);
            let h = ((oh * size as f32) as usize).clamp(1, size);
            let x0 = ((ox * (size - w + 1) as f32) as usize).min(size - w);
            let y0 = ((oy * (size - h + 1) as f32) as usize).min(size - h);
            for y in y0..y0 + h {
                pix[y * size + x0..y * size + x0 + w].fill(ogray);
            }
        }
        for v in pix.iter_mut() {
            *v = v.clamp(0.0, 1.0);
        }
    }
}

/// A picture of what the network sees: for each `(image, points, visible)` one tile per draw
/// (`draws` augmented versions with `train = true`, preceded by the `train = false` crop),
/// targets drawn as dots (green; the points of the scheme's `left_eye` group, if any, in
/// magenta so a flip's relabelling can be checked by eye: they must stay on the eye on the
/// image's right). Tiles are `input_size` pixels.
pub fn preview_sheet(
    aug: &Augmenter,
    faces: &[(GrayImage, Vec<Point>, Vec<bool>)],
    draws: usize,
    rng: &mut impl Rng,
) -> image::RgbImage {
    let size = aug.input_size();
    let marked: Vec<usize> = aug
        .scheme()
        .groups
        .iter()
        .find(|g| g.name == "left_eye")
        .map(|g| g.indices.clone())
        .unwrap_or_default();
    let mut tiles = Vec::new();
    for (img, pts, vis) in faces {
        for k in 0..=draws {
            let (input, targets, mask) = aug.make(img, pts, vis, rng, k > 0);
            let gray: Vec<u8> = input
                .iter()
                .map(|v| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8)
                .collect();
            let Some(g) = GrayImage::from_raw(size, size, gray) else {
                continue;
            };
            let mut rgb = image::DynamicImage::ImageLuma8(g).into_rgb8();
            let p = facemark_core::crop::denormalise_points(&targets, size);
            let shown: Vec<Point> = p
                .iter()
                .zip(&mask)
                .filter(|(_, m)| **m)
                .map(|(p, _)| *p)
                .collect();
            let r = (size as f32 / 80.0).max(1.0);
            facemark_core::draw::draw_points(&mut rgb, &shown, [0, 255, 0], r);
            let left: Vec<Point> = marked
                .iter()
                .filter(|i| mask.get(**i).copied().unwrap_or(false))
                .map(|&i| p[i])
                .collect();
            facemark_core::draw::draw_points(&mut rgb, &left, [255, 0, 255], r);
            tiles.push(rgb);
        }
    }
    facemark_core::draw::contact_sheet(&tiles, draws + 1, size)
}

/// Separable Gaussian blur in place (`w × h` row-major), edges clamped. Kernel radius `⌈3σ⌉`.
pub fn gaussian_blur(pix: &mut [f32], w: usize, h: usize, sigma: f32) {
    if w == 0 || h == 0 || sigma <= 0.0 || pix.len() < w * h {
        return;
    }
    let r = (3.0 * sigma).ceil() as isize;
    let mut k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (t, kv) in k.iter().enumerate() {
                let xx = (x as isize + t as isize - r).clamp(0, w as isize - 1) as usize;
                acc += kv * pix[y * w + xx];
            }
            tmp[y * w + x] = acc;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (t, kv) in k.iter().enumerate() {
                let yy = (y as isize + t as isize - r).clamp(0, h as isize - 1) as usize;
                acc += kv * tmp[yy * w + x];
            }
            pix[y * w + x] = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use facemark_core::crop::denormalise_points;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A 3-point scheme: 0 = subject's left eye, 1 = subject's right eye, 2 = nose.
    fn scheme3() -> Scheme {
        let mut s = Scheme::generic(3);
        s.mirror = vec![1, 0, 2];
        s
    }

    /// A dark photo with a bright square blob of value `v[i]` centred on each point.
    fn blob_image(w: u32, h: u32, pts: &[Point], vals: &[u8], r: i32) -> GrayImage {
        let mut img = GrayImage::from_pixel(w, h, image::Luma([10]));
        for (p, &v) in pts.iter().zip(vals) {
            for dy in -r..=r {
                for dx in -r..=r {
                    let x = p[0].floor() as i32 + dx;
                    let y = p[1].floor() as i32 + dy;
                    if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                        img.put_pixel(x as u32, y as u32, image::Luma([v]));
                    }
                }
            }
        }
        img
    }

    /// Input value (back in 8-bit units) at a point given in input pixels.
    fn value_at(input: &[f32], size: u32, p: Point) -> f32 {
        let (x, y) = (p[0].floor() as usize, p[1].floor() as usize);
        (input[y * size as usize + x] + 1.0) * 127.5
    }

    // Subject's left eye is on the image's right.
    const PTS: [Point; 3] = [[80.5, 50.5], [48.5, 50.5], [64.5, 80.5]];
    const VALS: [u8; 3] = [250, 170, 90];

    #[test]
    fn flip_puts_points_on_mirrored_features() {
        let img = blob_image(128, 128, &PTS, &VALS, 3);
        let cfg = AugmentConfig {
            flip_prob: 1.0,
            ..AugmentConfig::none()
        };
        let size = 64;
        let aug = Augmenter::new(cfg, scheme3(), size, CropSpec::with_margin(0.4));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (input, targets, mask) = aug.make(&img, &PTS, &[true; 3], &mut rng, true);
        assert_eq!(mask, vec![true; 3]);
        let pts = denormalise_points(&targets, size);
        // New left eye (index 0) is still on the image's right, right eye on the left.
        assert!(pts[0][0] > size as f32 / 2.0 && pts[1][0] < size as f32 / 2.0);
        // Each new point i sits on the feature that was point mirror[i] before the flip.
        for (i, &src) in [1usize, 0, 2].iter().enumerate() {
            let v = value_at(&input, size, pts[i]);
            assert!(
                (v - VALS[src] as f32).abs() < 12.0,
                "point {i}: value {v}, expected blob {src} ({})",
                VALS[src]
            );
        }
        // Without the permutation the left-eye index would sit on the wrong blob.
        let (_, unflipped, _) = aug.make(&img, &PTS, &[true; 3], &mut rng, false);
        let up = denormalise_points(&unflipped, size);
        assert!((pts[0][0] - (size as f32 - up[1][0])).abs() < 1e-3);
    }

    #[test]
    fn random_geometry_moves_points_with_pixels() {
        let img = blob_image(128, 128, &PTS, &VALS, 4);
        let cfg = AugmentConfig {
            rotation_deg: 40.0,
            scale: [0.8, 1.25],
            translate: 0.1,
            flip_prob: 0.5,
            ..AugmentConfig::none()
        };
        let size = 96;
        let aug = Augmenter::new(cfg, scheme3(), size, CropSpec::with_margin(0.5));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut rotated = 0;
        for _ in 0..20 {
            let g = aug.geometry(
                aug.base_crop(&img, &PTS, &[true; 3]),
                3,
                &mut rng.clone(),
                true,
            );
            if g.transform.b.abs() > 0.05 {
                rotated += 1;
            }
            let (input, targets, _) = aug.make(&img, &PTS, &[true; 3], &mut rng, true);
            let pts = denormalise_points(&targets, size);
            let flipped = pts[0][0] < pts[1][0] - 1.0 || g.flipped;
            for i in 0..3 {
                let src = if g.flipped { [1, 0, 2][i] } else { i };
                let v = value_at(&input, size, pts[i]);
                assert!(
                    (v - VALS[src] as f32).abs() < 15.0,
                    "point {i} (flipped {flipped}): value {v} expected {}",
                    VALS[src]
                );
            }
        }
        assert!(rotated > 10, "rotation should actually be applied");
    }

    #[test]
    fn eval_mode_is_the_deterministic_inference_crop() {
        let img = blob_image(128, 128, &PTS, &VALS, 3);
        let crop = CropSpec::default();
        let aug = Augmenter::new(AugmentConfig::default(), scheme3(), 48, crop);
        let mut r1 = ChaCha8Rng::seed_from_u64(1);
        let mut r2 = ChaCha8Rng::seed_from_u64(99);
        let a = aug.make(&img, &PTS, &[true; 3], &mut r1, false);
        let b = aug.make(&img, &PTS, &[true; 3], &mut r2, false);
        assert_eq!(a, b);
        let t = crop.transform(&BoxF::around(&PTS).unwrap(), 48);
        let expect = normalise_points(&PTS.iter().map(|p| t.apply(*p)).collect::<Vec<_>>(), 48);
        for (x, y) in a.1.iter().zip(&expect) {
            assert!((x - y).abs() < 1e-5);
        }
        let pix = warp_gray_f32(&img, &t, 48, 48);
        for (x, y) in a.0.iter().zip(&pix) {
            assert!((x - (y * 2.0 - 1.0)).abs() < 1e-6);
        }
        assert!(a.0.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn an_aligned_augmenter_trains_on_level_eyes_from_the_points() {
        // a 68-point face turned 30°: the refiner's inference crop levels its eyes, with or
        // without a missing point, and the pixels follow (the blob at point 36 stays under it)
        let turn = Affine2::rotate(30f32.to_radians());
        let pts: Vec<Point> = facemark_core::scheme::IBUG68_MEAN
            .iter()
            .map(|&p| {
                let q = turn.apply([p[0] * 60.0, p[1] * 60.0]);
                [q[0] + 64.0, q[1] + 64.0]
            })
            .collect();
        let img = blob_image(128, 128, &pts[36..37], &[250], 2);
        let scheme = Scheme::ibug68();
        let crop = CropSpec {
            align: true,
            ..CropSpec::default()
        };
        let aug = Augmenter::new(AugmentConfig::none(), scheme.clone(), 64, crop);
        let mut visible = vec![true; 68];
        visible[10] = false;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (input, targets, _) = aug.make(&img, &pts, &visible, &mut rng, false);
        let moved = denormalise_points(&targets, 64);
        let level = CropSpec::roll(&moved, &scheme).unwrap();
        assert!(level.abs() < 1e-3, "eye line at {}°", level.to_degrees());
        assert!(value_at(&input, 64, moved[36]) > 100.0);
        // the same crop as the model-side `crop_for_points` makes from the visible points
        let mut vis_pts = pts.clone();
        vis_pts[10] = [f32::NAN, f32::NAN];
        let t = crop.transform_points(&vis_pts, &scheme, 64).unwrap();
        assert_eq!(aug.base_crop(&img, &pts, &visible), t);
    }

    #[test]
    fn missing_points_stay_masked_through_flips() {
        let img = blob_image(128, 128, &PTS, &VALS, 3);
        let cfg = AugmentConfig {
            flip_prob: 1.0,
            ..AugmentConfig::default()
        };
        let aug = Augmenter::new(cfg, scheme3(), 32, CropSpec::default());
        let mut pts = PTS.to_vec();
        pts[0] = [f32::NAN, f32::NAN];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (input, targets, mask) = aug.make(&img, &pts, &[false, true, true], &mut rng, true);
        // Point 0 (missing) becomes index mirror[0] = 1 after the flip.
        assert_eq!(mask, vec![true, false, true]);
        assert_eq!(&targets[2..4], &[0.0, 0.0]);
        assert!(targets.iter().all(|v| v.is_finite()));
        assert!(input.iter().all(|v| (-1.0..=1.0).contains(v)));
        // Without flip the mask is unchanged.
        let (_, _, mask) = aug.make(&img, &pts, &[false, true, true], &mut rng, false);
        assert_eq!(mask, vec![false, true, true]);
    }

    #[test]
    fn invalid_mirror_disables_flips_and_degenerate_input_does_not_panic() {
        let mut s = scheme3();
        s.mirror = vec![0, 0, 2];
        let cfg = AugmentConfig {
            flip_prob: 1.0,
            ..AugmentConfig::none()
        };
        let aug = Augmenter::new(cfg, s, 16, CropSpec::default());
        let img = GrayImage::new(20, 20);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (_, t, m) = aug.make(&img, &PTS, &[true; 3], &mut rng, true);
        let p = denormalise_points(&t, 16);
        assert!(p[0][0] > p[1][0], "no flip happened");
        assert_eq!(m, vec![true; 3]);
        // No visible points and a 1×1 image.
        let tiny = GrayImage::new(1, 1);
        let (i, t, m) = aug.make(&tiny, &PTS, &[false; 3], &mut rng, true);
        assert_eq!(i.len(), 256);
        assert_eq!(t, vec![0.0; 6]);
        assert_eq!(m, vec![false; 3]);
    }

    #[test]
    fn photometric_jitter_is_seeded_and_bounded() {
        let img = blob_image(64, 64, &PTS[..1], &VALS[..1], 3);
        let cfg = AugmentConfig {
            blur_prob: 1.0,
            occlusion_prob: 1.0,
            noise_std: 0.05,
            ..AugmentConfig::default()
        };
        let aug = Augmenter::new(cfg, Scheme::generic(1), 32, CropSpec::default());
        let pts = [[30.0, 30.0]];
        let a = aug.make(&img, &pts, &[true], &mut ChaCha8Rng::seed_from_u64(5), true);
        let b = aug.make(&img, &pts, &[true], &mut ChaCha8Rng::seed_from_u64(5), true);
        let c = aug.make(&img, &pts, &[true], &mut ChaCha8Rng::seed_from_u64(6), true);
        assert_eq!(a, b);
        assert_ne!(a.0, c.0);
        assert!(a.0.iter().all(|v| (-1.0..=1.0).contains(v)));
    }

    /// Real 300-W faces with the real 68-point mirror: after a flip the subject's left eye
    /// (42–47) must still be on the image's right of the right eye (36–41), and the left
    /// outer eye corner (45) at the far right, as in unflipped faces. Set
    /// `FACEMARK_AUG_PREVIEW=sheet.png` to also write a preview sheet.
    #[test]
    fn real_faces_flip_keeps_left_on_the_right() {
        let Some(root) = facemark_core::testdata::shared_data() else {
            return;
        };
        let samples = facemark_formats::load_any(&root.join("300w-helen-train")).unwrap();
        let cfg = AugmentConfig {
            flip_prob: 1.0,
            ..AugmentConfig::default()
        };
        let aug = Augmenter::new(cfg, Scheme::ibug68(), 96, CropSpec::default());
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut faces = Vec::new();
        let (mut ok, mut n) = (0, 0);
        for s in samples.iter().take(40) {
            let img = facemark_formats::load_gray(&s.image).unwrap();
            for train in [false, true] {
                let (_, t, m) = aug.make(&img, &s.points, &s.visible, &mut rng, train);
                assert!(m.iter().all(|v| *v));
                let p = denormalise_points(&t, 96);
                let mean_x = |r: std::ops::Range<usize>| {
                    r.clone().map(|i| p[i][0]).sum::<f32>() / r.len() as f32
                };
                n += 1;
                if mean_x(42..48) > mean_x(36..42) && p[45][0] > p[36][0] {
                    ok += 1;
                }
            }
            faces.push((img, s.points.clone(), s.visible.clone()));
        }
        // Every face here is roughly frontal: all of them, flipped or not, keep left on the right.
        assert_eq!(
            ok, n,
            "{ok} of {n} crops keep the subject's left eye on the image's right"
        );
        if let Some(p) = std::env::var_os("FACEMARK_AUG_PREVIEW") {
            let aug = Augmenter::new(
                AugmentConfig::default(),
                Scheme::ibug68(),
                96,
                CropSpec::default(),
            );
            let sheet = preview_sheet(&aug, &faces[..6], 5, &mut rng);
            facemark_core::io::save_image_atomic(
                &image::DynamicImage::ImageRgb8(sheet),
                std::path::Path::new(&p),
            )
            .unwrap();
        }
    }

    #[test]
    fn blur_preserves_mean_and_spreads_a_spike() {
        let mut p = vec![0.0f32; 15 * 15];
        p[7 * 15 + 7] = 1.0;
        gaussian_blur(&mut p, 15, 15, 1.0);
        let s: f32 = p.iter().sum();
        assert!((s - 1.0).abs() < 1e-4);
        assert!(p[7 * 15 + 7] < 0.2 && p[7 * 15 + 8] > 0.05);
    }

    #[test]
    fn config_defaults_fill_missing_toml_fields() {
        let c: AugmentConfig = toml::from_str("rotation_deg = 5.0\nflip_prob = 0.0").unwrap();
        assert_eq!(c.rotation_deg, 5.0);
        assert_eq!(c.scale, AugmentConfig::default().scale);
    }
}
