//! 2-D geometry: boxes, affine/similarity transforms, and bilinear image warping.
//!
//! One place for every resampling in facemark (face crops for training and inference,
//! augmentation, overlay placement), so that all of them agree on pixel-centre conventions:
//! a pixel `(i, j)` covers `[i, i+1) × [j, j+1)` and its centre is `(i + 0.5, j + 0.5)`.

use crate::Point;
use image::{GrayImage, ImageBuffer, Pixel, RgbImage, RgbaImage};
use serde::{Deserialize, Serialize};

/// An axis-aligned box in pixels: top-left `(x, y)`, size `(w, h)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BoxF {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl BoxF {
    /// The box with top-left `(x, y)` and size `(w, h)`.
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self { x, y, w, h }
    }
    /// Centre `[cx, cy]` in pixels.
    pub fn center(&self) -> Point {
        [self.x + self.w * 0.5, self.y + self.h * 0.5]
    }
    /// `w × h`, with a negative size counted as 0.
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }
    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, o: &BoxF) -> f32 {
        let x0 = self.x.max(o.x);
        let y0 = self.y.max(o.y);
        let x1 = (self.x + self.w).min(o.x + o.w);
        let y1 = (self.y + self.h).min(o.y + o.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let u = self.area() + o.area() - inter;
        if u <= 0.0 {
            0.0
        } else {
            inter / u
        }
    }
    /// The tight box around `points` (ignores non-finite points). `None` when none is finite.
    pub fn around(points: &[Point]) -> Option<BoxF> {
        let mut it = points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite());
        let first = it.next()?;
        let (mut x0, mut y0, mut x1, mut y1) = (first[0], first[1], first[0], first[1]);
        for p in it {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
        Some(BoxF::new(x0, y0, x1 - x0, y1 - y0))
    }
    /// A square box with the same centre, side `max(w, h) * scale`.
    pub fn square(&self, scale: f32) -> BoxF {
        let [cx, cy] = self.center();
        let s = self.w.max(self.h) * scale;
        BoxF::new(cx - s * 0.5, cy - s * 0.5, s, s)
    }
}

/// A 2×3 affine map `p' = [a b; c d] p + [tx, ty]` on `[x, y]` points in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affine2 {
    /// Row 0, column 0 of the linear part (x' gets `a·x`).
    pub a: f32,
    /// Row 0, column 1 (x' gets `b·y`).
    pub b: f32,
    /// Row 1, column 0 (y' gets `c·x`).
    pub c: f32,
    /// Row 1, column 1 (y' gets `d·y`).
    pub d: f32,
    /// Translation in x.
    pub tx: f32,
    /// Translation in y.
    pub ty: f32,
}

impl Default for Affine2 {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Affine2 {
    /// The map that leaves every point where it is.
    pub const IDENTITY: Affine2 = Affine2 {
        a: 1.0,
        b: 0.0,
        c: 0.0,
        d: 1.0,
        tx: 0.0,
        ty: 0.0,
    };

