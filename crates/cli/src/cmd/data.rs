//! `facemark data`: inspect, convert and show landmark data sets.

use anyhow::{bail, Context, Result};
use facemark_core::draw::{contact_sheet, draw_indices, draw_points, draw_text, text_width};
use facemark_core::geometry::warp_rgb;
use facemark_core::scheme::ibug68_to_kaggle15;
use facemark_core::{BoxF, CropSpec, ImageSource, Sample, Scheme};
use facemark_formats::cache::{crop_sample, FaceCache};
use facemark_formats::dataset::{load, Format};
use facemark_formats::{image_size, load_gray, load_rgb, save_as};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

const FORMATS: &str = "300w, pts, youtube, kaggle, helen, imglab, cache";

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Counts, point count, missing values, image sizes, identities.
    Inspect {
        /// A data set: 300-W folder, .pts, YouTube/Kaggle .csv, Kaggle .zip, HELEN folder,
        /// imglab .xml, or a facemark cache .fmc.
        path: PathBuf,
        /// Format (300w, pts, youtube, kaggle, helen, imglab, cache); detected when omitted.
        #[arg(long)]
        format: Option<String>,
        /// Decode every image fully (finds corrupt files; default reads headers only).
        #[arg(long)]
        decode: bool,
    },
    /// Convert between formats (also 68 → 15 points, and into a face-crop cache).
    ///
    /// Output format from --to or OUTPUT's extension: .csv YouTube CSV (images into a sibling
    /// folder), .zip Kaggle training.csv in a zip, .xml imglab, .pts one file, .fmc cache
    /// (needs --cache), no extension a 300-W folder.
    Convert {
        input: PathBuf,
        output: PathBuf,
        /// Input format; detected when omitted.
        #[arg(long)]
        from: Option<String>,
        /// Output format (300w, pts, youtube, kaggle, helen, imglab, cache).
        #[arg(long)]
        to: Option<String>,
        /// Convert 68 iBUG points to the 15 Kaggle points (eye centres = mean of the six eye
        /// points; "left" = the subject's left).
        #[arg(long)]
        to_15: bool,
        /// Write a face-crop cache of SIZE×SIZE gray crops (OUTPUT should end in .fmc).
        #[arg(long, value_name = "SIZE")]
        cache: Option<u32>,
        /// Crop margin around the landmark box, as a fraction of its longer side, for --cache
        /// and for Kaggle output of non-96×96 images.
        #[arg(long, default_value_t = 0.12)]
        margin: f32,
    },
    /// Write a contact-sheet PNG of N samples with their points (green), optionally numbered.
    Show {
        path: PathBuf,
        /// Output PNG.
        #[arg(short, long)]
        output: PathBuf,
        /// Input format; detected when omitted.
        #[arg(long)]
        format: Option<String>,
        /// Number of samples, spread evenly over the data set.
        #[arg(short = 'n', long, default_value_t = 16)]
        count: usize,
        /// Tiles per row.
        #[arg(long, default_value_t = 4)]
        cols: usize,
        /// Tile side, pixels.
        #[arg(long, default_value_t = 256)]
        tile: u32,
        /// Label each point with its index (magenta).
        #[arg(long)]
        numbers: bool,
        /// Show whole images instead of crops around the faces.
        #[arg(long)]
        full: bool,
        /// Crop margin around the landmark box (fraction of its longer side).
        #[arg(long, default_value_t = 0.25)]
        margin: f32,
        /// Index of the first sample; then every len/N-th.
        #[arg(long, default_value_t = 0)]
        start: usize,
    },
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Inspect {
            path,
            format,
            decode,
        } => inspect(&path, format.as_deref(), decode),
        DataCommand::Convert {
            input,
            output,
            from,
            to,
            to_15,
            cache,
            margin,
        } => convert(
            &input,
            &output,
            from.as_deref(),
            to.as_deref(),
            to_15,
            cache,
            margin,
        ),
        DataCommand::Show {
            path,
            output,
            format,
            count,
            cols,
            tile,
            numbers,
            full,
            margin,
            start,
        } => show(
            &path,
            &output,
            format.as_deref(),
            count,
            cols,
            tile,
            numbers,
            full,
            margin,
            start,
        ),
    }
}

