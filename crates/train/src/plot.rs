//! Line charts (loss curves, CED curves) as PNG files, drawn with plotters' bitmap backend.
//!
//! Text needs a TrueType font: `$FACEMARK_FONT` when set and readable, else DejaVu Sans, bundled
//! in the crate (`data/DejaVuSans.ttf`, Bitstream Vera licence beside it), so charts render the
//! same with no system font. It is registered once per process. Should registering fail, the
//! chart is still drawn (axes, grid, lines) and the title and legend are written with
//! facemark's built-in bitmap font ([`facemark_core::draw::draw_text`]); nothing panics.

use facemark_core::draw::draw_text;
use image::RgbImage;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Chart width in pixels.
pub const WIDTH: u32 = 900;
/// Chart height in pixels.
pub const HEIGHT: u32 = 560;

/// Errors drawing or saving a chart.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters failed while drawing the chart.
    #[error("drawing the chart for {path}: {msg}")]
    Draw {
        /// The chart's output path.
        path: PathBuf,
        /// plotters' message.
        msg: String,
    },
    /// Encoding or writing the PNG failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The chart's output path.
        path: PathBuf,
        /// The encoder's or system's error.
        source: image::ImageError,
    },
}

/// The series colours, in order (then repeated).
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
];

/// DejaVu Sans 2.37 (Debian's fonts-dejavu-core), under the Bitstream Vera licence in
/// `data/DejaVuSans-LICENSE.txt`.
const BUNDLED_FONT: &[u8] = include_bytes!("../data/DejaVuSans.ttf");

/// Registers plotters' "sans-serif" once: `$FACEMARK_FONT` when set and readable, else the
/// bundled DejaVu Sans. `true` when a font is registered.
pub fn font_available() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        if let Some(p) = std::env::var_os("FACEMARK_FONT").map(PathBuf::from) {
            match std::fs::read(&p) {
                Ok(bytes) => {
                    // plotters keeps fonts for the whole process: leak one buffer, once.
                    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                    if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                        .is_ok()
                    {
                        tracing::debug!(font = %p.display(), "plot font registered");
                        return true;
                    }
                    tracing::warn!(font = %p.display(), "FACEMARK_FONT is not a usable TrueType font; using the bundled DejaVu Sans");
                }
                Err(e) => tracing::warn!(font = %p.display(), "FACEMARK_FONT unreadable ({e}); using the bundled DejaVu Sans"),
            }
        }
        if plotters::style::register_font("sans-serif", FontStyle::Normal, BUNDLED_FONT).is_ok() {
            return true;
        }
        tracing::warn!("the bundled font did not register: charts get bitmap-font text");
        false
    })
}

