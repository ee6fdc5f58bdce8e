//! Evaluating a [`Landmarker`] on annotated faces: NME, RMSE, AUC, failure rate, CED, per-point
//! error, and pictures of the worst faces.
//!
//! Each face is predicted from a box chosen by [`BoxSource`] (by default the ground-truth
//! *landmark box*, `BoxF::around(visible points)`, which is what a model's crop policy expects:
//! the "oracle box" setting of 300-W style benchmarks, so detector errors are not counted).
//! `box_shift` moves and scales that box as an off face detector would ([`crate::boxes`]).
//! Faces run in parallel (rayon). Metric definitions: [`crate::metrics`]; the per-region and
//! per-yaw breakdowns: [`crate::breakdown`].

pub use crate::baseline::MeanShape;
pub use crate::boxes::{face_box, BoxSource};
use crate::breakdown::{self, RegionStat, YawBucket};
use crate::metrics::{self, FaceErrors, SquaredError, THRESHOLDS};
use facemark_core::draw::{contact_sheet, draw_points, draw_text};
use facemark_core::geometry::warp_rgb;
use facemark_core::{Affine2, BoxF, ImageSource, Landmarker, Point, Sample};
use image::{GrayImage, RgbImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Ground-truth colour in pictures (the seeds' green).
pub const GT_COLOR: [u8; 3] = [0, 255, 0];
/// Prediction colour in pictures (the seeds' magenta).
pub const PRED_COLOR: [u8; 3] = [255, 0, 255];

/// Errors evaluating a landmarker and writing its report.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data's landmark scheme is not the model's (checked before any face runs).
    #[error("the model predicts {model} points ({scheme}) but sample {sample} has {data}")]
    PointCount {
        /// Points the landmarker predicts.
        model: usize,
        /// The landmarker's scheme name.
        scheme: String,
        /// Points the sample is annotated with.
        data: usize,
        /// The first sample that differs.
        sample: String,
    },
    /// `box_shift` is outside `[0, 1]` (the message says so).
    #[error("{0}")]
    BoxShift(String),
    /// Every face was skipped (unreadable image, no box); nothing to measure.
    #[error("no face could be evaluated ({skipped} skipped; first: {first})")]
    NoFaces {
        /// Faces skipped.
        skipped: usize,
        /// The first skipped face and why.
        first: String,
    },
    /// Drawing the CED chart failed.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    /// Encoding or writing a picture (the worst-faces sheet) failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The picture's path.
        path: PathBuf,
        /// The encoder's or system's error.
        source: image::ImageError,
    },
    /// Writing a report file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The report's path.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// Evaluation settings.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Where each face's box comes from (default: the ground-truth landmark box).
    pub box_source: BoxSource,
    /// Simulated detector error in `[0, 1]` ([`crate::boxes::shift_box`]; 0: the box as is).
    pub box_shift: f32,
    /// Seed of the box shifts (each face draws from its own stream, by index).
    pub seed: u64,
    /// Show an indicatif progress bar on stderr.
    pub progress: bool,
}

/// One evaluated face.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceResult {
    /// Index into the evaluated `samples`.
    pub index: usize,
    /// The sample's name (usually its image file name).
    pub name: String,
    /// NME by outer-eye-corner distance (`None`: scheme or points do not allow it).
    pub nme_outer: Option<f32>,
    /// NME by inter-pupil distance.
    pub nme_pupil: Option<f32>,
    /// This face's RMSE in pixels (present points).
    pub rmse_px: Option<f32>,
    /// Mean point error in pixels.
    pub mean_px: Option<f32>,
    /// The box given to the landmarker (pixels), after any box shift.
    pub face_box: BoxF,
    /// Yaw proxy of the ground truth in degrees ([`breakdown::yaw_proxy`]; 68 points only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yaw_deg: Option<f32>,
    /// Predicted points (pixels); not in the JSON.
    #[serde(skip)]
    pub pred: Vec<Point>,
    #[serde(skip)]
    errors: Option<FaceErrors>,
}

/// Mean and median of a per-face metric, and over how many faces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean over the faces that have the metric.
    pub mean: f32,
    /// Median over the same faces (robust to a few failures).
    pub median: f32,
    /// Faces that have the metric.
    pub n: usize,
}

