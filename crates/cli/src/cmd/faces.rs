//! `facemark faces IMAGE…`: find faces (OpenCV Haar/LBP cascades in pure Rust, or the built-in
//! SeetaFace detector), print the boxes (text, JSON or CSV) and optionally write annotated PNGs.

use anyhow::{bail, Context, Result};
use facemark_core::{draw, FaceDetector};
use facemark_detect::{to_gray, Cascade, DetectParams, Seeta, SeetaParams};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Photos to search (JPEG, PNG, WebP, BMP, TIFF, PPM/PGM, GIF; EXIF orientation applied).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// `seeta` (built-in SeetaFace, the default), `haar` (OpenCV's
    /// haarcascade_frontalface_default, embedded at build time), `lbp`
    /// (lbpcascade_frontalface_improved from opencv-data), or an OpenCV cascade FILE.xml.
    #[arg(long, default_value = "seeta")]
    detector: String,
    /// An OpenCV cascade XML file (same as `--detector FILE.xml`).
    #[arg(long, value_name = "FILE", conflicts_with = "detector")]
    cascade: Option<PathBuf>,
    /// Print JSON on stdout (one array, an object per image) instead of the summary lines. As
    /// every command: a summary for people on stdout unless `--json` (or here `--csv`) asks
    /// for data; the `--out` pictures are written either way.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV: image,x,y,w,h,score.
    #[arg(long)]
    csv: bool,
    /// Annotated PNG: a file for one image; a folder (created; `NAME_faces.png` inside) for
    /// several images, an existing folder or a path ending in `/`.
    #[arg(long, short, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Smallest face side in pixels [default: 20 for cascades, 40 for SeetaFace (its window);
    /// SeetaFace enlarges the image for smaller faces (slower) and shrinks it for larger (faster)].
    /// (`--min-size` is the old name.)
    #[arg(long = "min-face", alias = "min-size", value_name = "PX",
          value_parser = facemark_core::limits::parse_face_size)]
    min_size: Option<u32>,
    /// Largest face side in pixels (0: no limit; cascades only). (`--max-size` is the old name.)
    #[arg(long = "max-face", alias = "max-size", value_name = "PX", default_value_t = 0,
          value_parser = facemark_core::limits::parse_face_size)]
    max_size: u32,
    /// Pyramid step between scales (> 1). Cascades default 1.1; SeetaFace 1.25 (its 0.8).
    #[arg(long)]
    scale_factor: Option<f64>,
    /// Cascades: a face needs more than this many raw windows (OpenCV's minNeighbors).
    #[arg(long, default_value_t = 5)]
    min_neighbors: u32,
    /// SeetaFace: score threshold (higher: fewer, surer faces).
    #[arg(long, default_value_t = 2.0)]
    seeta_threshold: f64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(serde::Serialize)]
struct FaceOut {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    score: f32,
}

#[derive(serde::Serialize)]
struct ImageOut {
    image: String,
    width: u32,
    height: u32,
    detector: String,
    ms: f64,
    faces: Vec<FaceOut>,
}

fn build_detector(a: &Args) -> Result<Box<dyn FaceDetector>> {
    let sf = a.scale_factor;
    if let Some(s) = sf {
        if !(1.001..=100.0).contains(&s) {
            bail!("--scale-factor must be between 1.001 and 100, got {s}");
        }
    }
    let cparams = DetectParams {
        scale_factor: sf.unwrap_or(1.1),
        min_neighbors: a.min_neighbors,
        min_size: a
            .min_size
            .map_or(facemark_detect::FACE_PARAMS.min_size, |m| (m, m)),
        max_size: (a.max_size, a.max_size),
    };
    let name = match &a.cascade {
        Some(p) => p.to_string_lossy().into_owned(),
        None => a.detector.clone(),
    };
    let det: Box<dyn FaceDetector> = match name.as_str() {
        "seeta" | "seetaface" | "default" => {
            let mut p = SeetaParams {
                min_face_size: a.min_size.unwrap_or(SeetaParams::default().min_face_size),
                score_thresh: a.seeta_threshold,
                ..SeetaParams::default()
            };
            if let Some(s) = sf {
                p.pyramid_scale_factor = (1.0 / s as f32).clamp(0.1, 0.99);
            }
            Box::new(Seeta::embedded()?.with_params(p))
        }
        "haar" => Box::new(Cascade::embedded_frontal()?.with_params(cparams)),
        _ => {
            let p = Path::new(&name);
            let cascade = if p.is_file() {
                Cascade::from_xml_file(p)
                    .with_context(|| format!("loading cascade {}", p.display()))?
            } else if name == "lbp" {
                Cascade::system("lbpcascade_frontalface_improved.xml")?
            } else {
                bail!(
                    "unknown detector `{name}`: use seeta, haar, lbp or the path of a cascade .xml file"
                );
            };
            Box::new(cascade.with_params(cparams))
        }
    };
    Ok(det)
}

