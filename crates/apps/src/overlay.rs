//! User overlays: an RGBA PNG placed on faces through anchors.
//!
//! Anchor file (JSON), overlay pixel positions `[x, y]` (pixel-centre convention of
//! `facemark_core::geometry`: the centre of pixel `(i, j)` is `(i + 0.5, j + 0.5)`) mapped to
//! landmark references ([`PointRef`]):
//!
//! ```json
//! {"anchors": [
//!   {"at": [52.5, 33.0], "point": "right_eye_center"},
//!   {"at": [131.0, 33.0], "point": "left_eye_center"},
//!   {"at": [92.0, 20.0], "point": {"index": 27}}
//! ]}
//! ```
//!
//! At least two anchors at distinct positions are needed (a similarity has 4 degrees of freedom).
//! The overlay appears unmirrored in the image, so its *left* lens goes on the subject's *right*
//! eye. Without an anchor file, [`lens_anchors`] finds the two lens centres of a glasses PNG.

use crate::composite::{premultiply, LayerRef};
use crate::error::FilterError;
use crate::points::PointRef;
use facemark_core::geometry::warp_rgba;
use facemark_core::{Affine2, Point};
use image::RgbaImage;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One anchor: overlay pixel position → landmark reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// `[x, y]` in overlay pixels.
    pub at: Point,
    /// The landmark (or mean of landmarks) that overlay position is pinned to.
    pub point: PointRef,
}

/// The anchor file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnchorFile {
    /// At least two anchors at distinct positions: two fix scale, rotation and translation; more
    /// are fitted by least squares.
    pub anchors: Vec<Anchor>,
}

impl AnchorFile {
    /// Read and check an anchor file (≥ 2 anchors, distinct positions, valid point names).
    pub fn read(path: &Path) -> Result<AnchorFile, FilterError> {
        let text = std::fs::read_to_string(path).map_err(|source| FilterError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let f: AnchorFile =
            serde_json::from_str(&text).map_err(|source| FilterError::AnchorsJson {
                path: path.to_path_buf(),
                source,
            })?;
        f.check(path)?;
        Ok(f)
    }

    fn check(&self, path: &Path) -> Result<(), FilterError> {
        let bad = |message: String| FilterError::Anchors {
            path: path.to_path_buf(),
            message,
        };
        if self.anchors.len() < 2 {
            return Err(bad(format!(
                "\"anchors\" has {} entries; at least 2 are needed",
                self.anchors.len()
            )));
        }
        for (i, a) in self.anchors.iter().enumerate() {
            a.point
                .indices()
                .map_err(|e| bad(format!("anchors[{i}].point: {e}")))?;
            if !a.at[0].is_finite() || !a.at[1].is_finite() {
                return Err(bad(format!("anchors[{i}].at is not a finite [x, y]")));
            }
        }
        let first = self.anchors[0].at;
        if self
            .anchors
            .iter()
            .all(|a| (a.at[0] - first[0]).abs() < 1e-3 && (a.at[1] - first[1]).abs() < 1e-3)
        {
            return Err(bad("all anchors are at the same position".into()));
        }
        Ok(())
    }
}

/// A loaded overlay, premultiplied, with a pyramid of 2× box-filtered reductions so that
/// strong shrinking (a 400-px PNG on a 60-px face) samples a level no more than 2× larger than
/// the output instead of aliasing.
pub struct Overlay {
    levels: Vec<RgbaImage>,
    /// Where the overlay is pinned to the face (from the anchor file or the lens search).
    pub anchors: Vec<Anchor>,
    /// The PNG had no transparency and its uniform background was keyed out
    /// ([`key_out_background`]).
    pub keyed_background: bool,
}

impl Overlay {
    /// Load `png`; anchors from `anchors` or, when `None`, [`lens_anchors`] (glasses).
    pub fn load(png: &Path, anchors: Option<&Path>) -> Result<Overlay, FilterError> {
        let mut img = facemark_core::photo::open_image(png)
            .map_err(|error| FilterError::Image {
                path: png.to_path_buf(),
                error,
            })?
            .to_rgba8();
        let keyed = key_out_background(&mut img);
        let anchors = match anchors {
            Some(a) => AnchorFile::read(a)?.anchors,
            None => {
                let (r, l) = lens_anchors(&img).map_err(|message| FilterError::NoLenses {
                    path: png.to_path_buf(),
                    message,
                })?;
                vec![
                    Anchor {
                        at: r,
                        point: PointRef::named("right_eye_center"),
                    },
                    Anchor {
                        at: l,
                        point: PointRef::named("left_eye_center"),
                    },
                ]
            }
        };
        let mut o = Overlay::new(img, anchors);
        o.keyed_background = keyed;
        Ok(o)
    }

