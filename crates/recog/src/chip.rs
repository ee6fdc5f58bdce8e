//! Aligned face chips as dlib cuts them for its face-recognition network:
//! `get_face_chip_details(shape, size, padding)` then `extract_image_chip` (bilinear), from a
//! 68-point (iBUG) or 5-point (dlib's `shape_predictor_5_face_landmarks`) shape.
//!
//! Coordinates: the points given are facemark's (pixel centres at +0.5, `facemark_core`);
//! dlib's have pixel centres at whole numbers, so they are shifted by −0.5 on the way in and
//! [`ChipDetails`] is in dlib's convention.
//!
//! What is dlib's and what is not:
//! - The chip geometry is dlib's: the mean-face template points (the 68-point template
//!   without eyebrows and lower lip, or the 5-point one), `(padding + t) / (1 + 2·padding)
//!   · size`, the least-squares similarity from template to shape, its angle and scale, the
//!   rectangle `centered_drect`, and the chip corners mapped through the rotated rectangle.
//! - The sampling is dlib's `interpolate_bilinear`: a chip pixel whose four neighbours are
//!   not all inside the image is black, the blend is truncated to an integer (not rounded).
//! - Where the face is more than about twice the chip's size, dlib first shrinks the image with
//!   `pyramid_down<2>` (a 5 × 5 binomial filter, every other pixel) as often as needed, over
//!   the bounding box of the rotated rectangle grown by a margin; this does the same, with the
//!   same integer arithmetic, level count, box and coordinate mapping.
//!
//! `bench/dlib/embed_agree.sh` compares the chips with dlib's on the same pixels.
use facemark_core::{Affine2, Point};
use image::RgbImage;

/// dlib's 68-point mean face (points 17–67, x then y, in the unit square): the template of
/// `get_face_chip_details`.
const MEAN_FACE_X: [f64; 51] = [
    0.000213256,
    0.0752622,
    0.18113,
    0.29077,
    0.393397,
    0.586856,
    0.689483,
    0.799124,
    0.904991,
    0.98004,
    0.490127,
    0.490127,
    0.490127,
    0.490127,
    0.36688,
    0.426036,
    0.490127,
    0.554217,
    0.613373,
    0.121737,
    0.187122,
    0.265825,
    0.334606,
    0.260918,
    0.182743,
    0.645647,
    0.714428,
    0.793132,
    0.858516,
    0.79751,
    0.719335,
    0.254149,
    0.340985,
    0.428858,
    0.490127,
    0.551395,
    0.639268,
    0.726104,
    0.642159,
    0.556721,
    0.490127,
    0.423532,
    0.338094,
    0.290379,
    0.428096,
    0.490127,
    0.552157,
    0.689874,
    0.553364,
    0.490127,
    0.42689,
];
const MEAN_FACE_Y: [f64; 51] = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
    0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345,
    0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852,
    0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388,
    0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746,
    0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];
/// dlib's 5-point template (`shape_predictor_5_face_landmarks` order: right eye outer and
/// inner corner, left eye outer and inner corner, bottom of the nose).
const TEMPLATE_5: [[f64; 2]; 5] = [
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
];

/// The chip size and padding of dlib's face-recognition network
/// (`get_face_chip_details(shape, 150, 0.25)`).
pub const RECOGNITION_CHIP: (usize, f64) = (150, 0.25);

/// Why a chip cannot be cut.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChipError {
    /// The shape is neither 68 nor 5 points.
    #[error("a face chip needs a 68-point or 5-point shape, got {0} points")]
    Points(usize),
    /// The points are degenerate (all the same, or not finite).
    #[error("the face's points are degenerate (coincident or not finite)")]
    Degenerate,
    /// Size 0 or a negative or non-finite padding.
    #[error("chip size {size} and padding {padding}: need size ≥ 1 and padding ≥ 0")]
    Params {
        /// Chip side.
        size: usize,
        /// Padding.
        padding: f64,
    },
}

/// dlib's `chip_details` in dlib's pixel convention: the rectangle of the image (before
/// rotation) the chip covers, its rotation, and the chip's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChipDetails {
    /// Left, top, right, bottom (dlib `drectangle`: right = left + width − 1).
    pub rect: [f64; 4],
    /// Rotation in radians.
    pub angle: f64,
    /// Chip rows.
    pub rows: usize,
    /// Chip columns.
    pub cols: usize,
}

