//! `facemark detect`: faces and landmarks on photos (and folders of photos), the main job.

use anyhow::{bail, Context, Result};
use facemark::{Face, Pipeline};
use facemark_core::pose::{self, Camera};
use facemark_core::{draw, io, BoxF};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Photos, folders of photos (jpg, png, webp, bmp, tif, ppm/pgm, gif: first frame; EXIF
    /// orientation applied), or videos (mp4, mov, mkv, …: per-frame landmarks with tracking,
    /// written as JSON lines, or CSV with `--format csv`).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Landmark model file: facemark's .safetensors, or a dlib shape predictor .dat; default:
    /// the model embedded in this binary.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub opts: super::ModelOpts,
    /// Face detector: `seeta` (built-in SeetaFace), `haar`, `lbp`, or an OpenCV cascade XML
    /// file; default: the built-in one.
    #[arg(long)]
    pub detector: Option<String>,
    /// Smallest face side in pixels to search for [default: 40 with SeetaFace, 20 with a
    /// cascade]: larger is faster on large photos; below 40 SeetaFace enlarges the image.
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(20..),
          conflicts_with_all = ["box", "whole"])]
    pub min_face: Option<u32>,
    /// Skip detection: the face's box `X,Y,W,H` in pixels (tight around brows, jaw and chin;
    /// with a dlib .dat model, dlib's face rectangle (X, Y, X+W-1, Y+H-1)).
    #[arg(long, value_parser = parse_box, conflicts_with = "whole")]
    pub r#box: Option<BoxF>,
    /// Skip detection: the image is already a face crop (framed like the model's training crops).
    #[arg(long)]
    pub whole: bool,
    /// Folder for the outputs (created if needed).
    #[arg(long, short, default_value = "facemark-out")]
    pub out: PathBuf,
    /// Outputs per photo, comma-separated: png (annotated), json, pts (iBUG, one per face), csv.
    #[arg(long, value_delimiter = ',', default_value = "png,json")]
    pub format: Vec<OutFormat>,
    /// Label each point with its index on the annotated PNG.
    #[arg(long)]
    pub numbers: bool,
    /// Draw each face's head pose on the annotated PNG: axes from the nose tip (red: the
    /// subject's left, green: down, blue: the way the face looks). With 68-point models the
    /// pose (yaw, pitch, roll in degrees) is in the JSON and CSV outputs either way.
    #[arg(long)]
    pub pose: bool,
    /// Print the results as JSON on stdout (an array with one object per photo, as in the
    /// `.landmarks.json` files) instead of one summary line per photo. As every command: a
    /// summary for people on stdout unless `--json` asks for JSON; the `--format` files are
    /// written either way.
    #[arg(long)]
    pub json: bool,
    /// Refinement passes: each runs the refiner (see `--refiner`) on a crop aligned on the last
    /// points, or the model again on their box; each costs one more model pass [default: 1
    /// with `--refiner`, else 0].
    #[arg(long, value_parser = facemark_core::limits::parse_refine)]
    pub refine: Option<usize>,
    /// Test-time flip: also run the mirrored crop and average (2× the model time, lower error)
    /// [default: off in detect, on in filter].
    #[arg(long, overrides_with = "no_flip")]
    pub flip: bool,
    /// No test-time flip (the default here; as `filter --no-flip`).
    #[arg(long, overrides_with = "flip")]
    pub no_flip: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Png,
    Json,
    Pts,
    Csv,
}

fn parse_box(s: &str) -> Result<BoxF, String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<f32>()
                .map_err(|_| format!("`{t}` is not a number"))
        })
        .collect::<Result<_, _>>()?;
    match v[..] {
        [x, y, w, h] if w > 0.0 && h > 0.0 && v.iter().all(|f| f.is_finite()) => {
            Ok(BoxF::new(x, y, w, h))
        }
        _ => Err(format!("expected X,Y,W,H with W, H > 0, got `{s}`")),
    }
}

/// Expand folders into their image files (sorted; the types of
/// [`facemark_core::photo::IMAGE_EXTENSIONS`]), keep files as given.
fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| facemark_core::photo::is_image_path(f))
                .collect();
            v.sort();
            out.extend(v);
        } else if facemark_apps::video::is_video_path(p) {
            // videos are handled on their own in `run`
        } else if p.exists() {
            out.push(p.clone());
        } else {
            bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(out)
}