    /// From an image with straight alpha and anchors.
    pub fn new(mut img: RgbaImage, anchors: Vec<Anchor>) -> Overlay {
        premultiply(&mut img);
        let mut levels = vec![img];
        while let Some(last) = levels.last() {
            if last.width() < 16 || last.height() < 16 {
                break;
            }
            let (w, h) = (last.width() / 2, last.height() / 2);
            let next = RgbaImage::from_fn(w, h, |x, y| {
                let mut s = [0u32; 4];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = last.get_pixel(2 * x + dx, 2 * y + dy).0;
                    for k in 0..4 {
                        s[k] += p[k] as u32;
                    }
                }
                image::Rgba(s.map(|v| ((v + 2) / 4) as u8))
            });
            levels.push(next);
        }
        Overlay {
            levels,
            anchors,
            keyed_background: false,
        }
    }

    /// Overlay pixels → image pixels for a face, or `None` when degenerate.
    pub fn placement(&self, landmarks: &[Point]) -> Result<Option<Affine2>, FilterError> {
        let from: Vec<Point> = self.anchors.iter().map(|a| a.at).collect();
        let to = self
            .anchors
            .iter()
            .map(|a| a.point.resolve(landmarks))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Affine2::similarity(&from, &to))
    }

    /// Warp the overlay through `overlay_to_image` into a premultiplied layer covering its
    /// footprint in a `frame_w × frame_h` frame. `None` when outside the frame.
    pub fn render(
        &self,
        overlay_to_image: &Affine2,
        frame_w: u32,
        frame_h: u32,
    ) -> Option<(RgbaImage, i32, i32)> {
        let base = &self.levels[0];
        let (w, h) = (base.width() as f32, base.height() as f32);
        let [ix0, iy0, ix1, iy1] =
            crate::composite::footprint([0.0, 0.0, w, h], overlay_to_image, frame_w, frame_h)?;
        // the coarsest level that is still at least as large as the output
        let scale = overlay_to_image.mean_scale();
        let mut k = 0;
        while k + 1 < self.levels.len() && scale * (1u32 << (k + 1)) as f32 <= 1.0 {
            k += 1;
        }
        let level_to_overlay = Affine2::scale((1u32 << k) as f32, (1u32 << k) as f32);
        let t = level_to_overlay
            .followed_by(overlay_to_image)
            .followed_by(&Affine2::translate(-(ix0 as f32), -(iy0 as f32)));
        let layer = warp_rgba(&self.levels[k], &t, (ix1 - ix0) as u32, (iy1 - iy0) as u32);
        Some((layer, ix0 as i32, iy0 as i32))
    }

    /// Composite onto `img` for one face.
    pub fn apply(
        &self,
        img: &mut image::RgbImage,
        landmarks: &[Point],
        gamma: bool,
    ) -> Result<(), FilterError> {
        let Some(t) = self.placement(landmarks)? else {
            return Ok(());
        };
        if let Some((layer, x, y)) = self.render(&t, img.width(), img.height()) {
            crate::composite::over(
                img,
                &LayerRef {
                    data: layer.as_raw(),
                    width: layer.width(),
                    height: layer.height(),
                    x,
                    y,
                },
                gamma,
            );
        }
        Ok(())
    }
}

