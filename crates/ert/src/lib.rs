//! facemark-ert: dlib's shape predictors in pure Rust — the ensemble of regression trees of
//! Kazemi & Sullivan (CVPR 2014) as dlib implements it (`dlib::shape_predictor`), read from and
//! written to dlib's `.dat` files, and run with exactly dlib's answers.
//!
//! ```no_run
//! use facemark_ert::{DlibRect, ShapePredictor};
//! let sp = ShapePredictor::load("shape_predictor_68_face_landmarks.dat".as_ref()).unwrap();
//! let gray = image::open("face.jpg").unwrap().to_luma8();
//! // dlib's rectangle(100, 80, 299, 279): left, top, right, bottom (inclusive)
//! let pts = sp.predict_dlib(&gray, &DlibRect::new(100.0, 80.0, 299.0, 279.0));
//! ```
//!
//! Coordinates: dlib puts pixel centres at whole numbers, facemark at `+0.5`
//! (`facemark_core`). [`ShapePredictor::predict_dlib`] answers in dlib's coordinates (rounded
//! with [`dlib_round`] they are dlib's `full_object_detection` parts); the
//! [`Landmarker`](facemark_core::Landmarker) implementation answers in facemark's, from a
//! *landmark box* (see [`landmarker`]).
//!
//! | module | job |
//! |---|---|
//! | [`model`] | the predictor as data; reading and writing `.dat` |
//! | [`predict`] | running it on a face rectangle |
//! | [`landmarker`] | landmark box ↔ dlib rectangle, the `Landmarker` seam |
//! | [`scheme`] | schemes by point count (dlib's 5-point layout) |
//! | [`tensors`] | the predictor as named arrays, stored inside a facemark model file |
//! | [`train`] | training a predictor (dlib's `shape_predictor_trainer`) |

#![deny(unsafe_code)] // exceptions: the prefetch hint and the AVX2 builds (`predict`, `train::tree`)
#![warn(missing_docs)]

mod error;
pub mod landmarker;
pub mod model;
pub mod predict;
pub mod scheme;
pub mod tensors;
pub mod train;

pub use error::ErtError;
pub use model::{Level, ShapePredictor, Split, Tree};
pub use predict::{dlib_round, DlibRect, Scratch};
