//! Privacy effects: blur or pixelate the whole face region, with a feathered edge.
//!
//! The region is the jaw line (points 0–16) closed over the forehead (the brows, 17–26, raised
//! by 0.9 eye-distance units along the face's up direction), grown by 12 % about its centre.
//! Its mask is rasterised anti-aliased with tiny-skia, then softened by a box blur of radius
//! `feather` (15 % of the eye distance), so the effect fades out outside the face and covers the
//! face itself fully.

use crate::points::{eye_distance, mean_of};
use facemark_core::Point;
use image::RgbImage;
use tiny_skia::{FillRule, Mask, PathBuilder, Transform};

/// Which privacy effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// Strong blur (three box blurs, radius ≈ 1/4 of the eye distance).
    Blur,
    /// Mosaic of square blocks (≈ 1/3 of the eye distance), aligned to the image grid so blocks
    /// do not swim when the face moves.
    Pixelate,
}

/// The face outline polygon (pixels) used by the privacy effects; empty when degenerate.
pub fn face_outline(points: &[Point]) -> Vec<Point> {
    let iod = eye_distance(points);
    if !(iod.is_finite() && iod > 0.5) {
        return vec![];
    }
    let chin = points[8];
    let bridge = mean_of(points, &[27]);
    let (ux, uy) = (bridge[0] - chin[0], bridge[1] - chin[1]);
    let n = (ux * ux + uy * uy).sqrt().max(1e-3);
    let lift = 0.9 * iod;
    let up = [ux / n * lift, uy / n * lift];
    let mut poly: Vec<Point> = points[0..17].to_vec();
    for i in (17..27).rev() {
        poly.push([points[i][0] + up[0], points[i][1] + up[1]]);
    }
    let c = mean_of(&poly, &(0..poly.len()).collect::<Vec<_>>());
    poly.iter()
        .map(|p| [c[0] + (p[0] - c[0]) * 1.12, c[1] + (p[1] - c[1]) * 1.12])
        .collect()
}

