//! `facemark eval`: measure a keypoint model on annotated faces (NME, RMSE, AUC, failure rate,
//! CED curve, per-point, per-region and per-yaw error, worst faces).

use anyhow::Context;
use facemark_core::Landmarker;
use facemark_model::KeypointModel;
use facemark_train::config::TrainConfig;
use facemark_train::eval::{evaluate, plot_ced, BoxSource, EvalOptions, EvalReport, MeanShape};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model file (`model.safetensors` from `facemark train`, or a dlib shape predictor
    /// `.dat`); default: the model embedded in this binary, as `detect` uses.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Evaluate the mean-shape baseline (the scheme's mean shape placed in the box) instead of
    /// a model: the floor any trained model must beat.
    #[arg(long, conflicts_with_all = ["model", "detector", "refine", "refiner"])]
    pub mean_shape: bool,
    /// Annotated data set(s), any format `facemark data` reads; repeat or separate with commas.
    #[arg(long, value_delimiter = ',', required = true)]
    pub data: Vec<PathBuf>,
    /// Which faces: `all`, or the trainer's identity split `val` / `train` (same data list,
    /// `--val-fraction`, `--seed`, `--max-samples` and `--fold` as the training run), or
    /// `test`: the faces of the held-out `--fold`.
    #[arg(long, default_value = "all")]
    pub split: String,
    /// Cross-validation fold K/N that the model was trained without (`facemark train --fold`):
    /// `--split test` evaluates its faces; `val`/`train` then split the other faces as the
    /// trainer did. The fold of a face depends only on its identity and `--seed`, so it may be
    /// evaluated on one of the training data sets alone.
    #[arg(long)]
    pub fold: Option<facemark_formats::Fold>,
    /// Validation fraction of the identity split (the trainer's default).
    #[arg(long, default_value_t = TrainConfig::default().val_fraction,
          value_parser = facemark_core::limits::parse_val_fraction)]
    pub val_fraction: f32,
    /// Seed of the identity split (the trainer's default), and of the `--box-shift` draws.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// Use at most N faces (applied before the split, as `facemark train --max-samples`).
    #[arg(long, default_value_t = 0)]
    pub max_samples: usize,
    /// Face box given to the model: `gt` (ground-truth landmark box), `sample` (the data
    /// set's face box) or `image` (whole image). (`--box` is the old name; `detect --box`
    /// gives a box's pixels.)
    #[arg(long = "box-source", alias = "box", default_value = "gt")]
    pub box_source: BoxSource,
    /// Simulate an off face detector: move each face's `--box` box by F × its longer side in a
    /// random direction and scale it by a random factor in [1 − F/2, 1 + F/2] (F in [0, 1];
    /// drawn per face from `--seed` and the face's index, so runs repeat). 0: the box as is.
    #[arg(long, value_name = "F", default_value_t = 0.0,
          value_parser = facemark_train::boxes::parse_box_shift, conflicts_with = "detector")]
    pub box_shift: f32,
    /// Evaluate the whole pipeline: run this face detector (`seeta`, `haar`, `lbp`, a cascade
    /// XML, or `default`) and place the landmarks from the detection that matches each
    /// annotated face (IoU ≥ 0.3 of its calibrated box with the `--box` box). Faces the detector
    /// misses are listed as skipped, and counted.
    #[arg(long)]
    pub detector: Option<String>,
    /// Refinement passes after the model (as `detect --refine`): the `--refiner` on crops
    /// aligned on the last points, else the model again. Default: 1 with `--refiner`, else 0.
    #[arg(long, value_parser = facemark_core::limits::parse_refine)]
    pub refine: Option<usize>,
    #[command(flatten)]
    pub opts: super::ModelOpts,
    /// Print the full report as JSON on stdout instead of the text summary (as every command:
    /// a summary for people on stdout unless `--json` asks for JSON; `--report` writes the
    /// JSON to a file either way).
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the CED curve (PNG).
    #[arg(long)]
    pub ced: Option<PathBuf>,
    /// Earlier `--report` JSON files whose CED curves are drawn beside this one (labelled by
    /// file name); repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub compare: Vec<PathBuf>,
    /// Largest NME on the CED's x axis.
    #[arg(long, default_value_t = 0.2)]
    pub ced_max: f32,
    /// Number of worst faces for the contact sheet.
    #[arg(long, default_value_t = 0)]
    pub worst: usize,
    /// Contact sheet of the worst faces (GT green, prediction magenta).
    #[arg(long, default_value = "worst.png")]
    pub worst_out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The end-to-end pipeline seen as a [`Landmarker`] for evaluation: the box it is given is the
