//! `facemark train --arch ert`: a dlib shape predictor ([`facemark_ert::train`]) trained on
//! facemark's data sets, with the same loading, identity split, fold and seed as the networks
//! ([`crate::trainer::load_data`], [`facemark_formats::RunSplit`]), written as a `.dat` file
//! dlib loads, and validated as `facemark eval --split val` does.
//!
//! The face rectangle of each training face is its landmark box (`BoxF::around` its annotated
//! points, the box `facemark eval` gives a landmarker by default) in dlib's convention: left =
//! `x − 0.5`, right = `x + w − 0.5` (dlib's pixel centres are whole numbers). At inference
//! facemark turns a landmark box into a rectangle through the model's mean shape
//! ([`facemark_ert::ShapePredictor::rect_for_landmark_box`]), which for a model trained so is
//! the same box grown by the ratio of one face's point extent to the mean shape's (a few per
//! cent; logged at the end of training).
//!
//! **Refinement cascades** (`init` set, `--arch ert --init MODEL`): the cascade starts from a
//! facemark model's points instead of the mean shape, and learns to correct that model
//! ([`facemark_ert::landmarker::Refined`]). Each training face is copied
//! `oversampling_amount` times, each copy starting from the model's points for the face's
//! landmark box (the first copy) or for that box moved and scaled at random by up to
//! `ert_box_jitter` of its side (the others; default 5 %: a detector's boxes are off by about so
//! much); a copy's rectangle is the box around its starting points
//! ([`facemark_ert::landmarker::rect_of_box`]), as at inference. The `.dat` file is a valid
//! dlib predictor, but only facemark runs it from given points (`--refiner FILE.dat`); dlib
//! starts every face from the mean shape.
//!
//! Output folder: `model.dat` (the predictor; `facemark detect|eval --model OUT/model.dat`),
//! `config.toml` (the effective configuration), `val.json` (the validation report, when there
//! are validation faces).

use crate::config::TrainConfig;
use crate::eval::{evaluate, EvalOptions, EvalReport};
use crate::trainer::{io_err, load_data, thread_pool, TrainError};
use facemark_core::{ImageSource, Sample};
use facemark_ert::landmarker::{box_of_rect, rect_of_box, Refined};
use facemark_ert::train::{train, TrainFace};
use facemark_ert::ShapePredictor;
use facemark_model::KeypointModel;
use image::GrayImage;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// The predictor's file in the output folder.
pub const MODEL_FILE: &str = "model.dat";

/// What a finished ERT run reports.
#[derive(Debug, Clone)]
pub struct ErtSummary {
    /// The written predictor, `out/model.dat`.
    pub model_path: PathBuf,
    /// Its size in bytes.
    pub model_bytes: u64,
    /// Training faces (each trained on `oversampling_amount` times).
    pub n_train: usize,
    /// Validation faces (held out by identity; a face listed twice counted once).
    pub n_val: usize,
    /// Seconds spent fitting the cascade (after the images are decoded).
    pub train_secs: f64,
    /// The validation report (ground-truth landmark boxes), when there are validation faces.
    pub val: Option<EvalReport>,
    /// The mean shape's landmark box as a fraction of the face rectangle (`[x0, y0, x1, y1]`).
    pub mean_box: [f64; 4],
    /// A refinement cascade's start model alone on the same validation faces.
    pub start_val: Option<EvalReport>,
}

