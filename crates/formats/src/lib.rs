//! facemark-formats: readers and writers for the landmark data sets people have on disk, one
//! [`Sample`](facemark_core::Sample) type for all of them, identity splits, and a binary
//! face-crop cache.
//!
//! | module | format |
//! |---|---|
//! | [`pts`] | iBUG `.pts` (with or without the `version`/`n_points`/braces header); 300-W folders of `NAME.jpg|png|ppm|… + NAME.pts` |
//! | [`youtube`] | the YouTube-Faces course CSV (`name,x0,y0,…`), images in a sibling folder |
//! | [`kaggle`] | Kaggle Facial Keypoints `training.csv`/`test.csv` (bare or inside the `.zip`), `IdLookupTable.csv`, submissions |
//! | [`helen`] | HELEN annotation `.txt` (image name, then `x , y` lines) |
//! | [`imglab`] | dlib imglab XML (many faces per image, boxes kept) |
//! | [`dataset`] | format detection ([`dataset::load_any`]), writing ([`dataset::save_as`]), identity splits |
//! | [`cache`] | [`cache::FaceCache`]: face crops at one size in one binary file |
//! | [`dlib`] | dlib's binary serialization (`serialize.h`): integers, floats, strings, vectors, matrices |
//! | [`torch`] | PyTorch state dicts (`torch.save`, zip and legacy): named `f32` tensors |
//! | [`keras`] | Keras 2 HDF5 weights (`model.save`, `save_weights`): named `f32` arrays per layer |
//!
//! And what is done with a data set as a whole (`facemark data`), returning data for the caller
//! to print:
//!
//! | module | job |
//! |---|---|
//! | [`report`] | [`report::inspect`]: counts, missing points, image sizes, identities as a serialisable [`report::InspectReport`] |
//! | [`convert`] | [`convert::convert`] between formats, 68 → 15 points, Kaggle crops, caches |
//! | [`sheet`] | [`sheet::sample_sheet`]: a contact sheet of samples with their points drawn |
//!
//! All coordinates are `[x, y]` in pixels of the sample's image (see `facemark_core`). Every
//! reader reports bad input as a [`FormatError`] naming the file and, where there is one, the
//! line; none of them panics on any input.
//!
//! Images are read by [`facemark_core::photo`]: JPEG, PNG, WebP, BMP, TIFF, PNM and GIF (first
//! frame), by content, upright (EXIF orientation applied), so points are in the coordinates of
//! the picture a person sees.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod convert;
pub mod dataset;
pub mod dlib;
mod error;
pub mod helen;
mod image_io;
pub mod imglab;
pub mod kaggle;
pub mod keras;
pub mod pts;
pub mod report;
pub mod sheet;
#[cfg(test)]
mod testutil;
pub mod torch;
pub mod youtube;

pub use cache::FaceCache;
pub use dataset::{
    load_any, save_as, select_split, split_by_identity, split_subset_by_identity, Fold, Format,
    RunSplit,
};
pub use error::FormatError;
pub use image_io::{image_size, load_gray, load_rgb};

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, FormatError>;
