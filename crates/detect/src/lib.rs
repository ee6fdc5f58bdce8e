//! facemark-detect: face detection.
//!
//! Two detectors, both implementing [`facemark_core::FaceDetector`] (boxes in pixels of the
//! searched gray image, `[x, y]` top-left, x before y):
//!
//! - [`Cascade`]: OpenCV's Haar and LBP cascade classifiers (the XML files of Debian's
//!   `opencv-data`), evaluated in pure Rust with OpenCV 4.x's exact arithmetic (pyramid resize,
//!   integral images, variance normalisation, `groupRectangles`), so that the same cascade and
//!   parameters give the same faces as `cv::CascadeClassifier::detectMultiScale`.
//!   `haarcascade_frontalface_default.xml` is vendored in `data/` and embedded at build time.
//! - [`Seeta`]: the SeetaFace funnel-structured cascade from the `rustface` crate, whose model is
//!   embedded in the library, so it works on a machine with nothing installed.
//!
//! [`default_detector`] returns the one the benchmark in the README found better;
//! [`detector_by_name`] picks one by name or cascade file.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod cascade;
mod dense;
mod engine;
mod integral;
mod resize;
mod seeta;

pub use cascade::{CascadeModel, FeatureType, HaarFeature, HaarRect, LbpFeature};
pub use engine::{group_rectangles, DetectParams, Rect};
pub use resize::resize_linear_exact;
pub use seeta::{Seeta, SeetaParams};

use facemark_core::{Detection, FaceDetector};
use image::GrayImage;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Reading a cascade file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// Malformed cascade XML; `line` is 1-based (0 when not tied to a line).
    #[error("{}cascade XML, line {line}: {msg}", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    FormatIn {
        /// The file, when the XML came from one.
        file: Option<PathBuf>,
        /// 1-based line (0: not tied to a line).
        line: u32,
        /// What is wrong.
        msg: String,
    },
    /// Malformed cascade XML, no file named (see [`DetectError::FormatIn`]).
    #[error("cascade XML, line {line}: {msg}")]
    Format {
        /// 1-based line (0: not tied to a line).
        line: u32,
        /// What is wrong.
        msg: String,
    },
    /// A well-formed file of a kind this crate does not evaluate.
    #[error("unsupported cascade: {0}")]
    Unsupported(String),
    /// Detection parameters out of range.
    #[error("invalid detection parameters: {0}")]
    Params(String),
    /// An image too large for the cascade engine (its integral-image offsets are 32-bit).
    #[error("image too large for the cascade detector: {0}")]
    TooLarge(String),
    /// The embedded model/cascade was not available when this binary was built.
    #[error("{0}")]
    NotEmbedded(String),
    /// A detector name that is none of `haar`, `seeta`, `lbp` or a `.xml` file.
    #[error("unknown detector `{0}`: expected `haar`, `seeta`, `lbp` or a cascade .xml file")]
    UnknownDetector(String),
    /// The SeetaFace model could not be read.
    #[error("SeetaFace model: {0}")]
    Seeta(String),
}

impl DetectError {
    fn in_file(self, path: &Path) -> DetectError {
        match self {
            DetectError::Format { line, msg } => DetectError::FormatIn {
                file: Some(path.to_path_buf()),
                line,
                msg,
            },
            DetectError::Unsupported(m) => {
                DetectError::Unsupported(format!("{}: {m}", path.display()))
            }
            e => e,
        }
    }
}

/// An OpenCV cascade classifier with the parameters [`FaceDetector::detect`] uses.
#[derive(Debug, Clone)]
pub struct Cascade {
    model: CascadeModel,
    name: String,
    /// Parameters of [`FaceDetector::detect`] (OpenCV's defaults unless set).
    pub params: DetectParams,
}

const INSTALL_HINT: &str =
    "haarcascade_frontalface_default.xml was not embedded when facemark was built (its vendored \
copy crates/detect/data/ was missing): restore it and rebuild, set FACEMARK_CASCADE=FILE at build \
time (e.g. from `apt-get install opencv-data`), or pass `--cascade FILE` / `--detector FILE.xml`";