impl Summary {
    fn of(v: &[f32]) -> Option<Summary> {
        Some(Summary {
            mean: metrics::mean(v)?,
            median: metrics::median(v)?,
            n: v.len(),
        })
    }
}

/// AUC and failure rate at one NME threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdStat {
    /// The NME threshold (a fraction of the normaliser: 0.08 is 8 %).
    pub threshold: f32,
    /// CED area up to the threshold, divided by the threshold, in `[0, 1]`.
    pub auc: f32,
    /// Fraction of faces with NME above the threshold.
    pub failure_rate: f32,
}

/// A face that could not be evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    /// The sample's name.
    pub name: String,
    /// Why it was skipped (the decoder's or box source's message).
    pub reason: String,
}

/// Everything measured on one data set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    /// The landmark scheme's name.
    pub scheme: String,
    /// Points per face in that scheme.
    pub n_points: usize,
    /// Faces evaluated.
    pub n_faces: usize,
    /// Where the boxes given to the landmarker came from.
    pub box_source: BoxSource,
    /// The `box_shift` and its seed (0: the boxes as chosen).
    #[serde(default)]
    pub box_shift: f32,
    /// The seed the box shifts were drawn with.
    #[serde(default)]
    pub box_shift_seed: u64,
    /// Which NME the thresholds, CED, per-point NME and worst faces use: `"outer_eye"` when
    /// available, else `"inter_pupil"`, else `"none"` (then only pixel metrics exist).
    pub primary: String,
    /// NME by outer-eye-corner distance over the faces that allow it (300-W's normaliser).
    pub nme_outer: Option<Summary>,
    /// NME by inter-pupil distance over the faces that allow it.
    pub nme_pupil: Option<Summary>,
    /// Pooled Kaggle RMSE over every present coordinate of every face (pixels).
    pub rmse_px: Option<f32>,
    /// Mean over faces of the mean point error (pixels).
    pub mean_error_px: Option<f32>,
    /// AUC and failure rate of the primary NME at 0.08 and 0.10.
    pub thresholds: Vec<ThresholdStat>,
    /// Per point: mean over faces of the point's error divided by the face's primary
    /// normaliser (`None`: never present, or no normaliser).
    pub per_point_nme: Vec<Option<f32>>,
    /// Per point: mean error in pixels.
    pub per_point_px: Vec<Option<f32>>,
    /// Per region of the scheme's point groups: mean over faces of the region's primary NME
    /// ([`breakdown::region_stats`]); empty without groups or normaliser.
    #[serde(default)]
    pub regions: Vec<RegionStat>,
    /// Count, primary NME and failure rate at 0.08 by |yaw| bucket (a proxy from the ground
    /// truth, [`breakdown::yaw_buckets`]); empty for schemes without the points it needs.
    #[serde(default)]
    pub yaw: Vec<YawBucket>,
    /// Wall-clock seconds of the evaluation (loading + prediction), and faces per second.
    pub seconds: f32,
    /// `n_faces / seconds`.
    pub faces_per_second: f32,
    /// Every evaluated face, in sample order.
    pub faces: Vec<FaceResult>,
    /// The faces that could not be evaluated, with their reasons.
    pub skipped: Vec<Skipped>,
}

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

impl EvalReport {
    /// The primary NME of every face that has one (see `primary`).
    pub fn primary_errors(&self) -> Vec<f32> {
        self.faces
            .iter()
            .filter_map(|f| self.primary_of(f))
            .collect()
    }

    fn primary_of(&self, f: &FaceResult) -> Option<f32> {
        match self.primary.as_str() {
            "outer_eye" => f.nme_outer,
            "inter_pupil" => f.nme_pupil,
            _ => None,
        }
    }

    /// The CED of the primary NME sampled at 201 points in `[0, max]`.
    pub fn ced(&self, max: f32) -> Vec<(f32, f32)> {
        metrics::ced_curve(&self.primary_errors(), max, 200)
    }