    /// Translation by `(tx, ty)`.
    pub fn translate(tx: f32, ty: f32) -> Self {
        Affine2 {
            tx,
            ty,
            ..Self::IDENTITY
        }
    }
    /// Scaling by `sx` in x and `sy` in y about the origin.
    pub fn scale(sx: f32, sy: f32) -> Self {
        Affine2 {
            a: sx,
            d: sy,
            ..Self::IDENTITY
        }
    }
    /// Rotation by `radians` about the origin (positive turns +x towards +y, i.e. clockwise on screen).
    pub fn rotate(radians: f32) -> Self {
        let (s, c) = radians.sin_cos();
        Affine2 {
            a: c,
            b: -s,
            c: s,
            d: c,
            tx: 0.0,
            ty: 0.0,
        }
    }
    /// `self ∘ first`: the transform that applies `first`, then `self`
    /// (`a.after(b).apply(p) == a.apply(b.apply(p))`).
    pub fn after(&self, first: &Affine2) -> Affine2 {
        Affine2 {
            a: self.a * first.a + self.b * first.c,
            b: self.a * first.b + self.b * first.d,
            c: self.c * first.a + self.d * first.c,
            d: self.c * first.b + self.d * first.d,
            tx: self.a * first.tx + self.b * first.ty + self.tx,
            ty: self.c * first.tx + self.d * first.ty + self.ty,
        }
    }
    /// `next ∘ self`: the transform that applies `self`, then `next`
    /// (`a.followed_by(b).apply(p) == b.apply(a.apply(p))`).
    pub fn followed_by(&self, next: &Affine2) -> Affine2 {
        next.after(self)
    }
    /// Old name of [`Affine2::after`]: apply `other` first, then `self`.
    #[deprecated(note = "use `after` (apply the argument first) or `followed_by`")]
    pub fn then_after(&self, other: &Affine2) -> Affine2 {
        self.after(other)
    }
    /// Old name of [`Affine2::followed_by`]: apply `self` first, then `next`.
    #[deprecated(note = "use `followed_by` (apply the argument second) or `after`")]
    pub fn then(&self, next: &Affine2) -> Affine2 {
        self.followed_by(next)
    }
    /// The image of point `p`.
    pub fn apply(&self, p: Point) -> Point {
        [
            self.a * p[0] + self.b * p[1] + self.tx,
            self.c * p[0] + self.d * p[1] + self.ty,
        ]
    }
    /// Determinant of the linear part (`a·d − b·c`): the area scale, negative for a mirror.
    pub fn determinant(&self) -> f32 {
        self.a * self.d - self.b * self.c
    }
    /// The inverse map; `None` when singular.
    pub fn inverse(&self) -> Option<Affine2> {
        let det = self.determinant();
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (a, b, c, d) = (self.d / det, -self.b / det, -self.c / det, self.a / det);
        Some(Affine2 {
            a,
            b,
            c,
            d,
            tx: -(a * self.tx + b * self.ty),
            ty: -(c * self.tx + d * self.ty),
        })
    }
    /// Mean linear scale factor `sqrt(|det|)`.
    pub fn mean_scale(&self) -> f32 {
        self.determinant().abs().sqrt()
    }

    /// The map from the square crop `bx` of a photo onto an `out × out` image:
    /// photo pixels → crop pixels. `bx` need not be square; each axis is scaled on its own.
    pub fn crop_to(bx: &BoxF, out_w: u32, out_h: u32) -> Affine2 {
        Affine2::translate(-bx.x, -bx.y)
            .followed_by(&Affine2::scale(out_w as f32 / bx.w, out_h as f32 / bx.h))
    }

    /// Least-squares similarity (rotation, uniform scale, translation) taking `from[i]` to `to[i]`
    /// (Umeyama 1991, without reflection). Requires at least two distinct points; `None` otherwise.
    pub fn similarity(from: &[Point], to: &[Point]) -> Option<Affine2> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let (mut fx, mut fy, mut tx, mut ty) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            fx += from[i][0] as f64;
            fy += from[i][1] as f64;
            tx += to[i][0] as f64;
            ty += to[i][1] as f64;
        }
        let nf = n as f64;
        let (fx, fy, tx, ty) = (fx / nf, fy / nf, tx / nf, ty / nf);
        // For similarity p' = [s c, -s s; s s, s c] p + t the least-squares solution is
        // a = Σ(u·v)/Σ|u|², b = Σ(u×v)/Σ|u|² with u, v the centred points.
        let (mut dot, mut cross, mut norm) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            let ux = from[i][0] as f64 - fx;
            let uy = from[i][1] as f64 - fy;
            let vx = to[i][0] as f64 - tx;
            let vy = to[i][1] as f64 - ty;
            dot += ux * vx + uy * vy;
            cross += ux * vy - uy * vx;
            norm += ux * ux + uy * uy;
        }
        if norm < 1e-12 {
            return None;
        }
        let a = dot / norm;
        let b = cross / norm;
        Some(Affine2 {
            a: a as f32,
            b: -b as f32,
            c: b as f32,
            d: a as f32,
            tx: (tx - (a * fx - b * fy)) as f32,
            ty: (ty - (b * fx + a * fy)) as f32,
        })
    }
}

/// The cell of a bilinear sample at continuous pixel position `(x, y)` (pixel-centre
/// convention above): its top-left neighbour `(x0, y0)` (whole pixel indices, as floats) and
/// the weights `(wx, wy)` in `[0, 1)` of the right and lower neighbours.
#[inline(always)] // into the AVX2 copy of `warp_gray_f32`, where `floor` is one instruction
fn bilinear_cell(x: f32, y: f32) -> [f32; 4] {
    let fx = x - 0.5;
    let fy = y - 0.5;
    let x0 = fx.floor();
    let y0 = fy.floor();
    [x0, y0, fx - x0, fy - y0]
}

