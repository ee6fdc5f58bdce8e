//! `facemark data`: inspect, convert and show landmark data sets.

//!
//! The work is done by `facemark_formats` ([`facemark_formats::report`],
//! [`facemark_formats::convert`], [`facemark_formats::sheet`]); this module parses the
//! arguments and prints.

use anyhow::{bail, Context, Result};
use facemark_core::Sample;
use facemark_formats::convert::{convert, ConvertOptions, ConvertReport};
use facemark_formats::dataset::{load, Format};
use facemark_formats::report::InspectReport;
use facemark_formats::sheet::{self, SheetOptions};
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
        /// The data set to convert (any format `data inspect` reads).
        input: PathBuf,
        /// Where to write it; its extension picks the format unless `--to` (see above).
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
        /// The data set (any format `data inspect` reads).
        path: PathBuf,
        /// Output PNG. (`--output` is the old name.)
        #[arg(short, long = "out", alias = "output")]
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
        } => convert_cmd(
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
            &SheetOptions {
                count,
                cols,
                tile,
                numbers,
                full,
                margin,
                start,
            },
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

/// Prints the counts first and the image lines after reading the images (which takes a while on
/// a large set, and may fail on a corrupt one).
fn inspect(path: &Path, format: Option<&str>, decode: bool) -> Result<()> {
    let t0 = Instant::now();
    let (fmt, samples) = load_samples(path, format)?;
    let mut r = InspectReport::count(path, fmt, &samples, t0.elapsed().as_secs_f64());
    print_counts(&r);
    r.scan_images(&samples, decode)?;
    print_images(&r);
    Ok(())
}

fn print_counts(r: &InspectReport) {
    println!("path: {}", r.path.display());
    println!("format: {}", r.format);
    println!("samples: {}", r.samples);
    let pc: Vec<String> = r
        .point_counts
        .iter()
        .map(|c| format!("{} ({} samples, scheme {})", c.points, c.samples, c.scheme))
        .collect();
    println!("points per sample: {}", pc.join(", "));
    let m = &r.missing;
    println!(
        "missing values: {} of {} points, in {} samples{}",
        m.points,
        m.of_points,
        m.samples,
        if m.samples == 0 {
            String::new()
        } else {
            format!(" ({} complete)", r.samples - m.samples)
        }
    );
    if m.samples > 0 {
        let worst: Vec<String> = m
            .most_often
            .iter()
            .map(|p| format!("{} {}", p.name, p.samples))
            .collect();
        println!("most often missing: {}", worst.join(", "));
    }
}

fn print_images(r: &InspectReport) {
    if let Some(im) = &r.images {
        println!(
            "images: {} ({} files, {} in memory), {} distinct sizes; width {}–{} (median {}), height {}–{} (median {}){}",
            im.images,
            im.files,
            im.in_memory,
            im.distinct_sizes,
            im.width.min,
            im.width.max,
            im.width.median,
            im.height.min,
            im.height.max,
            im.height.median,
            if im.decoded { ", all decoded" } else { "" }
        );
    }
    if let Some(ids) = &r.identities {
        let s = ids.samples_per_identity;
        println!(
            "identities: {} (samples per identity: min {}, median {}, max {})",
            ids.identities, s.min, s.median, s.max
        );
    }
    if r.face_boxes > 0 {
        println!("face boxes: {}", r.face_boxes);
    }
    println!(
        "samples with a point outside the image: {}",
        r.points_outside_image.unwrap_or(0)
    );
    println!("loaded in {:.2} s", r.load_seconds);
}

fn convert_cmd(
    input: &Path,
    output: &Path,
    from: Option<&str>,
    to: Option<&str>,
    to_15: bool,
    cache: Option<u32>,
    margin: f32,
) -> Result<()> {
    if !(0.0..=10.0).contains(&margin) {
        bail!("--margin {margin} outside 0..10");
    }
    let in_fmt = parse_format(from, input)?;
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
    if out_fmt == Format::Cache && cache.is_none() {
        bail!("a cache needs --cache SIZE");
    }
    let opts = ConvertOptions {
        to_15,
        cache_size: cache,
        margin,
    };
    let r = convert(input, in_fmt, output, out_fmt, &opts)?;
    print_convert(&r);
    Ok(())
}

fn print_convert(r: &ConvertReport) {
    if let Some(size) = r.cache_size {
        println!(
            "wrote {} faces ({size}×{size}, {} points, margin {}) to {} in {:.2} s",
            r.samples,
            r.points,
            r.margin,
            r.output.display(),
            r.cache_seconds
        );
        return;
    }
    if r.cropped_for_kaggle {
        eprintln!(
            "cropping faces to 96×96 gray (margin {}) for the Kaggle layout",
            r.margin
        );
    }
    println!(
        "wrote {} samples ({} points) from {} to {} as {}",
        r.samples,
        r.points,
        r.from,
        r.output.display(),
        r.to
    );
}

fn show(path: &Path, output: &Path, format: Option<&str>, opts: &SheetOptions) -> Result<()> {
    if !(16..=2048).contains(&opts.tile) {
        bail!("--tile {} outside 16..=2048", opts.tile);
    }
    super::check_image_output(output)?;
    let (_, samples) = load_samples(path, format)?;
    if samples.is_empty() {
        bail!("{}: no samples", path.display());
    }
    let s = sheet::sample_sheet(&samples, opts)?;
    facemark_core::io::save_image_atomic(&image::DynamicImage::ImageRgb8(s.image), output)
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "wrote {} ({} samples: {})",
        output.display(),
        s.indices.len(),
        s.indices
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The library's tests cover the work (`facemark_formats::{report, convert, sheet}`);
    //! these check that the commands reach it and that bad input is an error, not a panic.
    use super::*;
    use facemark_core::{ImageSource, Scheme};
    use facemark_formats::report;
    use facemark_formats::save_as;

    /// A tiny 68-point data set in a 300-W folder: two 64×64 images.
    fn fixture(dir: &Path) {
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
                .map(|q| [32.0 + q[0] * 40.0, 32.0 + q[1] * 40.0])
                .collect();
            out.push(Sample::new(
                ImageSource::File(p),
                pts,
                format!("person{k}_1.png"),
            ));
        }
        save_as(&dir.join("w300"), Format::Pts300w, &out).unwrap();
    }

    #[test]
    fn commands_run() {
        let d = tempfile::tempdir().unwrap();
        fixture(d.path());
        let src = d.path().join("w300");
        let png = d.path().join("s.png");
        let opts = SheetOptions {
            count: 4,
            cols: 2,
            tile: 64,
            numbers: true,
            ..Default::default()
        };
        show(&src, &png, None, &opts).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert!(img.pixels().any(|p| p.0 == sheet::POINT_COLOR));
        inspect(&src, None, true).unwrap();
        let xml = d.path().join("b.xml");
        convert_cmd(&src, &xml, None, None, false, None, 0.12).unwrap();
        let fmc = d.path().join("c.fmc");
        convert_cmd(&src, &fmc, None, None, false, Some(32), 0.1).unwrap();
        assert_eq!(
            report::inspect(&fmc, Format::Cache, false).unwrap().samples,
            2
        );
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
        let o = d.path().join("o.zip");
        assert!(convert_cmd(&y, &o, Some("youtube"), None, true, None, 0.1).is_err());
        // Options out of range, a cache without a size, unknown format names.
        let e = convert_cmd(&y, &o, None, None, false, None, 20.0).unwrap_err();
        assert_eq!(e.to_string(), "--margin 20 outside 0..10");
        let fmc = d.path().join("o.fmc");
        let e = convert_cmd(&y, &fmc, None, None, false, None, 0.1).unwrap_err();
        assert_eq!(e.to_string(), "a cache needs --cache SIZE");
        assert!(inspect(&y, Some("nope"), false).is_err());
        let tiny = SheetOptions {
            tile: 8,
            ..Default::default()
        };
        assert!(show(&y, &d.path().join("t.png"), None, &tiny).is_err());
    }
}