/// annotated face's, used only to pick the matching detection; no match → no points (the
/// evaluation lists the face as skipped).
struct DetectedFace(facemark::Pipeline);

impl Landmarker for DetectedFace {
    fn scheme(&self) -> &facemark_core::Scheme {
        self.0.scheme()
    }
    fn landmarks(
        &self,
        image: &image::GrayImage,
        face_box: &facemark_core::BoxF,
    ) -> Vec<facemark_core::Point> {
        self.0
            .detect_matching(image, face_box, 0.3)
            .map(|f| f.points)
            .unwrap_or_default()
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting the thread count")?;
    }
    // Load exactly as the trainer does, so that `--split val` is the same faces.
    let cfg = TrainConfig {
        data: args.data.clone(),
        max_samples: args.max_samples,
        ..TrainConfig::default()
    };
    let (samples, data_scheme) =
        facemark_train::trainer::load_data(&cfg).context("loading data")?;
    let (landmarker, label, what): (Box<dyn Landmarker>, String, String) = if args.mean_shape {
        let name = data_scheme.name.clone();
        let m = MeanShape::new(data_scheme)
            .with_context(|| format!("scheme {name} has no mean shape"))?;
        (
            Box::new(m),
            "mean shape".into(),
            format!("mean-shape baseline ({name})"),
        )
    } else if let Some(path) = args.model.as_deref().filter(|p| super::is_dlib_model(p)) {
        ert_landmarker(path, &args)?
    } else {
        let (m, label, shown) = match &args.model {
            Some(path) => {
                // the model's errors name the file
                let m = KeypointModel::load(path).context("--model")?;
                // "run/model" rather than just "model" for the usual `run/model.safetensors`.
                let label = path
                    .with_extension("")
                    .iter()
                    .rev()
                    .take(2)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                (m, label, format!("model {}", path.display()))
            }
            None => (
                facemark::default_model()?,
                "default model".to_string(),
                "the embedded default model".to_string(),
            ),
        };
        let mut m = m.with_precision(args.opts.precision);
        let what = format!(
            "{shown} ({}, {}² input, {})",
            m.meta.arch.kind,
            m.input_size(),
            m.precision().arithmetic()
        );
        m.require_box_model().context(shown)?;
        let refine = args.opts.passes(args.refine);
        let refiner = args.opts.load_refiner()?;
        args.opts.set_cascade(&mut m)?;
        let what = match (&args.opts.refiner, refine) {
            (_, 0) => what,
            (Some(p), n) if refiner.is_some() => {
                format!("{what} + {n} pass(es) of refiner {}", p.display())
            }
            (_, n) => format!("{what} + {n} refinement pass(es) of itself"),
        };
        let what = match m.cascade_meta() {
            Some(c) => format!(
                "{what} + refinement cascade ({} trees, {})",
                c.trees, c.source
            ),
            None => what,
        };
        if args.detector.is_none() && refine == 0 && refiner.is_none() {
            (Box::new(m), label, what)
        } else {
            let name = args.detector.as_deref().unwrap_or("default");
            let det = facemark_detect::detector_by_name(name)?; // "default" included
            let pipeline = facemark::Pipeline::new(det, m)?
                .with_refiner(refiner)
                .context("--refiner")?
                .with_refine(refine);
            match &args.detector {
                // on the `--box` box, with the refinement passes
                None => (Box::new(pipeline), label, what),
                Some(_) => {
                    let what = format!(
                        "{what} behind the {} face detector",
                        pipeline.face_detector().name()
                    );
                    (Box::new(DetectedFace(pipeline)), label, what)
                }
            }
        }
    };
    let idx = facemark_formats::select_split(
        &samples,
        &args.split,
        args.fold,
        args.val_fraction,
        args.seed,
    )
    .map_err(|e| anyhow::anyhow!("--split/--fold: {e}"))?;
    let samples: Vec<_> = idx.into_iter().map(|i| samples[i].clone()).collect();
    anyhow::ensure!(!samples.is_empty(), "no faces to evaluate");
    let opts = EvalOptions {
        box_source: args.box_source,
        box_shift: args.box_shift,
        seed: args.seed,
        progress: !args.quiet && std::io::stderr().is_terminal(),
    };
    let report = evaluate(landmarker.as_ref(), &samples, &opts).context("evaluation failed")?;
    for s in report.skipped.iter().take(10) {
        eprintln!("skipped {}: {}", s.name, s.reason);
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!(
            "{what} on {} [{}]",
            args.data
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            match args.fold {
                Some(f) => format!("{} split of fold {f}", args.split),
                None => format!("{} split", args.split),
            }
        );
        print!("{}", report.summary_text());
        let worst_points: Vec<String> = {
            let mut v: Vec<(usize, f32)> = report
                .per_point_nme
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.map(|e| (i, e)))
                .collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v.iter()
                .take(5)
                .map(|(i, e)| {
                    let name = landmarker
                        .scheme()
                        .point_names
                        .get(*i)
                        .cloned()
                        .unwrap_or_default();
                    format!("{i} {name} {e:.4}")
                })
                .collect()
        };
        if !worst_points.is_empty() {
            println!("hardest points (mean NME): {}", worst_points.join(", "));
        }
    }
    if let Some(p) = &args.report {
        report.write_json(p)?;
        eprintln!("report written to {}", p.display());
    }
    if let Some(p) = &args.ced {
        let title = format!("CED, {} faces ({} split)", report.n_faces, args.split);
        let mut others = Vec::new();
        for c in &args.compare {
            let text = std::fs::read_to_string(c)
                .with_context(|| format!("reading report {}", c.display()))?;
            let r: EvalReport = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a facemark eval report", c.display()))?;
            let name = c
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            others.push((name, r));
        }
        let mut curves: Vec<(&str, &EvalReport)> = vec![(&label, &report)];
        curves.extend(others.iter().map(|(n, r)| (n.as_str(), r)));
        plot_ced(p, &title, &curves, args.ced_max)?;
        eprintln!("CED curve written to {}", p.display());
    }
    if args.worst > 0 {
        report.write_worst_sheet(&samples, args.worst, &args.worst_out)?;
        eprintln!(
            "{} worst faces written to {}",
            args.worst.min(report.n_faces),
            args.worst_out.display()
        );
    }
    Ok(())
}

