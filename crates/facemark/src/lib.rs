//! facemark: facial keypoint detection in Rust.
//!
//! ```no_run
//! // JPEG, PNG, WebP, BMP, TIFF, PNM or GIF, upright (EXIF orientation applied)
//! let image = facemark::open_image("photo.jpg").unwrap();
//! let faces = facemark::Pipeline::default().unwrap().detect(&image);
//! for face in faces {
//!     println!("face at {:?}: {} landmarks", face.landmark_box, face.points.len());
//! }
//! ```
//!
//! The pipeline, one crate per stage: formats → detection → model → training/eval → applications.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod calibration;
pub mod pipeline;
pub mod recognition;

pub use calibration::BoxCalibration;
#[allow(deprecated)] // the old name, kept so that code using it builds (with a warning)
pub use pipeline::Detector;
pub use pipeline::{
    calibration_for, default_cascade, default_model, CalibratedDetector, Error, Face,
    LandmarkModel, Pipeline,
};

/// Read a photo as facemark's CLI does: JPEG, PNG, WebP, BMP, TIFF, PNM or GIF (first frame),
/// by content, upright (EXIF orientation applied) so the points land on the face a person sees.
pub use facemark_core::photo::open_image;

/// Applications: face filters, video tracking and smoothing (`facemark-apps`).
pub use facemark_apps as apps;
/// Shared types: schemes, samples, geometry, drawing (`facemark-core`).
pub use facemark_core as core;
/// Face detectors: OpenCV cascades and SeetaFace (`facemark-detect`).
pub use facemark_detect as detect;
/// dlib's shape predictors (`.dat`) in pure Rust (`facemark-ert`).
pub use facemark_ert as ert;
/// Data set readers and writers, splits, the crop cache (`facemark-formats`).
pub use facemark_formats as formats;
/// Landmark models: architectures, model files, inference (`facemark-model`).
pub use facemark_model as model;
/// The CPU neural-network engine (`facemark-nn`).
pub use facemark_nn as nn;
/// Face recognition: dlib DNN files, aligned chips, descriptors (`facemark-recog`).
pub use facemark_recog as recog;
/// Training and evaluation (`facemark-train`); behind the default-on `train` feature.
#[cfg(feature = "train")]
pub use facemark_train as train;
