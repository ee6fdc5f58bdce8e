//! Drawing helpers for result pictures (landmarks with their contours, sized to the face;
//! boxes, index labels, head-pose axes, contact sheets).
//!
//! Plain pixel code on `image::RgbImage`, coordinates in pixels of the image (pixel-edge
//! convention: pixel `(i, j)` covers `[i, i+1) × [j, j+1)`). Points are anti-aliased discs;
//! text uses a built-in 5×7 bitmap font, so no font file is needed. Anything outside the image
//! is clipped; non-finite coordinates are skipped.

use crate::geometry::{warp_rgb, Affine2};
use crate::pose::{Camera, HeadPose};
use crate::scheme::Contour;
use crate::{BoxF, Point};
use image::RgbImage;

/// Blend `color` into pixel `(x, y)` with coverage `a` in `[0, 1]`; outside the image: no-op.
#[inline]
fn blend(img: &mut RgbImage, x: i64, y: i64, color: [u8; 3], a: f32) {
    if x < 0 || y < 0 || x >= img.width() as i64 || y >= img.height() as i64 || a <= 0.0 {
        return;
    }
    let a = a.min(1.0);
    let p = img.get_pixel_mut(x as u32, y as u32);
    for (v, c) in p.0.iter_mut().zip(color) {
        *v = (*v as f32 * (1.0 - a) + c as f32 * a).round() as u8;
    }
}

/// Filled anti-aliased discs of `radius` pixels centred on each point.
pub fn draw_points(img: &mut RgbImage, points: &[Point], color: [u8; 3], radius: f32) {
    let r = radius.max(0.5);
    for p in points {
        if !(p[0].is_finite() && p[1].is_finite()) {
            continue;
        }
        let (x0, x1) = ((p[0] - r - 1.0).floor(), (p[0] + r + 1.0).ceil());
        let (y0, y1) = ((p[1] - r - 1.0).floor(), (p[1] + r + 1.0).ceil());
        // Skip points far outside (also guards against huge loops).
        if x1 < 0.0 || y1 < 0.0 || x0 > img.width() as f32 || y0 > img.height() as f32 {
            continue;
        }
        for y in (y0.max(0.0) as i64)..=(y1.min(img.height() as f32) as i64) {
            for x in (x0.max(0.0) as i64)..=(x1.min(img.width() as f32) as i64) {
                let d = ((x as f32 + 0.5 - p[0]).powi(2) + (y as f32 + 0.5 - p[1]).powi(2)).sqrt();
                blend(img, x, y, color, r + 0.5 - d);
            }
        }
    }
}

/// An anti-aliased line segment of `thickness` pixels from `a` to `b`.
pub fn draw_line(img: &mut RgbImage, a: Point, b: Point, color: [u8; 3], thickness: f32) {
    if !(a.iter().chain(b.iter()).all(|v| v.is_finite())) {
        return;
    }
    let h = thickness.max(1.0) * 0.5;
    let (w, ht) = (img.width() as f32, img.height() as f32);
    let x0 = (a[0].min(b[0]) - h - 1.0).floor().max(0.0);
    let x1 = (a[0].max(b[0]) + h + 1.0).ceil().min(w);
    let y0 = (a[1].min(b[1]) - h - 1.0).floor().max(0.0);
    let y1 = (a[1].max(b[1]) + h + 1.0).ceil().min(ht);
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = (dx * dx + dy * dy).max(1e-12);
    for y in (y0 as i64)..(y1 as i64) {
        for x in (x0 as i64)..(x1 as i64) {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = (((px - a[0]) * dx + (py - a[1]) * dy) / len2).clamp(0.0, 1.0);
            let d = ((px - a[0] - t * dx).powi(2) + (py - a[1] - t * dy).powi(2)).sqrt();
            blend(img, x, y, color, h + 0.5 - d);
        }
    }
}