pub fn run(args: Args) -> Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("setting up threads")?;
    }
    // Several images, an existing folder or a path ending in '/': one PNG per image inside,
    // named after the image; refuse two images whose PNGs would have the same name.
    let several = args.images.len() > 1
        || args
            .out
            .as_ref()
            .is_some_and(|o| o.is_dir() || o.to_string_lossy().ends_with('/'));
    let images = match (&args.out, several) {
        (Some(out), true) => super::distinct_outputs(args.images.clone(), out, "STEM_faces.png")?,
        _ => args.images.clone(),
    };
    if let (Some(out), false) = (&args.out, several) {
        super::check_image_output(out)?;
    }
    let det = build_detector(&args)?;
    if let (Some(out), true) = (&args.out, several) {
        std::fs::create_dir_all(out)
            .with_context(|| format!("creating output folder {}", out.display()))?;
    }
    let mut results = Vec::new();
    if args.csv {
        println!("image,x,y,w,h,score");
    }
    for path in &images {
        let img = super::open_photo(path)?;
        let gray = to_gray(&img);
        let t = Instant::now();
        let faces = det.detect(&gray);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let shown = path.display().to_string();
        if args.csv {
            for f in &faces {
                println!(
                    "{},{},{},{},{},{}",
                    csv_field(&shown),
                    f.bbox.x,
                    f.bbox.y,
                    f.bbox.w,
                    f.bbox.h,
                    f.score
                );
            }
        } else if !args.json {
            println!(
                "{shown}: {} face{} ({}x{}, {}, {ms:.1} ms)",
                faces.len(),
                if faces.len() == 1 { "" } else { "s" },
                gray.width(),
                gray.height(),
                det.name()
            );
            for f in &faces {
                println!(
                    "  x {:.0} y {:.0} w {:.0} h {:.0}  score {:.2}",
                    f.bbox.x, f.bbox.y, f.bbox.w, f.bbox.h, f.score
                );
            }
        }
        if let Some(out) = &args.out {
            let target = if several {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "image".into());
                out.join(format!("{stem}_faces.png"))
            } else {
                out.clone()
            };
            let mut rgb = img.to_rgb8();
            let thick = (rgb.width().max(rgb.height()) as f32 / 400.0).clamp(2.0, 6.0);
            let scale = if rgb.width().max(rgb.height()) > 1200 {
                3
            } else {
                2
            };
            for f in &faces {
                draw::draw_box(&mut rgb, &f.bbox, [0, 255, 0], thick);
                let label = format!("{:.1}", f.score);
                let ty = (f.bbox.y as i32 - 8 * scale as i32 - 2).max(0);
                draw::draw_text(&mut rgb, f.bbox.x as i32, ty, &label, [0, 255, 0], scale);
            }
            facemark_core::io::save_image_atomic(&image::DynamicImage::ImageRgb8(rgb), &target)
                .with_context(|| format!("writing {}", target.display()))?;
            if !args.json && !args.csv {
                println!("  wrote {}", target.display());
            }
        }
        results.push(ImageOut {
            image: shown,
            width: gray.width(),
            height: gray.height(),
            detector: det.name(),
            ms,
            faces: faces
                .iter()
                .map(|f| FaceOut {
                    x: f.bbox.x,
                    y: f.bbox.y,
                    w: f.bbox.w,
                    h: f.bbox.h,
                    score: f.score,
                })
                .collect(),
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
