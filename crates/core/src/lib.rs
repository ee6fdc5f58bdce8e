//! facemark-core: the types every stage of the pipeline shares.
//!
//! Conventions used across facemark (every crate relies on them):
//! - Points are `[x, y]` in **pixels** of the image they belong to, x to the right,
//!   y down, origin at the top-left corner of the top-left pixel (pixel centres at +0.5).
//! - Boxes are [`BoxF`] in pixels: `x, y` top-left, `w, h` size.
//! - "left"/"right" in point names are the **subject's** left/right (iBUG, Kaggle convention).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod crop;
pub mod draw;
pub mod geometry;
pub mod gray;
pub mod io;
pub mod limits;
pub mod photo;
pub mod pose;
pub mod sample;
pub mod scheme;
pub mod testdata;
pub mod traits;

pub use crop::CropSpec;
pub use geometry::{Affine2, BoxF};
pub use sample::{ImageSource, Sample};
pub use scheme::Scheme;
pub use traits::{Detection, FaceDetector, Landmarker};

/// A landmark position `[x, y]` in pixels.
pub type Point = [f32; 2];
