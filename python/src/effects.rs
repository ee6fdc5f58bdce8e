//! `facemark.filter`: Snapchat-style effects on every face of a picture.

use crate::detector::{Detector, Face};
use crate::input::{rgb_to_array, Input};
use crate::Error;
use facemark::apps::Filter;
use facemark::core::Point;
use facemark::Pipeline;
use numpy::{AllowTypeChange, PyArrayLikeDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The pipeline `facemark filter` runs on photos by default (one refinement pass, test-time
/// flip: steadier points for artwork), built once per process.
fn filter_pipeline() -> Result<&'static Pipeline, Error> {
    static P: OnceLock<Pipeline> = OnceLock::new();
    if let Some(p) = P.get() {
        return Ok(p);
    }
    let detector = facemark::detect::default_detector().map_err(Error::value)?;
    let model = facemark::default_model().map_err(Error::value)?;
    let p = Pipeline::new(detector, model)
        .map_err(Error::value)?
        .with_refine(1)
        .with_flip(true);
    Ok(P.get_or_init(|| p))
}

/// One face's points from a Python value: a `Face`, or an `N×2` array-like.
fn face_points(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Point>> {
    if let Ok(f) = obj.cast::<Face>() {
        return face_points(f.getattr("points")?.as_any());
    }
    let a: PyArrayLikeDyn<'_, f32, AllowTypeChange> = obj.extract()?;
    let shape = a.shape().to_vec();
    if !matches!(shape[..], [_, 2]) {
        return Err(Error::value(format!(
            "a face's points are an N×2 array of [x, y], got shape {shape:?}"
        ))
        .into());
    }
    let v: Vec<f32> = a.as_array().iter().copied().collect();
    Ok(v.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
}

/// filter(image, effect="sunglasses", *, faces=None, detector=None, overlay=None,
///        anchors=None, bgr=False, gamma=True) -> numpy.ndarray
/// --
///
/// Draw an effect on every face of a photo, as `facemark filter` does, and return the result
/// as a new `H×W×3` `uint8` array (RGB, or BGR with `bgr=True`, the order of the input).
/// `image`: an array (`H×W×3`, `H×W×4`, `H×W`) or a path. `effect`: one of `EFFECTS`
/// (sunglasses, round-glasses, hat, moustache, dog, blur, pixelate), or give `overlay` (the
/// path of your own RGBA PNG) with optional `anchors` (a JSON anchor file; without it the
/// overlay is taken for glasses). `faces`: the faces to draw on (`Face` objects from
/// `detect`, or 68×2 point arrays); default: found with `detector`, itself by default the
/// embedded model with one refinement pass and the test-time flip (the CLI's `filter`).
/// `gamma=False` blends in gamma-encoded sRGB instead of linear light.
#[pyfunction]
#[pyo3(signature = (image, effect = "sunglasses", *, faces = None, detector = None, overlay = None, anchors = None, bgr = false, gamma = true))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn filter<'py>(
    py: Python<'py>,
    image: &Bound<'py, PyAny>,
    effect: &str,
    faces: Option<&Bound<'py, PyAny>>,
    detector: Option<PyRef<'py, Detector>>,
    overlay: Option<PathBuf>,
    anchors: Option<PathBuf>,
    bgr: bool,
    gamma: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if anchors.is_some() && overlay.is_none() {
        return Err(Error::value("anchors are for an overlay: give overlay=PNG too").into());
    }
    let input = Input::from_py(image, bgr)?;
    let given: Option<Vec<Vec<Point>>> = match faces {
        None => None,
        Some(f) if f.cast::<PyUntypedArray>().is_ok_and(|a| a.ndim() == 2) => {
            Some(vec![face_points(f)?])
        }
        Some(f) => Some(
            f.try_iter()?
                .map(|o| face_points(&o?))
                .collect::<PyResult<_>>()?,
        ),
    };
    let det = detector.as_deref();
    let out = py.detach(|| {
        let mut filter = match &overlay {
            Some(png) => Filter::overlay(png, anchors.as_deref()),
            None => Filter::by_name(effect),
        }
        .map_err(|e| match e {
            facemark::apps::FilterError::Io { .. }
            | facemark::apps::FilterError::Image {
                error: image::ImageError::IoError(_),
                ..
            } => Error::io(e),
            e => Error::value(e),
        })?;
        filter.gamma = gamma;
        let img = input.load()?;
        let faces = match given {
            Some(f) => f,
            None => {
                let found = match det {
                    Some(d) => d.install(|| d.pipeline.detect(&img)),
                    None => filter_pipeline()?.detect(&img),
                };
                found.into_iter().map(|f| f.points).collect()
            }
        };
        let mut rgb = img.to_rgb8();
        filter.apply(&mut rgb, &faces).map_err(Error::value)?;
        Ok::<_, Error>(rgb)
    })?;
    rgb_to_array(py, out, bgr)
}