/// The four neighbours `[p00, p10, p01, p11]` of cell `(x0, y0)`, channel by channel;
/// `border` for those outside the image. Where all four lie inside (nearly every pixel of a
/// crop) they are read without the per-pixel border checks; the values are the same either
/// way (test `warp_gray_f32_matches_a_checked_reference`).
#[inline(always)]
fn bilinear_neighbours<P: Pixel<Subpixel = u8>, const C: usize>(
    img: &ImageBuffer<P, Vec<u8>>,
    x0: i64,
    y0: i64,
    border: [f32; C],
) -> [[f32; C]; 4] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let raw = img.as_raw();
    if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
        let o = ((y0 * w + x0) as usize) * C;
        let row = w as usize * C;
        let px = |o: usize| -> [f32; C] { std::array::from_fn(|k| raw[o + k] as f32) };
        return [px(o), px(o + C), px(o + row), px(o + row + C)];
    }
    let get = |xi: i64, yi: i64| -> [f32; C] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            border
        } else {
            let o = ((yi * w + xi) as usize) * C;
            std::array::from_fn(|k| raw[o + k] as f32)
        }
    };
    [
        get(x0, y0),
        get(x0 + 1, y0),
        get(x0, y0 + 1),
        get(x0 + 1, y0 + 1),
    ]
}

/// Bilinear blend of one channel's neighbours `[p00, p10, p01, p11]` with weights `(wx, wy)`.
#[inline(always)]
fn bilinear_blend(p: [f32; 4], wx: f32, wy: f32) -> f32 {
    let top = p[0] + (p[1] - p[0]) * wx;
    let bot = p[2] + (p[3] - p[2]) * wx;
    top + (bot - top) * wy
}

/// Bilinear sample of channel values at continuous pixel position `(x, y)` (pixel-centre
/// convention above). Outside the image, `border` is returned (blended at the edge).
#[inline(always)]
fn sample_bilinear<P: Pixel<Subpixel = u8>, const C: usize>(
    img: &ImageBuffer<P, Vec<u8>>,
    x: f32,
    y: f32,
    border: [f32; C],
) -> [f32; C] {
    let [x0, y0, wx, wy] = bilinear_cell(x, y);
    let p = bilinear_neighbours::<P, C>(img, x0 as i64, y0 as i64, border);
    std::array::from_fn(|k| bilinear_blend([p[0][k], p[1][k], p[2][k], p[3][k]], wx, wy))
}

fn warp_generic<P: Pixel<Subpixel = u8>, const C: usize>(
    src: &ImageBuffer<P, Vec<u8>>,
    src_to_dst: &Affine2,
    out_w: u32,
    out_h: u32,
    border: [f32; C],
) -> ImageBuffer<P, Vec<u8>> {
    let inv = src_to_dst.inverse().unwrap_or(Affine2::IDENTITY);
    let mut buf = vec![0u8; out_w as usize * out_h as usize * C];
    for (j, row) in buf.chunks_mut(out_w as usize * C).enumerate() {
        for i in 0..out_w as usize {
            let p = inv.apply([i as f32 + 0.5, j as f32 + 0.5]);
            let v = sample_bilinear::<P, C>(src, p[0], p[1], border);
            for k in 0..C {
                row[i * C + k] = v[k].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    ImageBuffer::from_raw(out_w, out_h, buf).expect("buffer size matches")
}

/// Resample `src` into an `out_w × out_h` image through `src_to_dst` (maps source pixels to
/// output pixels). Outside the source the output is black.
pub fn warp_gray(src: &GrayImage, src_to_dst: &Affine2, out_w: u32, out_h: u32) -> GrayImage {
    warp_generic::<_, 1>(src, src_to_dst, out_w, out_h, [0.0])
}

/// As [`warp_gray`] for RGB images.
pub fn warp_rgb(src: &RgbImage, src_to_dst: &Affine2, out_w: u32, out_h: u32) -> RgbImage {
    warp_generic::<_, 3>(src, src_to_dst, out_w, out_h, [0.0; 3])
}

/// As [`warp_gray`] for RGBA images; outside the source the output is fully transparent.
/// Note: interpolates straight (non-premultiplied) alpha; callers compositing overlays should
/// premultiply first if edges matter.
pub fn warp_rgba(src: &RgbaImage, src_to_dst: &Affine2, out_w: u32, out_h: u32) -> RgbaImage {
    warp_generic::<_, 4>(src, src_to_dst, out_w, out_h, [0.0; 4])
}

/// Gray crop of `src` in float form, for networks: `out × out` values in `[0, 1]` (pixel/255),
/// row-major, sampled bilinearly through `src_to_dst`.
///
///
/// On AVX2 machines the loop runs compiled with `floor` inline (portable x86-64 has no SSE4.1
/// `roundss`, so `floor` is a libm call there); the same operations, so the same values.
/// Each row runs in three passes (cells, neighbour reads, blends) so that the first and last
/// vectorise. Measured (`cargo run --release -p facemark-core --example warp_bench`, the 80×80
/// crop of a 640×480 photo): 94–99 → 57–61 µs with the sampler's in-image fast path, then
/// 58–65 → 35–43 µs with the passes (three alternating runs each).
pub fn warp_gray_f32(src: &GrayImage, src_to_dst: &Affine2, out_w: u32, out_h: u32) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { warp_gray_f32_avx2(src, src_to_dst, out_w, out_h) };
    }
    warp_gray_f32_body(src, src_to_dst, out_w, out_h)
}

/// [`warp_gray_f32_body`] compiled for AVX2 (which has SSE4.1's `roundss`: `floor` inline
/// instead of a libm call). Same operations, no FMA contraction: the same bits.
///
/// # Safety
///
/// The CPU must support AVX2 (`is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn warp_gray_f32_avx2(
    src: &GrayImage,
    src_to_dst: &Affine2,
    out_w: u32,
    out_h: u32,
) -> Vec<f32> {
    warp_gray_f32_body(src, src_to_dst, out_w, out_h)
}