fn parse_format(name: Option<&str>, path: &Path) -> Result<Format> {
    match name {
        Some(n) => Format::from_name(n)
            .with_context(|| format!("unknown format `{n}` (one of: {FORMATS})")),
        None => Ok(Format::detect(path)?),
    }
}

fn load_samples(path: &Path, format: Option<&str>) -> Result<(Format, Vec<Sample>)> {
    let f = parse_format(format, path)?;
    let s = load(path, f)?;
    Ok((f, s))
}

fn inspect(path: &Path, format: Option<&str>, decode: bool) -> Result<()> {
    let t0 = Instant::now();
    let (fmt, samples) = load_samples(path, format)?;
    let load_s = t0.elapsed().as_secs_f64();
    println!("path: {}", path.display());
    println!("format: {}", fmt.name());
    println!("samples: {}", samples.len());
    let mut counts: std::collections::BTreeMap<usize, usize> = Default::default();
    for s in &samples {
        *counts.entry(s.points.len()).or_default() += 1;
    }
    let pc: Vec<String> = counts
        .iter()
        .map(|(n, k)| format!("{n} ({k} samples, scheme {})", Scheme::for_points(*n).name))
        .collect();
    println!("points per sample: {}", pc.join(", "));
    let missing: usize = samples.iter().map(|s| s.points.len() - s.present()).sum();
    let with_missing = samples
        .iter()
        .filter(|s| s.present() < s.points.len())
        .count();
    let total: usize = samples.iter().map(|s| s.points.len()).sum();
    println!(
        "missing values: {missing} of {total} points, in {with_missing} samples{}",
        if samples.is_empty() || with_missing == 0 {
            String::new()
        } else {
            format!(" ({} complete)", samples.len() - with_missing)
        }
    );
    if let Some(s) = samples.iter().find(|s| s.present() < s.points.len()) {
        let scheme = Scheme::for_points(s.points.len());
        let mut per_point = vec![0usize; s.points.len()];
        for s in &samples {
            for (i, v) in s.visible.iter().enumerate() {
                if !v && i < per_point.len() {
                    per_point[i] += 1;
                }
            }
        }
        let worst: Vec<String> = {
            let mut v: Vec<(usize, usize)> = per_point.iter().copied().enumerate().collect();
            v.sort_by_key(|(i, n)| (std::cmp::Reverse(*n), *i));
            v.iter()
                .take(5)
                .filter(|(_, n)| *n > 0)
                .map(|(i, n)| format!("{} {n}", scheme.point_names[*i]))
                .collect()
        };
        println!("most often missing: {}", worst.join(", "));
    }
    // Image sizes, from headers (or full decodes with --decode), in parallel.
    let sizes: Vec<(u32, u32)> = samples
        .par_iter()
        .map(|s| -> Result<(u32, u32)> {
            if decode {
                let g = load_gray(&s.image)?;
                Ok((g.width(), g.height()))
            } else {
                Ok(image_size(&s.image)?)
            }
        })
        .collect::<Result<_>>()?;
    let files: std::collections::HashSet<&PathBuf> = samples
        .iter()
        .filter_map(|s| match &s.image {
            ImageSource::File(p) => Some(p),
            _ => None,
        })
        .collect();
    if !sizes.is_empty() {
        let mut ws: Vec<u32> = sizes.iter().map(|s| s.0).collect();
        let mut hs: Vec<u32> = sizes.iter().map(|s| s.1).collect();
        ws.sort_unstable();
        hs.sort_unstable();
        let distinct: std::collections::HashSet<_> = sizes.iter().collect();
        println!(
            "images: {} ({} files, {} in memory), {} distinct sizes; width {}–{} (median {}), height {}–{} (median {}){}",
            sizes.len(),
            files.len(),
            samples.len() - samples.iter().filter(|s| matches!(s.image, ImageSource::File(_))).count(),
            distinct.len(),
            ws[0],
            ws[ws.len() - 1],
            ws[ws.len() / 2],
            hs[0],
            hs[hs.len() - 1],
            hs[hs.len() / 2],
            if decode { ", all decoded" } else { "" }
        );
    }
    let mut ids: std::collections::HashMap<&str, usize> = Default::default();
    for s in &samples {
        *ids.entry(s.identity.as_str()).or_default() += 1;
    }
    if !ids.is_empty() {
        let mut per: Vec<usize> = ids.values().copied().collect();
        per.sort_unstable();
        println!(
            "identities: {} (samples per identity: min {}, median {}, max {})",
            ids.len(),
            per[0],
            per[per.len() / 2],
            per[per.len() - 1]
        );
    }
    let boxes = samples.iter().filter(|s| s.face_box.is_some()).count();
    if boxes > 0 {
        println!("face boxes: {boxes}");
    }
    // Point extent relative to the image, a quick sanity check of the coordinate frame.
    let outside = samples
        .iter()
        .zip(&sizes)
        .filter(|(s, (w, h))| {
            s.points.iter().zip(&s.visible).any(|(p, v)| {
                *v && (p[0] < -0.5
                    || p[1] < -0.5
                    || p[0] > *w as f32 + 0.5
                    || p[1] > *h as f32 + 0.5)
            })
        })
        .count();
    println!("samples with a point outside the image: {outside}");
    println!("loaded in {load_s:.2} s");
    Ok(())
}

