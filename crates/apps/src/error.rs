//! Errors of the filters and video modules (each names the file/field and what was expected).

use std::path::PathBuf;

/// Errors placing filters and reading overlays/anchor files.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// An anchor file names a landmark that is not in [`crate::points::NAMED_POINTS`].
    #[error("unknown point name {name:?}; known names: {known}")]
    UnknownPoint {
        /// The name as written in the anchor file.
        name: String,
        /// The accepted names, comma-separated, for the message.
        known: String,
    },
    /// An anchor averages an empty list of landmarks (`[]`), which has no position.
    #[error("an anchor's point list is empty (expected at least one landmark index)")]
    EmptyPointList,
    /// An anchor refers to a landmark index the face does not have.
    #[error("landmark index {index} out of range: the face has {len} points (indices 0..{len})")]
    PointIndex {
        /// The index asked for (0-based).
        index: usize,
        /// The number of landmarks the face has.
        len: usize,
    },
    /// Filters place their artwork from the 68-point iBUG scheme; another scheme was given.
    #[error("filters need 68-point iBUG landmarks; got {got} points")]
    WrongScheme {
        /// The number of landmarks of the offending face.
        got: usize,
    },
    /// A filter specification names an effect that does not exist.
    #[error("unknown effect {name:?}; known effects: {known}")]
    UnknownEffect {
        /// The effect name as given.
        name: String,
        /// The accepted effect names, comma-separated, for the message.
        known: String,
    },
    /// An anchor file is valid JSON but its content is wrong (a missing key, a bad value).
    #[error("{path}: {message}")]
    Anchors {
        /// The anchor file.
        path: PathBuf,
        /// What was wrong and what was expected.
        message: String,
    },
    /// An anchor file is not valid JSON.
    #[error("{path}: invalid anchor JSON: {source}")]
    AnchorsJson {
        /// The anchor file.
        path: PathBuf,
        /// The parser's error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// Reading an overlay or anchor file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// An overlay image could not be decoded.
    // the cause is in the message, not a `source()`, so that anyhow's `{:#}` says it once
    #[error("{}: {}", path.display(), facemark_core::photo::describe_error(error))]
    Image {
        /// The overlay image.
        path: PathBuf,
        /// The decoder's error.
        error: image::ImageError,
    },
    /// A glasses overlay came without anchors and its two lenses could not be found from its
    /// transparency; the user must give an anchor file.
    #[error(
        "{path}: cannot find two lenses in the overlay's alpha channel ({message}); give --anchors"
    )]
    NoLenses {
        /// The overlay image.
        path: PathBuf,
        /// Why the lens search failed.
        message: String,
    },
}

/// Errors reading, processing and writing video through the `ffmpeg`/`ffprobe` programs.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// An FFmpeg program is not installed; facemark does not link FFmpeg, it runs the programs.
    #[error("`{program}` not found on PATH: video needs FFmpeg's command-line programs (Debian/Ubuntu: `apt-get install ffmpeg`)")]
    FfmpegMissing {
        /// `ffmpeg` or `ffprobe`.
        program: String,
    },
    /// The program exists but could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// `ffmpeg` or `ffprobe`.
        program: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// `ffprobe` could not describe the input (no video stream, unreadable size or rate).
    #[error("{path}: ffprobe: {message}")]
    Probe {
        /// The input video.
        path: PathBuf,
        /// What was missing or malformed in ffprobe's answer.
        message: String,
    },
    /// An FFmpeg program exited with a failure.
    #[error("`{program}` failed ({status}): {stderr}")]
    Ffmpeg {
        /// `ffmpeg` or `ffprobe`.
        program: String,
        /// The exit status as the system prints it.
        status: String,
        /// The end of the program's standard error, which says why.
        stderr: String,
    },
    /// Reading or writing a file or pipe failed.
    #[error("{path}: {source}")]
    Io {
        /// The file (or the video whose pipe failed).
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A filter failed on one frame.
    #[error("frame {frame}: {source}")]
    Filter {
        /// The frame's index, counted from 0.
        frame: u64,
        /// The filter's error.
        #[source]
        source: FilterError,
    },
    /// Any other misuse with its explanation (an output without a container extension, a
    /// frame of the wrong size).
    #[error("{0}")]
    Other(String),
}
