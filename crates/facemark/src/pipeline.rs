//! The whole job on one photo: detect faces, frame each as the model was trained, place landmarks.

use crate::calibration::BoxCalibration;
use facemark_core::{BoxF, Detection, FaceDetector, Landmarker, Point, Scheme};
use facemark_model::KeypointModel;
use image::{DynamicImage, GrayImage};
use serde::Serialize;
use std::collections::BTreeMap;

/// Default landmark model bytes (safetensors with metadata), embedded at build time.
static DEFAULT_MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default.safetensors"));
/// Detector → landmark box calibrations (JSON map by detector name), embedded at build time.
static CALIBRATIONS: &str = include_str!(concat!(env!("OUT_DIR"), "/calibration.json"));

/// Errors of the end-to-end pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("this build has no embedded default model (models/default.safetensors was missing at build time); pass a model file with --model")]
    NoEmbeddedModel,
    #[error("landmark model: {0}")]
    Model(#[from] facemark_model::ModelError),
    #[error("face detector: {0}")]
    Detector(#[from] facemark_detect::DetectError),
}

/// One face found in a photo.
#[derive(Debug, Clone, Serialize)]
pub struct Face {
    /// The detector's own box and score (pixels); `None` when the box was given by hand or
    /// came from tracking.
    pub detection: Option<Detection>,
    /// The landmark box the model was run on (pixels).
    pub landmark_box: BoxF,
    /// Landmarks `[x, y]` in photo pixels, in the model's scheme.
    pub points: Vec<Point>,
}

/// Face detector + landmark model, ready to run: `facemark::Detector::default()?.detect(&img)`.
///
/// By default one model pass per face (fastest); [`Detector::with_flip`] and
/// [`Detector::with_refine`] trade time for accuracy (figures in README).
pub struct Detector {
    detector: Box<dyn FaceDetector>,
    calibration: BoxCalibration,
    model: KeypointModel,
    /// Extra passes re-cropping on the previous pass's points (0 = single pass).
    refine: usize,
    /// Average each prediction with the prediction on the mirrored crop (test-time flip).
    flip: bool,
}

/// The embedded default model, decoded once per call.
pub fn default_model() -> Result<KeypointModel, Error> {
    if DEFAULT_MODEL.is_empty() {
        return Err(Error::NoEmbeddedModel);
    }
    Ok(KeypointModel::from_bytes(DEFAULT_MODEL)?)
}

/// The embedded calibration for a detector name (identity when none was measured).
pub fn calibration_for(detector_name: &str) -> BoxCalibration {
    let map: BTreeMap<String, BoxCalibration> =
        serde_json::from_str(CALIBRATIONS).unwrap_or_default();
    map.get(detector_name).copied().unwrap_or_default()
}

impl Detector {
    /// The built-in face detector and the embedded default model.
    #[allow(clippy::should_implement_trait)]
    pub fn default() -> Result<Detector, Error> {
        Ok(Detector::new(
            facemark_detect::default_detector()?,
            default_model()?,
        ))
    }

    /// Any detector and model; the calibration is the embedded one for this detector.
    pub fn new(detector: Box<dyn FaceDetector>, model: KeypointModel) -> Detector {
        let calibration = calibration_for(&detector.name());
        Detector {
            detector,
            calibration,
            model,
            refine: 0,
            flip: false,
        }
    }

    /// Replace the detector-box calibration (e.g. one just measured).
    pub fn with_calibration(mut self, c: BoxCalibration) -> Self {
        self.calibration = c;
        self
    }

    /// Set the number of refinement passes (each re-crops on the last points).
    pub fn with_refine(mut self, passes: usize) -> Self {
        self.refine = passes;
        self
    }

    /// Turn the test-time flip (mirrored crop averaged in) on or off.
    pub fn with_flip(mut self, on: bool) -> Self {
        self.flip = on;
        self
    }

    pub fn scheme(&self) -> &Scheme {
        self.model.scheme()
    }
    pub fn model(&self) -> &KeypointModel {
        &self.model
    }
    pub fn face_detector(&self) -> &dyn FaceDetector {
        self.detector.as_ref()
    }
    pub fn calibration(&self) -> BoxCalibration {
        self.calibration
    }

    /// Faces and landmarks in a photo (any colour type; converted to gray with OpenCV's
    /// weights, as the face detectors expect).
    pub fn detect(&self, image: &DynamicImage) -> Vec<Face> {
        self.detect_gray(&facemark_detect::to_gray(image))
    }

    /// Faces and landmarks in a gray photo. Boxes and points in its pixels.
    pub fn detect_gray(&self, gray: &GrayImage) -> Vec<Face> {
        self.detector
            .detect(gray)
            .into_iter()
            .map(|d| {
                let lb = self.calibration.apply(&d.bbox);
                let mut face = self.face_in_box(gray, &lb);
                face.detection = Some(d);
                face
            })
            .collect()
    }

    /// The detected face matching an annotated one: the detection whose calibrated landmark box
    /// overlaps `landmark_box` best, if that overlap (IoU) is at least `min_iou`. For
    /// evaluating the whole pipeline against annotations.
    pub fn detect_matching(
        &self,
        gray: &GrayImage,
        landmark_box: &BoxF,
        min_iou: f32,
    ) -> Option<Face> {
        self.detect_gray(gray)
            .into_iter()
            .map(|f| (f.landmark_box.iou(landmark_box), f))
            .filter(|(iou, _)| *iou >= min_iou)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, f)| f)
    }

    /// Landmarks for a face whose landmark box is known (by hand, from tracking, or from a
    /// calibrated detection), with the configured refinement passes.
    pub fn face_in_box(&self, gray: &GrayImage, landmark_box: &BoxF) -> Face {
        let mut lb = *landmark_box;
        let mut points = self.model_points(gray, &lb);
        for _ in 0..self.refine {
            match BoxF::around(&points) {
                Some(b) if b.w > 2.0 && b.h > 2.0 => {
                    lb = b;
                    points = self.model_points(gray, &lb);
                }
                _ => break,
            }
        }
        Face {
            detection: None,
            landmark_box: lb,
            points,
        }
    }
}

