//! `facemark._facemark`: the native half of the `facemark` Python package (PyO3, abi3).
//!
//! The Python package (`python/facemark/`) re-exports everything here and adds what is
//! easier in Python (the exception classes, `facemark.distributed`). Conventions of every
//! function: images are NumPy `uint8` arrays `H×W×3` (RGB, or BGR with `bgr=True`), `H×W×4`
//! (alpha ignored) or `H×W` (gray), or paths (`str` / `os.PathLike`) decoded as the CLI does
//! (EXIF orientation applied); coordinates are pixels `[x, y]` of that image; errors are
//! `facemark.FacemarkError` (a `ValueError`) carrying facemark's own message, or
//! `facemark.FacemarkIOError` (also an `OSError`) when a file could not be read or written.
//! Long computations release the GIL.

use pyo3::prelude::*;

mod data;
mod detector;
mod effects;
mod input;

/// An error raised to Python: facemark's message, and whether it is about reading or writing
/// a file (raised as `FacemarkIOError`, else `FacemarkError`). Built where the GIL may be
/// released; turned into the Python exception when it crosses back.
#[derive(Debug)]
pub(crate) struct Error {
    io: bool,
    msg: String,
}

impl Error {
    /// A `FacemarkError` (bad input, model, format, options).
    pub(crate) fn value(msg: impl std::fmt::Display) -> Error {
        Error {
            io: false,
            msg: msg.to_string(),
        }
    }
    /// A `FacemarkIOError` (a file that cannot be opened, read or written).
    pub(crate) fn io(msg: impl std::fmt::Display) -> Error {
        Error {
            io: true,
            msg: msg.to_string(),
        }
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        Python::attach(|py| {
            let name = if e.io {
                "FacemarkIOError"
            } else {
                "FacemarkError"
            };
            let ty = py
                .import("facemark._errors")
                .and_then(|m| m.getattr(name))
                .and_then(|t| Ok(t.cast_into::<pyo3::types::PyType>()?));
            match ty {
                Ok(t) => PyErr::from_type(t, e.msg),
                // the native module imported on its own, without its package
                Err(_) if e.io => pyo3::exceptions::PyOSError::new_err(e.msg),
                Err(_) => pyo3::exceptions::PyValueError::new_err(e.msg),
            }
        })
    }
}

/// The native module; `import facemark` is the way in.
#[pymodule]
fn _facemark(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<detector::Detector>()?;
    m.add_class::<detector::Face>()?;
    m.add_class::<data::Sample>()?;
    m.add_function(wrap_pyfunction!(data::read_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(data::nme, m)?)?;
    m.add_function(wrap_pyfunction!(effects::filter, m)?)?;
    m.add_function(wrap_pyfunction!(input::read_image, m)?)?;
    m.add("EFFECTS", facemark::apps::EFFECT_NAMES.to_vec())?;
    m.add(
        "DATASET_FORMATS",
        facemark::formats::Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