/// For overlays saved without transparency (every alpha 255, e.g. glasses on white): when the
/// four corners share one colour (each channel within 24), the region of that colour connected
/// to the border (each channel within 40 of the corner mean) becomes transparent, and pixels
/// next to it get a partial alpha ramping from 0 at distance 40 to 1 at distance 100 from the
/// background colour (a soft edge). Returns whether anything was keyed out; images with any
/// transparency are left alone.
pub fn key_out_background(img: &mut RgbaImage) -> bool {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 2 || h < 2 || img.pixels().any(|p| p.0[3] != 255) {
        return false;
    }
    let corners = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)]
        .map(|(x, y)| img.get_pixel(x as u32, y as u32).0);
    let mean: [f32; 3] =
        std::array::from_fn(|k| corners.iter().map(|c| c[k] as f32).sum::<f32>() / 4.0);
    let dist = |p: [u8; 4]| {
        (0..3)
            .map(|k| (p[k] as f32 - mean[k]).abs())
            .fold(0.0, f32::max)
    };
    if corners.iter().any(|c| dist(*c) > 24.0) {
        return false;
    }
    let mut bg = vec![false; w * h];
    let mut stack: Vec<usize> = (0..w)
        .flat_map(|x| [x, (h - 1) * w + x])
        .chain((0..h).flat_map(|y| [y * w, y * w + w - 1]))
        .collect();
    while let Some(i) = stack.pop() {
        if bg[i] || dist(img.as_raw()[i * 4..i * 4 + 4].try_into().unwrap()) > 40.0 {
            continue;
        }
        bg[i] = true;
        let (x, y) = (i % w, i / w);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < w {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - w);
        }
        if y + 1 < h {
            stack.push(i + w);
        }
    }
    if !bg.iter().any(|b| *b) {
        return false;
    }
    let near_bg = |i: usize| {
        let (x, y) = (i % w, i / w);
        (x > 0 && bg[i - 1])
            || (x + 1 < w && bg[i + 1])
            || (y > 0 && bg[i - w])
            || (y + 1 < h && bg[i + w])
    };
    let alphas: Vec<u8> = (0..w * h)
        .map(|i| {
            if bg[i] {
                0
            } else if near_bg(i) {
                let d = dist(img.as_raw()[i * 4..i * 4 + 4].try_into().unwrap());
                (((d - 40.0) / 60.0).clamp(0.0, 1.0) * 255.0).round() as u8
            } else {
                255
            }
        })
        .collect();
    for (p, a) in img.pixels_mut().zip(alphas) {
        p.0[3] = a;
    }
    true
}

