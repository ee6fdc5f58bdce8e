//! How a face is cut out of a photo for a network, and how points map in and out of the crop.
//!
//! One definition shared by training (augmentation, cache), inference and tracking, so a model
//! always sees faces framed the way it was trained.
//!
//! Frames:
//! - *photo pixels*: `[x, y]` in the source image;
//! - *input pixels*: `[x, y]` in the `size × size` network input;
//! - *normalised*: `u = (x - size/2) / (size/2)`, i.e. `[-1, 1]` about the crop centre (the
//!   seeds' convention), x before y, flattened `[u0, v0, u1, v1, …]`.

use crate::{Affine2, BoxF, Point, Scheme};
use serde::{Deserialize, Serialize};

/// Crop policy: a square centred on the *landmark box* (the tight box around the face's
/// landmarks), side `max(w, h) · (1 + 2·margin)`.
///
/// With `align`, the crop is also turned so that the face's eye line is level (an *aligned*
/// crop, [`CropSpec::transform_points`]). It needs the face's points, not only a box, so an
/// aligned model is a refinement stage: it takes a first model's points and returns better ones
/// from a crop with roll removed, the variation a single regression finds hardest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropSpec {
    /// Extra context on each side, as a fraction of the landmark box's longer side.
    pub margin: f32,
    /// Roll-normalised crops from points (a refiner); `false` = axis-aligned crops from a box.
    #[serde(default)]
    pub align: bool,
}

impl Default for CropSpec {
    fn default() -> Self {
        CropSpec {
            margin: 0.15,
            align: false,
        }
    }
}

impl CropSpec {
    /// An axis-aligned crop policy with `margin`.
    pub fn with_margin(margin: f32) -> CropSpec {
        CropSpec {
            margin,
            ..CropSpec::default()
        }
    }

    /// The roll of a face in radians, in `(-π/2, π/2]`: the angle of its eye line (from the
    /// scheme's `norm_pair`, e.g. outer eye corners 36 → 45, else the eye centres) against the
    /// photo's +x axis, positive clockwise on screen. Schemes list the pair in either order
    /// (68: image-left eye first; Kaggle 15: image-right first), so the line is taken without
    /// its direction: a face is assumed less than 90° from upright. `None` when the scheme
    /// names no eyes or they are missing (non-finite) or coincide.
    pub fn roll(points: &[Point], scheme: &Scheme) -> Option<f32> {
        let (a, b) = match scheme.norm_pair {
            Some((i, j)) => (*points.get(i)?, *points.get(j)?),
            None => scheme.eye_centres(points)?,
        };
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let ok = dx.is_finite() && dy.is_finite() && dx.hypot(dy) > 1e-3;
        ok.then(|| {
            let r = dy.atan2(dx);
            let half = std::f32::consts::FRAC_PI_2;
            if r > half {
                r - std::f32::consts::PI
            } else if r <= -half {
                r + std::f32::consts::PI
            } else {
                r
            }
        })
    }

    /// Photo pixels → input pixels for the face whose landmarks (photo pixels; non-finite
    /// entries are ignored) are `points`: turned by `-roll` (when `align` and the roll is known)
    /// so the eyes are level, then the square crop of the turned points' tight box, as
    /// [`CropSpec::transform`]. Without `align` this is exactly
    /// `transform(&BoxF::around(points))`. `None` when no point is finite.
    pub fn transform_points(
        &self,
        points: &[Point],
        scheme: &Scheme,
        size: u32,
    ) -> Option<Affine2> {
        let turn = match (self.align, Self::roll(points, scheme)) {
            (true, Some(r)) => Affine2::rotate(-r),
            _ => Affine2::IDENTITY,
        };
        let turned: Vec<Point> = points.iter().map(|&p| turn.apply(p)).collect();
        let b = BoxF::around(&turned)?;
        Some(turn.followed_by(&self.transform(&b, size)))
    }

    /// The square region of the photo (photo pixels) that becomes the crop.
    pub fn region(&self, landmark_box: &BoxF) -> BoxF {
        landmark_box.square(1.0 + 2.0 * self.margin)
    }
    /// Photo pixels → input pixels for a `size × size` input.
    pub fn transform(&self, landmark_box: &BoxF, size: u32) -> Affine2 {
        Affine2::crop_to(&self.region(landmark_box), size, size)
    }
}

/// Input pixels → normalised `[-1, 1]` coordinates, flattened x, y.
pub fn normalise_points(points: &[Point], size: u32) -> Vec<f32> {
    let h = size as f32 * 0.5;
    points
        .iter()
        .flat_map(|p| [(p[0] - h) / h, (p[1] - h) / h])
        .collect()
}

