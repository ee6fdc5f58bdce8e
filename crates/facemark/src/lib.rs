//! facemark: facial keypoint detection in Rust.
//!
//! ```no_run
//! let image = image::open("photo.jpg").unwrap();
//! let faces = facemark::Detector::default().unwrap().detect(&image);
//! for face in faces {
//!     println!("face at {:?}: {} landmarks", face.landmark_box, face.points.len());
//! }
//! ```
//!
//! The pipeline, one crate per stage: formats → detection → model → training/eval → applications.

pub mod calibration;
pub mod pipeline;

pub use calibration::BoxCalibration;
pub use pipeline::{calibration_for, default_model, CalibratedDetector, Detector, Error, Face};

pub use facemark_apps as apps;
pub use facemark_core as core;
pub use facemark_detect as detect;
pub use facemark_formats as formats;
pub use facemark_model as model;
pub use facemark_nn as nn;
pub use facemark_train as train;
