//! `detectMultiScale`: the image pyramid, the sliding-window cascade evaluation and OpenCV's
//! rectangle grouping, following OpenCV 4.x `CascadeClassifierImpl` step by step so that the
//! same cascade and parameters give the same faces.
//!
//! Per scale `s` (1, f, f², … while the scaled window fits): the image is resized to
//! `round(W/s) × round(H/s)` (bit-exact `INTER_LINEAR_EXACT`), its integral images are built,
//! and the cascade is run on the original window size at every `ystep` pixels (2 below scale 2,
//! 1 above; a window rejected by the first stage skips the next position). Scales run in
//! parallel (rayon), and the rows of a scale in parallel chunks.
//!
//! Modules: `scan` (one pyramid level's integral tables, the cascade compiled to table offsets
//! and the window scan), `group` (OpenCV's `groupRectangles`); here the parameters, the scale
//! list and the driver that runs the levels and maps their windows back to image pixels.

mod group;
mod scan;
#[cfg(test)]
mod tests;

pub use group::group_rectangles;

use crate::cascade::CascadeModel;
use crate::DetectError;
use facemark_core::{BoxF, Detection};
use image::GrayImage;
use rayon::prelude::*;
use scan::{build_opt, check_reads, offsets, Layer, Scanner};

/// Parameters of [`crate::Cascade::detect_multi_scale`], with OpenCV's meaning and defaults
/// (`scaleFactor 1.1, minNeighbors 3, minSize 0×0, maxSize 0×0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectParams {
    /// Ratio between successive pyramid scales; must be in `[1.001, 100]`.
    pub scale_factor: f64,
    /// A face needs more than this many raw windows in its group (0: no grouping at all).
    pub min_neighbors: u32,
    /// Smallest window `(width, height)` in pixels; `(0, 0)`: the cascade's own size.
    pub min_size: (u32, u32),
    /// Largest window `(width, height)` in pixels; `(0, 0)`: the image size.
    pub max_size: (u32, u32),
}

impl Default for DetectParams {
    fn default() -> Self {
        DetectParams {
            scale_factor: 1.1,
            min_neighbors: 3,
            min_size: (0, 0),
            max_size: (0, 0),
        }
    }
}

impl DetectParams {
    /// Checks `1.001 ≤ scale_factor ≤ 100` (OpenCV only asks for > 1; steps below 1.001 would
    /// mean thousands of scales) and window sides of at most
    /// [`facemark_core::limits::MAX_FACE_SIZE`] (larger ones wrapped to negative `i32`s).
    pub fn validate(&self) -> Result<(), DetectError> {
        let sizes = [
            ("min_size", self.min_size.0),
            ("min_size", self.min_size.1),
            ("max_size", self.max_size.0),
            ("max_size", self.max_size.1),
        ];
        for (what, v) in sizes {
            facemark_core::limits::check_face_size(what, v).map_err(DetectError::Params)?;
        }
        if !(self.scale_factor >= 1.001 && self.scale_factor <= 100.0) {
            return Err(DetectError::Params(format!(
                "scale_factor must be between 1.001 and 100, got {}",
                self.scale_factor
            )));
        }
        Ok(())
    }
}

/// An integer rectangle (OpenCV `cv::Rect`), pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

#[inline]
fn round_f32(v: f32) -> i32 {
    v.round_ties_even() as i32
}
#[inline]
fn round_f64(v: f64) -> i32 {
    v.round_ties_even() as i32
}

/// The scales OpenCV would search for an `img_w × img_h` image.
pub(crate) fn scales_for(window: (i32, i32), img_w: i32, img_h: i32, p: &DetectParams) -> Vec<f32> {
    let (ww, wh) = window;
    if img_w < ww || img_h < wh {
        return vec![];
    }
    let (mut max_w, mut max_h) = (p.max_size.0 as i32, p.max_size.1 as i32);
    if max_w == 0 || max_h == 0 {
        max_w = img_w;
        max_h = img_h;
    }
    let (min_w, min_h) = (p.min_size.0 as i32, p.min_size.1 as i32);
    let mut all = Vec::new();
    let mut factor = 1.0f64;
    loop {
        let (w, h) = (round_f64(ww as f64 * factor), round_f64(wh as f64 * factor));
        if w > img_w || h > img_h {
            break;
        }
        all.push(factor as f32);
        factor *= p.scale_factor;
    }
    let win = |s: f32| (round_f32(ww as f32 * s), round_f32(wh as f32 * s));
    let mut scales = Vec::new();
    for &s in &all {
        let (w, h) = win(s);
        if w > max_w || h > max_h {
            break;
        }
        if w < min_w || h < min_h {
            continue;
        }
        scales.push(s);
    }
    if scales.is_empty() && !all.is_empty() {
        // OpenCV: take the scale closest to min_size (meant for min_size == max_size).
        let mut best = 0;
        let mut best_d = f64::INFINITY;
        for (i, &s) in all.iter().enumerate() {
            let (w, h) = win(s);
            let d = ((min_w - w) as f64).powi(2) + ((min_h - h) as f64).powi(2);
            if d < best_d {
                best_d = d;
                best = i;
            }
        }
        scales.push(all[best]);
    }
    scales
}