/// The outline of `bx` (pixels), `thickness` pixels wide, drawn inside-out around its edges.
pub fn draw_box(img: &mut RgbImage, bx: &BoxF, color: [u8; 3], thickness: f32) {
    let (x0, y0, x1, y1) = (bx.x, bx.y, bx.x + bx.w, bx.y + bx.h);
    for (a, b) in [
        ([x0, y0], [x1, y0]),
        ([x1, y0], [x1, y1]),
        ([x1, y1], [x0, y1]),
        ([x0, y1], [x0, y0]),
    ] {
        draw_line(img, a, b, color, thickness);
    }
}

/// 5×7 glyphs, one byte per row, bit 4 = leftmost column.
fn glyph(c: char) -> Option<[u8; 7]> {
    let g = match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ' ' => [0; 7],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '/' => [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '?' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
        _ => return None,
    };
    Some(g)
}

/// Width in pixels of `text` drawn by [`draw_text`] at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    (text.chars().count() as u32 * 6).saturating_sub(1) * scale.max(1)
}

/// `text` with its top-left corner at `(x, y)` pixels, each font pixel a `scale × scale`
/// square (a glyph is 5×7 font pixels, advance 6). Lower case is drawn as upper case;
/// characters without a glyph are drawn as `?`.
pub fn draw_text(img: &mut RgbImage, x: i32, y: i32, text: &str, color: [u8; 3], scale: u32) {
    let s = scale.max(1) as i64;
    for (k, c) in text.chars().enumerate() {
        let g = glyph(c).or_else(|| glyph('?')).unwrap_or([0; 7]);
        let ox = x as i64 + k as i64 * 6 * s;
        for (row, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    for dy in 0..s {
                        for dx in 0..s {
                            blend(
                                img,
                                ox + col as i64 * s + dx,
                                y as i64 + row as i64 * s + dy,
                                color,
                                1.0,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Index labels next to points ("0", "1", …), for checking a scheme's numbering by eye.
pub fn draw_indices(img: &mut RgbImage, points: &[Point], color: [u8; 3], scale: u32) {
    for (i, p) in points.iter().enumerate() {
        if p[0].is_finite() && p[1].is_finite() {
            draw_text(
                img,
                p[0] as i32 + 2,
                p[1] as i32 - 3 * scale as i32,
                &i.to_string(),
                color,
                scale,
            );
        }
    }
}

/// How a face's landmarks are drawn by [`draw_landmarks`]: sizes in pixels, colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LandmarkStyle {
    /// Radius of each point's disc.
    pub radius: f32,
    /// Width of the contour lines (and of the face box in `facemark detect`).
    pub line_width: f32,
    /// Size of the index labels: each font pixel is `text_scale × text_scale` pixels.
    pub text_scale: u32,
    /// RGB colour of the point discs.
    pub point_color: [u8; 3],
    /// RGB colour of the contour lines.
    pub line_color: [u8; 3],
    /// RGB colour of the index labels.
    pub text_color: [u8; 3],
}

impl LandmarkStyle {
    /// Sizes for a face `face_px` pixels across (e.g. its landmark box's longer side, about
    /// brow to chin; the outer eye corners are about 0.6 of it apart): point radius 1.2 % of
    /// it within [1, 5] px, line width 0.6 % within [1, 3] px, labels 1 font pixel per 300 px
    /// of face within [1, 4]. Small faces in a large photo keep separate dots; large faces do
    /// not get hair-thin lines. A non-finite or negative size counts as 0 (the smallest sizes).
    pub fn for_face(face_px: f32) -> LandmarkStyle {
        let s = if face_px.is_finite() {
            face_px.max(0.0)
        } else {
            0.0
        };
        LandmarkStyle {
            radius: (s * 0.012).clamp(1.0, 5.0),
            line_width: (s * 0.006).clamp(1.0, 3.0),
            text_scale: (s / 300.0).round().clamp(1.0, 4.0) as u32,
            point_color: [255, 0, 255],
            line_color: [0, 230, 255],
            text_color: [255, 255, 255],
        }
    }
}

/// The size of a face from its points: the longer side of their bounding box (finite points
/// only); 0 when fewer than two are finite. [`LandmarkStyle::for_face`] takes it when no face
/// box is at hand.
pub fn face_size(points: &[Point]) -> f32 {
    let mut lo = [f32::INFINITY; 2];
    let mut hi = [f32::NEG_INFINITY; 2];
    let mut n = 0;
    for p in points
        .iter()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
    {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
        n += 1;
    }
    if n < 2 {
        return 0.0;
    }
    (hi[0] - lo[0]).max(hi[1] - lo[1])
}

/// One face's landmarks: the `contours` as polylines (a segment between consecutive points,
/// and last to first when closed; segments with a missing point are left out), then every
/// point as a disc on top, in the sizes and colours of `style`. `contours` usually comes from
/// [`crate::Scheme::contours`]; pass `&[]` for points only. Contour indices beyond `points`
/// are skipped.
pub fn draw_landmarks(
    img: &mut RgbImage,
    points: &[Point],
    contours: &[Contour],
    style: &LandmarkStyle,
) {
    for c in contours {
        let n = c.indices.len();
        let segments = if c.closed && n > 2 {
            n
        } else {
            n.saturating_sub(1)
        };
        for k in 0..segments {
            let (i, j) = (c.indices[k], c.indices[(k + 1) % n]);
            if let (Some(&a), Some(&b)) = (points.get(i), points.get(j)) {
                draw_line(img, a, b, style.line_color, style.line_width);
            }
        }
    }
    draw_points(img, points, style.point_color, style.radius);
}

/// Index labels ("0", "1", …) beside the points, for checking a scheme's numbering by eye,
/// in `style.text_color` with a 1-pixel dark outline (legible on any background), at
/// `style.text_scale`.
///
/// Each label sits just outside its point's disc, on the side away from the shape: outward
/// from the centre of the point's closed contour (eyes, lips), across its open contour away
/// from the face's centre (jaw, brows, nose bridge), or away from the face's centre for
/// points in no contour. Where that spot would cover a label already placed or a point, the
/// next of eight directions around the point is tried, then 2, 3 and 4 times the distance; a label that
/// fits nowhere takes its first spot.
pub fn draw_point_labels(
    img: &mut RgbImage,
    points: &[Point],
    contours: &[Contour],
    style: &LandmarkStyle,
) {
    let ok = |p: &Point| p[0].is_finite() && p[1].is_finite();
    let finite: Vec<&Point> = points.iter().filter(|p| ok(p)).collect();
    if finite.is_empty() {
        return;
    }
    let centre = |idx: &mut dyn Iterator<Item = &Point>| {
        let (mut s, mut n) = ([0.0f32; 2], 0);
        for p in idx.filter(|p| ok(p)) {
            s = [s[0] + p[0], s[1] + p[1]];
            n += 1;
        }
        (n > 0).then(|| [s[0] / n as f32, s[1] / n as f32])
    };
    let face = centre(&mut finite.iter().copied()).unwrap_or([0.0, 0.0]);
    let unit = |v: [f32; 2]| {
        let l = (v[0] * v[0] + v[1] * v[1]).sqrt();
        if l > 1e-6 && l.is_finite() {
            [v[0] / l, v[1] / l]
        } else {
            [1.0, 0.0]
        }
    };
    // Preferred direction of each point's label.
    let mut dir: Vec<Option<[f32; 2]>> = vec![None; points.len()];
    for c in contours {
        let idx: Vec<usize> = c
            .indices
            .iter()
            .copied()
            .filter(|&i| i < points.len())
            .collect();
        let own = centre(&mut idx.iter().map(|&i| &points[i]));
        for (k, &i) in idx.iter().enumerate() {
            let p = points[i];
            if dir[i].is_some() || !ok(&p) {
                continue;
            }
            dir[i] = if c.closed && idx.len() > 2 {
                own.map(|o| unit([p[0] - o[0], p[1] - o[1]]))
            } else {
                let at = |k: usize| points[idx[k]];
                let (a, b) = (at(k.saturating_sub(1)), at((k + 1).min(idx.len() - 1)));
                let t = [b[0] - a[0], b[1] - a[1]];
                let n = unit([-t[1], t[0]]);
                let away = [p[0] - face[0], p[1] - face[1]];
                let d = n[0] * away[0] + n[1] * away[1];
                Some(if d < 0.0 || (d == 0.0 && n[0] < 0.0) {
                    [-n[0], -n[1]]
                } else {
                    n
                })
            };
        }
    }
    let s = style.text_scale.max(1);
    let h = 7.0 * s as f32;
    let gap = style.radius + 1.0 + s as f32;
    // Rectangles [x0, y0, x1, y1] not to cover: the point discs, and the labels placed so far
    // (with their outline).
    let r = style.radius;
    let discs: Vec<Option<[f32; 4]>> = points
        .iter()
        .map(|p| ok(p).then(|| [p[0] - r, p[1] - r, p[0] + r, p[1] + r]))
        .collect();
    let mut labels: Vec<[f32; 4]> = Vec::new();
    let overlaps = |a: &[f32; 4], b: &[f32; 4]| {
        a[0] < b[2] + 1.0 && b[0] < a[2] + 1.0 && a[1] < b[3] + 1.0 && b[1] < a[3] + 1.0
    };
    for (i, p) in points.iter().enumerate() {
        if !ok(p) {
            continue;
        }
        let text = i.to_string();
        let w = text_width(&text, s) as f32;
        let u = dir[i].unwrap_or_else(|| unit([p[0] - face[0], p[1] - face[1]]));
        let spot = |u: [f32; 2], dist: f32| {
            // The box's side facing the point is `dist` away from it along `u`.
            let cx = p[0] + u[0] * (dist + w * 0.5);
            let cy = p[1] + u[1] * (dist + h * 0.5);
            [cx - w * 0.5, cy - h * 0.5, cx + w * 0.5, cy + h * 0.5]
        };
        let free = |b: &[f32; 4]| {
            let on_disc = discs
                .iter()
                .enumerate()
                .any(|(j, d)| j != i && d.is_some_and(|d| overlaps(&d, b)));
            !on_disc && !labels.iter().any(|l| overlaps(l, b))
        };
        let angle = u[1].atan2(u[0]);
        let chosen = [gap, 2.0 * gap, 3.0 * gap, 4.0 * gap]
            .into_iter()
            .flat_map(|dist| [0.0f32, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0].map(move |k| (dist, k)))
            .map(|(dist, k)| {
                let a = angle + k * std::f32::consts::FRAC_PI_4;
                spot([a.cos(), a.sin()], dist)
            })
            .find(|b| free(b));
        let b = chosen.unwrap_or_else(|| spot(u, gap));
        labels.push(b);
        let (x, y) = (b[0].round() as i32, b[1].round() as i32);
        for (dx, dy) in [
            (-1, -1),
            (0, -1),
            (1, -1),
            (-1, 0),
            (1, 0),
            (-1, 1),
            (0, 1),
            (1, 1),
        ] {
            draw_text(img, x + dx, y + dy, &text, [0, 0, 0], s);
        }
        draw_text(img, x, y, &text, style.text_color, s);
    }
}

/// The transform that fits a `w × h` image into a `size × size` tile, centred, aspect kept.
pub fn fit_transform(w: u32, h: u32, size: u32) -> Affine2 {
    let s = size as f32 / w.max(h).max(1) as f32;
    let ox = (size as f32 - w as f32 * s) * 0.5;
    let oy = (size as f32 - h as f32 * s) * 0.5;
    Affine2::scale(s, s).followed_by(&Affine2::translate(ox, oy))
}

/// A grid of tiles, `cols` per row, each scaled (bilinear, aspect kept, centred) into a
/// `tile_size × tile_size` cell; 2-pixel dark gray gutters. Empty input gives a 1×1 image.
pub fn contact_sheet(tiles: &[RgbImage], cols: usize, tile_size: u32) -> RgbImage {
    if tiles.is_empty() || tile_size == 0 {
        return RgbImage::new(1, 1);
    }
    let cols = cols.clamp(1, tiles.len());
    let rows = tiles.len().div_ceil(cols);
    let gap = 2u32;
    let w = cols as u32 * (tile_size + gap) + gap;
    let h = rows as u32 * (tile_size + gap) + gap;
    let mut sheet = RgbImage::from_pixel(w, h, image::Rgb([40, 40, 40]));
    for (k, t) in tiles.iter().enumerate() {
        let (c, r) = ((k % cols) as u32, (k / cols) as u32);
        let cell = if t.width() == tile_size && t.height() == tile_size {
            t.clone()
        } else {
            warp_rgb(
                t,
                &fit_transform(t.width(), t.height(), tile_size),
                tile_size,
                tile_size,
            )
        };
        image::imageops::replace(
            &mut sheet,
            &cell,
            (gap + c * (tile_size + gap)) as i64,
            (gap + r * (tile_size + gap)) as i64,
        );
    }
    sheet
}

/// A head pose's axes, from the nose tip ([`HeadPose::axes`]), `thickness` pixels wide:
/// `X` (towards the subject's left) red, `Y` (towards the chin) green, and the front axis (the
/// way the face looks) blue, drawn last; each `length` model units (about millimetres: 50 is
/// about half a face's height) long in 3-D, so they shorten as they turn away. Nothing is
/// drawn when an axis end is behind the camera.
pub fn draw_pose_axes(
    img: &mut RgbImage,
    pose: &HeadPose,
    camera: &Camera,
    length: f64,
    thickness: f32,
) {
    let Some([o, x, y, front]) = pose.axes(camera, length) else {
        return;
    };
    draw_line(img, o, x, [230, 40, 40], thickness);
    draw_line(img, o, y, [40, 200, 40], thickness);
    draw_line(img, o, front, [40, 110, 255], thickness);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_is_drawn_where_it_is_and_clipped_outside() {
        let mut img = RgbImage::new(20, 20);
        draw_points(
            &mut img,
            &[[10.5, 5.5], [-100.0, 3.0], [f32::NAN, 1.0], [1e9, 1e9]],
            [0, 255, 0],
            2.0,
        );
        assert_eq!(img.get_pixel(10, 5).0, [0, 255, 0]);
        assert_eq!(img.get_pixel(10, 15).0, [0, 0, 0]);
        // Anti-aliased rim: partial coverage at the edge.
        let rim = img.get_pixel(12, 5).0[1];
        assert!(rim > 0 && rim < 255, "rim {rim}");
    }

    #[test]
    fn box_outline_not_fill() {
        let mut img = RgbImage::new(30, 30);
        draw_box(&mut img, &BoxF::new(5.0, 5.0, 20.0, 20.0), [255, 0, 0], 2.0);
        assert!(img.get_pixel(5, 15).0[0] > 100);
        assert_eq!(img.get_pixel(15, 15).0, [0, 0, 0]);
    }

    #[test]
    fn text_draws_glyph_pixels() {
        let mut img = RgbImage::new(40, 20);
        draw_text(&mut img, 1, 1, "1", [255, 255, 255], 2);
        // '1' has its stem in column 2: font pixel (2, 3) → image (1 + 4, 1 + 6).
        assert_eq!(img.get_pixel(5, 7).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(1, 7).0, [0, 0, 0]);
        assert_eq!(text_width("12", 1), 11);
        // Unknown characters and off-image text do not panic.
        draw_text(&mut img, -50, 100, "ä~", [1, 2, 3], 3);
    }

    /// The 68-point mean face `size` pixels across, centred at (`size`, `size`).
    fn mean_face(size: f32) -> Vec<Point> {
        crate::scheme::IBUG68_MEAN
            .iter()
            .map(|p| [size + p[0] * size, size + p[1] * size])
            .collect()
    }

    /// Pixels on row `y` between `x0` and `x1` where `channel` is at least half on (coverage
    /// ≥ 0.5 of a full-on colour on black).
    fn run_on_row(img: &RgbImage, y: f32, x0: f32, x1: f32, channel: usize) -> usize {
        (x0.floor() as u32..x1.ceil() as u32)
            .filter(|&x| img.get_pixel(x, y as u32).0[channel] >= 128)
            .count()
    }

    #[test]
    fn sizes_follow_the_face() {
        let (small, big) = (
            LandmarkStyle::for_face(80.0),
            LandmarkStyle::for_face(500.0),
        );
        assert!(big.radius > small.radius, "{small:?} {big:?}");
        assert!(big.line_width > small.line_width, "{small:?} {big:?}");
        assert!(big.text_scale >= small.text_scale);
        // clamped to sensible pixel sizes, whatever the input
        for s in [0.0, -5.0, f32::NAN, f32::INFINITY, 1e9] {
            let st = LandmarkStyle::for_face(s);
            assert!((1.0..=5.0).contains(&st.radius) && (1.0..=3.0).contains(&st.line_width));
            assert!((1..=4).contains(&st.text_scale));
        }
        assert_eq!(LandmarkStyle::for_face(1e9).radius, 5.0);
        assert_eq!(LandmarkStyle::for_face(f32::NAN).radius, 1.0);

        // As drawn: the chin point's disc (points only) and the nose bridge's line (drawn
        // across row midway between points 28 and 29) are wider on the larger face.
        let mut measured = Vec::new();
        let bridge = Contour {
            name: "nose_bridge",
            indices: vec![27, 28, 29, 30],
            closed: false,
        };
        for size in [80.0f32, 500.0] {
            let pts = mean_face(size);
            assert!(
                (face_size(&pts) - size * 0.956).abs() < 1.0,
                "{}",
                face_size(&pts)
            );
            let style = LandmarkStyle::for_face(face_size(&pts));
            let side = (2.0 * size) as u32;
            let mut dots = RgbImage::new(side, side);
            draw_landmarks(&mut dots, &pts, &[], &style);
            let c = pts[8];
            let disc = run_on_row(&dots, c[1], c[0] - 12.0, c[0] + 12.0, 0);
            let mut lines = RgbImage::new(side, side);
            draw_landmarks(&mut lines, &pts, std::slice::from_ref(&bridge), &style);
            let m = [
                (pts[28][0] + pts[29][0]) / 2.0,
                (pts[28][1] + pts[29][1]) / 2.0,
            ];
            let line = run_on_row(&lines, m[1], m[0] - 8.0, m[0] + 8.0, 2);
            measured.push((disc, line));
        }
        let ((d0, l0), (d1, l1)) = (measured[0], measured[1]);
        assert!(d0 >= 2 && d1 > d0, "disc {d0} px → {d1} px");
        assert!(l0 >= 1 && l1 > l0, "line {l0} px → {l1} px");
    }

    #[test]
    fn contours_are_drawn_as_polylines() {
        let pts = mean_face(200.0);
        let contours = crate::Scheme::ibug68().contours();
        let style = LandmarkStyle::for_face(200.0);
        let mut img = RgbImage::new(400, 400);
        draw_landmarks(&mut img, &pts, &contours, &style);
        let mut bare = RgbImage::new(400, 400);
        draw_landmarks(&mut bare, &pts, &[], &style);
        let mid = |a: usize, b: usize| {
            let m = [(pts[a][0] + pts[b][0]) / 2.0, (pts[a][1] + pts[b][1]) / 2.0];
            (m[0] as u32, m[1] as u32)
        };
        // consecutive jaw points, and an eye closed from its last point to its first
        // (the line's colour at least half on: the pixel centre may be off the line's axis)
        let on_line = |p: [u8; 3]| p[0] == 0 && p[1] >= 115 && p[2] >= 128;
        for (a, b) in [(3, 4), (41, 36), (59, 48)] {
            let (x, y) = mid(a, b);
            assert!(
                on_line(img.get_pixel(x, y).0),
                "{a}–{b}: {:?}",
                img.get_pixel(x, y)
            );
            assert_eq!(
                bare.get_pixel(x, y).0,
                [0, 0, 0],
                "{a}–{b} without contours"
            );
        }
        // no line from one contour to the next (jaw end → brow end)
        let (x, y) = mid(16, 26);
        assert_eq!(img.get_pixel(x, y).0, [0, 0, 0]);
        // the points are drawn over the lines
        let p = pts[4];
        assert_eq!(img.get_pixel(p[0] as u32, p[1] as u32).0, style.point_color);
        // missing points and indices past the end: their segments are left out, no panic
        let mut few = pts[..10].to_vec();
        few[5] = [f32::NAN, f32::NAN];
        draw_landmarks(&mut img, &few, &contours, &style);
    }

    #[test]
    fn labels_sit_beside_their_points() {
        let pts = mean_face(400.0);
        let contours = crate::Scheme::ibug68().contours();
        let style = LandmarkStyle::for_face(400.0);
        assert_eq!(style.text_scale, 1);
        assert_eq!(LandmarkStyle::for_face(700.0).text_scale, 2);
        let mut img = RgbImage::new(800, 800);
        draw_landmarks(&mut img, &pts, &contours, &style);
        let before = img.clone();
        draw_point_labels(&mut img, &pts, &contours, &style);
        // no label covers a point's centre
        for (i, p) in pts.iter().enumerate() {
            let (x, y) = (p[0] as u32, p[1] as u32);
            assert_eq!(
                img.get_pixel(x, y),
                before.get_pixel(x, y),
                "point {i} covered"
            );
        }
        // the jaw's first point (image left) has its "0" outside the face, on its left, at its
        // height: white glyph pixels within a few pixels left of the disc
        let p = pts[0];
        let white = (p[0] as u32 - 20..p[0] as u32 - 2)
            .flat_map(|x| (p[1] as u32 - 5..p[1] as u32 + 5).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == style.text_color)
            .count();
        assert!(white > 5, "{white} label pixels left of point 0");
        // nothing on its right (inside the face) at its height
        let inside = (p[0] as u32 + 2..p[0] as u32 + 20)
            .filter(|&x| img.get_pixel(x, p[1] as u32).0 == style.text_color)
            .count();
        assert_eq!(inside, 0);
        // empty and non-finite inputs draw nothing and do not panic
        let mut blank = RgbImage::new(10, 10);
        draw_point_labels(&mut blank, &[[f32::NAN, 1.0]], &contours, &style);
        draw_point_labels(&mut blank, &[], &[], &style);
        assert!(blank.pixels().all(|p| p.0 == [0, 0, 0]));
    }

    #[test]
    fn contact_sheet_layout() {
        let a = RgbImage::from_pixel(10, 10, image::Rgb([255, 0, 0]));
        let b = RgbImage::from_pixel(20, 10, image::Rgb([0, 0, 255]));
        let s = contact_sheet(&[a.clone(), b, a], 2, 16);
        assert_eq!((s.width(), s.height()), (2 * 18 + 2, 2 * 18 + 2));
        assert_eq!(s.get_pixel(2 + 8, 2 + 8).0, [255, 0, 0]);
        assert_eq!(s.get_pixel(20 + 8, 2 + 8).0, [0, 0, 255]);
        // The wide tile is letterboxed: its top rows stay black.
        assert_eq!(s.get_pixel(20 + 8, 2).0, [0, 0, 0]);
        assert_eq!(contact_sheet(&[], 3, 10).width(), 1);
    }

    #[test]
    fn pose_axes_point_the_way_the_face_looks() {
        let cam = Camera::for_image(200, 200);
        let pose = HeadPose::from_angles(40.0, 0.0, 0.0, [0.0, 0.0, 400.0]);
        let mut img = RgbImage::new(200, 200);
        draw_pose_axes(&mut img, &pose, &cam, 60.0, 2.0);
        let [o, _, _, front] = pose.axes(&cam, 60.0).unwrap();
        assert!(front[0] > o[0] + 10.0);
        // the blue front axis covers the pixels between the nose and its end
        let mid = [(o[0] + front[0]) * 0.5, (o[1] + front[1]) * 0.5];
        let p = img.get_pixel(mid[0] as u32, mid[1] as u32).0;
        assert!(p[2] > 150 && p[0] < 100, "{p:?}");
        // behind the camera: nothing drawn, no panic
        let behind = HeadPose::from_angles(0.0, 0.0, 0.0, [0.0, 0.0, -400.0]);
        let mut blank = RgbImage::new(50, 50);
        draw_pose_axes(&mut blank, &behind, &cam, 60.0, 2.0);
        assert!(blank.pixels().all(|p| p.0 == [0, 0, 0]));
    }
}