#[derive(Serialize)]
struct PhotoResult {
    image: String,
    width: u32,
    height: u32,
    scheme: String,
    faces: Vec<Face>,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(t) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .ok();
    }
    let videos: Vec<PathBuf> = args
        .inputs
        .iter()
        .filter(|p| facemark_apps::video::is_video_path(p))
        .cloned()
        .collect();
    if let Some(v) = videos.first() {
        args.opts.for_photos_only(v)?;
    }
    // Outputs are named after the inputs' stems: refuse two inputs that would overwrite each
    // other's results, before any work.
    let mut all = videos;
    all.extend(collect_inputs(&args.inputs)?);
    let (videos, files): (Vec<PathBuf>, Vec<PathBuf>) =
        super::distinct_outputs(all, &args.out, "STEM.landmarks.*, STEM_N.pts")?
            .into_iter()
            .partition(|p| facemark_apps::video::is_video_path(p));
    if files.is_empty() && videos.is_empty() {
        bail!("no images found in {:?}", args.inputs);
    }
    let detector = super::pipeline(
        args.model.as_deref(),
        &args.opts,
        args.detector.as_deref(),
        args.min_face,
    )?
    .with_refine(args.opts.passes(args.refine))
    .with_flip(args.flip && !args.no_flip);
    anyhow::ensure!(
        !(args.flip && !args.no_flip && detector.shape_predictor().is_some()),
        "--flip is for facemark models, not dlib shape predictors (.dat)"
    );
    if args.pose && !facemark_core::pose::has_model(detector.scheme()) {
        eprintln!(
            "warning: --pose: the model places {} points ({}); head pose needs the iBUG 68 points, none is drawn",
            detector.scheme().len(),
            detector.scheme().name
        );
    }
    if !videos.is_empty() {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
        for v in &videos {
            video_landmarks(&detector, v, &args)?;
        }
        if files.is_empty() {
            return Ok(());
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let bar = if files.len() > 1 {
        ProgressBar::new(files.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} photos {per_sec} {msg}").unwrap(),
    );
    let results: Vec<Result<(PhotoResult, String)>> = files
        .par_iter()
        .map(|f| {
            let r = process(&detector, f, &args);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();

    let mut ok = Vec::new();
    let mut failed = 0;
    for (f, r) in files.iter().zip(results) {
        match r {
            Ok((r, written)) => {
                if r.faces.is_empty() {
                    eprintln!(
                        "warning: no face found in {} (try --box X,Y,W,H or --detector)",
                        f.display()
                    );
                }
                if !args.json {
                    println!("{}", summary_line(&r, &written));
                }
                ok.push(r);
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ok)?);
    }
    let n_faces: usize = ok.iter().map(|r| r.faces.len()).sum();
    eprintln!(
        "{} photo(s), {} face(s); outputs in {}",
        ok.len(),
        n_faces,
        args.out.display()
    );
    if failed > 0 {
        bail!("{failed} of {} photo(s) failed", files.len());
    }
    Ok(())
}

/// Per-frame landmarks of a video (tracking; re-detection every few frames), one JSON line per
/// frame (or CSV rows with `--format csv`) in `OUT/STEM.landmarks.jsonl|csv`.
fn video_landmarks(detector: &Pipeline, path: &Path, args: &Args) -> Result<()> {
    use facemark_apps::video::{write_landmarks, LandmarkFormat};
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video".into());
    let ext = if args.format.contains(&OutFormat::Csv) {
        "csv"
    } else {
        "jsonl"
    };
    let out = args.out.join(format!("{stem}.landmarks.{ext}"));
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} frames {per_sec} {msg}").unwrap(),
    );
    let stats = write_landmarks(
        path,
        &out,
        LandmarkFormat::from_path(&out),
        &facemark::CalibratedDetector(detector),
        detector,
        &facemark_apps::track::TrackerOptions::default(),
        &mut |p| {
            if let Some(t) = p.total {
                bar.set_length(t);
            }
            bar.set_position(p.frame);
        },
    )
    .with_context(|| format!("{}: per-frame landmarks", path.display()))?;
    bar.finish_and_clear();
    let line = format!(
        "{}: {} frames → {}",
        path.display(),
        stats.frames,
        out.display()
    );
    // stdout is for the photos' JSON with `--json`
    if args.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(())
}

/// One line for people about a photo: `IMAGE: N face(s) (W×H) → FILES`.
fn summary_line(r: &PhotoResult, written: &str) -> String {
    let n = r.faces.len();
    format!(
        "{}: {n} face{} ({}x{}){}",
        r.image,
        if n == 1 { "" } else { "s" },
        r.width,
        r.height,
        if written.is_empty() {
            String::new()
        } else {
            format!(" → {written}")
        }
    )
}

/// The files `process` writes for a photo `stem` with `faces` faces, in short: `OUT/STEM.landmarks.{png,json}`
/// and `OUT/STEM_{0..N-1}.pts` (brace ranges as a shell expands them).
fn written_files(out: &Path, stem: &str, formats: &[OutFormat], faces: usize) -> String {
    let mut exts: Vec<&str> = Vec::new();
    for f in formats {
        let e = match f {
            OutFormat::Png => "png",
            OutFormat::Json => "json",
            OutFormat::Csv => "csv",
            OutFormat::Pts => continue,
        };
        if !exts.contains(&e) {
            exts.push(e);
        }
    }
    let mut parts = Vec::new();
    match exts[..] {
        [] => {}
        [e] => parts.push(format!("{stem}.landmarks.{e}")),
        _ => parts.push(format!("{stem}.landmarks.{{{}}}", exts.join(","))),
    }
    if formats.contains(&OutFormat::Pts) {
        match faces {
            0 => {}
            1 => parts.push(format!("{stem}_0.pts")),
            n => parts.push(format!("{stem}_{{0..{}}}.pts", n - 1)),
        }
    }
    parts
        .iter()
        .map(|p| out.join(p).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Landmarks of one photo, written in each `--format`; the result and the files written (see
/// [`written_files`]).
fn process(detector: &Pipeline, path: &Path, args: &Args) -> Result<(PhotoResult, String)> {
    let img = super::open_photo(path)?;
    let gray = facemark_detect::to_gray(&img);
    let faces: Vec<Face> = if let Some(b) = args.r#box {
        // a landmark box, or a dlib model's own rectangle (X, Y, X+W-1, Y+H-1)
        vec![detector.face_in_given_box(&gray, &b)]
    } else if args.whole {
        vec![detector.face_in_whole_image(&gray)]
    } else {
        detector.detect_gray(&gray)
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let result = PhotoResult {
        image: path.display().to_string(),
        width: img.width(),
        height: img.height(),
        scheme: detector.scheme().name.clone(),
        faces,
    };
    for fmt in &args.format {
        match fmt {
            OutFormat::Png => {
                let mut rgb = img.to_rgb8();
                // Sizes follow each face (its landmark box), not the photo: small faces in a
                // large photo keep separate dots. Outlines from the scheme (68: jaw, brows,
                // nose, eyes, lips); labels drawn last so that no other face covers them.
                let contours = detector.scheme().contours();
                let style = |f: &Face| {
                    draw::LandmarkStyle::for_face(f.landmark_box.w.max(f.landmark_box.h))
                };
                for f in &result.faces {
                    let style = style(f);
                    draw::draw_box(&mut rgb, &f.landmark_box, [255, 200, 0], style.line_width);
                    draw::draw_landmarks(&mut rgb, &f.points, &contours, &style);
                    if let (true, Some(p)) = (args.pose, &f.pose) {
                        let camera = Camera::for_image(img.width(), img.height());
                        draw::draw_pose_axes(
                            &mut rgb,
                            p,
                            &camera,
                            60.0,
                            (style.line_width * 2.0).max(2.0),
                        );
                    }
                }
                if args.numbers {
                    for f in &result.faces {
                        draw::draw_point_labels(&mut rgb, &f.points, &contours, &style(f));
                    }
                }
                let out = args.out.join(format!("{stem}.landmarks.png"));
                io::save_image_atomic(&image::DynamicImage::ImageRgb8(rgb), &out)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            OutFormat::Json => {
                let out = args.out.join(format!("{stem}.landmarks.json"));
                io::write_atomic(&out, serde_json::to_string_pretty(&result)?.as_bytes())
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            OutFormat::Pts => {
                for (i, f) in result.faces.iter().enumerate() {
                    let out = args.out.join(format!("{stem}_{i}.pts"));
                    facemark_formats::pts::write_pts(&out, &f.points, true)
                        .with_context(|| format!("writing {}", out.display()))?;
                }
            }
            OutFormat::Csv => {
                // the face's pose (degrees) on each of its rows; empty without one
                let mut s = String::from("face,point,x,y,yaw,pitch,roll\n");
                for (i, f) in result.faces.iter().enumerate() {
                    let pose = pose::csv_fields(f.pose.as_ref());
                    for (k, p) in f.points.iter().enumerate() {
                        s += &format!("{i},{k},{:.3},{:.3}{pose}\n", p[0], p[1]);
                    }
                }
                let out = args.out.join(format!("{stem}.landmarks.csv"));
                io::write_atomic(&out, s.as_bytes())
                    .with_context(|| format!("writing {}", out.display()))?;
            }
        }
    }
    let written = written_files(&args.out, &stem, &args.format, result.faces.len());
    Ok((result, written))
}
