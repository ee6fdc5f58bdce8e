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

use crate::{Affine2, BoxF, Point};
use serde::{Deserialize, Serialize};

/// Crop policy: a square centred on the *landmark box* (the tight box around the face's
/// landmarks), side `max(w, h) · (1 + 2·margin)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropSpec {
    /// Extra context on each side, as a fraction of the landmark box's longer side.
    pub margin: f32,
}

impl Default for CropSpec {
    fn default() -> Self {
        CropSpec { margin: 0.15 }
    }
}

impl CropSpec {
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
        let spec = CropSpec { margin: 0.25 };
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