#[inline(always)]
fn warp_gray_f32_body(src: &GrayImage, src_to_dst: &Affine2, out_w: u32, out_h: u32) -> Vec<f32> {
    let inv = src_to_dst.inverse().unwrap_or(Affine2::IDENTITY);
    let ow = out_w as usize;
    let mut out = Vec::with_capacity(ow * out_h as usize);
    // row scratch, one array per quantity: the cells and the blends are loops the compiler
    // vectorises; only the neighbour reads in between are one pixel at a time
    let (mut x0, mut y0, mut wx, mut wy) =
        (vec![0.0; ow], vec![0.0; ow], vec![0.0; ow], vec![0.0; ow]);
    let mut nbrs = vec![[0.0f32; 4]; ow];
    for j in 0..out_h {
        for (i, (((x0, y0), wx), wy)) in x0
            .iter_mut()
            .zip(&mut y0)
            .zip(&mut wx)
            .zip(&mut wy)
            .enumerate()
        {
            let p = inv.apply([i as f32 + 0.5, j as f32 + 0.5]);
            [*x0, *y0, *wx, *wy] = bilinear_cell(p[0], p[1]);
        }
        for ((n, &x0), &y0) in nbrs.iter_mut().zip(&x0).zip(&y0) {
            let p = bilinear_neighbours::<image::Luma<u8>, 1>(src, x0 as i64, y0 as i64, [0.0]);
            *n = [p[0][0], p[1][0], p[2][0], p[3][0]];
        }
        out.extend(
            nbrs.iter()
                .zip(&wx)
                .zip(&wy)
                .map(|((n, &wx), &wy)| bilinear_blend(*n, wx, wy) / 255.0),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warp_gray_f32_matches_a_checked_reference() {
        // the crop reaches past every border, turned and scaled: each value must equal, bit
        // for bit, a plain bilinear sample that checks every neighbour against the border
        let img = GrayImage::from_fn(37, 23, |x, y| image::Luma([((x * 13 + y * 7) % 256) as u8]));
        let reference = |x: f32, y: f32| -> f32 {
            let (fx, fy) = (x - 0.5, y - 0.5);
            let (x0, y0) = (fx.floor(), fy.floor());
            let (wx, wy) = (fx - x0, fy - y0);
            let at = |xi: i64, yi: i64| {
                let inside = (0..37).contains(&xi) && (0..23).contains(&yi);
                if inside {
                    img.get_pixel(xi as u32, yi as u32)[0] as f32
                } else {
                    0.0
                }
            };
            let (xi, yi) = (x0 as i64, y0 as i64);
            let (p00, p10, p01, p11) = (
                at(xi, yi),
                at(xi + 1, yi),
                at(xi, yi + 1),
                at(xi + 1, yi + 1),
            );
            let top = p00 + (p10 - p00) * wx;
            let bot = p01 + (p11 - p01) * wx;
            top + (bot - top) * wy
        };
        let t = Affine2::translate(-18.0, -11.0)
            .followed_by(&Affine2::rotate(0.4))
            .followed_by(&Affine2::scale(1.3, 1.3))
            .followed_by(&Affine2::translate(24.0, 20.0));
        let got = warp_gray_f32(&img, &t, 48, 40);
        let inv = t.inverse().unwrap();
        let (mut inside, mut edge) = (0, 0);
        for j in 0..40 {
            for i in 0..48 {
                let p = inv.apply([i as f32 + 0.5, j as f32 + 0.5]);
                let want = reference(p[0], p[1]) / 255.0;
                assert_eq!(
                    got[j * 48 + i].to_bits(),
                    want.to_bits(),
                    "pixel ({i}, {j})"
                );
                let (fx, fy) = ((p[0] - 0.5).floor(), (p[1] - 0.5).floor());
                if fx >= 0.0 && fy >= 0.0 && fx + 1.0 < 37.0 && fy + 1.0 < 23.0 {
                    inside += 1;
                } else if want > 0.0 {
                    edge += 1;
                }
            }
        }
        assert!(
            inside > 500 && edge > 20,
            "both paths exercised: {inside}, {edge}"
        );
    }

    #[test]
    fn followed_by_and_after_compose_in_their_named_order() {
        // Rotation and translation do not commute: the order shows.
        let rot = Affine2::rotate(std::f32::consts::FRAC_PI_2);
        let shift = Affine2::translate(10.0, 0.0);
        let p = [1.0, 2.0];
        let close = |a: Point, b: Point| (a[0] - b[0]).abs() < 1e-4 && (a[1] - b[1]).abs() < 1e-4;
        // Rotate, then shift: (1, 2) → (-2, 1) → (8, 1).
        let rot_then_shift = rot.followed_by(&shift);
        assert!(close(rot_then_shift.apply(p), [8.0, 1.0]));
        assert!(close(rot_then_shift.apply(p), shift.apply(rot.apply(p))));
        // Shift, then rotate: (1, 2) → (11, 2) → (-2, 11).
        let rot_after_shift = rot.after(&shift);
        assert!(close(rot_after_shift.apply(p), [-2.0, 11.0]));
        assert!(close(rot_after_shift.apply(p), rot.apply(shift.apply(p))));
        // The two names are each other's mirror.
        assert_eq!(shift.after(&rot), rot.followed_by(&shift));
        assert_ne!(rot.followed_by(&shift), rot.after(&shift));
    }

    #[test]
    #[allow(deprecated)] // checks that the deprecated names still mean what they meant
    fn old_names_are_the_new_ones() {
        let rot = Affine2::rotate(0.7);
        let shift = Affine2::translate(3.0, -1.0);
        assert_eq!(rot.then(&shift), rot.followed_by(&shift));
        assert_eq!(rot.then_after(&shift), rot.after(&shift));
    }

    #[test]
    fn inverse_round_trips() {
        let t = Affine2::rotate(0.3)
            .followed_by(&Affine2::scale(2.0, 2.0))
            .followed_by(&Affine2::translate(5.0, -3.0));
        let p = [3.0, 7.0];
        let q = t.inverse().unwrap().apply(t.apply(p));
        assert!((q[0] - p[0]).abs() < 1e-4 && (q[1] - p[1]).abs() < 1e-4);
    }

    #[test]
    fn similarity_recovers_known_transform() {
        let t = Affine2::rotate(-0.4)
            .followed_by(&Affine2::scale(1.7, 1.7))
            .followed_by(&Affine2::translate(10.0, 4.0));
        let from = [[0.0, 0.0], [10.0, 0.0], [3.0, 8.0], [-4.0, 2.0]];
        let to: Vec<Point> = from.iter().map(|p| t.apply(*p)).collect();
        let s = Affine2::similarity(&from, &to).unwrap();
        for p in from {
            let (a, b) = (s.apply(p), t.apply(p));
            assert!(
                (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3,
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn crop_warp_moves_pixels_with_points() {
        // A single white pixel at (20, 10) must land where the transform sends its centre.
        let mut img = GrayImage::new(40, 40);
        img.put_pixel(20, 10, image::Luma([255]));
        let bx = BoxF::new(10.0, 0.0, 20.0, 20.0);
        let t = Affine2::crop_to(&bx, 40, 40);
        let out = warp_gray(&img, &t, 40, 40);
        let c = t.apply([20.5, 10.5]);
        let (ci, cj) = (c[0].floor() as u32, c[1].floor() as u32);
        assert!(
            out.get_pixel(ci, cj)[0] > 100,
            "bright pixel should follow the transform"
        );
    }

    #[test]
    fn iou_of_identical_and_disjoint() {
        let a = BoxF::new(0.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.iou(&BoxF::new(20.0, 20.0, 5.0, 5.0)), 0.0);
    }
}
