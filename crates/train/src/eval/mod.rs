//! Evaluating a [`Landmarker`](facemark_core::Landmarker) on annotated faces: NME, RMSE, AUC,
//! failure rate, CED, per-point error, and pictures of the worst faces.
//!
//! Each face is predicted from a box chosen by [`BoxSource`] (by default the ground-truth
//! *landmark box*, `BoxF::around(visible points)`, which is what a model's crop policy expects:
//! the "oracle box" setting of 300-W style benchmarks, so detector errors are not counted).
//! `box_shift` moves and scales that box as an off face detector would ([`crate::boxes`]).
//! Faces run in parallel (rayon). Metric definitions: [`crate::metrics`]; the per-region and
//! per-yaw breakdowns: [`crate::breakdown`].

mod driver;
mod output;
mod pictures;
mod report;
#[cfg(test)]
mod tests;

pub use crate::baseline::MeanShape;
pub use crate::boxes::{face_box, BoxSource};
pub use driver::{evaluate, load_gray};
pub use pictures::{plot_ced, GT_COLOR, PRED_COLOR};
pub use report::{EvalReport, FaceResult, Skipped, Summary, ThresholdStat};
use std::path::PathBuf;

/// Errors evaluating a landmarker and writing its report.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data's landmark scheme is not the model's (checked before any face runs).
    #[error("the model predicts {model} points ({scheme}) but sample {sample} has {data}")]
    PointCount {
        /// Points the landmarker predicts.
        model: usize,
        /// The landmarker's scheme name.
        scheme: String,
        /// Points the sample is annotated with.
        data: usize,
        /// The first sample that differs.
        sample: String,
    },
    /// `box_shift` is outside `[0, 1]` (the message says so).
    #[error("{0}")]
    BoxShift(String),
    /// Every face was skipped (unreadable image, no box); nothing to measure.
    #[error("no face could be evaluated ({skipped} skipped; first: {first})")]
    NoFaces {
        /// Faces skipped.
        skipped: usize,
        /// The first skipped face and why.
        first: String,
    },
    /// Drawing the CED chart failed.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    /// Encoding or writing a picture (the worst-faces sheet) failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The picture's path.
        path: PathBuf,
        /// The encoder's or system's error.
        source: image::ImageError,
    },
    /// Writing a report file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The report's path.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// Evaluation settings.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Where each face's box comes from (default: the ground-truth landmark box).
    pub box_source: BoxSource,
    /// Simulated detector error in `[0, 1]` ([`crate::boxes::shift_box`]; 0: the box as is).
    pub box_shift: f32,
    /// Seed of the box shifts (each face draws from its own stream, by index).
    pub seed: u64,
    /// Show an indicatif progress bar on stderr.
    pub progress: bool,
}
