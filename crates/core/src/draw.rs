//! Drawing helpers for result pictures (points, boxes, index labels, contact sheets).
//!
//! Plain pixel code on `image::RgbImage`, coordinates in pixels of the image (pixel-edge
//! convention: pixel `(i, j)` covers `[i, i+1) × [j, j+1)`). Points are anti-aliased discs;
//! text uses a built-in 5×7 bitmap font, so no font file is needed. Anything outside the image
//! is clipped; non-finite coordinates are skipped.

use crate::geometry::{warp_rgb, Affine2};
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

/// The transform that fits a `w × h` image into a `size × size` tile, centred, aspect kept.
pub fn fit_transform(w: u32, h: u32, size: u32) -> Affine2 {
    let s = size as f32 / w.max(h).max(1) as f32;
    let ox = (size as f32 - w as f32 * s) * 0.5;
    let oy = (size as f32 - h as f32 * s) * 0.5;
    Affine2::scale(s, s).then(&Affine2::translate(ox, oy))
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
}
