//! The two seams of the pipeline, so that stages can be swapped and tested in isolation.

use crate::{BoxF, Point, Scheme};
use image::GrayImage;

/// A face found by a detector. `bbox` in pixels of the searched image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    /// The face's box.
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
    /// The scheme of the points [`Landmarker::landmarks`] returns.
    fn scheme(&self) -> &Scheme;
    /// Landmarks `[x, y]` in pixels of `image` for the face whose *landmark box* (the tight box
    /// around its landmarks, as in [`crate::CropSpec`]) is about `face_box`. Callers get such a
    /// box from the previous frame's points (tracking), from ground truth (evaluation), or from
    /// a detector box through a calibration (the `facemark` crate's pipeline does this).
    fn landmarks(&self, image: &GrayImage, face_box: &BoxF) -> Vec<Point>;
    /// For tracking: the points to report, as [`Landmarker::landmarks`] gives them, and the
    /// points the next frame's box should follow. The default gives the same points twice. A
    /// landmarker whose last stage corrects the points with piecewise-constant trees (a
    /// refinement cascade) follows its earlier points instead, so that the trees'
    /// frame-to-frame jumps do not feed back into the next crop.
    fn landmarks_to_track(&self, image: &GrayImage, face_box: &BoxF) -> (Vec<Point>, Vec<Point>) {
        let p = self.landmarks(image, face_box);
        (p.clone(), p)
    }
}