/// Lens centres `(image-left, image-right)` of a glasses PNG from its alpha channel, overlay
/// pixels. The image-left lens goes on the subject's right eye.
///
/// Method: opaque pixels are those with alpha ≥ 128. If the two largest 4-connected opaque blobs
/// are of similar size (the smaller ≥ 25 % of the larger) their centroids are the lenses.
/// Otherwise (lenses joined by the bridge, the usual case) the image is split at the column with
/// the fewest opaque pixels in the middle 40 % of the opaque extent (the bridge), and each lens
/// centre is the centroid of that side's opaque pixels in its *thick* columns (at least half as
/// many opaque pixels as the side's fullest column), which leaves out the temple arms.
pub fn lens_anchors(img: &RgbaImage) -> Result<(Point, Point), String> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let opaque: Vec<bool> = img.pixels().map(|p| p.0[3] >= 128).collect();
    let count = opaque.iter().filter(|o| **o).count();
    if count < 8 {
        return Err(format!("only {count} opaque pixels"));
    }
    // connected components (4-connected), iterative flood fill
    let mut label = vec![u32::MAX; w * h];
    let mut blobs: Vec<(usize, f64, f64)> = vec![];
    for start in 0..w * h {
        if !opaque[start] || label[start] != u32::MAX {
            continue;
        }
        let id = blobs.len() as u32;
        let (mut n, mut sx, mut sy) = (0usize, 0.0f64, 0.0f64);
        let mut stack = vec![start];
        label[start] = id;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            n += 1;
            sx += x as f64 + 0.5;
            sy += y as f64 + 0.5;
            let mut push = |j: usize| {
                if opaque[j] && label[j] == u32::MAX {
                    label[j] = id;
                    stack.push(j);
                }
            };
            if x > 0 {
                push(i - 1);
            }
            if x + 1 < w {
                push(i + 1);
            }
            if y > 0 {
                push(i - w);
            }
            if y + 1 < h {
                push(i + w);
            }
        }
        blobs.push((n, sx / n as f64, sy / n as f64));
    }
    blobs.sort_by_key(|b| std::cmp::Reverse(b.0));
    if blobs.len() >= 2 && blobs[1].0 * 4 >= blobs[0].0 {
        let (a, b) = (blobs[0], blobs[1]);
        let (pa, pb) = ([a.1 as f32, a.2 as f32], [b.1 as f32, b.2 as f32]);
        return Ok(if pa[0] <= pb[0] { (pa, pb) } else { (pb, pa) });
    }
    // split at the bridge
    let cols: Vec<usize> = (0..w)
        .map(|x| (0..h).filter(|&y| opaque[y * w + x]).count())
        .collect();
    let first = cols.iter().position(|&c| c > 0).unwrap_or(0);
    let last = cols.iter().rposition(|&c| c > 0).unwrap_or(w - 1);
    let span = last - first + 1;
    if span < 4 {
        return Err("opaque area too narrow".into());
    }
    let lo = first + span * 3 / 10;
    let hi = (first + span * 7 / 10).max(lo + 1);
    let split = (lo..hi).min_by_key(|&x| cols[x]).unwrap_or(w / 2);
    let centroid = |xs: std::ops::Range<usize>| -> Option<Point> {
        let max = xs.clone().map(|x| cols[x]).max().unwrap_or(0);
        if max == 0 {
            return None;
        }
        let (mut n, mut sx, mut sy) = (0usize, 0.0f64, 0.0f64);
        for x in xs {
            if cols[x] * 2 < max {
                continue;
            }
            for y in 0..h {
                if opaque[y * w + x] {
                    n += 1;
                    sx += x as f64 + 0.5;
                    sy += y as f64 + 0.5;
                }
            }
        }
        (n > 0).then(|| [(sx / n as f64) as f32, (sy / n as f64) as f32])
    };
    match (centroid(first..split), centroid(split + 1..last + 1)) {
        (Some(l), Some(r)) => Ok((l, r)),
        _ => Err("no opaque pixels on one side of the bridge".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Glasses-like overlay: two filled discs joined by a thin bridge, arms on the sides.
    fn glasses(w: u32, h: u32, c1: Point, c2: Point, r: f32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let disc = |c: Point| (px - c[0]).powi(2) + (py - c[1]).powi(2) <= r * r;
            let bridge = px > c1[0] && px < c2[0] && (py - (c1[1] - r * 0.6)).abs() < 1.5;
            let arm = (px < c1[0] - r * 0.8 || px > c2[0] + r * 0.8)
                && (py - (c1[1] - r * 0.7)).abs() < 1.0;
            if disc(c1) || disc(c2) || bridge || arm {
                image::Rgba([20, 20, 20, 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            }
        })
    }

    #[test]
    fn white_background_is_keyed_out_only_when_opaque() {
        let mut img = glasses(120, 50, [32.0, 26.0], [88.0, 26.0], 18.0);
        for p in img.pixels_mut() {
            if p.0[3] == 0 {
                *p = image::Rgba([250, 252, 255, 255]);
            }
        }
        assert!(key_out_background(&mut img));
        assert_eq!(img.get_pixel(0, 0).0[3], 0);
        assert_eq!(img.get_pixel(32, 26).0[3], 255);
        assert_eq!(
            img.get_pixel(60, 4).0[3],
            0,
            "between lenses, connected to the border"
        );
        assert!(
            !key_out_background(&mut img),
            "already transparent: untouched"
        );
        let (l, r) = lens_anchors(&img).unwrap();
        assert!((l[0] - 32.0).abs() < 2.0 && (r[0] - 88.0).abs() < 2.0);
    }

    #[test]
    fn lens_centres_found_through_the_bridge() {
        let img = glasses(120, 50, [32.0, 26.0], [88.0, 26.0], 18.0);
        let (l, r) = lens_anchors(&img).unwrap();
        assert!(
            (l[0] - 32.0).abs() < 2.0 && (l[1] - 26.0).abs() < 2.0,
            "{l:?}"
        );
        assert!(
            (r[0] - 88.0).abs() < 2.0 && (r[1] - 26.0).abs() < 2.0,
            "{r:?}"
        );
        assert!(lens_anchors(&RgbaImage::new(30, 30)).is_err());
    }

    #[test]
    fn overlay_anchor_pixels_land_on_target_points() {
        // An overlay with two single opaque pixels at its anchors must show them at the eyes.
        let mut img = RgbaImage::new(200, 80);
        img.put_pixel(40, 40, image::Rgba([255, 0, 0, 255]));
        img.put_pixel(160, 40, image::Rgba([0, 0, 255, 255]));
        let ov = Overlay::new(
            img,
            vec![
                Anchor {
                    at: [40.5, 40.5],
                    point: PointRef::Index(0),
                },
                Anchor {
                    at: [160.5, 40.5],
                    point: PointRef::Index(1),
                },
            ],
        );
        // target: tilted 30°, eyes 120 px apart → scale 1.0, so single pixels stay visible
        let (a, ang) = ([60.0f32, 70.0f32], 30f32.to_radians());
        let b = [a[0] + 120.0 * ang.cos(), a[1] + 120.0 * ang.sin()];
        let t = ov.placement(&[a, b]).unwrap().unwrap();
        let (layer, x, y) = ov.render(&t, 256, 256).unwrap();
        let at = |p: Point, ch: usize| {
            let (i, j) = (
                (p[0] - x as f32).floor() as u32,
                (p[1] - y as f32).floor() as u32,
            );
            layer.get_pixel(i, j).0[ch]
        };
        assert!(at(a, 0) > 40, "red anchor pixel at the first point");
        assert!(at(b, 2) > 40, "blue anchor pixel at the second point");
        assert_eq!(at(a, 2), 0);
    }

    #[test]
    fn anchor_file_forms_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        std::fs::write(
            &p,
            r#"{"anchors":[{"at":[1,2],"point":"left_eye_center"},{"at":[5,2],"point":{"index":30}},{"at":[3,9],"point":[48,54]}]}"#,
        )
        .unwrap();
        let f = AnchorFile::read(&p).unwrap();
        assert_eq!(f.anchors.len(), 3);
        assert_eq!(f.anchors[2].point, PointRef::Mean(vec![48, 54]));
        std::fs::write(&p, r#"{"anchors":[{"at":[1,2],"point":"nose_tip"}]}"#).unwrap();
        let e = AnchorFile::read(&p).unwrap_err().to_string();
        assert!(e.contains("at least 2"), "{e}");
        std::fs::write(
            &p,
            r#"{"anchors":[{"at":[1,2],"point":"nose"},{"at":[3,2],"point":"chin"}]}"#,
        )
        .unwrap();
        let e = AnchorFile::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("anchors[0].point") && e.contains("nose_tip"),
            "{e}"
        );
    }
}