    /// Pretty JSON of the whole report (per-face entries included).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// A short human-readable summary (several lines).
    pub fn summary_text(&self) -> String {
        let f = |v: Option<f32>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let shift = if self.box_shift > 0.0 {
            format!(
                " shifted by {} (seed {})",
                self.box_shift, self.box_shift_seed
            )
        } else {
            String::new()
        };
        let mut s = format!(
            "faces {} ({} skipped), scheme {} ({} points), box {}{shift}\n",
            self.n_faces,
            self.skipped.len(),
            self.scheme,
            self.n_points,
            self.box_source
        );
        if let Some(n) = self.nme_outer {
            s += &format!(
                "NME outer-eye  mean {:.4}  median {:.4}\n",
                n.mean, n.median
            );
        }
        if let Some(n) = self.nme_pupil {
            s += &format!(
                "NME inter-pupil mean {:.4}  median {:.4}\n",
                n.mean, n.median
            );
        }
        s += &format!(
            "RMSE {} px, mean point error {} px\n",
            f(self.rmse_px),
            f(self.mean_error_px)
        );
        for t in &self.thresholds {
            s += &format!(
                "AUC@{:.2} {:.4}  failure@{:.2} {:.4}  ({} NME)\n",
                t.threshold, t.auc, t.threshold, t.failure_rate, self.primary
            );
        }
        s += &breakdown::summary_text(&self.primary, &self.regions, &self.yaw);
        s += &format!(
            "{:.1} s, {:.1} faces/s\n",
            self.seconds, self.faces_per_second
        );
        s
    }