/// Finite range of the values with 5% padding; `(0, 1)` when there is none.
fn range(vals: impl Iterator<Item = f32>) -> (f32, f32) {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = lo.abs().max(1.0) * 0.05;
        return (lo - d, hi + d);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Axis choices for [`plot_curves_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Axes {
    /// Fixed x range; `None` fits the data.
    pub x: Option<(f32, f32)>,
    /// Fixed y range; `None` fits the data.
    pub y: Option<(f32, f32)>,
    /// Logarithmic y axis (for losses); non-positive values are skipped.
    pub log_y: bool,
    /// Legend in the lower right corner (rising curves such as CEDs) instead of upper right.
    pub legend_lower_right: bool,
}

/// Draws one line per series (`(name, [(x, y), …])`, non-finite points skipped) and writes
/// the chart as a PNG to `path` (atomically). Axes fit the data.
pub fn plot_curves(
    path: &Path,
    title: &str,
    series: &[(&str, Vec<(f32, f32)>)],
    x_label: &str,
    y_label: &str,
) -> Result<(), PlotError> {
    plot_curves_with(path, title, series, x_label, y_label, Axes::default())
}

/// As [`plot_curves`] with fixed ranges or a log y axis.
pub fn plot_curves_with(
    path: &Path,
    title: &str,
    series: &[(&str, Vec<(f32, f32)>)],
    x_label: &str,
    y_label: &str,
    axes: Axes,
) -> Result<(), PlotError> {
    let img =
        render_with(title, series, x_label, y_label, axes, font_available()).map_err(|msg| {
            PlotError::Draw {
                path: path.to_path_buf(),
                msg,
            }
        })?;
    facemark_core::io::save_image_atomic(&image::DynamicImage::ImageRgb8(img), path).map_err(
        |source| PlotError::Write {
            path: path.to_path_buf(),
            source,
        },
    )
}

/// Renders the chart into an RGB image; `with_font = false` draws no plotters text.
pub fn render(
    title: &str,
    series: &[(&str, Vec<(f32, f32)>)],
    x_label: &str,
    y_label: &str,
    with_font: bool,
) -> Result<RgbImage, String> {
    render_with(title, series, x_label, y_label, Axes::default(), with_font)
}

fn valid_range(r: Option<(f32, f32)>) -> Option<(f32, f32)> {
    r.filter(|(a, b)| a.is_finite() && b.is_finite() && b > a)
}

/// As [`render`] with [`Axes`].
pub fn render_with(
    title: &str,
    series: &[(&str, Vec<(f32, f32)>)],
    x_label: &str,
    y_label: &str,
    axes: Axes,
    with_font: bool,
) -> Result<RgbImage, String> {
    let (w, h) = (WIDTH, HEIGHT);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    // With a log axis, plot log10(y) on a linear axis and label the ticks as powers back.
    let ty = |y: f32| {
        if axes.log_y {
            if y > 0.0 {
                y.log10()
            } else {
                f32::NAN
            }
        } else {
            y
        }
    };
    let series: Vec<(&str, Vec<(f32, f32)>)> = series
        .iter()
        .map(|(n, v)| (*n, v.iter().map(|&(x, y)| (x, ty(y))).collect()))
        .collect();
    let series = &series[..];
    let all = || series.iter().flat_map(|(_, v)| v.iter());
    let (x0, x1) = valid_range(axes.x).unwrap_or_else(|| range(all().map(|p| p.0)));
    let (y0, y1) = valid_range(axes.y.map(|(a, b)| (ty(a), ty(b))))
        .unwrap_or_else(|| range(all().map(|p| p.1)));
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(20);
        if with_font {
            builder
                .caption(title, ("sans-serif", 24))
                .x_label_area_size(45)
                .y_label_area_size(70);
        } else {
            builder.x_label_area_size(10).y_label_area_size(10);
            builder.margin_top(40);
        }
        let mut chart = builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        let mut mesh = chart.configure_mesh();
        mesh.max_light_lines(2);
        if with_font {
            mesh.x_desc(x_label)
                .y_desc(y_label)
                .label_style(("sans-serif", 14));
            if axes.log_y {
                mesh.y_label_formatter(&|v: &f32| format!("{:.3e}", 10f32.powf(*v)));
            }
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| e.to_string())?;
        for (k, (name, pts)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            // Split at non-finite points so gaps stay gaps.
            let mut segments: Vec<Vec<(f32, f32)>> = vec![vec![]];
            for &(x, y) in pts {
                if x.is_finite() && y.is_finite() {
                    segments.last_mut().expect("non-empty").push((x, y));
                } else if !segments.last().expect("non-empty").is_empty() {
                    segments.push(vec![]);
                }
            }
            for (s, seg) in segments.into_iter().enumerate() {
                let line = LineSeries::new(seg, color.stroke_width(2));
                let anno = chart.draw_series(line).map_err(|e| e.to_string())?;
                if with_font && s == 0 {
                    let name = name.to_string();
                    anno.label(name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                }
            }
        }
        if with_font && !series.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(if axes.legend_lower_right {
                    SeriesLabelPosition::LowerRight
                } else {
                    SeriesLabelPosition::UpperRight
                })
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    let mut img = RgbImage::from_raw(w, h, buf).ok_or("chart buffer size")?;
    if !with_font {
        // Title, axis names and legend in the built-in bitmap font.
        draw_text(&mut img, 20, 12, title, [0, 0, 0], 2);
        let axes = format!("X: {x_label} {x0:.3}..{x1:.3}   Y: {y_label} {y0:.3}..{y1:.3}");
        draw_text(&mut img, 20, h as i32 - 14, &axes, [60, 60, 60], 1);
        for (k, (name, _)) in series.iter().enumerate() {
            let c = PALETTE[k % PALETTE.len()];
            draw_text(
                &mut img,
                w as i32 - 220,
                45 + 12 * k as i32,
                name,
                [c.0, c.1, c.2],
                1,
            );
        }
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Vec<(&'static str, Vec<(f32, f32)>)> {
        vec![
            (
                "train",
                (0..20)
                    .map(|i| (i as f32, 1.0 / (1.0 + i as f32)))
                    .collect(),
            ),
            (
                "val",
                (0..20)
                    .map(|i| (i as f32, if i == 5 { f32::NAN } else { 0.5 }))
                    .collect(),
            ),
        ]
    }

    /// Pixels that carry a series colour.
    fn count_color(img: &RgbImage, c: RGBColor) -> usize {
        img.pixels()
            .filter(|p| {
                (p.0[0] as i32 - c.0 as i32).abs() < 8
                    && (p.0[1] as i32 - c.1 as i32).abs() < 8
                    && (p.0[2] as i32 - c.2 as i32).abs() < 8
            })
            .count()
    }

    #[test]
    fn renders_lines_without_a_font() {
        let img = render("Loss", &series(), "epoch", "loss", false).unwrap();
        assert!(count_color(&img, PALETTE[0]) > 200, "first series drawn");
        assert!(count_color(&img, PALETTE[1]) > 200, "second series drawn");
        // The title was drawn in black bitmap text near the top-left.
        let dark = (0..40)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == [0, 0, 0])
            .count();
        assert!(dark > 10);
    }

    #[test]
    fn the_bundled_font_renders_text_with_no_system_font() {
        // Registered from the bytes compiled into the crate, not from a system path.
        assert!(
            plotters::style::register_font("sans-serif", FontStyle::Normal, BUNDLED_FONT).is_ok()
        );
        let img = render("Loss", &series(), "epoch", "loss", true).unwrap();
        // The title is written in the TrueType font: dark anti-aliased pixels near the top.
        let dark = (0..40)
            .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 100))
            .count();
        assert!(dark > 10, "title drawn ({dark} dark pixels)");
    }

    #[test]
    fn writes_a_png_and_handles_empty_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loss.png");
        plot_curves(&p, "Loss", &series(), "epoch", "loss").unwrap();
        let img = image::open(&p).unwrap();
        assert_eq!((img.width(), img.height()), (WIDTH, HEIGHT));
        // No series / all-NaN data still produce a chart.
        plot_curves(&p, "empty", &[], "x", "y").unwrap();
        plot_curves(&p, "nan", &[("a", vec![(f32::NAN, 1.0)])], "x", "y").unwrap();
        // An unwritable path is an error, not a panic.
        let bad = dir.path().join("missing-dir").join("x.png");
        assert!(plot_curves(&bad, "t", &series(), "x", "y").is_err());
    }

    #[test]
    fn fixed_ranges_and_log_axis() {
        let s = vec![("loss", vec![(0.0, 1.0), (1.0, 0.01), (2.0, 0.0)])];
        let a = Axes {
            x: Some((0.0, 4.0)),
            y: Some((0.001, 10.0)),
            log_y: true,
            legend_lower_right: true,
        };
        let img = render_with("t", &s, "x", "y", a, false).unwrap();
        assert!(count_color(&img, PALETTE[0]) > 50);
        // A bad fixed range falls back to the data's range.
        let a = Axes {
            y: Some((1.0, f32::NAN)),
            ..Axes::default()
        };
        assert!(render_with("t", &s, "x", "y", a, false).is_ok());
    }

    #[test]
    fn ranges_pad_and_default() {
        assert_eq!(range([].into_iter()), (0.0, 1.0));
        let (a, b) = range([1.0, 3.0, f32::NAN].into_iter());
        assert!((a - 0.9).abs() < 1e-6 && (b - 3.1).abs() < 1e-6);
        let (a, b) = range([2.0].into_iter());
        assert!(a < 2.0 && b > 2.0);
    }
}
