//! Pictures of a report: the worst faces' contact sheet and CED charts.

use super::{load_gray, EvalError, EvalReport};
use facemark_core::draw::{contact_sheet, draw_points, draw_text};
use facemark_core::geometry::warp_rgb;
use facemark_core::{Affine2, Point, Sample};
use image::RgbImage;
use std::path::Path;

/// Ground-truth colour in pictures (the seeds' green).
pub const GT_COLOR: [u8; 3] = [0, 255, 0];
/// Prediction colour in pictures (the seeds' magenta).
pub const PRED_COLOR: [u8; 3] = [255, 0, 255];

impl EvalReport {
    /// A contact sheet of the `n` worst faces: each tile is the face (its box grown by 40%)
    /// with ground truth in green and prediction in magenta, and its error written on it.
    /// `samples` must be the slice that was evaluated.
    pub fn worst_sheet(&self, samples: &[Sample], n: usize, tile: u32) -> RgbImage {
        let tile = tile.max(32);
        let tiles: Vec<RgbImage> = self
            .worst(n)
            .into_iter()
            .map(|k| {
                let f = &self.faces[k];
                let Some(s) = samples.get(f.index) else {
                    return RgbImage::new(tile, tile);
                };
                let Ok(img) = load_gray(&s.image) else {
                    return RgbImage::new(tile, tile);
                };
                let rgb = image::DynamicImage::ImageLuma8(img).into_rgb8();
                let region = f.face_box.square(1.4);
                let t = Affine2::crop_to(&region, tile, tile);
                let mut out = warp_rgb(&rgb, &t, tile, tile);
                let map = |pts: &[Point], vis: Option<&[bool]>| -> Vec<Point> {
                    pts.iter()
                        .enumerate()
                        .filter(|(i, _)| match vis {
                            None => true,
                            Some(v) => v.get(*i).copied().unwrap_or(false),
                        })
                        .map(|(_, p)| t.apply(*p))
                        .collect()
                };
                let r = (tile as f32 / 100.0).max(1.5);
                draw_points(&mut out, &map(&s.points, Some(&s.visible)), GT_COLOR, r);
                draw_points(&mut out, &map(&f.pred, None), PRED_COLOR, r);
                let label = match self.primary_of(f) {
                    Some(e) => format!("NME {e:.3}"),
                    None => format!("{:.1} PX", f.mean_px.unwrap_or(f32::NAN)),
                };
                draw_text(&mut out, 3, 3, &label, [255, 255, 0], 1);
                out
            })
            .collect();
        contact_sheet(&tiles, 5, tile)
    }

    /// Writes [`EvalReport::worst_sheet`] as an image (format from the extension), atomically.
    pub fn write_worst_sheet(
        &self,
        samples: &[Sample],
        n: usize,
        path: &Path,
    ) -> Result<(), EvalError> {
        let sheet = self.worst_sheet(samples, n, 160);
        facemark_core::io::save_image_atomic(&image::DynamicImage::ImageRgb8(sheet), path).map_err(
            |source| EvalError::Write {
                path: path.to_path_buf(),
                source,
            },
        )
    }
}

/// CED curves of one or more reports in one PNG (x: primary NME up to `max`, y: fraction of
/// faces), e.g. to compare models on the same data.
pub fn plot_ced(
    path: &Path,
    title: &str,
    reports: &[(&str, &EvalReport)],
    max: f32,
) -> Result<(), EvalError> {
    let series: Vec<(&str, Vec<(f32, f32)>)> =
        reports.iter().map(|(n, r)| (*n, r.ced(max))).collect();
    let x = match reports.first().map(|(_, r)| r.primary.as_str()) {
        Some("inter_pupil") => "NME (inter-pupil)",
        _ => "NME (outer eye corners)",
    };
    let axes = crate::plot::Axes {
        x: Some((0.0, max)),
        y: Some((0.0, 1.0)),
        log_y: false,
        legend_lower_right: true,
    };
    crate::plot::plot_curves_with(path, title, &series, x, "fraction of faces", axes)?;
    Ok(())
}
