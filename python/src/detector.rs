//! `facemark.Detector` (the pipeline: face detector + landmark model) and `facemark.Face`.

use crate::input::Input;
use crate::Error;
use facemark::core::BoxF;
use facemark::model::{KeypointModel, Precision};
use facemark::Pipeline;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// Face detector + landmark model, ready to run.
///
/// Detector(model=None, detector="seeta", threads=None, *, min_face=None, refine=0,
///          flip=False, precision="auto", refiner=None)
///
/// - `model`: a landmark model file (`.safetensors`, trained with `facemark train`);
///   `None`: the default model embedded in facemark (68 iBUG points, no file needed).
/// - `detector`: `"seeta"` (built-in SeetaFace, the default), `"haar"` (OpenCV's frontal
///   Haar cascade, embedded), `"lbp"` (needs OpenCV's cascade files installed), or the path
///   of an OpenCV cascade `.xml`.
/// - `threads`: worker threads for `detect_batch` and the model (`None`: all cores). Give
///   each process of a cluster its share of the cores.
/// - `min_face`: smallest face side searched for, pixels (default: 40 for SeetaFace, 20 for
///   cascades); larger is faster on large photos.
/// - `refine`: extra model passes re-cropped on the last points (more accurate, slower);
///   `flip`: also run the mirrored crop and average (≈2× the model time, lower error);
///   `precision`: `"auto"` (int8 where the CPU has AVX-512 VNNI), `"f32"` or `"int8"`;
///   `refiner`: a second-stage model file (trained with `crop_align`) for the refinement
///   passes (one pass unless `refine` says otherwise), or a refinement cascade (`.dat`,
///   trained by `facemark train --arch ert --init MODEL`) run once from the model's final
///   points instead of the model's own;
///   `cascade`: run the refinement cascade the model carries (the default model has one);
///   `False`: the network alone.
///
/// A Detector is safe to share between threads and can be pickled (it is rebuilt from its
/// arguments, so model files must exist where it is unpickled).
#[pyclass(frozen, module = "facemark")]
pub struct Detector {
    pub(crate) pipeline: Pipeline,
    pool: Option<rayon::ThreadPool>,
    names: Arc<[String]>,
    args: Args,
}

/// The constructor's arguments, kept for `repr` and pickling.
#[derive(Clone)]
struct Args {
    model: Option<PathBuf>,
    detector: String,
    threads: Option<usize>,
    min_face: Option<u32>,
    refine: usize,
    flip: bool,
    precision: String,
    refiner: Option<PathBuf>,
    cascade: bool,
}

impl Detector {
    /// Run `f` on the detector's thread pool (all cores when `threads` was not given).
    pub(crate) fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    fn build(a: Args) -> Result<Detector, Error> {
        let precision: Precision = a.precision.parse().map_err(Error::value)?;
        let load = |p: &PathBuf, what: &str| {
            if !p.exists() {
                return Err(Error::io(format!("{what} {}: no such file", p.display())));
            }
            KeypointModel::load(p)
                .map(|m| m.with_precision(precision))
                .map_err(|e| Error::value(format!("{what} {}: {e}", p.display())))
        };
        let mut model = match &a.model {
            Some(p) => load(p, "model")?,
            None => facemark::default_model()
                .map_err(Error::value)?
                .with_precision(precision),
        };
        // a `.dat` refiner is a refinement cascade (run once after the model), else a refiner
        // model for the refinement passes
        let is_cascade = |p: &PathBuf| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("dat"));
        if !a.cascade && a.refiner.as_ref().is_some_and(&is_cascade) {
            return Err(Error::value(
                "cascade=False runs the network alone; it takes no refinement cascade (refiner=FILE.dat)",
            ));
        }
        match a.refiner.as_ref().filter(|p| is_cascade(p)) {
            Some(p) if !p.exists() => {
                return Err(Error::io(format!("refiner {}: no such file", p.display())))
            }
            Some(p) => {
                let sp = facemark::ert::ShapePredictor::load(p)
                    .map_err(|e| Error::value(format!("refiner {}: {e}", p.display())))?;
                model
                    .set_cascade(Some((sp, p.display().to_string())))
                    .map_err(|e| Error::value(format!("refiner {}: {e}", p.display())))?;
            }
            None if !a.cascade => model.cascade = None,
            None => {}
        }
        let refiner = a
            .refiner
            .as_ref()
            .filter(|p| !is_cascade(p))
            .map(|p| load(p, "refiner"))
            .transpose()?;
        facemark::core::limits::check_refine(a.refine).map_err(Error::value)?;
        if let Some(m) = a.min_face.filter(|m| *m < 20) {
            return Err(Error::value(format!(
                "min_face must be at least 20 pixels, got {m}"
            )));
        }
        if a.threads == Some(0) {
            return Err(Error::value("threads must be at least 1 (None: all cores)"));
        }
        let face_detector = facemark::detect::detector_with(Some(&a.detector), a.min_face)
            .map_err(|e| match e {
                facemark::detect::DetectError::Io { .. } => Error::io(e),
                e => Error::value(e),
            })?;
        let refine = a
            .refine
            .max(usize::from(refiner.is_some() && a.refine == 0));
        let pipeline = Pipeline::new(face_detector, model)
            .and_then(|p| p.with_refiner(refiner))
            .map_err(Error::value)?
            .with_refine(refine)
            .with_flip(a.flip);
        let pool = a
            .threads
            .map(|n| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::value(format!("cannot start {n} threads: {e}")))
            })
            .transpose()?;
        let names: Arc<[String]> = pipeline.scheme().point_names.clone().into();
        Ok(Detector {
            pipeline,
            pool,
            names,
            args: a,
        })
    }

    /// Python `Face` objects for facemark's faces.
    fn faces(&self, py: Python<'_>, faces: Vec<facemark::Face>) -> PyResult<Py<PyList>> {
        let list = PyList::empty(py);
        for f in faces {
            list.append(Face::new(py, f, self.names.clone())?)?;
        }
        Ok(list.unbind())
    }
}