/// All raw (ungrouped) windows, in image pixels, OpenCV's `detectMultiScaleNoGrouping`.
/// Deterministic order: by scale, then row, then column.
///
/// An error ([`DetectError::TooLarge`]) when the image is too large for the engine's 32-bit
/// table offsets.
pub(crate) fn raw_windows(
    model: &CascadeModel,
    img: &GrayImage,
    p: &DetectParams,
) -> Result<Vec<Rect>, DetectError> {
    raw_windows_impl(model, img, p, true)
}

/// `dense = false` forces the plain per-window path (tests compare the two).
fn raw_windows_impl(
    model: &CascadeModel,
    img: &GrayImage,
    p: &DetectParams,
    dense: bool,
) -> Result<Vec<Rect>, DetectError> {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    if iw == 0 || ih == 0 {
        return Ok(vec![]);
    }
    if iw > i32::MAX as usize / 2 || ih > i32::MAX as usize / 2 {
        return Err(DetectError::TooLarge(format!(
            "{iw}x{ih} pixels is larger than the cascade engine's {}x{} limit",
            i32::MAX / 2,
            i32::MAX / 2
        )));
    }
    let scales = scales_for(model.window, iw as i32, ih as i32, p);
    let gray = img.as_raw();
    let (ww, wh) = model.window;
    let per_scale: Vec<Vec<Rect>> = scales
        .par_iter()
        .map(|&scale| {
            let layer = Layer::build(model, gray, iw, ih, scale);
            let tofs = layer.stride * (layer.h + 1);
            let opt = build_opt(model, layer.stride, tofs)?;
            let n = [1usize, 1, (ww - 2) as usize, (wh - 2) as usize];
            let nofs = offsets([
                n[0] + layer.stride * n[1],
                n[0] + n[2] + layer.stride * n[1],
                n[0] + layer.stride * (n[1] + n[3]),
                n[0] + n[2] + layer.stride * (n[1] + n[3]),
            ])?;
            let sc = Scanner {
                model,
                layer: &layer,
                opt: &opt,
                nofs,
                narea: ((ww - 2) * (wh - 2)) as f64,
            };
            let (wx, wy) = layer.working(model.window);
            if wx > 0 && wy > 0 {
                let last = (wy - 1) * layer.stride + wx - 1;
                check_reads(&opt, &nofs, last, layer.sum.len(), layer.sq.len())?;
            }
            let step = layer.ystep;
            // Row chunks of ~16 scanned rows, a multiple of the step.
            let chunk = 16 * step;
            let nchunks = wy.div_ceil(chunk);
            let hits: Vec<(u32, u32)> = (0..nchunks)
                .into_par_iter()
                .flat_map_iter(|c| {
                    let mut v = Vec::new();
                    let (y0, y1) = (c * chunk, ((c + 1) * chunk).min(wy));
                    if dense {
                        sc.scan_rows(y0, y1, wx, &mut v);
                    } else {
                        sc.scan_with(y0, y1, wx, &mut v, |p| sc.run_at(p));
                    }
                    v
                })
                .collect();
            let win = (round_f32(ww as f32 * scale), round_f32(wh as f32 * scale));
            Ok(hits
                .into_iter()
                .map(|(x, y)| Rect {
                    x: round_f32(x as f32 * scale),
                    y: round_f32(y as f32 * scale),
                    w: win.0,
                    h: win.1,
                })
                .collect())
        })
        .collect::<Result<_, DetectError>>()?;
    Ok(per_scale.into_iter().flatten().collect())
}

/// The full `detectMultiScale`: raw windows, grouping (eps 0.2), clipping to the image.
pub(crate) fn detect_multi_scale(
    model: &CascadeModel,
    img: &GrayImage,
    p: &DetectParams,
) -> Result<Vec<Detection>, DetectError> {
    let raw = raw_windows(model, img, p)?;
    let grouped = group_rectangles(&raw, p.min_neighbors.min(i32::MAX as u32) as i32, 0.2);
    let (iw, ih) = (img.width() as i32, img.height() as i32);
    Ok(grouped
        .into_iter()
        .filter_map(|(r, n)| {
            let x0 = r.x.max(0);
            let y0 = r.y.max(0);
            let x1 = (r.x + r.w).min(iw);
            let y1 = (r.y + r.h).min(ih);
            (x1 > x0 && y1 > y0).then(|| Detection {
                bbox: BoxF::new(x0 as f32, y0 as f32, (x1 - x0) as f32, (y1 - y0) as f32),
                score: n as f32,
            })
        })
        .collect())
}