    /// Writes [`EvalReport::to_json`] atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        facemark_core::io::write_atomic(path, self.to_json().as_bytes()).map_err(|source| {
            EvalError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Indices (into `faces`) of the `n` faces with the largest primary NME (or pixel error
    /// when there is no NME), worst first.
    pub fn worst(&self, n: usize) -> Vec<usize> {
        let key = |f: &FaceResult| {
            let v = self.primary_of(f).or(f.mean_px).unwrap_or(f32::INFINITY);
            if v.is_nan() {
                f32::INFINITY
            } else {
                v
            }
        };
        let mut idx: Vec<usize> = (0..self.faces.len()).collect();
        idx.sort_by(|&a, &b| key(&self.faces[b]).total_cmp(&key(&self.faces[a])));
        idx.truncate(n);
        idx
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use facemark_core::Scheme;

    /// 3 points: 0 subject's left eye (image right), 1 right eye, 2 nose; NME pair (0, 1).
    fn scheme() -> Scheme {
        let mut s = Scheme::generic(3);
        s.mirror = vec![1, 0, 2];
        s.norm_pair = Some((0, 1));
        s.pupils = Some((vec![0], vec![1]));
        s
    }

    /// Ground truth from a landmark box: eyes at the top corners, nose bottom-centre.
    fn shape(b: &BoxF) -> Vec<Point> {
        vec![[b.x + b.w, b.y], [b.x, b.y], [b.x + b.w * 0.5, b.y + b.h]]
    }

    /// Predicts the shape of the box it is given, moved right by `pixel(0,0)/1000 · box width`:
    /// so a face whose first pixel is `v` has NME exactly `v / 1000`.
    struct Fake(Scheme);
    impl Landmarker for Fake {
        fn scheme(&self) -> &Scheme {
            &self.0
        }
        fn landmarks(&self, image: &GrayImage, b: &BoxF) -> Vec<Point> {
            let dx = image.get_pixel(0, 0)[0] as f32 / 1000.0 * b.w;
            shape(b).into_iter().map(|p| [p[0] + dx, p[1]]).collect()
        }
    }

    fn sample(v: u8, b: BoxF, name: &str) -> Sample {
        let mut px = vec![30u8; 64 * 64];
        px[0] = v;
        Sample::new(
            ImageSource::Gray {
                width: 64,
                height: 64,
                pixels: px,
            },
            shape(&b),
            name,
        )
    }

    fn data() -> Vec<Sample> {
        vec![
            sample(0, BoxF::new(10.0, 10.0, 40.0, 30.0), "a"),
            sample(40, BoxF::new(12.0, 8.0, 20.0, 20.0), "b"),
            sample(90, BoxF::new(5.0, 20.0, 50.0, 30.0), "c"),
            sample(200, BoxF::new(20.0, 20.0, 30.0, 30.0), "d"),
        ]
    }

    #[test]
    fn known_noise_gives_known_metrics() {
        let lm = Fake(scheme());
        let r = evaluate(&lm, &data(), &EvalOptions::default()).unwrap();
        assert_eq!(r.n_faces, 4);
        assert_eq!(r.primary, "outer_eye");
        let nme = r.nme_outer.unwrap();
        // NMEs 0, 0.04, 0.09, 0.2
        assert!((nme.mean - 0.0825).abs() < 1e-5, "{nme:?}");
        assert!((nme.median - 0.065).abs() < 1e-5);
        assert!((r.nme_pupil.unwrap().mean - 0.0825).abs() < 1e-5);
        // AUC@0.08 = (1 + 0.5 + 0 + 0)/4, failure@0.08 = 2/4; AUC@0.10 = (1 + .6 + .1)/4
        let t = &r.thresholds;
        assert!((t[0].auc - 0.375).abs() < 1e-5 && (t[0].failure_rate - 0.5).abs() < 1e-6);
        assert!((t[1].auc - 0.425).abs() < 1e-5 && (t[1].failure_rate - 0.25).abs() < 1e-6);
        // Pooled RMSE: dx per face 0, 0.8, 4.5, 6 px on 3 points' x; 12 coordinates in all.
        let sq: f32 = 3.0 * (0.8f32 * 0.8 + 4.5 * 4.5 + 6.0 * 6.0);
        assert!((r.rmse_px.unwrap() - (sq / 24.0).sqrt()).abs() < 1e-4);
        // Every point is off by the same NME.
        for p in &r.per_point_nme {
            assert!((p.unwrap() - 0.0825).abs() < 1e-5);
        }
        assert_eq!(r.worst(2), vec![3, 2]);
        assert!(r.regions.is_empty() && r.yaw.is_empty()); // no groups, no yaw points
        let ced = r.ced(0.1);
        assert_eq!(ced.first().unwrap().1, 0.25);
        assert_eq!(ced.last().unwrap().1, 0.75);
        // JSON round trip of the summary fields
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["n_faces"], 4);
        assert_eq!(v["faces"].as_array().unwrap().len(), 4);
        assert!(r.summary_text().contains("AUC@0.08 0.3750"));
    }

    #[test]
    fn mismatched_points_missing_and_unreadable_faces() {
        let lm = Fake(scheme());
        let mut d = data();
        d[1].image = ImageSource::File("/nonexistent/x.png".into());
        // Face c: nose missing → still evaluated on the two eyes.
        d[2].visible[2] = false;
        d[2].points[2] = [f32::NAN, f32::NAN];
        let r = evaluate(&lm, &d, &EvalOptions::default()).unwrap();
        assert_eq!(r.n_faces, 3);
        assert_eq!(r.skipped.len(), 1);
        assert!(r.skipped[0].reason.contains("nonexistent"));
        // c's box is now the eyes' box (height 0): predictions use that box; NME stays 0.09.
        let c = r.faces.iter().find(|f| f.name == "c").unwrap();
        assert!((c.nme_outer.unwrap() - 0.09).abs() < 1e-5);
        assert_eq!(r.per_point_px.len(), 3);

        let mut bad = data();
        bad[3].points.pop();
        bad[3].visible.pop();
        assert!(matches!(
            evaluate(&lm, &bad, &EvalOptions::default()),
            Err(EvalError::PointCount { data: 2, .. })
        ));
        let none: Vec<Sample> = vec![];
        assert!(matches!(
            evaluate(&lm, &none, &EvalOptions::default()),
            Err(EvalError::NoFaces { .. })
        ));
    }

    /// A landmarker that declines (returns no points) on faces whose marker pixel is 40.
    struct Declines(Scheme);
    impl Landmarker for Declines {
        fn scheme(&self) -> &Scheme {
            &self.0
        }
        fn landmarks(&self, image: &GrayImage, b: &BoxF) -> Vec<Point> {
            if image.get_pixel(0, 0)[0] == 40 {
                Vec::new()
            } else {
                shape(b)
            }
        }
    }

    #[test]
    fn declined_faces_are_skipped_and_named() {
        let r = evaluate(&Declines(scheme()), &data(), &EvalOptions::default()).unwrap();
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(r.skipped[0].name, "b");
        assert_eq!(r.skipped[0].reason, "no face found");
        assert_eq!(r.n_faces, data().len() - 1);
    }

    #[test]
    fn whole_image_box_and_generic_scheme() {
        let lm = Fake(Scheme::generic(3));
        let opts = EvalOptions {
            box_source: BoxSource::WholeImage,
            ..EvalOptions::default()
        };
        let r = evaluate(&lm, &data(), &opts).unwrap();
        assert_eq!(r.primary, "none");
        assert!(r.thresholds.is_empty() && r.nme_outer.is_none());
        assert!(r
            .faces
            .iter()
            .all(|f| f.face_box == BoxF::new(0.0, 0.0, 64.0, 64.0)));
        assert!(r.rmse_px.unwrap() > 1.0);
        assert_eq!("image".parse::<BoxSource>().unwrap(), BoxSource::WholeImage);
        assert!("nope".parse::<BoxSource>().is_err());
    }

    /// Every number of a report but the timing, as bits.
    fn bits(r: &EvalReport) -> Vec<u32> {
        let mut v = vec![];
        for f in &r.faces {
            let b = f.face_box;
            v.extend([b.x, b.y, b.w, b.h].map(f32::to_bits));
            v.extend(f.pred.iter().flatten().map(|x| x.to_bits()));
            v.extend([f.nme_outer, f.nme_pupil, f.rmse_px].map(|x| x.unwrap().to_bits()));
        }
        v.extend(r.per_point_nme.iter().map(|x| x.unwrap().to_bits()));
        v.extend(r.thresholds.iter().map(|t| t.auc.to_bits()));
        v
    }

    #[test]
    fn box_shift_zero_is_the_plain_box_and_shifts_are_seeded() {
        let (lm, d) = (Fake(scheme()), data());
        let plain = evaluate(&lm, &d, &EvalOptions::default()).unwrap();
        let with = |box_shift, seed| {
            let o = EvalOptions {
                box_shift,
                seed,
                ..EvalOptions::default()
            };
            evaluate(&lm, &d, &o).unwrap()
        };
        let zero = with(0.0, 99);
        assert_eq!(bits(&plain), bits(&zero));
        for (f, s) in plain.faces.iter().zip(&d) {
            assert_eq!(f.face_box, s.landmark_box().unwrap());
        }
        assert!(!plain.summary_text().contains("shifted"));
        let (a, b, c) = (with(0.2, 5), with(0.2, 5), with(0.2, 6));
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
        for ((fa, fc), s) in a.faces.iter().zip(&c.faces).zip(&d) {
            let gt = s.landmark_box().unwrap();
            assert_eq!(fa.face_box, crate::boxes::shift_box(&gt, 0.2, 5, fa.index));
            assert!(fa.face_box != gt && fc.face_box != fa.face_box);
        }
        assert!(a.summary_text().contains("shifted by 0.2 (seed 5)"));
        let v: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
        assert!((v["box_shift"].as_f64().unwrap() - 0.2).abs() < 1e-6);
        for bad in [-0.01, 1.01, f32::NAN] {
            let o = EvalOptions {
                box_shift: bad,
                ..EvalOptions::default()
            };
            let e = evaluate(&lm, &d, &o).unwrap_err();
            assert!(matches!(e, EvalError::BoxShift(_)) && e.to_string().contains("[0, 1]"));
        }
    }

    #[test]
    fn pictures_are_written() {
        let lm = Fake(scheme());
        let d = data();
        let r = evaluate(&lm, &d, &EvalOptions::default()).unwrap();
        let sheet = r.worst_sheet(&d, 3, 64);
        assert_eq!((sheet.width(), sheet.height()), (3 * 66 + 2, 66 + 2));
        let has = |c: [u8; 3]| sheet.pixels().any(|p| p.0 == c);
        assert!(has(GT_COLOR) && has(PRED_COLOR));
        let dir = tempfile::tempdir().unwrap();
        r.write_worst_sheet(&d, 2, &dir.path().join("worst.png"))
            .unwrap();
        plot_ced(&dir.path().join("ced.png"), "CED", &[("fake", &r)], 0.2).unwrap();
        r.write_json(&dir.path().join("r.json")).unwrap();
        assert!(image::open(dir.path().join("ced.png")).is_ok());
        assert!(image::open(dir.path().join("worst.png")).is_ok());
    }
}
