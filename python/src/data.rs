//! Data sets (`facemark.read_dataset`, `facemark.Sample`) and accuracy (`facemark.nme`).

use crate::input::rgb_to_array;
use crate::Error;
use facemark::core::{ImageSource, Point, Scheme};
use facemark::formats::{Format, FormatError};
use numpy::{
    AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLikeDyn, PyArrayMethods,
    PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use std::path::PathBuf;

/// One annotated face of a data set.
///
/// - `image`: the image file's path (`str`), or `None` when the data set holds the pixels
///   itself (Kaggle's `Image` column, face-crop caches): use `load_image()` either way;
/// - `points`: `N×2` `float32` `[x, y]` in pixels of that image, NaN where the annotation is
///   missing (Kaggle's empty cells);
/// - `visible`: `N` bools, False where a point is missing;
/// - `box`: the face box the format gives (imglab XML), else `None`;
/// - `name`: a short name (the file name); `identity`: who it is, for identity splits.
#[pyclass(frozen, module = "facemark")]
pub struct Sample {
    #[pyo3(get)]
    image: Option<String>,
    #[pyo3(get)]
    points: Py<PyArray2<f32>>,
    #[pyo3(get)]
    visible: Py<PyArray1<bool>>,
    #[pyo3(get, name = "box")]
    bbox: Option<(f32, f32, f32, f32)>,
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    identity: String,
    source: ImageSource,
}

#[pymethods]
impl Sample {
    /// load_image(bgr=False) -> numpy.ndarray
    /// --
    ///
    /// The sample's pixels: `H×W×3` `uint8` RGB (BGR with `bgr=True`) for an image file
    /// (decoded upright, as the points expect), `H×W` gray for pixels held in the data set.
    #[pyo3(signature = (bgr = false))]
    fn load_image<'py>(&self, py: Python<'py>, bgr: bool) -> PyResult<Bound<'py, PyAny>> {
        match &self.source {
            ImageSource::File(p) => {
                let img = py.detach(|| crate::input::open(p))?;
                rgb_to_array(py, img.to_rgb8(), bgr)
            }
            ImageSource::Gray {
                width,
                height,
                pixels,
            } => Ok(pixels
                .clone()
                .into_pyarray(py)
                .reshape([*height as usize, *width as usize])?
                .into_any()),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Sample(name={:?}, image={}, points={}×2)",
            self.name,
            self.image
                .as_ref()
                .map_or("None".into(), |p| format!("{p:?}")),
            self.visible_len()
        )
    }
}

impl Sample {
    fn visible_len(&self) -> usize {
        Python::attach(|py| self.visible.bind(py).len())
    }
}

fn format_error(e: FormatError) -> Error {
    match e {
        FormatError::Io { .. } => Error::io(e),
        e => Error::value(e),
    }
}

/// read_dataset(path, format=None) -> list[Sample]
/// --
///
/// Read an annotated data set in any format facemark reads: a 300-W folder (`NAME.jpg` +
/// `NAME.pts`), one `.pts` file, the YouTube-Faces CSV, Kaggle's `training.csv` / `test.csv`
/// (or its `.zip`), a folder of HELEN `.txt` files, dlib imglab XML, or a facemark face-crop
/// cache (`.fmc`). `format` (one of `DATASET_FORMATS`) overrides the guess from the path.
/// Errors name the file and line. `numpy.stack([s.points for s in samples])` gives an
/// `M×N×2` array when all samples have the same point count.
#[pyfunction]
#[pyo3(signature = (path, format = None))]
pub(crate) fn read_dataset(
    py: Python<'_>,
    path: PathBuf,
    format: Option<&str>,
) -> PyResult<Vec<Sample>> {
    let format = match format {
        Some(f) => Some(Format::from_name(f).ok_or_else(|| {
            Error::value(format!(
                "unknown data set format `{f}`: expected one of {}",
                Format::ALL.map(|f| f.name()).join(", ")
            ))
        })?),
        None => None,
    };
    if !path.exists() {
        return Err(Error::io(format!("{}: no such file or folder", path.display())).into());
    }
    let samples = py.detach(|| {
        match format {
            Some(f) => facemark::formats::dataset::load(&path, f),
            None => facemark::formats::load_any(&path),
        }
        .map_err(format_error)
    })?;
    samples
        .into_iter()
        .map(|s| {
            let pts: Vec<f32> = s
                .points
                .iter()
                .zip(&s.visible)
                .flat_map(|(p, v)| if *v { *p } else { [f32::NAN; 2] })
                .collect();
            let n = s.points.len();
            Ok(Sample {
                image: match &s.image {
                    ImageSource::File(p) => Some(p.display().to_string()),
                    ImageSource::Gray { .. } => None,
                },
                points: pts.into_pyarray(py).reshape([n, 2])?.unbind(),
                visible: s.visible.clone().into_pyarray(py).unbind(),
                bbox: s.face_box.map(|b| (b.x, b.y, b.w, b.h)),
                name: s.name,
                identity: s.identity,
                source: s.image,
            })
        })
        .collect()
}

