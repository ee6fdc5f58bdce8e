use facemark_formats::dlib::DlibError;
use std::path::PathBuf;

/// What went wrong loading or writing a shape predictor.
#[derive(Debug, thiserror::Error)]
pub enum ErtError {
    /// Reading or writing the file failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        error: std::io::Error,
    },
    /// The bytes are not a dlib `shape_predictor` (the message gives the byte offset and what
    /// was expected there).
    #[error("{what}: not a dlib shape_predictor: {error}")]
    Format {
        /// The file, or "shape predictor bytes".
        what: String,
        /// Where and why.
        error: DlibError,
    },
    /// Training could not start: invalid options or faces (the message says which).
    #[error("{0}")]
    Train(String),
    /// A scheme given for the model does not fit it.
    #[error("{0}")]
    Scheme(String),
}