/// The decoded gray images of `samples` (each file once) and each sample's image index.
fn load_images(samples: &[&Sample]) -> Result<(Vec<GrayImage>, Vec<usize>), TrainError> {
    let mut index: HashMap<&std::path::Path, usize> = HashMap::new();
    let mut sources: Vec<&ImageSource> = Vec::new();
    let of: Vec<usize> = samples
        .iter()
        .map(|s| match &s.image {
            ImageSource::File(p) => *index.entry(p.as_path()).or_insert_with(|| {
                sources.push(&s.image);
                sources.len() - 1
            }),
            other => {
                sources.push(other);
                sources.len() - 1
            }
        })
        .collect();
    let images = sources
        .par_iter()
        .map(|src| {
            facemark_formats::load_gray(src).map_err(|error| TrainError::Data {
                path: match src {
                    ImageSource::File(p) => p.clone(),
                    ImageSource::Gray { .. } => PathBuf::from("(in-memory image)"),
                },
                error,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((images, of))
}

/// A sample as a training face: its landmark box as dlib's rectangle and its points in dlib's
/// coordinates; `None` without two distinct annotated points.
fn train_face(s: &Sample, image: usize) -> Option<TrainFace> {
    let b = s.landmark_box().filter(|b| b.w > 0.0 && b.h > 0.0)?;
    Some(TrainFace {
        image,
        rect: rect_of_box(&b),
        points: s
            .points
            .iter()
            .map(|p| [p[0] as f64 - 0.5, p[1] as f64 - 0.5])
            .collect(),
        present: s.visible.clone(),
        start: None,
    })
}

/// Trains a shape predictor as `cfg` says (`cfg.arch` should be `ert`; `cfg.ert` holds dlib's
/// options, `cfg.seed` its random seed), writes `cfg.out/model.dat` and `config.toml`, and
/// validates it on the identity split's validation faces. `progress`: an indicatif bar of
/// the trees on stderr. Runs on a rayon pool of `cfg.threads` threads.
pub fn train_ert(cfg: &TrainConfig, progress: bool) -> Result<ErtSummary, TrainError> {
    cfg.validate()?;
    thread_pool(cfg)?.install(|| {
        let (samples, scheme) = load_data(cfg)?;
        let split = facemark_formats::RunSplit::new(&samples, cfg.fold, cfg.val_fraction, cfg.seed);
        let train_samples: Vec<&Sample> = split.train.iter().map(|&i| &samples[i]).collect();
        let (images, image_of) = load_images(&train_samples)?;
        let mut faces: Vec<TrainFace> = train_samples
            .iter()
            .zip(&image_of)
            .filter_map(|(s, &i)| train_face(s, i))
            .collect();
        let mut opts = cfg.ert.clone();
        opts.random_seed = cfg.seed;
        let start_model = match &cfg.init {
            Some(p) => Some(load_start_model(p, &scheme)?),
            None => None,
        };
        if let Some(m) = &start_model {
            faces = refinement_copies(m, &images, &faces, &opts, cfg.ert_box_jitter);
            // the copies are made: the trainer takes each once
            opts.oversampling_amount = 1;
        }
        if faces.len() < 2 {
            return Err(TrainError::DataShape(format!(
                "only {} training faces with a landmark box after the validation split",
                faces.len()
            )));
        }
        let bar = if progress {
            let bar = ProgressBar::new(opts.total_trees() as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "ert trees [{bar:30}] {pos}/{len} [{elapsed_precise}<{eta_precise}]",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        tracing::info!(
            "training a shape predictor on {} faces ({} images) × {} copies: {} levels × {} trees of depth {}",
            faces.len(),
            images.len(),
            opts.oversampling_amount,
            opts.cascade_depth,
            opts.num_trees_per_cascade_level,
            opts.tree_depth
        );
        let t0 = Instant::now();
        let sp = train(&images, &faces, &opts, &mut |done| bar.set_position(done as u64))?;
        let train_secs = t0.elapsed().as_secs_f64();
        bar.finish_and_clear();
        drop(images);
        let sp: ShapePredictor = sp.with_scheme(scheme)?;
        let b = sp.mean_box();
        tracing::info!(
            "trained in {train_secs:.0} s; mean shape box in the face rectangle: x {:.4}–{:.4}, y {:.4}–{:.4}",
            b[0],
            b[2],
            b[1],
            b[3]
        );
        let out = &cfg.out;
        std::fs::create_dir_all(out).map_err(io_err(out))?;
        let model_path = out.join(MODEL_FILE);
        sp.save(&model_path)?;
        crate::trainer::output::write_config(out, cfg)?;
        let model_bytes = std::fs::metadata(&model_path)
            .map_err(io_err(&model_path))?
            .len();
        let val_idx = facemark_formats::select_split(
            &samples,
            "val",
            cfg.fold,
            cfg.val_fraction,
            cfg.seed,
        )
        .map_err(TrainError::DataShape)?;
        let (val, start_val) = if val_idx.is_empty() {
            (None, None)
        } else {
            let val_samples: Vec<Sample> = val_idx.iter().map(|&i| samples[i].clone()).collect();
            let eo = EvalOptions {
                progress,
                ..EvalOptions::default()
            };
            let (report, start_report) = match &start_model {
                None => (evaluate(&sp, &val_samples, &eo)?, None),
                Some(m) => {
                    let refined = Refined {
                        first: m,
                        refiner: &sp,
                    };
                    let r = evaluate(&refined, &val_samples, &eo)?;
                    (r, Some(evaluate(m, &val_samples, &eo)?))
                }
            };
            let path = out.join("val.json");
            let json = serde_json::to_string_pretty(&report).expect("report serialises");
            facemark_core::io::write_atomic(&path, json.as_bytes()).map_err(io_err(&path))?;
            (Some(report), start_report)
        };
        Ok(ErtSummary {
            model_path,
            model_bytes,
            n_train: faces.len(),
            n_val: val_idx.len(),
            train_secs,
            val,
            mean_box: sp.mean_box(),
            start_val,
        })
    })
}

/// The start model of a refinement cascade: a facemark model that finds points from a box,
/// with `scheme`'s point count, as its network alone (a cascade the file carries is set
/// aside: the new one learns the network's errors, and replaces it).
fn load_start_model(
    path: &std::path::Path,
    scheme: &facemark_core::Scheme,
) -> Result<KeypointModel, TrainError> {
    let mut m = KeypointModel::load(path)?;
    m.cascade = None;
    let bad = |msg: String| {
        Err(TrainError::DataShape(format!(
            "--init {} (the refinement cascade's start model): {msg}",
            path.display()
        )))
    };
    if m.is_refiner() {
        return bad("a refiner (crop_align) needs points to start from; give a box model".into());
    }
    if m.meta.scheme.len() != scheme.len() {
        return bad(format!(
            "places {} points, the data has {}",
            m.meta.scheme.len(),
            scheme.len()
        ));
    }
    Ok(m)
}

/// A refinement cascade's training faces: `opts.oversampling_amount` copies of each face, each
/// starting from `model`'s points for the face's landmark box (the first copy) or for that box
/// moved and scaled by up to `jitter` of its side (the others, drawn from `opts.random_seed`),
/// in the rectangle of the box around those points. The model runs in parallel (rayon);
/// the result does not depend on the thread count.
fn refinement_copies(
    model: &KeypointModel,
    images: &[GrayImage],
    faces: &[TrainFace],
    opts: &facemark_ert::train::TrainOptions,
    jitter: f32,
) -> Vec<TrainFace> {
    let over = opts.oversampling_amount;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.random_seed ^ 0x05ee_d0f5_7a27);
    let j = jitter;
    // the boxes first, in order, so that the draws do not depend on the threads
    let jobs: Vec<(usize, facemark_core::BoxF)> = faces
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            let b = box_of_rect(&f.rect);
            (0..over)
                .map(|c| {
                    if c == 0 {
                        return (i, b);
                    }
                    let s = 1.0 + rng.gen_range(-j..=j);
                    let (dx, dy) = (rng.gen_range(-j..=j) * b.w, rng.gen_range(-j..=j) * b.h);
                    let (w, h) = (b.w * s, b.h * s);
                    let (cx, cy) = (b.x + b.w / 2.0 + dx, b.y + b.h / 2.0 + dy);
                    (
                        i,
                        facemark_core::BoxF::new(cx - w / 2.0, cy - h / 2.0, w, h),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    jobs.par_iter()
        .filter_map(|(i, b)| {
            let f = &faces[*i];
            let pts = facemark_core::Landmarker::landmarks(model, &images[f.image], b);
            let around = facemark_core::BoxF::around(&pts).filter(|b| b.w >= 1.0 && b.h >= 1.0)?;
            Some(TrainFace {
                rect: rect_of_box(&around),
                start: Some(
                    pts.iter()
                        .map(|p| [p[0] as f64 - 0.5, p[1] as f64 - 0.5])
                        .collect(),
                ),
                ..f.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ArchName;

    /// A 300-W style folder of `n` synthetic faces (PNG + iBUG `.pts`): a bright square with
    /// its 4 corners and a dark dot inside it as points, the square moving and changing size
    /// and the dot moving inside it from face to face (so the landmark box alone does not
    /// place the dot).
    fn write_faces(dir: &std::path::Path, n: usize) {
        for i in 0..n {
            let side = 14.0 + (i % 7) as f32 * 2.0;
            let (x0, y0) = (8.0 + ((i * 7) % 13) as f32, 6.0 + ((i * 5) % 11) as f32);
            let dot = [
                x0 + side * (0.25 + 0.5 * ((i * 37) % 17) as f32 / 16.0),
                y0 + side * (0.25 + 0.5 * ((i * 23) % 13) as f32 / 12.0),
            ];
            let img = GrayImage::from_fn(48, 48, |x, y| {
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = fx >= x0 && fx < x0 + side && fy >= y0 && fy < y0 + side;
                let (dx, dy) = (fx - dot[0], fy - dot[1]);
                image::Luma([if dx * dx + dy * dy <= 4.0 {
                    0
                } else if inside {
                    200 + (x % 3) as u8 * 20
                } else {
                    20
                }])
            });
            img.save(dir.join(format!("face{i:03}.png"))).unwrap();
            let pts = [
                [x0, y0],
                [x0 + side, y0],
                [x0, y0 + side],
                [x0 + side, y0 + side],
                dot,
            ];
            let mut text = String::from("version: 1\nn_points: 5\n{\n");
            for p in pts {
                text += &format!("{} {}\n", p[0], p[1]);
            }
            text += "}\n";
            std::fs::write(dir.join(format!("face{i:03}.pts")), text).unwrap();
        }
    }

    /// A quick ERT run on the faces in `data` (20 % held out): 3 levels × 20 trees of depth 3,
    /// oversampling 4, 60 feature pixels, 2 threads.
    fn small_config(data: &std::path::Path, out: &std::path::Path) -> TrainConfig {
        let mut cfg = TrainConfig {
            data: vec![data.to_path_buf()],
            out: out.to_path_buf(),
            arch: ArchName::Ert,
            val_fraction: 0.2,
            threads: 2,
            ..TrainConfig::default()
        };
        cfg.ert.cascade_depth = 3;
        cfg.ert.num_trees_per_cascade_level = 20;
        cfg.ert.tree_depth = 3;
        cfg.ert.oversampling_amount = 4;
        cfg.ert.feature_pool_size = 60;
        cfg
    }

    #[test]
    fn trains_writes_a_dat_and_validates_it() {
        let data = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        write_faces(data.path(), 60);
        let cfg = small_config(data.path(), &out.path().join("run"));
        let s = train_ert(&cfg, false).unwrap();
        assert_eq!((s.n_train, s.n_val), (48, 12));
        let sp = ShapePredictor::load(&s.model_path).unwrap();
        assert_eq!(sp.num_trees(), 60);
        assert_eq!(
            s.model_bytes,
            std::fs::metadata(&s.model_path).unwrap().len()
        );
        assert!(out.path().join("run/config.toml").exists());
        assert!(out.path().join("run/val.json").exists());
        // better than its own mean shape on the held-out faces
        let val = s.val.unwrap();
        let mean_only = ShapePredictor::new(
            sp.initial_shape().iter().flat_map(|p| *p).collect(),
            Vec::new(),
        )
        .unwrap();
        let samples = facemark_formats::load_any(data.path()).unwrap();
        let idx = facemark_formats::select_split(&samples, "val", None, 0.2, cfg.seed).unwrap();
        let v: Vec<Sample> = idx.iter().map(|&i| samples[i].clone()).collect();
        let base = evaluate(&mean_only, &v, &EvalOptions::default()).unwrap();
        let (a, b) = (val.mean_error_px.unwrap(), base.mean_error_px.unwrap());
        assert!(a < 0.6 * b, "trained {a} px, mean shape {b} px");
        // the same run again: the same file
        let again = TrainConfig {
            out: out.path().join("again"),
            ..cfg.clone()
        };
        let s2 = train_ert(&again, false).unwrap();
        assert!(std::fs::read(&s.model_path).unwrap() == std::fs::read(&s2.model_path).unwrap());
        // a network config is refused by the ERT trainer's counterpart, and vice versa
        let e = crate::trainer::train(&cfg, &Default::default()).unwrap_err();
        assert!(e.to_string().contains("ert"), "{e}");
    }

    /// A facemark model whose points are the same place in every crop (zero head weights, the
    /// head's bias = `uv`, crop coordinates): a poor but deterministic start model.
    fn constant_model(uv: &[f32]) -> KeypointModel {
        use facemark_model::{ArchConfig, ModelMeta};
        let arch = ArchConfig {
            input_size: 32,
            ..ArchConfig::mobile(uv.len() / 2)
        };
        let mut net = arch.build(3).unwrap();
        let shape = net.param("head.weight").unwrap().shape.clone();
        let n: usize = shape.iter().product();
        net.set("head.weight", &shape, &vec![0.0; n]).unwrap();
        net.set("head.bias", &[uv.len()], uv).unwrap();
        let scheme = facemark_core::Scheme::for_points(uv.len() / 2);
        KeypointModel::new(ModelMeta::new(arch, scheme, Default::default()), net)
    }

    #[test]
    fn a_refinement_cascade_beats_its_start_model() {
        let data = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        write_faces(data.path(), 60);
        // the square's corners and its centre for the dot, in crop coordinates ([-1, 1])
        let start = out.path().join("start.safetensors");
        constant_model(&[-0.5, -0.5, 0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 0.0, 0.0])
            .save(&start)
            .unwrap();
        let cfg = TrainConfig {
            init: Some(start.clone()),
            ..small_config(data.path(), &out.path().join("run"))
        };
        let s = train_ert(&cfg, false).unwrap();
        // four copies of each face, each from the start model's points for a jittered box
        assert_eq!((s.n_train, s.n_val), (4 * 48, 12));
        let (refined, first) = (
            s.val.unwrap().mean_error_px.unwrap(),
            s.start_val.unwrap().mean_error_px.unwrap(),
        );
        eprintln!("start model {first:.2} px, refined {refined:.2} px");
        assert!(
            refined < 0.6 * first,
            "refined {refined} px, start {first} px"
        );
        // a start model of another point count is refused, naming the file
        constant_model(&[0.0; 8]).save(&start).unwrap();
        let e = train_ert(&cfg, false).unwrap_err().to_string();
        assert!(
            e.contains("start.safetensors") && e.contains("4 points"),
            "{e}"
        );
    }
}
