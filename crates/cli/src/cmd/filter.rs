//! `facemark filter`: Snapchat-style filters on photos and videos.
//!
//! Photos: detect faces, place landmarks, draw the effect on every face. Videos (by extension):
//! decode with FFmpeg, track faces (landmarks of one frame place the next crop; re-detection
//! every `--redetect` frames or when a track is lost), smooth the points with a One Euro
//! filter, draw, encode with the same size, frame rate and audio.

use anyhow::{bail, Context, Result};
use facemark::{CalibratedDetector, Pipeline};
use facemark_apps::smooth::{OneEuroParams, Smoothing};
use facemark_apps::track::TrackerOptions;
use facemark_apps::{video, Filter, EFFECT_NAMES};
use facemark_core::Point;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Input photo (jpg, png, webp, bmp, tif, ppm/pgm, gif; EXIF orientation applied) or video
    /// (mp4, mkv, mov, webm, …).
    pub input: PathBuf,
    /// Output file; a video for a video input (same container family recommended).
    pub output: PathBuf,
    /// Built-in effect: sunglasses, round-glasses, hat, moustache, dog, blur, pixelate.
    #[arg(long, short, default_value = "sunglasses", value_parser = clap::builder::PossibleValuesParser::new(EFFECT_NAMES))]
    pub effect: String,
    /// Your own RGBA PNG overlay instead of a built-in effect.
    #[arg(long)]
    pub overlay: Option<PathBuf>,
    /// Anchor file for --overlay (JSON: overlay pixel positions → landmark indices or names);
    /// without it, the overlay is taken for glasses and its two lenses go on the eyes.
    #[arg(long, requires = "overlay")]
    pub anchors: Option<PathBuf>,
    /// Landmark model file (.safetensors); default: the model embedded in this binary.
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
          conflicts_with = "points")]
    pub min_face: Option<u32>,
    /// Photos only: use these landmarks (iBUG .pts, 68 points) instead of detecting.
    #[arg(long)]
    pub points: Option<PathBuf>,
    /// Video: run the face detector every N frames (0: only when a track is lost or none exists).
    #[arg(long, default_value_t = 10)]
    pub redetect: u32,
    /// Video: One Euro smoothing of the landmarks.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub smooth: String,
    /// One Euro cutoff at rest for the head's pose, Hz (lower: steadier).
    #[arg(long, default_value_t = Smoothing::default().pose.min_cutoff)]
    pub min_cutoff: f32,
    /// One Euro speed coefficient for the pose, per eye-distance/s (higher: less lag when moving).
    #[arg(long, default_value_t = Smoothing::default().pose.beta)]
    pub beta: f32,
    /// One Euro cutoff of the speed estimate, Hz.
    #[arg(long, default_value_t = Smoothing::default().pose.d_cutoff)]
    pub d_cutoff: f32,
    /// One Euro cutoff at rest for the face's shape (expressions), Hz.
    #[arg(long, default_value_t = Smoothing::default().shape.min_cutoff)]
    pub shape_min_cutoff: f32,
    /// One Euro speed coefficient for the shape.
    #[arg(long, default_value_t = Smoothing::default().shape.beta)]
    pub shape_beta: f32,
    /// Video: place each frame's crop from the smoothed (not raw) landmarks of the last frame.
    #[arg(long)]
    pub crop_from_smoothed: bool,
    /// Video: stop after this many frames.
    #[arg(long)]
    pub max_frames: Option<u64>,
    /// Video: print the measured jitter (normalised flicker with and without smoothing) and the
    /// whole pipeline's frames per second.
    #[arg(long)]
    pub stats: bool,
    /// Video: also write the run's figures as JSON to this file.
    #[arg(long)]
    pub stats_json: Option<PathBuf>,
    /// Blend in gamma-encoded sRGB instead of linear light.
    #[arg(long)]
    pub no_gamma: bool,
    /// Photos: refinement passes (the refiner on a crop aligned on the last points, see
    /// `--refiner`; or the model again on their box) [default: 1 here, for the best points;
    /// detect and eval: 1 with `--refiner`, else 0].
    #[arg(long, default_value_t = 1, value_parser = facemark_core::limits::parse_refine)]
    pub refine: usize,
    /// Turn off the test-time flip (each face also run mirrored and averaged): about twice as
    /// fast, noisier points.
    #[arg(long, overrides_with = "flip")]
    pub no_flip: bool,
    /// Test-time flip (the default here; as `detect --flip`).
    #[arg(long, overrides_with = "no_flip")]
    pub flip: bool,
}

fn build_detector(args: &Args, refine: usize) -> Result<Pipeline> {
    Ok(super::pipeline(
        args.model.as_deref(),
        &args.opts,
        args.detector.as_deref(),
        args.min_face,
    )?
    .with_refine(refine)
    .with_flip(!args.no_flip))
}

pub fn run(args: Args) -> Result<()> {
    check_outputs(&args)?;
    let mut filter = match &args.overlay {
        Some(png) => Filter::overlay(png, args.anchors.as_deref())?,
        None => Filter::by_name(&args.effect)?,
    };
    if let facemark_apps::Effect::Overlay(o) = &filter.effect {
        if o.keyed_background {
            eprintln!("note: the overlay has no transparency; its plain background was keyed out");
        }
    }
    filter.gamma = !args.no_gamma;
    if !args.input.exists() {
        bail!("{}: no such file", args.input.display());
    }
    if let (Ok(a), Ok(b)) = (args.input.canonicalize(), args.output.canonicalize()) {
        if a == b {
            bail!(
                "{}: the output would overwrite the input",
                args.output.display()
            );
        }
    }
    if video::is_video_path(&args.input) {
        run_video(&args, &filter)
    } else {
        run_photo(&args, &filter)
    }
}

