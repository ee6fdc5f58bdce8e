use std::path::PathBuf;

/// What went wrong reading or writing a data file. Every variant names the file; parse errors
/// also name the 1-based line (and the field where it helps).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    // The cause is part of the message and deliberately not exposed as `source()`, so that
    // error-chain printers (anyhow's `{:#}`) do not repeat it.
    /// Reading or writing the file failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        error: std::io::Error,
    },
    /// The image could not be decoded.
    #[error("{}: {}", path.display(), facemark_core::photo::describe_error(error))]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        error: image::ImageError,
    },
    /// A line of a text file does not parse.
    #[error("{}:{line}: {msg}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// The content is not acceptable (the message says why).
    #[error("{}: {msg}", path.display())]
    Invalid {
        /// The file, or the sample, it is about.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A sample that cannot take part in what was asked (named by [`Sample::name`]).
    ///
    /// [`Sample::name`]: facemark_core::Sample::name
    #[error("{name}: {msg}")]
    Sample {
        /// The sample's name.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// An option out of its range, or options that do not go together.
    #[error("{0}")]
    Options(String),
}

impl FormatError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FormatError::Io {
            path: path.into(),
            error: source,
        }
    }
    pub(crate) fn parse(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        FormatError::Parse {
            path: path.into(),
            line,
            msg: msg.into(),
        }
    }
    pub(crate) fn invalid(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        FormatError::Invalid {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

/// Parse one coordinate: a finite decimal number. `what` names the field for the message.
pub(crate) fn parse_coord(
    s: &str,
    path: &std::path::Path,
    line: usize,
    what: &str,
) -> Result<f32, FormatError> {
    let t = s.trim();
    match t.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(FormatError::parse(
            path,
            line,
            format!("{what}: `{t}` is not a finite number (NaN/inf not allowed here)"),
        )),
        Err(_) => Err(FormatError::parse(
            path,
            line,
            format!("{what}: expected a number, found `{}`", truncate(t, 40)),
        )),
    }
}

/// `s` cut to at most `n` characters, for error messages.
pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Read a text file, naming it in the error. Rejects files over `limit` bytes before reading.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, FormatError> {
    let bytes = std::fs::read(path).map_err(|e| FormatError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        FormatError::invalid(
            path,
            format!(
                "not UTF-8 text (bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Write text atomically, naming the file in the error.
pub(crate) fn write_text(path: &std::path::Path, text: &str) -> Result<(), FormatError> {
    facemark_core::io::write_atomic(path, text.as_bytes()).map_err(|e| FormatError::io(path, e))
}