/// A box argument: `(x, y, w, h)` pixels with `w, h > 0`, all finite.
fn to_box(b: [f32; 4]) -> Result<BoxF, Error> {
    let [x, y, w, h] = b;
    if !(b.iter().all(|v| v.is_finite()) && w > 0.0 && h > 0.0) {
        return Err(Error::value(format!(
            "a box is (x, y, w, h) in pixels with w, h > 0, got {b:?}"
        )));
    }
    Ok(BoxF::new(x, y, w, h))
}

#[pymethods]
impl Detector {
    #[new]
    #[pyo3(signature = (model = None, detector = None, threads = None, *, min_face = None, refine = 0, flip = false, precision = "auto", refiner = None, cascade = true),
           text_signature = "(model=None, detector='seeta', threads=None, *, min_face=None, refine=0, flip=False, precision='auto', refiner=None, cascade=True)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: Option<PathBuf>,
        detector: Option<PathBuf>,
        threads: Option<usize>,
        min_face: Option<u32>,
        refine: usize,
        flip: bool,
        precision: &str,
        refiner: Option<PathBuf>,
        cascade: bool,
    ) -> PyResult<Detector> {
        let args = Args {
            model,
            detector: detector.map_or_else(|| "seeta".into(), |d| d.to_string_lossy().into()),
            threads,
            min_face,
            refine,
            flip,
            precision: precision.to_string(),
            refiner,
            cascade,
        };
        Ok(py.detach(|| Detector::build(args))?)
    }

    /// detect(image, bgr=False) -> list[Face]
    /// --
    ///
    /// Faces and their landmarks in one photo. `image`: a NumPy `uint8` array (`H×W×3` RGB as
    /// PIL / imageio give it, BGR with `bgr=True` as OpenCV gives it, `H×W×4`, or `H×W` gray)
    /// or a path. Returns one `Face` per face found (possibly none), boxes and points in
    /// pixels of the image. The GIL is released while it runs.
    #[pyo3(signature = (image, bgr = false))]
    fn detect(&self, py: Python<'_>, image: &Bound<'_, PyAny>, bgr: bool) -> PyResult<Py<PyList>> {
        let input = Input::from_py(image, bgr)?;
        let faces = py.detach(|| {
            let img = input.load()?;
            Ok::<_, Error>(self.install(|| self.pipeline.detect(&img)))
        })?;
        self.faces(py, faces)
    }

    /// landmarks(image, boxes, bgr=False) -> list[Face]
    /// --
    ///
    /// Landmarks for faces whose boxes you already have (your own detector, a tracker, a
    /// hand-drawn box): `boxes` is a sequence of `(x, y, w, h)` in pixels, or an `N×4` array,
    /// each a *landmark box*: tight around brows, jaw and chin (as `Face.landmark_box`;
    /// another detector's box may need enlarging or shifting to match). One `Face` per box,
    /// in order, with `score` None.
    #[pyo3(signature = (image, boxes, bgr = false))]
    fn landmarks(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        boxes: Vec<[f32; 4]>,
        bgr: bool,
    ) -> PyResult<Py<PyList>> {
        let input = Input::from_py(image, bgr)?;
        let boxes = boxes
            .into_iter()
            .map(to_box)
            .collect::<Result<Vec<_>, _>>()?;
        let faces = py.detach(|| {
            let gray = facemark::detect::to_gray(&input.load()?);
            Ok::<_, Error>(self.install(|| {
                boxes
                    .par_iter()
                    .map(|b| self.pipeline.face_in_box(&gray, b))
                    .collect::<Vec<_>>()
            }))
        })?;
        self.faces(py, faces)
    }

    /// detect_batch(images, bgr=False) -> list[list[Face]]
    /// --
    ///
    /// `detect` on many photos at once, in parallel on the detector's threads (all cores by
    /// default) with the GIL released: paths are decoded in parallel too. Returns one list of
    /// faces per image, in order. Raises on the first image that cannot be read (the message
    /// names it).
    #[pyo3(signature = (images, bgr = false))]
    fn detect_batch(
        &self,
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        bgr: bool,
    ) -> PyResult<Py<PyList>> {
        let inputs = images
            .try_iter()?
            .map(|o| Input::from_py(&o?, bgr))
            .collect::<PyResult<Vec<_>>>()?;
        let all = py.detach(|| {
            self.install(|| {
                inputs
                    .into_par_iter()
                    .map(|i| Ok(self.pipeline.detect(&i.load()?)))
                    .collect::<Result<Vec<_>, Error>>()
            })
        })?;
        let out = PyList::empty(py);
        for faces in all {
            out.append(self.faces(py, faces)?)?;
        }
        Ok(out.unbind())
    }

    /// video_landmarks(path, out=None) -> list[dict] | int
    /// --
    ///
    /// Landmarks on every frame of a video (needs the `ffmpeg` and `ffprobe` programs), as
    /// `facemark detect VIDEO` does: faces are tracked (each frame's crop placed from the
    /// last frame's points, the detector re-run every few frames or when a face is lost).
    /// Without `out`: a list with one dict per frame, `{"frame": int, "time": seconds,
    /// "faces": [{"id": track id, "box": (x, y, w, h), "points": N×2 float32 array}]}`.
    /// With `out` (a path): the same as JSON lines (`.jsonl`) or CSV (`.csv`), written
    /// atomically; returns the number of frames. The GIL is released while it runs.
    #[pyo3(signature = (path, out = None))]
    fn video_landmarks(
        &self,
        py: Python<'_>,
        path: PathBuf,
        out: Option<PathBuf>,
    ) -> PyResult<Py<PyAny>> {
        use facemark::apps::video::{self, LandmarkFormat};
        let detector = facemark::CalibratedDetector(&self.pipeline);
        let options = facemark::apps::track::TrackerOptions::default();
        let video_err = |e: facemark::apps::VideoError| match e {
            facemark::apps::VideoError::Io { .. } => Error::io(e),
            e => Error::value(e),
        };
        if !path.exists() {
            return Err(Error::io(format!("{}: no such file", path.display())).into());
        }
        if let Some(out) = out {
            let stats = py.detach(|| {
                self.install(|| {
                    video::write_landmarks(
                        &path,
                        &out,
                        LandmarkFormat::from_path(&out),
                        &detector,
                        &self.pipeline,
                        &options,
                        &mut |_| {},
                    )
                })
                .map_err(video_err)
            })?;
            return Ok(stats.frames.into_pyobject(py)?.into_any().unbind());
        }
        let mut frames = Vec::new();
        py.detach(|| {
            self.install(|| {
                video::landmarks_per_frame(
                    &path,
                    &detector,
                    &self.pipeline,
                    &options,
                    &mut |f| {
                        frames.push(f.clone());
                        Ok(())
                    },
                    &mut |_| {},
                )
            })
            .map_err(video_err)
        })?;
        let list = PyList::empty(py);
        for f in frames {
            let d = PyDict::new(py);
            d.set_item("frame", f.frame)?;
            d.set_item("time", f.time)?;
            let faces = PyList::empty(py);
            for face in f.faces {
                let fd = PyDict::new(py);
                fd.set_item("id", face.id)?;
                fd.set_item(
                    "box",
                    (face.bbox[0], face.bbox[1], face.bbox[2], face.bbox[3]),
                )?;
                fd.set_item("points", points_array(py, &face.points)?)?;
                faces.append(fd)?;
            }
            d.set_item("faces", faces)?;
            list.append(d)?;
        }
        Ok(list.into_any().unbind())
    }

    /// The landmark scheme's name: `"ibug68"`, `"kaggle15"`, `"helen194"`, `"five"`, `"n<N>"`.
    #[getter]
    fn scheme(&self) -> String {
        self.pipeline.scheme().name.clone()
    }

    /// The name of each point, in order (`len(names)` points per face).
    #[getter]
    fn names(&self) -> Vec<String> {
        self.names.to_vec()
    }

    /// Worker threads (`None`: all cores).
    #[getter]
    fn threads(&self) -> Option<usize> {
        self.args.threads
    }

    fn __repr__(&self) -> String {
        let a = &self.args;
        let model = a
            .model
            .as_ref()
            .map_or("None".into(), |p| format!("{:?}", p.display().to_string()));
        format!(
            "Detector(model={model}, detector={:?}, threads={}, scheme={:?}, refine={}, flip={})",
            a.detector,
            a.threads.map_or("None".into(), |t| t.to_string()),
            self.pipeline.scheme().name,
            a.refine,
            if a.flip { "True" } else { "False" }
        )
    }

    /// Pickle by arguments: `(Detector, args, kwargs)`, so a Detector can travel to the
    /// workers of a process pool or cluster (model files must exist there).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let a = &slf.get().args;
        let kwargs = PyDict::new(py);
        kwargs.set_item("min_face", a.min_face)?;
        kwargs.set_item("refine", a.refine)?;
        kwargs.set_item("flip", a.flip)?;
        kwargs.set_item("precision", &a.precision)?;
        kwargs.set_item("refiner", a.refiner.as_ref())?;
        kwargs.set_item("cascade", a.cascade)?;
        let args = (a.model.as_ref(), &a.detector, a.threads);
        // functools.partial carries the keyword-only arguments through pickle's (callable, args)
        let partial = py
            .import("functools")?
            .getattr("partial")?
            .call((slf.get_type(),), Some(&kwargs))?;
        (partial, args).into_pyobject(py).map(|t| t.into_any())
    }
}