/// Normalised `[-1, 1]` coordinates (flattened x, y) → input pixels.
pub fn denormalise_points(uv: &[f32], size: u32) -> Vec<Point> {
    let h = size as f32 * 0.5;
    uv.chunks_exact(2)
        .map(|c| [c[0] * h + h, c[1] * h + h])
        .collect()
}

/// 8-bit gray pixels → network input values in `[-1, 1]` (`v / 127.5 - 1`), the seeds' scaling.
pub fn gray_to_input(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&v| v as f32 / 127.5 - 1.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 68-point mean shape (landmark-box units) turned by `deg` (clockwise on screen),
    /// scaled to 100 px and moved to (200, 150).
    fn turned_face(deg: f32) -> Vec<Point> {
        let r = Affine2::rotate(deg.to_radians());
        crate::scheme::IBUG68_MEAN
            .iter()
            .map(|&p| {
                let q = r.apply([p[0] * 100.0, p[1] * 100.0]);
                [q[0] + 200.0, q[1] + 150.0]
            })
            .collect()
    }

    #[test]
    fn an_aligned_crop_levels_the_eyes_and_frames_the_points() {
        let scheme = Scheme::ibug68();
        let aligned = CropSpec {
            align: true,
            ..CropSpec::default()
        };
        let upright = turned_face(0.0);
        let reference: Vec<Point> = {
            let t = aligned.transform_points(&upright, &scheme, 80).unwrap();
            upright.iter().map(|&p| t.apply(p)).collect()
        };
        // the mean shape's own eye line is not exactly level
        let base = CropSpec::roll(&upright, &scheme).unwrap();
        for deg in [-35.0f32, -10.0, 25.0] {
            let face = turned_face(deg);
            let roll = CropSpec::roll(&face, &scheme).unwrap() - base;
            assert!(
                (roll.to_degrees() - deg).abs() < 0.01,
                "roll {roll} for {deg}°"
            );
            let t = aligned.transform_points(&face, &scheme, 80).unwrap();
            let moved: Vec<Point> = face.iter().map(|&p| t.apply(p)).collect();
            // eyes level, and the same crop as the upright face's (the turn is undone)
            assert!((moved[36][1] - moved[45][1]).abs() < 0.01);
            for (m, r) in moved.iter().zip(&reference) {
                assert!((m[0] - r[0]).abs() < 0.05 && (m[1] - r[1]).abs() < 0.05);
            }
            // without align: the box crop of the points, as `transform`
            let plain = CropSpec::default();
            let b = BoxF::around(&face).unwrap();
            assert_eq!(
                plain.transform_points(&face, &scheme, 80),
                Some(plain.transform(&b, 80))
            );
        }
        // a scheme listing its eye pair image-right first (Kaggle 15) is not turned over
        let k15 = Scheme::kaggle15();
        let face15 = crate::scheme::ibug68_to_kaggle15(&turned_face(10.0));
        let r15 = CropSpec::roll(&face15, &k15).unwrap().to_degrees();
        assert!((r15 - 10.0).abs() < 3.0, "kaggle15 roll {r15}°");
        // no eyes known (generic scheme): an axis-aligned crop; no finite point: none
        let generic = Scheme::generic(68);
        let face = turned_face(20.0);
        let b = BoxF::around(&face).unwrap();
        assert_eq!(
            aligned.transform_points(&face, &generic, 80),
            Some(aligned.transform(&b, 80))
        );
        assert_eq!(
            aligned.transform_points(&[[f32::NAN, 0.0]], &scheme, 80),
            None
        );
    }

    #[test]
    fn normalisation_round_trips_and_centres() {
        let pts = [[0.0, 0.0], [48.0, 48.0], [96.0, 24.0]];
        let uv = normalise_points(&pts, 96);
        assert_eq!(&uv[..4], &[-1.0, -1.0, 0.0, 0.0]);
        let back = denormalise_points(&uv, 96);
        assert_eq!(back, pts.to_vec());
    }

    #[test]
    fn crop_maps_landmark_box_inside_input() {
        let spec = CropSpec::with_margin(0.25);
        let b = BoxF::new(100.0, 50.0, 80.0, 100.0);
        let t = spec.transform(&b, 64);
        let c = t.apply(b.center());
        assert!((c[0] - 32.0).abs() < 1e-3 && (c[1] - 32.0).abs() < 1e-3);
        // the longer side (100 px) spans 64 / 1.5 input pixels
        let top = t.apply([140.0, 50.0]);
        let bottom = t.apply([140.0, 150.0]);
        assert!(((bottom[1] - top[1]) - 64.0 / 1.5).abs() < 1e-3);
    }
}