/// `[x, y]` rows of an `N×2` or `M×N×2` float array, as faces.
fn faces_of(a: &PyReadonlyArrayDyn<'_, f32>, what: &str) -> Result<Vec<Vec<Point>>, Error> {
    let shape = a.shape().to_vec();
    let (m, n) = match shape[..] {
        [n, 2] => (1, n),
        [m, n, 2] => (m, n),
        _ => {
            return Err(Error::value(format!(
                "{what}: expected an array of shape (N, 2) or (faces, N, 2), got {shape:?}"
            )))
        }
    };
    let v: Vec<f32> = a.as_array().iter().copied().collect();
    Ok((0..m)
        .map(|i| {
            (0..n)
                .map(|j| [v[(i * n + j) * 2], v[(i * n + j) * 2 + 1]])
                .collect()
        })
        .collect())
}

/// nme(pred, truth, scheme=None, norm="outer") -> float | numpy.ndarray
/// --
///
/// Normalised mean error of predicted landmarks against annotated ones: the mean point
/// distance (pixels, over the points present in `truth`; NaN marks a missing one) divided by
/// the outer-eye-corner distance of `truth` (`norm="outer"`, 300-W's convention; 68 points:
/// 36–45) or its inter-pupil distance (`norm="pupil"`). As `facemark eval` computes it.
/// `pred`, `truth`: `N×2` arrays for one face (returns a float) or `M×N×2` for M faces
/// (returns M floats). `scheme`: `"ibug68"`, `"kaggle15"`, `"helen194"`, `"five"` (default:
/// the usual scheme for N points). NaN where the scheme has no such distance, or no point
/// is present. Multiply by 100 for the percentages facemark's reports print.
#[pyfunction]
#[pyo3(signature = (pred, truth, scheme = None, norm = "outer"))]
pub(crate) fn nme(
    py: Python<'_>,
    pred: PyArrayLikeDyn<'_, f32, AllowTypeChange>,
    truth: PyArrayLikeDyn<'_, f32, AllowTypeChange>,
    scheme: Option<&str>,
    norm: &str,
) -> PyResult<Py<PyAny>> {
    let one = pred.ndim() == 2;
    let p = faces_of(&pred, "pred")?;
    let t = faces_of(&truth, "truth")?;
    if pred.shape() != truth.shape() {
        return Err(Error::value(format!(
            "pred has shape {:?} but truth {:?}",
            pred.shape(),
            truth.shape()
        ))
        .into());
    }
    let n = t.first().map_or(0, |f| f.len());
    let scheme = match scheme {
        Some(s) => Scheme::by_name(s).ok_or_else(|| {
            Error::value(format!(
                "unknown scheme `{s}`: expected ibug68, kaggle15, helen194, five or n<N>"
            ))
        })?,
        None => Scheme::for_points(n),
    };
    if scheme.len() != n {
        return Err(Error::value(format!(
            "scheme {} has {} points, the arrays {n}",
            scheme.name,
            scheme.len()
        ))
        .into());
    }
    let pupil = match norm {
        "outer" => false,
        "pupil" => true,
        _ => {
            return Err(Error::value(format!(
                "unknown norm `{norm}`: expected \"outer\" or \"pupil\""
            ))
            .into())
        }
    };
    let out = p
        .iter()
        .zip(&t)
        .map(|(p, t)| {
            let mask: Vec<bool> = t
                .iter()
                .map(|q| q[0].is_finite() && q[1].is_finite())
                .collect();
            let e = facemark::train::metrics::face_errors(p, t, &mask, &scheme)
                .map_err(Error::value)?;
            Ok(if pupil { e.nme_pupil } else { e.nme_outer }.unwrap_or(f32::NAN))
        })
        .collect::<Result<Vec<f32>, Error>>()?;
    if one {
        Ok(out[0].into_pyobject(py)?.into_any().unbind())
    } else {
        Ok(out.into_pyarray(py).into_any().unbind())
    }
}