/// `N×2` float32 array of points.
fn points_array<'py>(py: Python<'py>, pts: &[[f32; 2]]) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let flat: Vec<f32> = pts.iter().flat_map(|p| *p).collect();
    flat.into_pyarray(py).reshape([pts.len(), 2])
}

/// One face: its box, score and landmarks (pixels of the image it was found in).
///
/// - `box`: `(x, y, w, h)`, the face detector's box (the box you gave to `landmarks`);
/// - `score`: the detector's confidence (its scale depends on the detector), `None` for a
///   box you gave;
/// - `landmark_box`: the box the model framed the face with (`(x, y, w, h)`);
/// - `points`: `N×2` `float32` array of `[x, y]`, in the scheme's order;
/// - `names`: the name of each point (`len(points)` strings).
#[pyclass(frozen, module = "facemark")]
pub struct Face {
    #[pyo3(get, name = "box")]
    bbox: (f32, f32, f32, f32),
    #[pyo3(get)]
    score: Option<f32>,
    #[pyo3(get)]
    landmark_box: (f32, f32, f32, f32),
    #[pyo3(get)]
    points: Py<PyArray2<f32>>,
    names: Arc<[String]>,
}

fn tuple(b: &BoxF) -> (f32, f32, f32, f32) {
    (b.x, b.y, b.w, b.h)
}

