//! Contact sheets of samples: tiles of faces with their points drawn (`facemark data show`),
//! to look at a data set's annotations.

use crate::{load_rgb, FormatError, Result};
use facemark_core::draw::{contact_sheet, draw_indices, draw_points, draw_text, text_width};
use facemark_core::geometry::warp_rgb;
use facemark_core::{Affine2, BoxF, CropSpec, Sample};
use image::RgbImage;
use rayon::prelude::*;

/// Colour of the points: green.
pub const POINT_COLOR: [u8; 3] = [0, 255, 0];
/// Colour of the point numbers: magenta.
pub const NUMBER_COLOR: [u8; 3] = [255, 0, 255];

/// What a sheet shows and how it is laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SheetOptions {
    /// Number of samples (at most the data set's), spread evenly over it.
    pub count: usize,
    /// Tiles per row.
    pub cols: usize,
    /// Tile side, pixels, in `16..=2048`.
    pub tile: u32,
    /// Label each point with its index.
    pub numbers: bool,
    /// Whole images instead of crops around the faces.
    pub full: bool,
    /// Crop margin around the landmark box (fraction of its longer side).
    pub margin: f32,
    /// Index of the first sample; then every `len / count`-th.
    pub start: usize,
}

impl Default for SheetOptions {
    /// 16 samples from the first, 4 per row, 256-pixel tiles, crops with margin 0.25, no
    /// numbers.
    fn default() -> Self {
        SheetOptions {
            count: 16,
            cols: 4,
            tile: 256,
            numbers: false,
            full: false,
            margin: 0.25,
            start: 0,
        }
    }
}

/// A contact sheet and the samples on it.
#[derive(Clone, Debug)]
pub struct SampleSheet {
    /// The picture.
    pub image: RgbImage,
    /// Indices of the samples shown, in tile order.
    pub indices: Vec<usize>,
}

/// The indices of `count` samples (clamped to `1..=len`) spread evenly over `len`, from
/// `start` (wrapping around). Empty when `len` is 0.
pub fn spread_indices(len: usize, count: usize, start: usize) -> Vec<usize> {
    if len == 0 {
        return vec![];
    }
    let n = count.clamp(1, len);
    (0..n).map(|k| (start + k * len / n) % len).collect()
}

/// A contact sheet of samples picked by [`spread_indices`], tiles drawn in parallel.
pub fn sample_sheet(samples: &[Sample], options: &SheetOptions) -> Result<SampleSheet> {
    let tile = options.tile;
    if !(16..=2048).contains(&tile) {
        return Err(FormatError::Options(format!(
            "tile side {tile} outside 16..=2048"
        )));
    }
    if samples.is_empty() {
        return Err(FormatError::Options("no samples to show".into()));
    }
    let indices = spread_indices(samples.len(), options.count, options.start);
    let spec = CropSpec::with_margin(options.margin);
    let tiles: Vec<RgbImage> = indices
        .par_iter()
        .map(|&i| sample_tile(&samples[i], tile, options.numbers, options.full, &spec))
        .collect::<Result<_>>()?;
    Ok(SampleSheet {
        image: contact_sheet(&tiles, options.cols, tile),
        indices,
    })
}

/// One `tile × tile` picture of a sample: the face cropped by `spec` around its landmarks (or
/// the whole image, centred, when `full` or without present points), its points drawn (missing
/// ones neither drawn nor numbered), numbered when `numbers`, its name at the bottom left.
pub fn sample_tile(
    s: &Sample,
    tile: u32,
    numbers: bool,
    full: bool,
    spec: &CropSpec,
) -> Result<RgbImage> {
    let img = load_rgb(&s.image)?;
    let region = match (full, s.landmark_box()) {
        (false, Some(lb)) if lb.w.max(lb.h) > 0.0 => spec.region(&lb),
        _ => {
            let side = img.width().max(img.height()) as f32;
            BoxF::new(
                (img.width() as f32 - side) * 0.5,
                (img.height() as f32 - side) * 0.5,
                side,
                side,
            )
        }
    };
    let t = Affine2::crop_to(&region, tile, tile);
    let mut out = warp_rgb(&img, &t, tile, tile);
    let pts = s.points_through(&t);
    let radius = (tile as f32 / 128.0).clamp(1.0, 3.0);
    draw_points(&mut out, &pts, POINT_COLOR, radius);
    if numbers {
        draw_indices(&mut out, &pts, NUMBER_COLOR, 1);
    }
    // Name label with a dark backing for legibility.
    let label: String = s
        .name
        .chars()
        .take((tile as usize).saturating_sub(4) / 6)
        .collect();
    let w = text_width(&label, 1) + 4;
    for y in tile.saturating_sub(11)..tile {
        for x in 0..w.min(tile) {
            let p = out.get_pixel_mut(x, y);
            p.0 = [p.0[0] / 3, p.0[1] / 3, p.0[2] / 3];
        }
    }
    draw_text(&mut out, 2, tile as i32 - 9, &label, [255, 255, 255], 1);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{load, Format};
    use crate::testutil::fixture;

    #[test]
    fn indices_spread_and_wrap() {
        assert_eq!(spread_indices(10, 4, 0), vec![0, 2, 5, 7]);
        assert_eq!(spread_indices(10, 4, 9), vec![9, 1, 4, 6]);
        assert_eq!(spread_indices(3, 16, 0), vec![0, 1, 2]);
        assert_eq!(spread_indices(3, 0, 1), vec![1]);
        assert!(spread_indices(0, 4, 0).is_empty());
    }

    #[test]
    fn sheet_draws_points_and_numbers() {
        let d = tempfile::tempdir().unwrap();
        fixture(d.path());
        let samples = load(&d.path().join("w300"), Format::Pts300w).unwrap();
        let opts = SheetOptions {
            count: 4,
            cols: 2,
            tile: 64,
            numbers: true,
            ..Default::default()
        };
        let sheet = sample_sheet(&samples, &opts).unwrap();
        assert_eq!(sheet.indices, vec![0, 1]);
        let (w, h) = sheet.image.dimensions();
        assert!(
            w >= 128 && h >= 64 && w < 2 * h,
            "one row of two tiles: {w}×{h}"
        );
        assert!(sheet.image.pixels().any(|p| p.0 == POINT_COLOR), "points");
        assert!(sheet.image.pixels().any(|p| p.0 == NUMBER_COLOR), "numbers");
        let full = SheetOptions {
            full: true,
            numbers: false,
            ..opts
        };
        let sheet = sample_sheet(&samples, &full).unwrap();
        assert!(!sheet.image.pixels().any(|p| p.0 == NUMBER_COLOR));
        // Bad options and no samples are errors, not panics.
        let tiny = SheetOptions { tile: 8, ..opts };
        assert!(sample_sheet(&samples, &tiny).is_err());
        assert!(sample_sheet(&[], &opts).is_err());
    }
}