impl Cascade {
    /// Load an OpenCV cascade XML file (Haar or LBP; current or old Haar format).
    pub fn from_xml_file(path: impl AsRef<Path>) -> Result<Cascade, DetectError> {
        let path = path.as_ref();
        let model = CascadeModel::from_xml_file(path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cascade".into());
        Ok(Cascade::from_model(model, &stem))
    }

    /// Parse OpenCV cascade XML text.
    pub fn from_xml_str(xml: &str) -> Result<Cascade, DetectError> {
        Ok(Cascade::from_model(
            CascadeModel::from_xml_str(xml)?,
            "cascade",
        ))
    }

    fn from_model(model: CascadeModel, stem: &str) -> Cascade {
        let kind = match model.feature_type() {
            FeatureType::Haar => "haar",
            FeatureType::Lbp => "lbp",
        };
        Cascade {
            model,
            name: format!("{kind}:{stem}"),
            params: DetectParams::default(),
        }
    }

    /// OpenCV's `haarcascade_frontalface_default.xml`, embedded at build time (the vendored copy
    /// in `data/`, or `$FACEMARK_CASCADE`). When it was not embedded, an error saying how to get it.
    pub fn embedded_frontal() -> Result<Cascade, DetectError> {
        let bytes = embedded::EMBEDDED_FRONTAL
            .ok_or_else(|| DetectError::NotEmbedded(INSTALL_HINT.into()))?;
        let text = std::str::from_utf8(bytes)
            .map_err(|e| DetectError::NotEmbedded(format!("embedded cascade is not UTF-8: {e}")))?;
        let model = CascadeModel::from_xml_str(text)?;
        Ok(Cascade::from_model(
            model,
            "haarcascade_frontalface_default",
        ))
    }

    /// A cascade from the system's OpenCV data folders by file name (e.g.
    /// `lbpcascade_frontalface_improved.xml`), searched in `/usr/share/opencv4/{haar,lbp}cascades`
    /// and `/usr/share/opencv/…`.
    pub fn system(file_name: &str) -> Result<Cascade, DetectError> {
        for root in [
            "/usr/share/opencv4",
            "/usr/share/opencv",
            "/usr/local/share/opencv4",
        ] {
            for sub in ["haarcascades", "lbpcascades"] {
                let p = Path::new(root).join(sub).join(file_name);
                if p.is_file() {
                    return Cascade::from_xml_file(p);
                }
            }
        }
        Err(DetectError::NotEmbedded(format!(
            "{file_name} not found in /usr/share/opencv4 or /usr/share/opencv: apt-get install opencv-data, or pass the file"
        )))
    }

    /// Whether the frontal-face cascade is inside this build.
    pub fn has_embedded_frontal() -> bool {
        embedded::EMBEDDED_FRONTAL.is_some()
    }

    /// Set the parameters [`FaceDetector::detect`] uses.
    pub fn with_params(mut self, params: DetectParams) -> Cascade {
        self.params = params;
        self
    }

    /// The parsed cascade.
    pub fn model(&self) -> &CascadeModel {
        &self.model
    }

    /// OpenCV's `detectMultiScale(image, scaleFactor, minNeighbors, 0, minSize, maxSize)`:
    /// grouped detections, boxes in pixels of `image`, `score` = number of raw windows merged
    /// (OpenCV's "neighbours"). Invalid parameters (see [`DetectParams::validate`]) and images
    /// too large for the engine give no detections; use [`Cascade::try_detect_multi_scale`]
    /// to get the error.
    pub fn detect_multi_scale(&self, image: &GrayImage, params: &DetectParams) -> Vec<Detection> {
        self.try_detect_multi_scale(image, params)
            .unwrap_or_default()
    }

    /// As [`Cascade::detect_multi_scale`], reporting invalid parameters and images too large
    /// for the engine ([`DetectError::TooLarge`]).
    pub fn try_detect_multi_scale(
        &self,
        image: &GrayImage,
        params: &DetectParams,
    ) -> Result<Vec<Detection>, DetectError> {
        params.validate()?;
        engine::detect_multi_scale(&self.model, image, params)
    }

    /// The raw windows before grouping (OpenCV's `detectMultiScaleNoGrouping`), in pixels.
    pub fn raw_windows(
        &self,
        image: &GrayImage,
        params: &DetectParams,
    ) -> Result<Vec<Rect>, DetectError> {
        params.validate()?;
        engine::raw_windows(&self.model, image, params)
    }
}

impl FaceDetector for Cascade {
    fn detect(&self, image: &GrayImage) -> Vec<Detection> {
        self.detect_multi_scale(image, &self.params)
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Parameters the face pipeline uses with the Haar cascade (and the benchmark): scale factor
/// 1.1, 5 neighbours, faces of at least 20×20 pixels.
pub const FACE_PARAMS: DetectParams = DetectParams {
    scale_factor: 1.1,
    min_neighbors: 5,
    min_size: (20, 20),
    max_size: (0, 0),
};

/// The detector facemark uses when none is named: the built-in SeetaFace detector, which needs
/// no system files and found more of the 300-W faces than the Haar cascade in our benchmark
/// (README, detection section).
pub fn default_detector() -> Result<Box<dyn FaceDetector>, DetectError> {
    Ok(Box::new(Seeta::embedded()?))
}

/// A detector by name: `seeta` (built-in SeetaFace), `haar` (embedded
/// `haarcascade_frontalface_default`), `lbp` (`lbpcascade_frontalface_improved.xml` from the
/// system), or the path of an OpenCV cascade `.xml`. Cascades use [`FACE_PARAMS`].
pub fn detector_by_name(name: &str) -> Result<Box<dyn FaceDetector>, DetectError> {
    detector_with(Some(name), None)
}

/// A detector by name as [`detector_by_name`] (`None`: the default detector), searching for
/// faces of at least `min_face` pixels (`None`: 40 for SeetaFace, its window; 20 for cascades,
/// [`FACE_PARAMS`]). A larger minimum is faster on large photos; SeetaFace below 40 enlarges
/// the image (slower).
pub fn detector_with(
    name: Option<&str>,
    min_face: Option<u32>,
) -> Result<Box<dyn FaceDetector>, DetectError> {
    let mut params = FACE_PARAMS;
    if let Some(m) = min_face {
        params.min_size = (m, m);
    }
    // refused here rather than by every detect call (which would find no faces)
    params.validate()?;
    match name.unwrap_or("default") {
        "seeta" | "seetaface" | "default" => {
            let mut seeta = SeetaParams::default(); // its detect() raises a minimum below 20
            if let Some(m) = min_face {
                seeta.min_face_size = m;
            }
            Ok(Box::new(Seeta::embedded()?.with_params(seeta)))
        }
        "haar" => Ok(Box::new(Cascade::embedded_frontal()?.with_params(params))),
        "lbp" => Ok(Box::new(
            Cascade::system("lbpcascade_frontalface_improved.xml")?.with_params(params),
        )),
        other => {
            let p = Path::new(other);
            if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")) || p.is_file() {
                Ok(Box::new(Cascade::from_xml_file(p)?.with_params(params)))
            } else {
                Err(DetectError::UnknownDetector(other.to_string()))
            }
        }
    }
}

/// The gray conversion every facemark stage shares (BT.601, as OpenCV): re-exported here,
/// where detection first needed it.
pub use facemark_core::gray::{rgb_to_gray, to_gray};
