//! Face recognition: descriptors of the faces a [`Pipeline`] finds, from dlib's
//! face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, 128-d) or FaceNet (a
//! facenet-pytorch `.pt` state dict, 512-d), run in facemark's engine by `facemark-recog`.
//!
//! ```no_run
//! let image = facemark::open_image("photo.jpg").unwrap();
//! let pipeline = facemark::Pipeline::default().unwrap();
//! let recognizer = facemark::recognition::recognizer(None).unwrap(); // $FACEMARK_RECOGNITION_MODEL
//! for f in facemark::recognition::embed_faces(&pipeline, &recognizer, &image).unwrap() {
//!     println!("{:?}: {:?}…", f.face.landmark_box, &f.descriptor[..4]);
//! }
//! ```
//!
//! Each face is aligned from its 68 points as dlib aligns it (`get_face_chip_details(shape,
//! 150, 0.25)`, [`facemark_recog::chip`]; FaceNet: the same at 160 × 160); two descriptors
//! closer than the recognizer's threshold (dlib: [`SAME_PERSON_THRESHOLD`], 0.6, Euclidean) are
//! the same person.

use crate::{Face, Pipeline};
use facemark_recog::{FaceRecognizer, RecogError};
use image::DynamicImage;
use std::path::{Path, PathBuf};

pub use facemark_recog::{distance, MODEL_ENV, SAME_PERSON_THRESHOLD};

/// A face and its descriptor.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaceDescriptor {
    /// The face (detection, landmark box, points).
    pub face: Face,
    /// The descriptor (128 values for dlib's model, 512 of unit length for FaceNet).
    pub descriptor: Vec<f32>,
}

/// Why recognition could not run.
#[derive(Debug, thiserror::Error)]
pub enum RecognitionError {
    /// No model path given and `$FACEMARK_RECOGNITION_MODEL` unset.
    #[error("no face-recognition model: give its path (dlib_face_recognition_resnet_model_v1.dat, in the PyPI package face_recognition_models) or set ${MODEL_ENV}")]
    NoModel,
    /// The model could not be loaded, or a face could not be embedded.
    #[error(transparent)]
    Recog(#[from] RecogError),
    /// The pipeline's landmark scheme is not 68 (or 5) points.
    #[error("face alignment needs 68 or 5 landmarks; the landmark model gives {0}")]
    Scheme(usize),
}

/// The model path: `path` when given, else `$FACEMARK_RECOGNITION_MODEL`.
pub fn model_path(path: Option<&Path>) -> Result<PathBuf, RecognitionError> {
    match path {
        Some(p) => Ok(p.to_path_buf()),
        None => std::env::var_os(MODEL_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or(RecognitionError::NoModel),
    }
}

/// Loads the recognizer from [`model_path`].
pub fn recognizer(path: Option<&Path>) -> Result<FaceRecognizer, RecognitionError> {
    Ok(FaceRecognizer::load(&model_path(path)?)?)
}

/// Detects the faces in `image` with `pipeline` and computes each one's descriptor.
///
/// Requires a pipeline whose model gives 68 (or 5) points, as the default model does.
pub fn embed_faces(
    pipeline: &Pipeline,
    recognizer: &FaceRecognizer,
    image: &DynamicImage,
) -> Result<Vec<FaceDescriptor>, RecognitionError> {
    let n = pipeline.scheme().len();
    if n != 68 && n != 5 {
        return Err(RecognitionError::Scheme(n));
    }
    let faces = pipeline.detect(image);
    if faces.is_empty() {
        return Ok(Vec::new());
    }
    let rgb = image.to_rgb8();
    let chips = faces
        .iter()
        .map(|f| recognizer.face_chip(&rgb, &f.points))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RecogError::from)?;
    let descriptors = recognizer.embed_chips(&chips)?;
    Ok(faces
        .into_iter()
        .zip(descriptors)
        .map(|(face, descriptor)| FaceDescriptor { face, descriptor })
        .collect())
}
