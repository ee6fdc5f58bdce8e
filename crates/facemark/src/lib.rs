//! facemark: facial keypoint detection in Rust.
//!
//! The pipeline, one crate per stage: formats → detection → model → training/eval → applications.

pub use facemark_apps as apps;
pub use facemark_core as core;
pub use facemark_detect as detect;
pub use facemark_formats as formats;
pub use facemark_model as model;
pub use facemark_nn as nn;
pub use facemark_train as train;
