//! The two seams of the pipeline, so that stages can be swapped and tested in isolation.

use crate::{BoxF, Point, Scheme};
use image::GrayImage;

/// A face found by a detector. `bbox` in pixels of the searched image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    pub bbox: BoxF,
    /// Detector confidence; its scale depends on the detector (cascade: neighbour count).
    pub score: f32,
}

/// Finds faces in a gray image.
pub trait FaceDetector: Send + Sync {
    /// Faces in `image`, boxes in its pixels. Requires nothing of the image size (tiny images
    /// simply give no faces).
    fn detect(&self, image: &GrayImage) -> Vec<Detection>;
    /// A short name for logs and JSON ("haar:haarcascade_frontalface_default", "seetaface").
    fn name(&self) -> String;
}

/// Places landmarks on a face.
pub trait Landmarker: Send + Sync {
    fn scheme(&self) -> &Scheme;
    /// Landmarks `[x, y]` in pixels of `image` for the face whose detector-style box is
    /// `face_box` (the square-ish box a frontal face detector gives, roughly brows to chin).
    fn landmarks(&self, image: &GrayImage, face_box: &BoxF) -> Vec<Point>;
}
