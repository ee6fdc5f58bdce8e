//! The built-in detector: SeetaFace's funnel-structured cascade (LAB boosted + SURF-MLP stages,
//! frontal model `seeta_fd_frontal_v1.0.bin`, BSD-2) via the `rustface` crate. The model bytes
//! are embedded in the library by build.rs from rustface's crates.io package.

use crate::{embedded, DetectError};
use facemark_core::{BoxF, Detection, FaceDetector};
use image::GrayImage;

/// SeetaFace search parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeetaParams {
    /// Smallest face side in pixels (≥ 20; default 40, SeetaFace's window). The image is
    /// resized by `40 / min_face_size` before the search: below 40 it is enlarged (small faces
    /// found, slower), above 40 shrunk (faster).
    pub min_face_size: u32,
    /// Detections scoring below this are dropped (SeetaFace's examples use 2.0).
    pub score_thresh: f64,
    /// Ratio between pyramid levels, in (0.1, 0.99).
    pub pyramid_scale_factor: f32,
    /// Sliding-window step in pixels.
    pub step: u32,
}

impl Default for SeetaParams {
    fn default() -> Self {
        SeetaParams {
            min_face_size: WINDOW,
            score_thresh: 2.0,
            pyramid_scale_factor: 0.8,
            step: 4,
        }
    }
}

/// SeetaFace's detection window (pixels): the smallest face it finds at the image's own scale.
const WINDOW: u32 = 40;

/// The SeetaFace frontal face detector (implements [`FaceDetector`]; `score` is SeetaFace's
/// classifier score).
#[derive(Clone)]
pub struct Seeta {
    model: rustface::Model,
    /// Parameters of [`FaceDetector::detect`].
    pub params: SeetaParams,
}

impl std::fmt::Debug for Seeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeta")
            .field("params", &self.params)
            .finish()
    }
}

impl Seeta {
    /// The model embedded at build time (vendored in `data/`, or `$FACEMARK_SEETA_MODEL`).
    pub fn embedded() -> Result<Seeta, DetectError> {
        let bytes = embedded::EMBEDDED_SEETA.ok_or_else(|| {
            DetectError::NotEmbedded(
                "the SeetaFace model was not embedded when facemark was built (its vendored copy \
                 crates/detect/data/seeta_fd_frontal_v1.0.bin was missing); restore it and rebuild, \
                 or rebuild with FACEMARK_SEETA_MODEL=PATH/seeta_fd_frontal_v1.0.bin"
                    .into(),
            )
        })?;
        Self::from_bytes(bytes)
    }

    /// A SeetaFace model file's bytes (`seeta_fd_frontal_v1.0.bin` format).
    pub fn from_bytes(bytes: &[u8]) -> Result<Seeta, DetectError> {
        let model = rustface::read_model(std::io::Cursor::new(bytes))
            .map_err(|e| DetectError::Seeta(e.to_string()))?;
        Ok(Seeta {
            model,
            params: SeetaParams::default(),
        })
    }

    /// Set the parameters [`FaceDetector::detect`] uses.
    pub fn with_params(mut self, params: SeetaParams) -> Seeta {
        self.params = params;
        self
    }
}

impl FaceDetector for Seeta {
    fn detect(&self, image: &GrayImage) -> Vec<Detection> {
        let p = self.params;
        // rustface 0.1.7 ignores its own min-face setting (its pyramid always starts at the
        // image's scale, so faces below the 40-px window are never found), so the minimum is
        // honoured here: the image is resized so that a `min`-pixel face fills the window.
        let min = p.min_face_size.max(20);
        let scale = WINDOW as f32 / min as f32;
        let (w, h) = (
            (image.width() as f32 * scale).round() as u32,
            (image.height() as f32 * scale).round() as u32,
        );
        // rustface asserts on images smaller than its window and on out-of-range parameters.
        if w < WINDOW || h < WINDOW {
            return vec![];
        }
        let resized;
        let search = if min == WINDOW {
            image
        } else {
            let px = crate::resize::resize_linear_exact(
                image.as_raw(),
                image.width() as usize,
                image.height() as usize,
                w as usize,
                h as usize,
            );
            resized = GrayImage::from_raw(w, h, px).expect("resize gives w × h pixels");
            &resized
        };
        // searched-image pixels → photo pixels (the rounded sizes' own ratios)
        let (sx, sy) = (
            image.width() as f32 / search.width() as f32,
            image.height() as f32 / search.height() as f32,
        );
        let mut det = rustface::create_detector_with_model(self.model.clone());
        det.set_min_face_size(WINDOW);
        det.set_score_thresh(if p.score_thresh > 0.0 {
            p.score_thresh
        } else {
            2.0
        });
        det.set_pyramid_scale_factor(p.pyramid_scale_factor.clamp(0.1, 0.99));
        det.set_slide_window_step(p.step.max(1), p.step.max(1));
        let data = rustface::ImageData::new(search.as_raw(), search.width(), search.height());
        det.detect(&data)
            .into_iter()
            .map(|f| {
                let b = f.bbox();
                Detection {
                    bbox: BoxF::new(
                        b.x() as f32 * sx,
                        b.y() as f32 * sy,
                        b.width() as f32 * sx,
                        b.height() as f32 * sy,
                    ),
                    score: f.score() as f32,
                }
            })
            .collect()
    }
    fn name(&self) -> String {
        "seetaface".into()
    }
}