fn to_15(samples: Vec<Sample>) -> Result<Vec<Sample>> {
    samples
        .into_iter()
        .map(|mut s| {
            if s.points.len() != 68 {
                bail!(
                    "{}: --to-15 needs 68 iBUG points, this sample has {}",
                    s.name,
                    s.points.len()
                );
            }
            let pts: Vec<_> = s
                .points
                .iter()
                .zip(&s.visible)
                .map(|(p, v)| if *v { *p } else { [f32::NAN, f32::NAN] })
                .collect();
            s.points = ibug68_to_kaggle15(&pts);
            s.visible = s
                .points
                .iter()
                .map(|p| p[0].is_finite() && p[1].is_finite())
                .collect();
            Ok(s)
        })
        .collect()
}

fn convert(
    input: &Path,
    output: &Path,
    from: Option<&str>,
    to: Option<&str>,
    to15: bool,
    cache: Option<u32>,
    margin: f32,
) -> Result<()> {
    if !(0.0..=10.0).contains(&margin) {
        bail!("--margin {margin} outside 0..10");
    }
    let (in_fmt, mut samples) = load_samples(input, from)?;
    if to15 {
        samples = to_15(samples)?;
    }
    let out_fmt = match (to, cache) {
        (_, Some(_)) => Format::Cache,
        (Some(t), None) => Format::from_name(t)
            .with_context(|| format!("unknown format `{t}` (one of: {FORMATS})"))?,
        (None, None) => Format::for_output(output).with_context(|| {
            format!(
                "cannot tell the output format from {}; give --to",
                output.display()
            )
        })?,
    };
    let spec = CropSpec::with_margin(margin);
    match out_fmt {
        Format::Cache => {
            let size = cache.context("a cache needs --cache SIZE")?;
            let t0 = Instant::now();
            let c = FaceCache::build(&samples, size, spec)?;
            c.save(output)?;
            println!(
                "wrote {} faces ({size}×{size}, {} points, margin {margin}) to {} in {:.2} s",
                c.len(),
                c.n_points,
                output.display(),
                t0.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        Format::Kaggle => {
            // Kaggle images are 96×96 gray: crop the others around their landmarks.
            let needs_crop = samples.iter().any(|s| match &s.image {
                ImageSource::Gray { width, height, .. } => *width != 96 || *height != 96,
                ImageSource::File(_) => true,
            });
            if needs_crop {
                eprintln!("cropping faces to 96×96 gray (margin {margin}) for the Kaggle layout");
                samples = samples
                    .par_iter()
                    .map(|s| -> Result<Sample> {
                        let (img, pts, _) = crop_sample(s, 96, &spec)?;
                        let mut c = s.clone();
                        c.image = ImageSource::Gray {
                            width: 96,
                            height: 96,
                            pixels: img.into_raw(),
                        };
                        c.points = pts;
                        Ok(c)
                    })
                    .collect::<Result<_>>()?;
            }
        }
        _ => {}
    }
    save_as(output, out_fmt, &samples)?;
    println!(
        "wrote {} samples ({} points) from {} to {} as {}",
        samples.len(),
        samples.first().map(|s| s.points.len()).unwrap_or(0),
        in_fmt.name(),
        output.display(),
        out_fmt.name()
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn show(
    path: &Path,
    output: &Path,
    format: Option<&str>,
    count: usize,
    cols: usize,
    tile: u32,
    numbers: bool,
    full: bool,
    margin: f32,
    start: usize,
) -> Result<()> {
    if !(16..=2048).contains(&tile) {
        bail!("--tile {tile} outside 16..=2048");
    }
    let (_, samples) = load_samples(path, format)?;
    if samples.is_empty() {
        bail!("{}: no samples", path.display());
    }
    let n = count.clamp(1, samples.len());
    let idx: Vec<usize> = (0..n)
        .map(|k| (start + k * samples.len() / n) % samples.len())
        .collect();
    let spec = CropSpec::with_margin(margin);
    let tiles: Vec<image::RgbImage> = idx
        .par_iter()
        .map(|&i| render_tile(&samples[i], tile, numbers, full, &spec))
        .collect::<Result<_>>()?;
    let sheet = contact_sheet(&tiles, cols, tile);
    facemark_core::io::save_image_atomic(&image::DynamicImage::ImageRgb8(sheet), output)
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "wrote {} ({} samples: {})",
        output.display(),
        n,
        idx.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn render_tile(
    s: &Sample,
    tile: u32,
    numbers: bool,
    full: bool,
    spec: &CropSpec,
) -> Result<image::RgbImage> {
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
    let t = facemark_core::Affine2::crop_to(&region, tile, tile);
    let mut out = warp_rgb(&img, &t, tile, tile);
    let pts = s.points_through(&t); // missing points are NaN: neither drawn nor numbered
    let radius = (tile as f32 / 128.0).clamp(1.0, 3.0);
    draw_points(&mut out, &pts, [0, 255, 0], radius);
    if numbers {
        draw_indices(&mut out, &pts, [255, 0, 255], 1);
    }
    // Name label with a dark backing for legibility.
    let label: String = s.name.chars().take((tile as usize - 4) / 6).collect();
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
    use facemark_formats::dataset::load_any;

    /// A tiny 68-point data set in a 300-W folder: two 64×64 images.
    fn fixture(dir: &Path) -> Vec<Sample> {
        let mean = Scheme::ibug68().mean_shape().unwrap();
        let mut out = vec![];
        for k in 0..2 {
            let img = image::RgbImage::from_fn(64, 64, |x, y| {
                image::Rgb([(x * 4) as u8, (y * 4) as u8, (k * 100) as u8])
            });
            let p = dir.join(format!("person{k}_1.png"));
            img.save(&p).unwrap();
            let pts = mean
                .iter()
                .map(|q| [32.0 + q[0] * 40.0 + k as f32 * 0.123, 32.0 + q[1] * 40.0])
                .collect();
            out.push(Sample::new(
                ImageSource::File(p),
                pts,
                format!("person{k}_1.png"),
            ));
        }
        save_as(&dir.join("w300"), Format::Pts300w, &out).unwrap();
        out
    }

    fn close(a: &[Sample], b: &[Sample]) {
        assert_eq!(a.len(), b.len());
        for (s, t) in a.iter().zip(b) {
            assert_eq!(s.points.len(), t.points.len());
            for (p, q) in s.points.iter().zip(&t.points) {
                assert!(
                    (p[0] - q[0]).abs() < 1e-3 && (p[1] - q[1]).abs() < 1e-3,
                    "{p:?} vs {q:?}"
                );
            }
        }
    }

    #[test]
    fn convert_round_trips_every_format() {
        let d = tempfile::tempdir().unwrap();
        let orig = fixture(d.path());
        let src = d.path().join("w300");
        for (out, to) in [
            ("a_frames_keypoints.csv", None),
            ("b.xml", None),
            ("c_dir", Some("300w")),
            ("h_dir", Some("helen")),
        ] {
            let o = d.path().join(out);
            convert(&src, &o, None, to, false, None, 0.12).unwrap();
            let back = if to == Some("helen") {
                load(&o, Format::HelenDir).unwrap()
            } else {
                load_any(&o).unwrap()
            };
            close(&orig, &back);
            // And back again into 300-W.
            let again = d.path().join(format!("{out}_again"));
            convert(&o, &again, to, Some("300w"), false, None, 0.12).unwrap();
            close(&orig, &load_any(&again).unwrap());
        }
        // Kaggle: 68 → 15, cropped to 96×96; reading it back keeps coordinates.
        let k = d.path().join("k.zip");
        convert(&src, &k, None, None, true, None, 0.12).unwrap();
        let ks = load_any(&k).unwrap();
        assert_eq!(ks[0].points.len(), 15);
        let k2 = d.path().join("k2.zip");
        convert(&k, &k2, None, None, false, None, 0.12).unwrap();
        close(&ks, &load_any(&k2).unwrap());
        // Cache.
        let c = d.path().join("c.fmc");
        convert(&src, &c, None, None, false, Some(32), 0.1).unwrap();
        assert_eq!(FaceCache::load(&c).unwrap().len(), 2);
    }

    #[test]
    fn show_writes_a_png_and_inspect_runs() {
        let d = tempfile::tempdir().unwrap();
        fixture(d.path());
        let src = d.path().join("w300");
        let png = d.path().join("s.png");
        show(&src, &png, None, 4, 2, 64, true, false, 0.25, 0).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert!(
            img.pixels().any(|p| p.0 == [0, 255, 0]),
            "green points drawn"
        );
        inspect(&src, None, true).unwrap();
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        fixture(d.path());
        // Corrupt image.
        std::fs::write(d.path().join("w300/person0_1.png"), b"\x89PNG broken").unwrap();
        let e = inspect(&d.path().join("w300"), None, true).unwrap_err();
        assert!(format!("{e:#}").contains("person0_1.png"), "{e:#}");
        // Empty file.
        let empty = d.path().join("e.csv");
        std::fs::write(&empty, "").unwrap();
        assert!(format!("{:#}", inspect(&empty, None, false).unwrap_err()).contains("e.csv"));
        // 67 points where 68 are expected.
        let y = d.path().join("y.csv");
        std::fs::write(&y, ",0,1,2,3\na.jpg,1,2,3,4\nb.jpg,1,2\n").unwrap();
        let e = format!("{:#}", inspect(&y, None, false).unwrap_err());
        assert!(e.contains("y.csv:3"), "{e}");
        // --to-15 on non-68 data.
        assert!(convert(
            &y,
            &d.path().join("o.zip"),
            Some("youtube"),
            None,
            true,
            None,
            0.1
        )
        .is_err());
        // Unknown format names.
        assert!(inspect(&y, Some("nope"), false).is_err());
    }
}
