//! The evaluation driver: every face predicted and measured, then summarised into an
//! [`EvalReport`].

use super::{
    face_box, EvalError, EvalOptions, EvalReport, FaceResult, Skipped, Summary, ThresholdStat,
};
use crate::breakdown;
use crate::metrics::{self, SquaredError, THRESHOLDS};
use facemark_core::{ImageSource, Landmarker, Sample};
use image::GrayImage;
use rayon::prelude::*;

/// Decodes a sample's pixels as 8-bit gray ([`facemark_formats::load_gray`]), the error as
/// text for reports.
pub fn load_gray(src: &ImageSource) -> Result<GrayImage, String> {
    facemark_formats::load_gray(src).map_err(|e| e.to_string())
}

/// Runs `landmarker` on every sample and measures it (see the module docs).
///
/// Errors: a sample whose point count differs from the landmarker's scheme (checked for all
/// samples first), or no face evaluable at all. Faces whose image cannot be read or that have
/// no box are listed in `skipped`.
pub fn evaluate(
    landmarker: &dyn Landmarker,
    samples: &[Sample],
    opts: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let scheme = landmarker.scheme();
    crate::boxes::check_box_shift(opts.box_shift).map_err(EvalError::BoxShift)?;
    if let Some(s) = samples.iter().find(|s| s.points.len() != scheme.len()) {
        return Err(EvalError::PointCount {
            model: scheme.len(),
            scheme: scheme.name.clone(),
            data: s.points.len(),
            sample: s.name.clone(),
        });
    }
    let t0 = std::time::Instant::now();
    let pb = if opts.progress {
        let pb = indicatif::ProgressBar::new(samples.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} eval [{bar:40}] {pos}/{len} faces {per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let results: Vec<Result<FaceResult, Skipped>> = samples
        .par_iter()
        .enumerate()
        .map(|(index, s)| {
            let r = eval_one(landmarker, s, index, opts);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    let seconds = t0.elapsed().as_secs_f32();
    let mut faces = Vec::new();
    let mut skipped = Vec::new();
    for r in results {
        match r {
            Ok(f) => faces.push(f),
            Err(s) => skipped.push(s),
        }
    }
    if faces.is_empty() {
        return Err(EvalError::NoFaces {
            skipped: skipped.len(),
            first: skipped
                .first()
                .map(|s| format!("{}: {}", s.name, s.reason))
                .unwrap_or_else(|| "no samples".into()),
        });
    }
    Ok(summarise(scheme, opts, faces, skipped, seconds))
}

fn eval_one(
    lm: &dyn Landmarker,
    s: &Sample,
    index: usize,
    opts: &EvalOptions,
) -> Result<FaceResult, Skipped> {
    let skip = |reason: String| Skipped {
        name: s.name.clone(),
        reason,
    };
    let img = load_gray(&s.image).map_err(skip)?;
    let bx = face_box(s, &img, opts.box_source).map_err(skip)?;
    let bx = crate::boxes::shift_box(&bx, opts.box_shift, opts.seed, index);
    let pred = lm.landmarks(&img, &bx);
    if pred.is_empty() {
        // A landmarker that can decline (a detector-driven pipeline that found no face here).
        return Err(skip("no face found".into()));
    }
    let e = metrics::face_errors(&pred, &s.points, &s.visible, lm.scheme())
        .map_err(|e| skip(e.to_string()))?;
    if e.mean_px.is_none() {
        return Err(skip("no visible points".into()));
    }
    Ok(FaceResult {
        index,
        name: s.name.clone(),
        nme_outer: e.nme_outer,
        nme_pupil: e.nme_pupil,
        rmse_px: e.squared.rmse(),
        mean_px: e.mean_px,
        face_box: bx,
        yaw_deg: breakdown::yaw_proxy(&s.points, &s.visible, lm.scheme()),
        pred,
        errors: Some(e),
    })
}

fn summarise(
    scheme: &facemark_core::Scheme,
    opts: &EvalOptions,
    faces: Vec<FaceResult>,
    skipped: Vec<Skipped>,
    seconds: f32,
) -> EvalReport {
    let outer: Vec<f32> = faces.iter().filter_map(|f| f.nme_outer).collect();
    let pupil: Vec<f32> = faces.iter().filter_map(|f| f.nme_pupil).collect();
    let primary = if !outer.is_empty() {
        "outer_eye"
    } else if !pupil.is_empty() {
        "inter_pupil"
    } else {
        "none"
    };
    let mut sq = SquaredError::default();
    let mut px_rows = Vec::with_capacity(faces.len());
    let mut nme_rows = Vec::with_capacity(faces.len());
    let mut normed: Vec<(&[Option<f32>], f32)> = Vec::with_capacity(faces.len());
    for f in &faces {
        let Some(e) = &f.errors else { continue };
        sq.add(&e.squared);
        px_rows.push(e.point_px.clone());
        let norm = match primary {
            "outer_eye" => e.outer_eye_px,
            "inter_pupil" => e.pupil_px,
            _ => None,
        };
        if let Some(d) = norm {
            nme_rows.push(e.point_px.iter().map(|v| v.map(|v| v / d)).collect());
            normed.push((&e.point_px, d));
        }
    }
    let regions = breakdown::region_stats(scheme, &normed);
    let mean_px: Vec<f32> = faces.iter().filter_map(|f| f.mean_px).collect();
    let mut report = EvalReport {
        scheme: scheme.name.clone(),
        n_points: scheme.len(),
        n_faces: faces.len(),
        box_source: opts.box_source,
        box_shift: opts.box_shift,
        box_shift_seed: opts.seed,
        primary: primary.to_string(),
        nme_outer: Summary::of(&outer),
        nme_pupil: Summary::of(&pupil),
        rmse_px: sq.rmse(),
        mean_error_px: metrics::mean(&mean_px),
        thresholds: vec![],
        per_point_nme: metrics::per_point_mean(&nme_rows),
        per_point_px: metrics::per_point_mean(&px_rows),
        regions,
        yaw: vec![],
        seconds,
        faces_per_second: faces.len() as f32 / seconds.max(1e-9),
        faces,
        skipped,
    };
    let errs = report.primary_errors();
    if !errs.is_empty() {
        report.thresholds = THRESHOLDS
            .iter()
            .map(|&t| ThresholdStat {
                threshold: t,
                auc: metrics::auc(&errs, t),
                failure_rate: metrics::failure_rate(&errs, t),
            })
            .collect();
    }
    let yaw: Vec<(f32, f32)> = report
        .faces
        .iter()
        .filter_map(|f| f.yaw_deg.zip(report.primary_of(f)))
        .collect();
    report.yaw = breakdown::yaw_buckets(&yaw);
    report
}