impl Detector {
    /// One model pass on the crop of `lb`; with `flip`, the crop and its mirror image go
    /// through the network as one batch of two, and the mirrored prediction is mapped back
    /// (normalised x negated, points permuted by the scheme's mirror) and averaged in.
    fn model_points(&self, gray: &GrayImage, lb: &BoxF) -> Vec<Point> {
        if !self.flip {
            return self.model.landmarks(gray, lb);
        }
        let (input, t) = self.model.crop_input(gray, lb);
        let s = self.model.input_size() as usize;
        let mut both = Vec::with_capacity(2 * input.len());
        both.extend_from_slice(&input);
        both.extend(
            input
                .chunks_exact(s)
                .flat_map(|row| row.iter().rev().copied()),
        );
        let Ok(out) = self.model.predict_batch(&both, 2) else {
            return self.model.landmarks(gray, lb);
        };
        let n = self.scheme().len();
        let (a, b) = out.split_at(2 * n);
        let mirror = &self.scheme().mirror;
        let uv: Vec<f32> = (0..n)
            .flat_map(|i| {
                let j = mirror[i];
                [
                    (a[2 * i] - b[2 * j]) * 0.5,
                    (a[2 * i + 1] + b[2 * j + 1]) * 0.5,
                ]
            })
            .collect();
        self.model.to_photo(&uv, &t)
    }
}

/// A [`FaceDetector`] whose boxes are already calibrated landmark boxes, for callers that
/// work with the [`Landmarker`] seam directly (tracking in `facemark-apps`).
pub struct CalibratedDetector<'a>(pub &'a Detector);

impl FaceDetector for CalibratedDetector<'_> {
    fn detect(&self, image: &GrayImage) -> Vec<Detection> {
        self.0
            .detector
            .detect(image)
            .into_iter()
            .map(|d| Detection {
                bbox: self.0.calibration.apply(&d.bbox),
                score: d.score,
            })
            .collect()
    }
    fn name(&self) -> String {
        format!("{}+calibrated", self.0.detector.name())
    }
}

/// The model with the pipeline's refinement, as a [`Landmarker`].
impl Landmarker for Detector {
    fn scheme(&self) -> &Scheme {
        self.model.scheme()
    }
    fn landmarks(&self, image: &GrayImage, face_box: &BoxF) -> Vec<Point> {
        self.face_in_box(image, face_box).points
    }
}