/// Refuses, before any work, outputs that could not be written: a photo's output must be a
/// picture type, a video's a video container; their folders (and `--stats-json`'s) must exist.
fn check_outputs(args: &Args) -> Result<()> {
    if video::is_video_path(&args.input) {
        if !video::is_video_path(&args.output) {
            bail!(
                "{}: a video input needs a video output (.mp4, .mkv, .mov, .webm)",
                args.output.display()
            );
        }
        super::check_folder(&args.output)?;
    } else {
        super::check_image_output(&args.output)?;
    }
    if let Some(p) = &args.stats_json {
        super::check_folder(p)?;
    }
    Ok(())
}

fn run_photo(args: &Args, filter: &Filter) -> Result<()> {
    let img = super::open_photo(&args.input)?;
    let faces: Vec<Vec<Point>> = match &args.points {
        Some(p) => vec![facemark_formats::pts::read_pts(p)?],
        None => {
            let det = build_detector(args, args.refine)?;
            det.detect(&img).into_iter().map(|f| f.points).collect()
        }
    };
    let mut rgb = img.to_rgb8();
    filter.apply(&mut rgb, &faces)?;
    facemark_core::io::save_image_atomic(&image::DynamicImage::ImageRgb8(rgb), &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("{} face(s) → {}", faces.len(), args.output.display());
    Ok(())
}

fn run_video(args: &Args, filter: &Filter) -> Result<()> {
    if args.points.is_some() {
        bail!("--points is for photos; videos are tracked");
    }
    args.opts.for_photos_only(&args.input)?;
    // tracking places each crop from the last frame's landmarks (and refines new faces itself),
    // so the landmarker runs without extra refinement passes
    let det = build_detector(args, 0)?;
    let options = TrackerOptions {
        redetect_every: args.redetect,
        smooth: (args.smooth == "on").then_some(Smoothing {
            pose: OneEuroParams {
                min_cutoff: args.min_cutoff,
                beta: args.beta,
                d_cutoff: args.d_cutoff,
            },
            shape: OneEuroParams {
                min_cutoff: args.shape_min_cutoff,
                beta: args.shape_beta,
                d_cutoff: args.d_cutoff,
            },
        }),
        crop_from_smoothed: args.crop_from_smoothed,
        ..TrackerOptions::default()
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames, {per_sec}, ETA {eta}",
        )
        .unwrap(),
    );
    let calibrated = CalibratedDetector(&det);
    let stats = video::filter_video(
        &args.input,
        &args.output,
        filter,
        &calibrated,
        &det,
        &options,
        args.max_frames,
        &mut |p| {
            if let Some(t) = p.total {
                bar.set_length(t);
            }
            bar.set_position(p.frame);
        },
    )?;
    bar.finish_and_clear();
    eprintln!(
        "{} frames ({}×{} at {:.3} fps) → {} in {:.1} s: {:.1} frames/s",
        stats.frames,
        stats.info.width,
        stats.info.height,
        stats.info.fps(),
        args.output.display(),
        stats.seconds,
        stats.fps
    );
    if args.stats {
        let f = &stats.flicker;
        let c = &stats.counters;
        println!("frames                 {}", stats.frames);
        println!("faces (sum over frames) {}", f.face_frames);
        println!("pipeline frames/s      {:.1}", stats.fps);
        println!(
            "detector runs          {} ({:.1} % of frames; {} of them local); landmarker runs {}",
            c.detector_runs,
            100.0 * c.detector_runs as f64 / stats.frames.max(1) as f64,
            c.local_detector_runs,
            c.landmarker_runs
        );
        println!(
            "tracks started/lost/unsupported {}/{}/{}",
            c.tracks_started, c.tracks_lost, c.tracks_dropped_unsupported
        );
        println!(
            "flicker raw            {:.4}  (mean |p_t - p_t-1| / eye distance)",
            f.flicker_raw
        );
        println!(
            "flicker smoothed       {:.4}  ({:.2}× less)",
            f.flicker_smoothed,
            f.flicker_raw / f.flicker_smoothed
        );
        println!(
            "jerk raw               {:.4}  (mean |p_t - 2p_t-1 + p_t-2| / eye distance)",
            f.jerk_raw
        );
        println!(
            "jerk smoothed          {:.4}  ({:.2}× less)",
            f.jerk_smoothed,
            f.jerk_raw / f.jerk_smoothed
        );
        println!(
            "lag (smoothed - raw)   {:.4}  (mean |smoothed - raw| / eye distance)",
            f.lag
        );
    }
    if let Some(p) = &args.stats_json {
        let json = serde_json::json!({
            "input": args.input,
            "frames": stats.frames,
            "seconds": stats.seconds,
            "fps": stats.fps,
            "width": stats.info.width,
            "height": stats.info.height,
            "redetect": args.redetect,
            "flip": !args.no_flip,
            "smooth": args.smooth,
            "min_cutoff": args.min_cutoff,
            "beta": args.beta,
            "shape_min_cutoff": args.shape_min_cutoff,
            "shape_beta": args.shape_beta,
            "detector_runs": stats.counters.detector_runs,
            "local_detector_runs": stats.counters.local_detector_runs,
            "landmarker_runs": stats.counters.landmarker_runs,
            "flicker": stats.flicker,
        });
        facemark_core::io::write_atomic(p, serde_json::to_string_pretty(&json)?.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