/// `--model FILE.dat`: a dlib shape predictor, on the `--box` boxes (through its mean shape,
/// `facemark_ert::landmarker`) or behind `--detector`, with `--refine N` passes on the box
/// around its last points.
fn ert_landmarker(
    path: &std::path::Path,
    args: &Args,
) -> anyhow::Result<(Box<dyn Landmarker>, String, String)> {
    let sp = args
        .opts
        .load_shape_predictor(path)
        .with_context(|| format!("loading model {}", path.display()))?;
    let label = path
        .file_stem()
        .map_or("dlib".into(), |s| s.to_string_lossy().into_owned());
    let what = format!(
        "dlib shape predictor {} ({} points, {} levels, {} trees)",
        path.display(),
        sp.num_parts(),
        sp.levels().len(),
        sp.num_trees()
    );
    let refine = args.opts.passes(args.refine);
    if args.detector.is_none() && refine == 0 {
        return Ok((Box::new(sp), label, what));
    }
    let name = args.detector.as_deref().unwrap_or("default");
    let pipeline =
        facemark::Pipeline::with_shape_predictor(facemark_detect::detector_by_name(name)?, sp)
            .with_refine(refine);
    Ok(match &args.detector {
        None => (Box::new(pipeline), label, what),
        Some(_) => {
            let what = format!(
                "{what} behind the {} face detector",
                pipeline.face_detector().name()
            );
            (Box::new(DetectedFace(pipeline)), label, what)
        }
    })
}