/// Apply `effect` to the face with 68 `points` in `img` (in place). Faces partly or wholly
/// outside the image are clipped; degenerate faces are left alone.
pub fn apply(img: &mut RgbImage, points: &[Point], effect: Privacy) {
    let poly = face_outline(points);
    if poly.len() < 3 || poly.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
        return;
    }
    let iod = eye_distance(points);
    let feather = (0.15 * iod).max(1.0);
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    for p in &poly {
        b = [
            b[0].min(p[0]),
            b[1].min(p[1]),
            b[2].max(p[0]),
            b[3].max(p[1]),
        ];
    }
    let pad = feather.ceil() as i64 * 2 + 2;
    let x0 = (b[0].floor() as i64 - pad).max(0);
    let y0 = (b[1].floor() as i64 - pad).max(0);
    let x1 = (b[2].ceil() as i64 + pad).min(iw);
    let y1 = (b[3].ceil() as i64 + pad).min(ih);
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);

    // mask: polygon rasterised anti-aliased, then feathered
    let Some(mut mask) = Mask::new(w as u32, h as u32) else {
        return;
    };
    let mut pb = PathBuilder::new();
    pb.move_to(poly[0][0], poly[0][1]);
    for p in &poly[1..] {
        pb.line_to(p[0], p[1]);
    }
    pb.close();
    let Some(path) = pb.finish() else { return };
    mask.fill_path(
        &path,
        FillRule::Winding,
        true,
        Transform::from_translate(-(x0 as f32), -(y0 as f32)),
    );
    let mut m: Vec<f32> = mask.data().iter().map(|&v| v as f32 / 255.0).collect();
    box_blur(&mut m, w, h, 1, (feather * 0.5).round() as usize);
    box_blur(&mut m, w, h, 1, (feather * 0.5).round() as usize);

    // the effect on the region
    let mut region: Vec<f32> = Vec::with_capacity(w * h * 3);
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x as u32, y as u32).0;
            region.extend([p[0] as f32, p[1] as f32, p[2] as f32]);
        }
    }
    let orig = region.clone();
    match effect {
        Privacy::Blur => {
            let r = (0.25 * iod).round().max(1.0) as usize;
            for _ in 0..3 {
                box_blur(&mut region, w, h, 3, r);
            }
        }
        Privacy::Pixelate => {
            let s = (iod / 3.0).round().max(2.0) as i64;
            // blocks aligned to the image grid
            let bx0 = x0.div_euclid(s) * s;
            let by0 = y0.div_euclid(s) * s;
            let mut by = by0;
            while by < y1 {
                let mut bx = bx0;
                while bx < x1 {
                    let (cx0, cy0) = ((bx.max(x0) - x0) as usize, (by.max(y0) - y0) as usize);
                    let (cx1, cy1) = (
                        ((bx + s).min(x1) - x0) as usize,
                        ((by + s).min(y1) - y0) as usize,
                    );
                    let mut acc = [0.0f32; 3];
                    for yy in cy0..cy1 {
                        for xx in cx0..cx1 {
                            for k in 0..3 {
                                acc[k] += orig[(yy * w + xx) * 3 + k];
                            }
                        }
                    }
                    let n = ((cy1 - cy0) * (cx1 - cx0)).max(1) as f32;
                    for yy in cy0..cy1 {
                        for xx in cx0..cx1 {
                            for k in 0..3 {
                                region[(yy * w + xx) * 3 + k] = acc[k] / n;
                            }
                        }
                    }
                    bx += s;
                }
                by += s;
            }
        }
    }
    for yy in 0..h {
        for xx in 0..w {
            let a = m[yy * w + xx].clamp(0.0, 1.0);
            if a <= 0.0 {
                continue;
            }
            let px = img.get_pixel_mut((x0 as usize + xx) as u32, (y0 as usize + yy) as u32);
            for k in 0..3 {
                let o = orig[(yy * w + xx) * 3 + k];
                let e = region[(yy * w + xx) * 3 + k];
                px.0[k] = (o + (e - o) * a).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Separable box blur of radius `r` (window `2r + 1`, edges clamped) on `c`-channel data.
fn box_blur(data: &mut [f32], w: usize, h: usize, c: usize, r: usize) {
    if r == 0 || w == 0 || h == 0 {
        return;
    }
    let mut line = vec![0.0f32; w.max(h) * c];
    let norm = 1.0 / (2 * r + 1) as f32;
    // one pass along a line of `n` samples with stride `step` (in pixels)
    let mut pass = |data: &mut [f32], start: usize, n: usize, step: usize| {
        for k in 0..c {
            let get = |i: isize| data[(start + i.clamp(0, n as isize - 1) as usize * step) * c + k];
            let mut acc: f32 = (-(r as isize)..=r as isize).map(get).sum();
            for i in 0..n {
                line[i * c + k] = acc * norm;
                acc += get(i as isize + r as isize + 1) - get(i as isize - r as isize);
            }
        }
        for i in 0..n {
            for k in 0..c {
                data[(start + i * step) * c + k] = line[i * c + k];
            }
        }
    };
    for y in 0..h {
        pass(data, y * w, w, 1);
    }
    for x in 0..w {
        pass(data, x, h, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::MEAN_SHAPE_68;

    fn face(scale: f32, cx: f32, cy: f32) -> Vec<Point> {
        MEAN_SHAPE_68
            .iter()
            .map(|p| [cx + p[0] * scale, cy + p[1] * scale])
            .collect()
    }

    #[test]
    fn blur_covers_face_and_leaves_far_pixels() {
        // checkerboard: blurring makes the face centre grey, far corners untouched
        let mut img = RgbImage::from_fn(120, 120, |x, y| {
            if (x / 2 + y / 2) % 2 == 0 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        let before = img.clone();
        let pts = face(10.0, 60.0, 50.0);
        for eff in [Privacy::Blur, Privacy::Pixelate] {
            let mut out = img.clone();
            apply(&mut out, &pts, eff);
            let c = out.get_pixel(60, 60).0[0];
            assert!((80..=175).contains(&c), "{eff:?}: centre {c}");
            assert_eq!(out.get_pixel(1, 118), before.get_pixel(1, 118));
        }
        // a face half outside the image does not panic and still changes the inside part
        let pts = face(10.0, 5.0, 5.0);
        apply(&mut img, &pts, Privacy::Blur);
        assert_ne!(img, before);
    }

    #[test]
    fn box_blur_preserves_constant() {
        let mut d = vec![3.0f32; 7 * 5 * 3];
        box_blur(&mut d, 7, 5, 3, 2);
        assert!(d.iter().all(|v| (v - 3.0).abs() < 1e-5));
    }
}