/// `get_face_chip_details(shape, size, padding)` for facemark points (68 or 5).
pub fn face_chip_details(
    points: &[Point],
    size: usize,
    padding: f64,
) -> Result<ChipDetails, ChipError> {
    if size == 0 || !(padding >= 0.0 && padding.is_finite()) {
        return Err(ChipError::Params { size, padding });
    }
    let t = |x: f64| (padding + x) / (2.0 * padding + 1.0) * size as f64;
    let (mut from, mut to): (Vec<Point>, Vec<Point>) = (Vec::new(), Vec::new());
    let dlib_point = |p: Point| [p[0] - 0.5, p[1] - 0.5];
    match points.len() {
        5 => {
            for (tp, p) in TEMPLATE_5.iter().zip(points) {
                from.push([t(tp[0]) as f32, t(tp[1]) as f32]);
                to.push(dlib_point(*p));
            }
        }
        68 => {
            for i in 17..68 {
                if (55..=59).contains(&i) || (65..=67).contains(&i) || (17..=26).contains(&i) {
                    continue;
                }
                from.push([t(MEAN_FACE_X[i - 17]) as f32, t(MEAN_FACE_Y[i - 17]) as f32]);
                to.push(dlib_point(points[i]));
            }
        }
        n => return Err(ChipError::Points(n)),
    }
    if to.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
        return Err(ChipError::Degenerate);
    }
    let tf = Affine2::similarity(&from, &to).ok_or(ChipError::Degenerate)?;
    let (a, c) = (tf.a as f64, tf.c as f64);
    let scale = a.hypot(c);
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(ChipError::Degenerate);
    }
    let angle = c.atan2(a);
    let centre = tf.apply([size as f32 / 2.0, size as f32 / 2.0]);
    let (w, h) = (size as f64 * scale - 1.0, size as f64 * scale - 1.0);
    let (cx, cy) = (centre[0] as f64, centre[1] as f64);
    Ok(ChipDetails {
        rect: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
        angle,
        rows: size,
        cols: size,
    })
}

/// dlib's `pyramid_down<2>::point_down`: where a point of an image lands in the image one
/// level down.
fn point_down(p: [f64; 2]) -> [f64; 2] {
    [p[0] / 2.0 - 1.25, p[1] / 2.0 - 0.75]
}

fn rect_down(r: [f64; 4]) -> [f64; 4] {
    let a = point_down([r[0], r[1]]);
    let b = point_down([r[2], r[3]]);
    [a[0], a[1], b[0], b[1]]
}

fn rect_area(r: [f64; 4]) -> f64 {
    // dlib drectangle: width = right − left + 1, empty (0) when right < left
    let (w, h) = (r[2] - r[0] + 1.0, r[3] - r[1] + 1.0);
    if r[2] < r[0] || r[3] < r[1] {
        0.0
    } else {
        w * h
    }
}

fn rotate(centre: [f64; 2], p: [f64; 2], angle: f64) -> [f64; 2] {
    let (s, c) = angle.sin_cos();
    let (x, y) = (p[0] - centre[0], p[1] - centre[1]);
    [c * x - s * y + centre[0], s * x + c * y + centre[1]]
}

/// dlib's `pyramid_down<2>` on an RGB image (`image_transforms/image_pyramid.h`): the
/// `[1 4 6 4 1]` filter along rows then columns in 16-bit integers, every other pixel,
/// output `((h − 3)/2) × ((w − 3)/2)`; empty when a side is 8 pixels or fewer.
fn pyramid_down(src: &[u8], w: usize, h: usize) -> (Vec<u8>, usize, usize) {
    if w <= 8 || h <= 8 {
        return (Vec::new(), 0, 0);
    }
    let tw = (w - 3) / 2;
    let mut temp = vec![0u16; h * tw * 3];
    for r in 0..h {
        for c in 0..tw {
            let oc = 2 * c;
            for k in 0..3 {
                let px = |j: usize| src[(r * w + oc + j) * 3 + k] as u16;
                temp[(r * tw + c) * 3 + k] = px(0) + 4 * px(1) + 6 * px(2) + 4 * px(3) + px(4);
            }
        }
    }
    let dh = (h - 3) / 2;
    let mut down = vec![0u8; dh * tw * 3];
    let mut dr = 0;
    let mut r = 2;
    while r + 2 < h {
        for c in 0..tw {
            for k in 0..3 {
                let t = |rr: usize| temp[(rr * tw + c) * 3 + k];
                let v = t(r - 2)
                    .wrapping_add(t(r - 1).wrapping_mul(4))
                    .wrapping_add(t(r).wrapping_mul(6))
                    .wrapping_add(t(r + 1).wrapping_mul(4))
                    .wrapping_add(t(r + 2));
                down[(dr * tw + c) * 3 + k] = (v / 256) as u8;
            }
        }
        dr += 1;
        r += 2;
    }
    (down, tw, dh)
}

