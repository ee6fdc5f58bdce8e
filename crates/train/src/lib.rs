//! facemark-train: augmentation, the training loop, evaluation metrics and the Kaggle workflow.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod augment; // landmark-aware augmentation
pub mod baseline; // the mean-shape baseline
pub mod boxes; // the evaluated face box: source, simulated detector error
pub mod breakdown; // NME per face region and by yaw
pub mod config; // training configuration (TOML + CLI overrides)
pub mod ert; // training dlib shape predictors (arch = "ert")
pub mod eval; // evaluation reports
pub mod kaggle; // Kaggle test prediction and submission
pub mod metrics; // NME, RMSE, AUC, CED
pub mod plot; // loss and CED curves (plotters)
pub mod trainer; // the training loop, checkpoints, resume
