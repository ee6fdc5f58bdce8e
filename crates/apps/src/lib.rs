//! facemark-apps: what people see of facemark.
//!
//! - [`filters`]: Snapchat-style effects on every face of a picture from its 68 landmarks —
//!   built-in vector artwork ([`artwork`]), user PNG overlays with anchor files ([`overlay`]),
//!   privacy blur/pixelate ([`privacy`]) — composited with premultiplied, gamma-aware alpha
//!   ([`composite`]).
//! - [`track`]: per-face tracking across video frames (landmarks of one frame place the next
//!   crop; re-detection every N frames or when a track is lost), with One Euro smoothing
//!   ([`smooth`]) and the flicker measurement ([`stats`]).
//! - [`video`]: streaming decode/encode through the `ffmpeg` programs, filters on video, and
//!   per-frame landmarks for `facemark detect` on video.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod artwork;
pub mod composite;
pub mod error;
pub mod filters;
pub mod overlay;
pub mod points;
pub mod privacy;
pub mod smooth;
pub mod stats;
pub mod track;
pub mod video;

pub use error::{FilterError, VideoError};
pub use filters::{Effect, Filter, EFFECT_NAMES};