/// dlib's `drectangle` → `rectangle` conversion (each side rounded half up).
fn round_rect(r: [f64; 4]) -> [i64; 4] {
    r.map(|v| (v + 0.5).floor() as i64)
}

/// `extract_image_chip(img, details, chip)` with bilinear interpolation (see the module docs
/// for the one difference from dlib: the shrinking filter of large faces).
pub fn extract_image_chip(img: &RgbImage, d: &ChipDetails) -> RgbImage {
    let (rows, cols) = (d.rows.max(1), d.cols.max(1));
    let size = (rows * cols) as f64;
    let mut out = vec![0u8; rows * cols * 3];
    let finite = d.rect.iter().all(|v| v.is_finite()) && d.angle.is_finite();
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    if !finite || iw == 0 || ih == 0 {
        return RgbImage::from_raw(cols as u32, rows as u32, out).expect("buffer size matches");
    }
    // dlib: the pyramid depth and the margin it needs, then the bounding box of the rotated
    // rectangle, grown by the margin, inside the image (whole pixels)
    let mut depth = 0;
    let mut grow = 2.0;
    let mut r = rect_down(d.rect);
    while rect_area(r) > size && depth < 40 {
        r = rect_down(r);
        depth += 1;
        grow = grow * 2.0 + 2.0;
    }
    let c = [(d.rect[0] + d.rect[2]) / 2.0, (d.rect[1] + d.rect[3]) / 2.0];
    let corners = [
        [d.rect[0], d.rect[1]],
        [d.rect[2], d.rect[1]],
        [d.rect[0], d.rect[3]],
        [d.rect[2], d.rect[3]],
    ]
    .map(|p| rotate(c, p, d.angle));
    let min = |k: usize| corners.iter().map(|p| p[k]).fold(f64::INFINITY, f64::min);
    let max = |k: usize| {
        corners
            .iter()
            .map(|p| p[k])
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let grown = [
        (min(0) - grow).max(0.0),
        (min(1) - grow).max(0.0),
        (max(0) + grow).min((iw - 1) as f64),
        (max(1) + grow).min((ih - 1) as f64),
    ];
    let bb = round_rect(grown);
    let (bw, bh) = (bb[2] - bb[0] + 1, bb[3] - bb[1] + 1);
    if bw <= 0 || bh <= 0 {
        return RgbImage::from_raw(cols as u32, rows as u32, out).expect("buffer size matches");
    }
    // the box's pixels, then the pyramid levels it needs
    let (bw, bh) = (bw as usize, bh as usize);
    let raw = img.as_raw();
    let mut sub = vec![0u8; bw * bh * 3];
    for y in 0..bh {
        let at = ((bb[1] as usize + y) * iw as usize + bb[0] as usize) * 3;
        sub[y * bw * 3..(y + 1) * bw * 3].copy_from_slice(&raw[at..at + bw * 3]);
    }
    let mut rect = [
        d.rect[0] - bb[0] as f64,
        d.rect[1] - bb[1] as f64,
        d.rect[2] - bb[0] as f64,
        d.rect[3] - bb[1] as f64,
    ];
    let (mut src, mut w, mut h) = (sub, bw, bh);
    let mut level = 0;
    while rect_area(rect_down(rect)) > size && level < depth {
        let (p, pw, ph) = pyramid_down(&src, w, h);
        (src, w, h) = (p, pw, ph);
        rect = rect_down(rect);
        level += 1;
    }
    let centre = [(rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0];
    // dlib: find_affine_transform from the chip's corners tl, tr, bl to the rotated rectangle's
    let tl = rotate(centre, [rect[0], rect[1]], d.angle);
    let tr = rotate(centre, [rect[2], rect[1]], d.angle);
    let bl = rotate(centre, [rect[0], rect[3]], d.angle);
    let (cw, ch) = ((cols - 1).max(1) as f64, (rows - 1).max(1) as f64);
    // chip (x, y) → image: tl + x·(tr − tl)/cw + y·(bl − tl)/ch
    let ax = [(tr[0] - tl[0]) / cw, (tr[1] - tl[1]) / cw];
    let ay = [(bl[0] - tl[0]) / ch, (bl[1] - tl[1]) / ch];
    let (w, h) = (w as i64, h as i64);
    for y in 0..rows {
        for x in 0..cols {
            let px = tl[0] + x as f64 * ax[0] + y as f64 * ay[0];
            let py = tl[1] + x as f64 * ax[1] + y as f64 * ay[1];
            let (left, top) = (px.floor(), py.floor());
            let (l, t) = (left as i64, top as i64);
            if !(l >= 0 && t >= 0 && l + 1 < w && t + 1 < h) {
                continue; // black, as dlib
            }
            let (fx, fy) = (px - left, py - top);
            let at = |xx: i64, yy: i64, k: usize| src[((yy * w + xx) * 3) as usize + k] as f64;
            for k in 0..3 {
                let v = (1.0 - fy) * ((1.0 - fx) * at(l, t, k) + fx * at(l + 1, t, k))
                    + fy * ((1.0 - fx) * at(l, t + 1, k) + fx * at(l + 1, t + 1, k));
                out[(y * cols + x) * 3 + k] = v as u8; // truncation, as dlib's vector_to_pixel
            }
        }
    }
    RgbImage::from_raw(cols as u32, rows as u32, out).expect("buffer size matches")
}

/// The chip dlib's face-recognition network takes for a face with these points (68 or 5,
/// facemark's convention): [`face_chip_details`] with [`RECOGNITION_CHIP`], then
/// [`extract_image_chip`].
pub fn face_chip(img: &RgbImage, points: &[Point]) -> Result<RgbImage, ChipError> {
    let d = face_chip_details(points, RECOGNITION_CHIP.0, RECOGNITION_CHIP.1)?;
    Ok(extract_image_chip(img, &d))
}

/// The facemark-convention map from image pixels to chip pixels of `d` (for drawing, or to
/// carry points into the chip): the inverse of the chip-to-image map, pyramid aside.
pub fn image_to_chip(d: &ChipDetails) -> Option<Affine2> {
    let r = d.rect;
    let centre = [(r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0];
    let tl = rotate(centre, [r[0], r[1]], d.angle);
    let tr = rotate(centre, [r[2], r[1]], d.angle);
    let bl = rotate(centre, [r[0], r[3]], d.angle);
    let (cw, ch) = ((d.cols.max(2) - 1) as f64, (d.rows.max(2) - 1) as f64);
    // dlib convention chip→image, then shift both sides by 0.5
    let a = (tr[0] - tl[0]) / cw;
    let c = (tr[1] - tl[1]) / cw;
    let b = (bl[0] - tl[0]) / ch;
    let dd = (bl[1] - tl[1]) / ch;
    let tx = tl[0] + 0.5 - 0.5 * (a + b);
    let ty = tl[1] + 0.5 - 0.5 * (c + dd);
    Affine2 {
        a: a as f32,
        b: b as f32,
        c: c as f32,
        d: dd as f32,
        tx: tx as f32,
        ty: ty as f32,
    }
    .inverse()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face already on the template, 150 px: the chip rectangle is the image itself.
    #[test]
    fn template_face_maps_to_itself() {
        let (size, pad) = RECOGNITION_CHIP;
        let t = |x: f64| ((pad + x) / (2.0 * pad + 1.0) * size as f64) as f32;
        let mut pts = vec![[0.0f32; 2]; 68];
        for i in 17..68 {
            pts[i] = [t(MEAN_FACE_X[i - 17]) + 0.5, t(MEAN_FACE_Y[i - 17]) + 0.5];
        }
        let d = face_chip_details(&pts, size, pad).unwrap();
        assert!(d.angle.abs() < 1e-6, "{d:?}");
        for (v, want) in d.rect.iter().zip([0.5, 0.5, 149.5, 149.5]) {
            assert!((v - want).abs() < 1e-3, "{d:?}");
        }
        // a gradient image comes back shifted by the half pixel only
        let img = RgbImage::from_fn(150, 150, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let chip = extract_image_chip(&img, &d);
        assert_eq!(chip.dimensions(), (150, 150));
        let p = chip.get_pixel(40, 60).0;
        assert!(
            (p[0] as i32 - 40).abs() <= 1 && (p[1] as i32 - 60).abs() <= 1,
            "{p:?}"
        );
        assert_eq!(p[2], 7);
        // and image_to_chip carries a pixel centre to the same place
        let m = image_to_chip(&d).unwrap();
        let q = m.apply([40.5, 60.5]);
        assert!(
            (q[0] - 40.5).abs() < 0.6 && (q[1] - 60.5).abs() < 0.6,
            "{q:?}"
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(
            face_chip_details(&[[1.0, 2.0]; 7], 150, 0.25),
            Err(ChipError::Points(7))
        );
        assert_eq!(
            face_chip_details(&[[1.0, 2.0]; 68], 150, 0.25),
            Err(ChipError::Degenerate)
        );
        assert_eq!(
            face_chip_details(&[[f32::NAN, 2.0]; 5], 150, 0.25),
            Err(ChipError::Degenerate)
        );
        assert!(face_chip_details(&[[1.0, 2.0]; 5], 0, 0.25).is_err());
    }
}
