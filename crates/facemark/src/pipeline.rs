//! The whole job on one photo: detect faces, frame each as the model was trained, place landmarks.

use crate::calibration::BoxCalibration;
use facemark_core::pose::{head_pose, HeadPose};
use facemark_core::{Affine2, BoxF, Detection, FaceDetector, Landmarker, Point, Scheme};
use facemark_ert::landmarker::refine_if;
use facemark_ert::{DlibRect, ShapePredictor};
use facemark_model::KeypointModel;
use image::{DynamicImage, GrayImage};
use serde::Serialize;
use std::collections::BTreeMap;

/// Default landmark model bytes (safetensors with metadata), embedded at build time.
static DEFAULT_MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default.safetensors"));
/// The default model's refinement cascade (dlib `.dat` bytes), embedded at build time.
/// Detector → landmark box calibrations (JSON map by detector name), embedded at build time.
static CALIBRATIONS: &str = include_str!(concat!(env!("OUT_DIR"), "/calibration.json"));

/// Errors of the end-to-end pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `default_model()` in a build made without `models/default.safetensors`.
    #[error("this build has no embedded default model (models/default.safetensors was missing at build time); pass a model file with --model")]
    NoEmbeddedModel,
    /// `default_cascade()` when the embedded default model carries no refinement cascade.
    #[error("the embedded default model carries no refinement cascade; pass one with --refiner FILE.dat")]
    NoEmbeddedCascade,
    /// The model given as refiner is not one (`is_refiner`), or places another scheme's points.
    #[error("{0}")]
    Refiner(String),
    /// Loading or running the landmark model failed.
    #[error("landmark model: {0}")]
    Model(#[from] facemark_model::ModelError),
    /// Building the face detector failed.
    #[error("face detector: {0}")]
    Detector(#[from] facemark_detect::DetectError),
    /// Loading a dlib shape predictor failed.
    #[error("dlib shape predictor: {0}")]
    ShapePredictor(#[from] facemark_ert::ErtError),
}

/// The landmark model behind a [`Pipeline`]: one of facemark's networks, or a dlib shape
/// predictor (`.dat`, `facemark_ert`).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per pipeline
pub enum LandmarkModel {
    /// A facemark keypoint network.
    Cnn(KeypointModel),
    /// A dlib shape predictor (ensemble of regression trees), run exactly as dlib runs it.
    Ert(ShapePredictor),
}

impl LandmarkModel {
    /// The points' scheme.
    pub fn scheme(&self) -> &Scheme {
        match self {
            LandmarkModel::Cnn(m) => m.scheme(),
            LandmarkModel::Ert(m) => m.scheme(),
        }
    }
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
    /// Head pose (yaw, pitch, roll in degrees; rotation and translation for drawing) fitted to
    /// the points ([`facemark_core::pose`]: conventions, assumed camera). `None` for schemes
    /// other than iBUG 68 (no 3-D model) or when the fit fails; left out of the JSON then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pose: Option<HeadPose>,
}

/// Face detector + landmark model, ready to run: `facemark::Pipeline::default()?.detect(&img)`.
///
/// By default one model pass per face (fastest); [`Pipeline::with_flip`] and
/// [`Pipeline::with_refine`] trade time for accuracy (figures in README). Refinement passes
/// run the refiner when there is one ([`Pipeline::with_refiner`]), else the model again on the
/// box around its last points.
pub struct Pipeline {
    detector: Box<dyn FaceDetector>,
    calibration: BoxCalibration,
    model: LandmarkModel,
    /// Second-stage model on roll-normalised crops from the last points (`is_refiner`).
    refiner: Option<KeypointModel>,
    /// Refinement cascade run once from the final points ([`Pipeline::with_cascade`]).
    cascade: Option<ShapePredictor>,
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

/// The refinement cascade the embedded default model carries (trained from its points by
/// `facemark train --config models/refine_cascade.toml`); decoded once per call. It refines
/// the default model's points only: another model's errors are not the ones it learnt.
/// [`Pipeline::default`] runs it already.
pub fn default_cascade() -> Result<ShapePredictor, Error> {
    default_model()?.cascade.ok_or(Error::NoEmbeddedCascade)
}

/// The embedded calibration for a detector name (identity when none was measured).
pub fn calibration_for(detector_name: &str) -> BoxCalibration {
    let map: BTreeMap<String, BoxCalibration> =
        serde_json::from_str(CALIBRATIONS).unwrap_or_default();
    map.get(detector_name).copied().unwrap_or_default()
}

/// Old name of [`Pipeline`], the whole face detector + landmark model pipeline.
#[deprecated(
    note = "renamed `Pipeline`: the detector + landmarker pipeline (beside the `FaceDetector` trait and `CalibratedDetector`)"
)]
pub type Detector = Pipeline;

impl Pipeline {
    /// The built-in face detector and the embedded default model.
    #[allow(clippy::should_implement_trait)]
    pub fn default() -> Result<Pipeline, Error> {
        Pipeline::new(facemark_detect::default_detector()?, default_model()?)
    }

    /// Any detector and model; the calibration is the embedded one for this detector. The
    /// model's own refinement cascade ([`KeypointModel::cascade`]), when it carries one,
    /// becomes the pipeline's ([`Pipeline::with_cascade`] replaces or removes it).
    ///
    /// Requires a model that finds points from a box: a refiner (`is_refiner`) is refused,
    /// it belongs in [`Pipeline::with_refiner`].
    pub fn new(
        detector: Box<dyn FaceDetector>,
        mut model: KeypointModel,
    ) -> Result<Pipeline, Error> {
        model.require_box_model()?;
        let calibration = calibration_for(&detector.name());
        let cascade = model.cascade.take();
        Ok(Pipeline {
            detector,
            calibration,
            model: LandmarkModel::Cnn(model),
            refiner: None,
            cascade,
            refine: 0,
            flip: false,
        })
    }

    /// Any detector and a dlib shape predictor (`facemark_ert`). Detections go through the
    /// detector's calibration to a landmark box, then through the predictor's mean shape to its
    /// face rectangle ([`ShapePredictor::rect_for_landmark_box`]). Refinement passes re-run it
    /// on the box around its last points; there is no refiner nor test-time flip for it.
    pub fn with_shape_predictor(detector: Box<dyn FaceDetector>, sp: ShapePredictor) -> Pipeline {
        let calibration = calibration_for(&detector.name());
        Pipeline {
            detector,
            calibration,
            model: LandmarkModel::Ert(sp),
            refiner: None,
            cascade: None,
            refine: 0,
            flip: false,
        }
    }

    /// Set (or with `None` remove) the refiner that refinement passes run.
    ///
    /// Requires a refiner model (`is_refiner`) with the same scheme as the first model: it
    /// reads that model's points.
    pub fn with_refiner(mut self, refiner: Option<KeypointModel>) -> Result<Self, Error> {
        if refiner.is_some() && matches!(self.model, LandmarkModel::Ert(_)) {
            return Err(Error::Refiner(
                "a refiner refines a facemark model's points, not a dlib shape predictor's".into(),
            ));
        }
        if let Some(r) = &refiner {
            if !r.is_refiner() {
                return Err(Error::Refiner(
                    "the refiner was trained on box crops, not on crops aligned on a face's points (crop_align); pass it as the model instead".into(),
                ));
            }
            if r.scheme().name != self.scheme().name || r.scheme().len() != self.scheme().len() {
                return Err(Error::Refiner(format!(
                    "the refiner places {} points ({}) but the model {} ({}); they must share a scheme",
                    r.scheme().len(),
                    r.scheme().name,
                    self.scheme().len(),
                    self.scheme().name
                )));
            }
        }
        self.refiner = refiner;
        Ok(self)
    }

    /// Set (or with `None` remove) a refinement cascade: a shape predictor trained from this
    /// pipeline's model's points (`facemark train --arch ert --init MODEL`), run once from the
    /// final points of every face (after the refinement passes,
    /// [`ShapePredictor::refine_points`]).
    ///
    /// Requires a facemark model (not a dlib predictor) and a cascade with its point count.
    pub fn with_cascade(mut self, cascade: Option<ShapePredictor>) -> Result<Self, Error> {
        if let Some(c) = &cascade {
            if matches!(self.model, LandmarkModel::Ert(_)) {
                return Err(Error::Refiner(
                    "a refinement cascade refines a facemark model's points, not a dlib shape predictor's".into(),
                ));
            }
            if c.num_parts() != self.scheme().len() {
                return Err(Error::Refiner(format!(
                    "the refinement cascade places {} points but the model {}",
                    c.num_parts(),
                    self.scheme().len()
                )));
            }
        }
        self.cascade = cascade;
        Ok(self)
    }

    /// The refinement cascade, when there is one.
    pub fn cascade(&self) -> Option<&ShapePredictor> {
        self.cascade.as_ref()
    }

    /// The refiner, when refinement passes use one.
    pub fn refiner(&self) -> Option<&KeypointModel> {
        self.refiner.as_ref()
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

    /// Turn the test-time flip (mirrored crop averaged in) on or off (facemark models; a dlib
    /// shape predictor runs without it).
    pub fn with_flip(mut self, on: bool) -> Self {
        self.flip = on;
        self
    }

    /// The landmark scheme of the model's points (names, mirror pairs, groups).
    pub fn scheme(&self) -> &Scheme {
        self.model.scheme()
    }
    /// The facemark landmark network; `None` when the pipeline runs a dlib shape predictor.
    pub fn model(&self) -> Option<&KeypointModel> {
        match &self.model {
            LandmarkModel::Cnn(m) => Some(m),
            LandmarkModel::Ert(_) => None,
        }
    }
    /// The dlib shape predictor; `None` when the pipeline runs a facemark network.
    pub fn shape_predictor(&self) -> Option<&ShapePredictor> {
        match &self.model {
            LandmarkModel::Cnn(_) => None,
            LandmarkModel::Ert(sp) => Some(sp),
        }
    }
    /// The landmark model, whichever kind.
    pub fn landmark_model(&self) -> &LandmarkModel {
        &self.model
    }
    /// The face detector.
    pub fn face_detector(&self) -> &dyn FaceDetector {
        self.detector.as_ref()
    }
    /// The detector box → landmark box calibration in use.
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
    /// calibrated detection), with the configured refinement passes: each runs the refiner on
    /// its crop aligned on the last points, or without a refiner the model again on the box
    /// around them. `landmark_box` of the result is the box around the points the last pass
    /// started from (the given box when there was no pass). The pose is fitted to the final
    /// points with the camera assumed for a photo of `gray`'s size.
    pub fn face_in_box(&self, gray: &GrayImage, landmark_box: &BoxF) -> Face {
        let cnn = match &self.model {
            LandmarkModel::Cnn(m) => m,
            LandmarkModel::Ert(sp) => {
                return self.ert_passes(gray, sp, sp.rect_for_landmark_box(landmark_box))
            }
        };
        let (lb, points) = self.network_points(cnn, gray, landmark_box);
        self.face_of(gray, lb, refine_if(self.cascade.as_ref(), gray, points))
    }

    /// A face of final `points` (pixels of `gray`) found from `landmark_box`, with the pose
    /// fitted to them for a photo of `gray`'s size.
    fn face_of(&self, gray: &GrayImage, landmark_box: BoxF, points: Vec<Point>) -> Face {
        let pose = head_pose(&points, self.scheme(), gray.width(), gray.height());
        Face {
            detection: None,
            landmark_box,
            points,
            pose,
        }
    }

    /// A CNN's points before the refinement cascade: its pass on the landmark box and the
    /// refinement passes; with the last box a pass cropped on.
    fn network_points(
        &self,
        cnn: &KeypointModel,
        gray: &GrayImage,
        landmark_box: &BoxF,
    ) -> (BoxF, Vec<Point>) {
        let mut lb = *landmark_box;
        let mut points = self.model_points(cnn, gray, &cnn.crop_for_box(&lb));
        // a pass crops on the last points by its model's own policy: the refiner's turned
        // crop, or the model's box crop (`crop_for_points` of a box model is the crop of the
        // points' box)
        let model = self.refiner.as_ref().unwrap_or(cnn);
        for _ in 0..self.refine {
            let Some(b) = BoxF::around(&points).filter(|b| b.w > 2.0 && b.h > 2.0) else {
                break;
            };
            let Some(t) = model.crop_for_points(&points) else {
                break;
            };
            lb = b;
            points = self.model_points(model, gray, &t);
        }
        (lb, points)
    }

    /// Landmarks for a face in a box a person gave (`--box X,Y,W,H`): for a facemark model
    /// the face's landmark box ([`Pipeline::face_in_box`]); for a dlib shape predictor dlib's
    /// own face rectangle, `rectangle(X, Y, X+W−1, Y+H−1)` for whole numbers, so that its
    /// points are dlib's for that rectangle.
    pub fn face_in_given_box(&self, gray: &GrayImage, b: &BoxF) -> Face {
        match &self.model {
            LandmarkModel::Cnn(_) => self.face_in_box(gray, b),
            LandmarkModel::Ert(sp) => {
                let r = DlibRect::from_xywh(b.x as f64, b.y as f64, b.w as f64, b.h as f64);
                self.ert_passes(gray, sp, r)
            }
        }
    }

    /// Landmarks for a photo that is already a face crop: framed like a facemark model's
    /// training crops (its margin undone to get the landmark box), or, for a dlib shape
    /// predictor, the whole image as its face rectangle.
    pub fn face_in_whole_image(&self, gray: &GrayImage) -> Face {
        let (w, h) = (gray.width() as f32, gray.height() as f32);
        match &self.model {
            LandmarkModel::Cnn(m) => {
                let margin = m.meta.crop.margin;
                let (lw, lh) = (w / (1.0 + 2.0 * margin), h / (1.0 + 2.0 * margin));
                self.face_in_box(gray, &BoxF::new((w - lw) * 0.5, (h - lh) * 0.5, lw, lh))
            }
            LandmarkModel::Ert(sp) => self.ert_passes(
                gray,
                sp,
                DlibRect::new(0.0, 0.0, w as f64 - 1.0, h as f64 - 1.0),
            ),
        }
    }

    /// The shape predictor on `rect`, then the refinement passes (each on the rectangle of the
    /// box around the last points). `landmark_box`: the box the last pass started from.
    fn ert_passes(&self, gray: &GrayImage, sp: &ShapePredictor, rect: DlibRect) -> Face {
        let mut scratch = facemark_ert::Scratch::default();
        let mut lb = sp.landmark_box_for_rect(&rect);
        let mut points = sp.points_in_rect(gray, &rect, &mut scratch);
        for _ in 0..self.refine {
            let Some(b) = BoxF::around(&points).filter(|b| b.w > 2.0 && b.h > 2.0) else {
                break;
            };
            lb = b;
            points = sp.points_in_rect(gray, &sp.rect_for_landmark_box(&b), &mut scratch);
        }
        self.face_of(gray, lb, points)
    }
}

impl Pipeline {
    /// One pass of `model` on the crop `t` (photo pixels → input pixels); with `flip`, the
    /// crop and its mirror image go through the network as one batch of two, and the mirrored
    /// prediction is mapped back (normalised x negated, points permuted by the scheme's
    /// mirror) and averaged in.
    fn model_points(&self, model: &KeypointModel, gray: &GrayImage, t: &Affine2) -> Vec<Point> {
        if !self.flip {
            return model.points_through(gray, t);
        }
        let input = model.input_through(gray, t);
        let s = model.input_size() as usize;
        let mut both = Vec::with_capacity(2 * input.len());
        both.extend_from_slice(&input);
        both.extend(
            input
                .chunks_exact(s)
                .flat_map(|row| row.iter().rev().copied()),
        );
        let Ok(out) = model.predict_batch(&both, 2) else {
            return model.points_through(gray, t);
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
        model.to_photo(&uv, t)
    }
}

/// A [`FaceDetector`] whose boxes are already calibrated landmark boxes, for callers that
/// work with the [`Landmarker`] seam directly (tracking in `facemark-apps`).
pub struct CalibratedDetector<'a>(pub &'a Pipeline);

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
impl Landmarker for Pipeline {
    fn scheme(&self) -> &Scheme {
        self.model.scheme()
    }
    fn landmarks(&self, image: &GrayImage, face_box: &BoxF) -> Vec<Point> {
        self.face_in_box(image, face_box).points
    }
    /// With a refinement cascade: its points to report, the network's to follow.
    fn landmarks_to_track(&self, image: &GrayImage, face_box: &BoxF) -> (Vec<Point>, Vec<Point>) {
        match &self.model {
            LandmarkModel::Cnn(cnn) => {
                let (_, follow) = self.network_points(cnn, image, face_box);
                (
                    refine_if(self.cascade.as_ref(), image, follow.clone()),
                    follow,
                )
            }
            LandmarkModel::Ert(_) => {
                let p = self.landmarks(image, face_box);
                (p.clone(), p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use facemark_core::CropSpec;
    use facemark_model::{ArchConfig, ModelMeta};

    #[test]
    #[allow(deprecated)] // checks that the old name still builds and names the pipeline
    fn detector_is_the_old_name_of_pipeline() {
        let from_old: fn() -> Result<crate::Detector, Error> = Pipeline::default;
        let _ = from_old;
        assert_eq!(
            std::any::type_name::<crate::Detector>(),
            std::any::type_name::<Pipeline>()
        );
    }

    /// Finds nothing: these tests give boxes by hand.
    struct NoFaces;
    impl FaceDetector for NoFaces {
        fn detect(&self, _: &GrayImage) -> Vec<Detection> {
            Vec::new()
        }
        fn name(&self) -> String {
            "none".into()
        }
    }

    /// A 68-point model that always answers `uv` (normalised crop coordinates): its head has
    /// zero weights and `uv` as bias.
    fn constant_model(uv: &[f32], align: bool) -> KeypointModel {
        let arch = ArchConfig {
            input_size: 32,
            ..ArchConfig::mobile(68)
        };
        let mut net = arch.build(3).unwrap();
        let shape = net.param("head.weight").unwrap().shape.clone();
        let n: usize = shape.iter().product();
        net.set("head.weight", &shape, &vec![0.0; n]).unwrap();
        net.set("head.bias", &[uv.len()], uv).unwrap();
        let crop = CropSpec {
            align,
            ..CropSpec::default()
        };
        KeypointModel::new(ModelMeta::new(arch, Scheme::ibug68(), crop), net)
    }

    /// The mean shape turned by 25° (normalised [-1, 1] crop coordinates, within the crop).
    fn turned_mean_uv() -> Vec<f32> {
        let r = Affine2::rotate(25f32.to_radians());
        facemark_core::scheme::IBUG68_MEAN
            .iter()
            .flat_map(|&p| r.apply([p[0] * 1.4, p[1] * 1.4]))
            .collect()
    }

    /// A one-tree cascade of `n` points that moves every point right by `dx` of the width of
    /// the box around the points it starts from.
    fn shifting_cascade(n: usize, dx: f32) -> ShapePredictor {
        let leaf: Vec<f32> = (0..n).flat_map(|_| [dx, 0.0]).collect();
        let tree = facemark_ert::Tree {
            splits: Vec::new(),
            leaf_values: leaf,
        };
        let level = facemark_ert::Level::new(vec![0], vec![[0.0, 0.0]], &[tree]);
        let initial: Vec<f32> = (0..n).flat_map(|k| [k as f32 / n as f32, 0.5]).collect();
        ShapePredictor::new(initial, vec![level]).unwrap()
    }

    #[test]
    fn a_refinement_cascade_runs_from_the_models_final_points() {
        let gray = GrayImage::from_fn(200, 160, |x, y| image::Luma([((x * 3 + y) % 251) as u8]));
        let model = constant_model(&turned_mean_uv(), false);
        let det = || -> Box<dyn FaceDetector> { Box::new(NoFaces) };
        let b = BoxF::new(50.0, 40.0, 90.0, 80.0);
        let plain = Pipeline::new(det(), model.clone())
            .unwrap()
            .face_in_box(&gray, &b);
        let p = Pipeline::new(det(), model.clone())
            .unwrap()
            .with_cascade(Some(shifting_cascade(68, 0.1)))
            .unwrap();
        assert!(p.cascade().is_some());
        let moved = p.face_in_box(&gray, &b);
        let w = BoxF::around(&plain.points).unwrap().w;
        for (a, m) in plain.points.iter().zip(&moved.points) {
            assert!((m[0] - a[0] - 0.1 * w).abs() < 1e-2, "{a:?} → {m:?}");
            assert!((m[1] - a[1]).abs() < 1e-2, "{a:?} → {m:?}");
        }
        // another point count, or a dlib predictor as the model, is refused
        let e = Pipeline::new(det(), model)
            .unwrap()
            .with_cascade(Some(shifting_cascade(5, 0.1)))
            .err()
            .unwrap();
        assert!(e.to_string().contains("5 points"), "{e}");
        let e = Pipeline::with_shape_predictor(det(), shifting_cascade(68, 0.0))
            .with_cascade(Some(shifting_cascade(68, 0.1)))
            .err()
            .unwrap();
        assert!(e.to_string().contains("dlib shape predictor"), "{e}");
    }

    #[test]
    fn refinement_runs_the_refiner_on_the_crop_aligned_on_the_first_points() {
        let gray = GrayImage::from_fn(200, 160, |x, y| image::Luma([((x * 3 + y) % 251) as u8]));
        let first = constant_model(&turned_mean_uv(), false);
        let upright: Vec<f32> = facemark_core::scheme::IBUG68_MEAN
            .iter()
            .flat_map(|p| [p[0] * 1.4, p[1] * 1.4])
            .collect();
        let refiner = constant_model(&upright, true);
        let lb = BoxF::new(60.0, 40.0, 80.0, 90.0);

        let one = Pipeline::new(Box::new(NoFaces), first.clone()).unwrap();
        let p1 = one.face_in_box(&gray, &lb).points;
        let refined = Pipeline::new(Box::new(NoFaces), first)
            .unwrap()
            .with_refiner(Some(refiner.clone()))
            .unwrap()
            .with_refine(1);
        let face = refined.face_in_box(&gray, &lb);
        // the refiner's answer, seen through its crop aligned on the first pass's points
        let t = refiner.crop_for_points(&p1).unwrap();
        let expected = refiner.to_photo(&upright, &t);
        for (a, b) in face.points.iter().zip(&expected) {
            assert!((a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3);
        }
        // that crop is turned: the refiner's level eyes come back at the first pass's roll
        let scheme = Scheme::ibug68();
        let roll = |p: &[Point]| CropSpec::roll(p, &scheme).unwrap().to_degrees();
        let own = roll(&facemark_core::scheme::IBUG68_MEAN); // the mean shape is not quite level
        assert!((roll(&face.points) - roll(&p1) - own).abs() < 0.1);
        assert!(roll(&p1).abs() > 20.0);
        assert_eq!(Some(face.landmark_box), BoxF::around(&p1));
    }

    #[test]
    fn a_refiner_is_refused_as_the_model_and_a_box_model_as_the_refiner() {
        let uv = turned_mean_uv();
        let e = Pipeline::new(Box::new(NoFaces), constant_model(&uv, true)).err();
        assert!(e.unwrap().to_string().contains("is a refiner"));
        let d = Pipeline::new(Box::new(NoFaces), constant_model(&uv, false)).unwrap();
        let e = d.with_refiner(Some(constant_model(&uv, false))).err();
        assert!(e.unwrap().to_string().contains("not on crops aligned"));
        // another scheme
        let arch = ArchConfig {
            input_size: 32,
            ..ArchConfig::mobile(5)
        };
        let five = KeypointModel::new(
            ModelMeta::new(
                arch.clone(),
                Scheme::five(),
                CropSpec {
                    align: true,
                    ..CropSpec::default()
                },
            ),
            arch.build(1).unwrap(),
        );
        let d = Pipeline::new(Box::new(NoFaces), constant_model(&uv, false)).unwrap();
        let e = d.with_refiner(Some(five)).err();
        assert!(e.unwrap().to_string().contains("must share a scheme"));
    }

    #[test]
    fn faces_of_68_point_models_get_a_pose_in_the_json_and_others_none() {
        let gray = GrayImage::new(200, 160);
        let lb = BoxF::new(60.0, 40.0, 80.0, 90.0);
        let scheme = Scheme::ibug68();
        let upright: Vec<f32> = facemark_core::scheme::IBUG68_MEAN
            .iter()
            .flat_map(|p| [p[0] * 1.4, p[1] * 1.4])
            .collect();
        for (uv, turned) in [(upright, false), (turned_mean_uv(), true)] {
            let d = Pipeline::new(Box::new(NoFaces), constant_model(&uv, false)).unwrap();
            let face = d.face_in_box(&gray, &lb);
            let pose = face.pose.expect("a 68-point face has a pose");
            let eye_line = CropSpec::roll(&face.points, &scheme).unwrap().to_degrees();
            assert!(pose.yaw.abs() < 5.0, "{pose:?}");
            assert!((pose.roll - eye_line).abs() < 3.0, "{pose:?} vs {eye_line}");
            assert_eq!(pose.roll.abs() > 20.0, turned);
            let json = serde_json::to_value(&face).unwrap();
            assert!(json["pose"]["yaw"].is_number() && json["pose"]["rotation"].is_array());
        }
        // five points: no 3-D model, no pose, no "pose" key
        let arch = ArchConfig {
            input_size: 32,
            ..ArchConfig::mobile(5)
        };
        let five = KeypointModel::new(
            ModelMeta::new(arch.clone(), Scheme::five(), CropSpec::default()),
            arch.build(1).unwrap(),
        );
        let face = Pipeline::new(Box::new(NoFaces), five)
            .unwrap()
            .face_in_box(&gray, &lb);
        assert!(face.pose.is_none());
        assert!(serde_json::to_value(&face).unwrap().get("pose").is_none());
    }

    /// A tiny dlib shape predictor made by dlib's trainer (`facemark-ert`'s test fixture).
    fn tiny_sp() -> ShapePredictor {
        let p =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ert/tests/data/tiny7.dat");
        ShapePredictor::load(&p).unwrap()
    }

    #[test]
    fn a_shape_predictor_runs_on_dlibs_rectangle_for_a_given_box_and_on_landmark_boxes() {
        let gray = GrayImage::from_fn(120, 90, |x, y| image::Luma([((x * 5 + y * 3) % 253) as u8]));
        let sp = tiny_sp();
        let p = Pipeline::with_shape_predictor(Box::new(NoFaces), sp.clone());
        assert!(p.model().is_none() && p.shape_predictor().is_some());
        assert_eq!(p.scheme().len(), 7);
        // --box 10,12,60,50 is dlib's rectangle(10, 12, 69, 61)
        let face = p.face_in_given_box(&gray, &BoxF::new(10.0, 12.0, 60.0, 50.0));
        let dlib = sp.predict_dlib(&gray, &DlibRect::new(10.0, 12.0, 69.0, 61.0));
        for (a, b) in face.points.iter().zip(&dlib) {
            assert!(
                (a[0] as f64 - b[0] - 0.5).abs() < 1e-4 && (a[1] as f64 - b[1] - 0.5).abs() < 1e-4
            );
        }
        // a landmark box goes through the mean shape
        let lb = BoxF::new(30.0, 20.0, 40.0, 35.0);
        assert_eq!(p.face_in_box(&gray, &lb).points, sp.landmarks(&gray, &lb));
        // the whole image is the rectangle
        let whole = p.face_in_whole_image(&gray);
        let dlib = sp.predict_dlib(&gray, &DlibRect::new(0.0, 0.0, 119.0, 89.0));
        assert!((whole.points[0][0] as f64 - dlib[0][0] - 0.5).abs() < 1e-4);
        // no refiner for it
        let uv = turned_mean_uv();
        let e = p.with_refiner(Some(constant_model(&uv, true))).err();
        assert!(e
            .unwrap()
            .to_string()
            .contains("not a dlib shape predictor"));
    }
}
