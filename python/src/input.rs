//! Images in and out: NumPy arrays or paths → `image` buffers, and back.

use crate::Error;
use image::{DynamicImage, GrayImage, RgbImage};
use numpy::{
    IntoPyArray, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

/// An image argument taken from Python: pixels copied out of a NumPy array (so the GIL can be
/// released while they are used), or a file to decode later (in parallel in batches).
pub(crate) enum Input {
    /// Pixels from an array.
    Pixels(DynamicImage),
    /// A photo file, decoded by [`Input::load`].
    File(PathBuf),
}

impl Input {
    /// Read a Python argument: a NumPy `uint8` array (`H×W`, `H×W×1`, `H×W×3`, `H×W×4`;
    /// channels RGB, or BGR with `bgr`) or a path (`str` / `os.PathLike`). Raises `TypeError`
    /// for other types and `FacemarkError` for arrays of the wrong shape or type.
    pub(crate) fn from_py(obj: &Bound<'_, PyAny>, bgr: bool) -> PyResult<Input> {
        if let Ok(arr) = obj.cast::<PyUntypedArray>() {
            return Ok(Input::Pixels(array_to_image(arr, bgr)?));
        }
        match obj.extract::<PathBuf>() {
            Ok(p) => Ok(Input::File(p)),
            Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "expected an image as a NumPy uint8 array (H×W×3 or H×W) or a path (str or os.PathLike), got {}",
                obj.get_type().name()?
            ))),
        }
    }

    /// The image, decoding a file as the CLI does (any supported type, EXIF orientation
    /// applied). Errors name the file.
    pub(crate) fn load(self) -> Result<DynamicImage, Error> {
        match self {
            Input::Pixels(img) => Ok(img),
            Input::File(p) => open(&p),
        }
    }
}

/// Decode the photo at `path` upright; errors name the file (`FacemarkIOError` when it cannot
/// be read, `FacemarkError` when it is not an image facemark decodes).
pub(crate) fn open(path: &Path) -> Result<DynamicImage, Error> {
    facemark::open_image(path).map_err(|e| match e {
        image::ImageError::IoError(io) => Error::io(format!("{}: {io}", path.display())),
        e => Error::value(format!("{}: cannot decode image: {e}", path.display())),
    })
}

/// Copy a NumPy array into an image. Requires `uint8` and a shape `H×W`, `H×W×1`, `H×W×3` or
/// `H×W×4` (alpha dropped); any strides (views, slices, `[..., ::-1]`) are accepted.
fn array_to_image(arr: &Bound<'_, PyUntypedArray>, bgr: bool) -> PyResult<DynamicImage> {
    let dtype = arr.dtype();
    if !dtype.is_equiv_to(&numpy::dtype::<u8>(arr.py())) {
        return Err(Error::value(format!(
            "expected a uint8 image, got dtype {}: convert it first (e.g. `(img * 255).clip(0, 255).astype(numpy.uint8)` for floats in [0, 1])",
            dtype.str()?
        ))
        .into());
    }
    let shape = arr.shape().to_vec();
    let (h, w, c) = match shape[..] {
        [h, w] => (h, w, 1),
        [h, w, c] if matches!(c, 1 | 3 | 4) => (h, w, c),
        _ => {
            return Err(Error::value(format!(
                "expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got {shape:?}"
            ))
            .into())
        }
    };
    if h == 0 || w == 0 {
        return Err(Error::value(format!("empty image: shape {shape:?}")).into());
    }
    let (wu, hu) = match (u32::try_from(w), u32::try_from(h)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err(Error::value(format!("image too large: shape {shape:?}")).into()),
    };
    let ro: PyReadonlyArrayDyn<'_, u8> = arr.extract()?;
    let view = ro.as_array();
    // logical (row-major) order whatever the strides; one copy
    let raw: Vec<u8> = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    let img = match c {
        1 => DynamicImage::ImageLuma8(GrayImage::from_raw(wu, hu, raw).expect("H×W bytes")),
        _ => {
            let mut rgb = Vec::with_capacity(h * w * 3);
            for px in raw.chunks_exact(c) {
                if bgr {
                    rgb.extend_from_slice(&[px[2], px[1], px[0]]);
                } else {
                    rgb.extend_from_slice(&px[..3]);
                }
            }
            DynamicImage::ImageRgb8(RgbImage::from_raw(wu, hu, rgb).expect("H×W×3 bytes"))
        }
    };
    Ok(img)
}

/// An RGB image as a NumPy `H×W×3` `uint8` array (BGR order with `bgr`).
pub(crate) fn rgb_to_array<'py>(
    py: Python<'py>,
    img: RgbImage,
    bgr: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut raw = img.into_raw();
    if bgr {
        for px in raw.chunks_exact_mut(3) {
            px.swap(0, 2);
        }
    }
    Ok(raw.into_pyarray(py).reshape([h, w, 3])?.into_any())
}

/// read_image(path, bgr=False)
/// --
///
/// Decode a photo as facemark does (JPEG, PNG, WebP, BMP, TIFF, PNM, GIF's first frame; EXIF
/// orientation applied, so points land where a person sees the face): an `H×W×3` `uint8`
/// RGB array (BGR with `bgr=True`). Raises `FacemarkIOError` when the file cannot be read,
/// `FacemarkError` when it is not an image.
#[pyfunction]
#[pyo3(signature = (path, bgr = false))]
pub(crate) fn read_image(py: Python<'_>, path: PathBuf, bgr: bool) -> PyResult<Bound<'_, PyAny>> {
    let img = py.detach(|| open(&path))?;
    rgb_to_array(py, img.to_rgb8(), bgr)
}