impl Face {
    fn new(py: Python<'_>, f: facemark::Face, names: Arc<[String]>) -> PyResult<Face> {
        let lb = tuple(&f.landmark_box);
        Ok(Face {
            bbox: f.detection.as_ref().map_or(lb, |d| tuple(&d.bbox)),
            score: f.detection.as_ref().map(|d| d.score),
            landmark_box: lb,
            points: points_array(py, &f.points)?.unbind(),
            names,
        })
    }
}

#[pymethods]
impl Face {
    /// The name of each point, in the order of `points`.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.names.to_vec()
    }

    /// to_dict() -> dict
    /// --
    ///
    /// The face as plain Python values (lists and floats), ready for `json.dumps`: keys `box`,
    /// `score`, `landmark_box`, `points` (`[[x, y], …]`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("box", [self.bbox.0, self.bbox.1, self.bbox.2, self.bbox.3])?;
        d.set_item("score", self.score)?;
        let lb = self.landmark_box;
        d.set_item("landmark_box", [lb.0, lb.1, lb.2, lb.3])?;
        d.set_item("points", self.points.bind(py).call_method0("tolist")?)?;
        Ok(d)
    }

    fn __len__(&self) -> usize {
        self.names.len()
    }

    fn __repr__(&self) -> String {
        let b = self.bbox;
        format!(
            "Face(box=({:.1}, {:.1}, {:.1}, {:.1}), score={}, points={}×2)",
            b.0,
            b.1,
            b.2,
            b.3,
            self.score.map_or("None".into(), |s| format!("{s:.3}")),
            self.names.len()
        )
    }
}
