//! Errors of the filters and video modules (each names the file/field and what was expected).

use std::path::PathBuf;

/// Errors placing filters and reading overlays/anchor files.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("unknown point name {name:?}; known names: {known}")]
    UnknownPoint { name: String, known: String },
    #[error("an anchor's point list is empty (expected at least one landmark index)")]
    EmptyPointList,
    #[error("landmark index {index} out of range: the face has {len} points (indices 0..{len})")]
    PointIndex { index: usize, len: usize },
    #[error("filters need 68-point iBUG landmarks; got {got} points")]
    WrongScheme { got: usize },
    #[error("unknown effect {name:?}; known effects: {known}")]
    UnknownEffect { name: String, known: String },
    #[error("{path}: {message}")]
    Anchors { path: PathBuf, message: String },
    #[error("{path}: invalid anchor JSON: {source}")]
    AnchorsJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read image: {source}")]
    Image {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error(
        "{path}: cannot find two lenses in the overlay's alpha channel ({message}); give --anchors"
    )]
    NoLenses { path: PathBuf, message: String },
}

/// Errors reading, processing and writing video through the `ffmpeg`/`ffprobe` programs.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("`{program}` not found on PATH: video needs FFmpeg's command-line programs (Debian/Ubuntu: `apt-get install ffmpeg`)")]
    FfmpegMissing { program: String },
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: ffprobe: {message}")]
    Probe { path: PathBuf, message: String },
    #[error("`{program}` failed ({status}): {stderr}")]
    Ffmpeg {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("frame {frame}: {source}")]
    Filter {
        frame: u64,
        #[source]
        source: FilterError,
    },
    #[error("{0}")]
    Other(String),
}
