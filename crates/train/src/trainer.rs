//! The training loop: data → identity split → face-crop cache → augmented batches → Adam,
//! with validation NME, early stopping, per-epoch checkpoints and exact resume.
//!
//! Reproducibility: every random draw comes from ChaCha8 streams derived from
//! `(seed, epoch, position)`: the shuffle and dropout per epoch, the augmentation per sample.
//! So a run with the same config and thread count gives the same weights, and `--resume`
//! from the checkpoint written at the end of epoch `e` continues exactly as if the run had not
//! stopped (the checkpoint holds the weights, batch-norm statistics, Adam moments and step,
//! the weight average when `ema_decay` is on, and the history).
//!
//! Output folder:
//! - `model.safetensors`: the best model so far (validation NME; with `ema_decay`, the best
//!   weight average), with metadata;
//! - `checkpoint.safetensors`: the last finished epoch, for `--resume`;
//! - `metrics.csv`: one row per epoch; `loss.png`, `nme.png`: curves;
//! - `config.toml`: the effective configuration.

use crate::augment::Augmenter;
use crate::config::{ConfigError, HeadName, TrainConfig};
use crate::metrics;
use facemark_core::{CropSpec, Point, Scheme};
use facemark_formats::FaceCache;
use facemark_model::{st, transfer, ArchConfig, Head, KeypointModel, ModelError, ModelMeta};
use facemark_nn::{masked_loss, Adam, AdamConfig, Network, Tensor};
use image::GrayImage;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("data {path}: {source}")]
    Data {
        path: PathBuf,
        source: facemark_formats::FormatError,
    },
    #[error("data: {0}")]
    DataShape(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Arch(#[from] facemark_model::ArchError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--init {path}: {source}")]
    Init { path: PathBuf, source: ModelError },
    #[error("--freeze: pattern `{0}` matches no parameter of the network")]
    Freeze(String),
    #[error("resume from {path}: {msg}")]
    Resume { path: PathBuf, msg: String },
    #[error("training diverged at epoch {epoch}: loss is {loss}")]
    Diverged { epoch: usize, loss: f32 },
    #[error("thread pool: {0}")]
    Threads(String),
}

/// How to run (not part of the config: does not change the result).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Continue from `out/checkpoint.safetensors`.
    pub resume: bool,
    /// Show the progress bar.
    pub progress: bool,
    /// The command line, stored in the model's metadata.
    pub created_by: String,
    /// Stop after this many epochs in this invocation (as if killed after the checkpoint);
    /// `None` = run to the configured epoch count.
    pub stop_after: Option<usize>,
}

/// One epoch's figures (a row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    pub lr: f32,
    /// Mean training loss over the epoch's batches (with augmentation and dropout).
    pub train_loss: f32,
    /// Validation loss (no augmentation, inference mode); NaN without a validation set.
    pub val_loss: f32,
    /// Validation NME (see [`TrainSummary::nme_norm`]); NaN without a validation set.
    pub val_nme: f32,
    /// Seconds of training (without validation) in this epoch.
    pub train_secs: f32,
    pub samples_per_s: f32,
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub out: PathBuf,
    pub model_path: PathBuf,
    pub best_epoch: usize,
    pub best_val_nme: f32,
    /// The distance NME is normalised by: "outer-eye", "inter-pupil" or "box" (landmark-box
    /// side, for schemes without eye corners).
    pub nme_norm: String,
    pub n_train: usize,
    pub n_val: usize,
    pub stopped_early: bool,
    pub history: Vec<EpochRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointMeta {
    epochs_done: usize,
    adam_t: u64,
    best_val_nme: f32,
    best_epoch: usize,
    bad_epochs: usize,
    stopped_early: bool,
    history: Vec<EpochRecord>,
    arch: ArchConfig,
}

const CKPT_KEY: &str = "facemark_checkpoint";

/// A data set ready for training: cached crops (with context for augmentation).
struct Prepared {
    images: Vec<GrayImage>,
    points: Vec<Vec<Point>>,
    visible: Vec<Vec<bool>>,
}

fn prepare(
    samples: &[facemark_core::Sample],
    idx: &[usize],
    size: u32,
    margin: f32,
) -> Result<Prepared, TrainError> {
    let sub: Vec<facemark_core::Sample> = idx.iter().map(|&i| samples[i].clone()).collect();
    let cache = FaceCache::build(&sub, size, CropSpec::with_margin(margin)).map_err(|source| {
        TrainError::Data {
            path: PathBuf::from("(crop cache)"),
            source,
        }
    })?;
    Ok(Prepared {
        images: (0..cache.len()).map(|i| cache.image(i)).collect(),
        points: (0..cache.len()).map(|i| cache.points(i).to_vec()).collect(),
        visible: (0..cache.len())
            .map(|i| cache.visible(i).to_vec())
            .collect(),
    })
}

fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ c.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per-coordinate mask (2 per point) from a per-point mask.
fn coord_mask(m: &[bool]) -> Vec<bool> {
    m.iter().flat_map(|v| [*v, *v]).collect()
}

/// Validation inputs made once (deterministic inference crops).
struct ValSet {
    inputs: Vec<f32>,
    targets: Vec<f32>,
    masks: Vec<bool>,
    n: usize,
}

fn make_val(aug: &Augmenter, data: &Prepared) -> ValSet {
    let rows: Vec<(Vec<f32>, Vec<f32>, Vec<bool>)> = (0..data.images.len())
        .into_par_iter()
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            aug.make(
                &data.images[i],
                &data.points[i],
                &data.visible[i],
                &mut rng,
                false,
            )
        })
        .collect();
    let mut v = ValSet {
        inputs: Vec::new(),
        targets: Vec::new(),
        masks: Vec::new(),
        n: rows.len(),
    };
    for (i, t, m) in rows {
        v.inputs.extend(i);
        v.targets.extend(t);
        v.masks.extend(coord_mask(&m));
    }
    v
}

/// Validation loss and NME (mean over faces) of `net` on `val`.
fn validate(
    net: &Network,
    arch: &ArchConfig,
    val: &ValSet,
    cfg: &TrainConfig,
    scheme: &Scheme,
    size: u32,
) -> (f32, f32, String) {
    if val.n == 0 {
        return (f32::NAN, f32::NAN, "none".into());
    }
    let px = (size * size) as usize;
    let k = 2 * scheme.len();
    let mut preds = Vec::with_capacity(val.n * k);
    for start in (0..val.n).step_by(64) {
        let end = (start + 64).min(val.n);
        let x = Tensor::new(
            vec![end - start, 1, size as usize, size as usize],
            val.inputs[start * px..end * px].to_vec(),
        );
        let y = net.forward(&x);
        preds.extend(arch.decode(&y.data, &y.shape));
    }
    // the coordinate loss for every head, so validation losses compare across heads
    let (loss, _) = masked_loss(cfg.loss_kind(), &preds, &val.targets, &val.masks);
    // NME in input pixels (the crop is a similarity, so NME equals the photo-frame NME)
    let box_side = size as f32 / (1.0 + 2.0 * cfg.crop_margin);
    let mut sum = 0.0f64;
    let mut count = 0usize;
    let mut norm_used = String::new();
    for i in 0..val.n {
        let p = facemark_core::crop::denormalise_points(&preds[i * k..(i + 1) * k], size);
        let g = facemark_core::crop::denormalise_points(&val.targets[i * k..(i + 1) * k], size);
        let m: Vec<bool> = val.masks[i * k..(i + 1) * k]
            .iter()
            .step_by(2)
            .copied()
            .collect();
        let Ok(fe) = metrics::face_errors(&p, &g, &m, scheme) else {
            continue;
        };
        let (v, name) = match (fe.nme_outer, fe.nme_pupil, fe.mean_px) {
            (Some(v), _, _) => (v, "outer-eye"),
            (None, Some(v), _) => (v, "inter-pupil"),
            (None, None, Some(m)) => (m / box_side, "box"),
            _ => continue,
        };
        if norm_used.is_empty() {
            norm_used = name.to_string();
        }
        sum += v as f64;
        count += 1;
    }
    let nme = if count > 0 {
        (sum / count as f64) as f32
    } else {
        f32::NAN
    };
    (loss, nme, norm_used)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_csv(path: &Path, history: &[EpochRecord]) -> Result<(), TrainError> {
    let mut s = String::from("epoch,lr,train_loss,val_loss,val_nme,train_secs,samples_per_s\n");
    for r in history {
        s.push_str(&format!(
            "{},{:e},{},{},{},{:.2},{:.1}\n",
            r.epoch, r.lr, r.train_loss, r.val_loss, r.val_nme, r.train_secs, r.samples_per_s
        ));
    }
    facemark_core::io::write_atomic(path, s.as_bytes()).map_err(io_err(path))
}

fn plot(out: &Path, history: &[EpochRecord]) {
    let tl: Vec<(f32, f32)> = history
        .iter()
        .map(|r| (r.epoch as f32, r.train_loss))
        .collect();
    let vl: Vec<(f32, f32)> = history
        .iter()
        .map(|r| (r.epoch as f32, r.val_loss))
        .collect();
    let nm: Vec<(f32, f32)> = history
        .iter()
        .map(|r| (r.epoch as f32, r.val_nme))
        .collect();
    let r1 = crate::plot::plot_curves(
        &out.join("loss.png"),
        "loss",
        &[("train", tl), ("validation", vl)],
        "epoch",
        "loss",
    );
    let r2 = crate::plot::plot_curves(
        &out.join("nme.png"),
        "validation NME",
        &[("validation NME", nm)],
        "epoch",
        "NME",
    );
    for r in [r1, r2] {
        if let Err(e) = r {
            tracing::warn!("could not draw curves: {e}");
        }
    }
}

fn save_checkpoint(
    path: &Path,
    net: &Network,
    adam: &Adam,
    ema: Option<&Ema>,
    meta: &CheckpointMeta,
) -> Result<(), TrainError> {
    let mut tensors: Vec<(String, Vec<usize>, &[f32])> = net
        .params()
        .into_iter()
        .map(|p| (p.name.clone(), p.shape.clone(), &p.value[..]))
        .collect();
    for (name, m, v) in &adam.state {
        tensors.push((format!("optim.m.{name}"), vec![m.len()], &m[..]));
        tensors.push((format!("optim.v.{name}"), vec![v.len()], &v[..]));
    }
    if let Some(ema) = ema {
        for (p, v) in net.params().into_iter().zip(&ema.values) {
            tensors.push((format!("optim.ema.{}", p.name), p.shape.clone(), &v[..]));
        }
    }
    let json = serde_json::to_string(meta).expect("checkpoint metadata serialises");
    let bytes = st::write(&tensors, &[(CKPT_KEY, json)]);
    facemark_core::io::write_atomic(path, &bytes).map_err(io_err(path))
}

fn load_checkpoint(
    path: &Path,
    arch: &ArchConfig,
    net: &mut Network,
    adam: &mut Adam,
    ema: Option<&mut Ema>,
) -> Result<CheckpointMeta, TrainError> {
    let rerr = |msg: String| TrainError::Resume {
        path: path.to_path_buf(),
        msg,
    };
    let bytes = std::fs::read(path).map_err(|e| rerr(e.to_string()))?;
    let file = st::read(&bytes, &path.display().to_string())?;
    let json = file
        .metadata
        .get(CKPT_KEY)
        .ok_or_else(|| rerr("not a facemark checkpoint".into()))?;
    let meta: CheckpointMeta =
        serde_json::from_str(json).map_err(|e| rerr(format!("bad metadata: {e}")))?;
    if &meta.arch != arch {
        return Err(rerr(format!(
            "the checkpoint is a {:?}, the config asks for {:?}",
            meta.arch, arch
        )));
    }
    st::assign(
        net,
        &file,
        &path.display().to_string(),
        &arch.kind.to_string(),
    )?;
    adam.t = meta.adam_t;
    adam.state.clear();
    for p in net.params() {
        if let (Some((_, m)), Some((_, v))) = (
            file.tensors.get(&format!("optim.m.{}", p.name)),
            file.tensors.get(&format!("optim.v.{}", p.name)),
        ) {
            adam.state.push((p.name.clone(), m.clone(), v.clone()));
        }
    }
    if let Some(ema) = ema {
        // a checkpoint from a run without averaging starts the average at its weights
        ema.values = net
            .params()
            .into_iter()
            .map(
                |p| match file.tensors.get(&format!("optim.ema.{}", p.name)) {
                    Some((_, v)) if v.len() == p.value.len() => v.clone(),
                    _ => p.value.clone(),
                },
            )
            .collect();
    }
    Ok(meta)
}

/// An exponential moving average of every parameter and buffer of a network, in
/// [`Network::params`] order ([`TrainConfig::ema_decay`]).
struct Ema {
    decay: f32,
    values: Vec<Vec<f32>>,
}

impl Ema {
    fn new(net: &Network, decay: f32) -> Ema {
        Ema {
            decay,
            values: net.params().iter().map(|p| p.value.clone()).collect(),
        }
    }
    /// Average in `net`'s values after optimiser step `step` (1-based). The decay ramps up as
    /// `(1 + step) / (10 + step)` (TensorFlow's `num_updates`), so the first steps do not keep
    /// the random initial weights in the average for thousands of steps. Until the ramp
    /// reaches `decay` (after `(10·decay − 1) / (1 − decay)` steps: about 4 500 for 0.998)
    /// the average spans roughly the last tenth of the steps so far.
    fn update(&mut self, net: &Network, step: u64) {
        let d = self.decay.min((1.0 + step as f32) / (10.0 + step as f32));
        for (avg, p) in self.values.iter_mut().zip(net.params()) {
            for (a, v) in avg.iter_mut().zip(&p.value) {
                *a = d * *a + (1.0 - d) * v;
            }
        }
    }
    /// A copy of `net` holding the averaged values (`net`'s training caches are dropped first,
    /// so as not to copy them).
    fn averaged(&self, net: &mut Network) -> Network {
        net.clear_cache();
        let mut out = net.clone();
        for (p, avg) in out.params_mut().into_iter().zip(&self.values) {
            p.value.copy_from_slice(avg);
        }
        out
    }
}

/// Why a run configured as `old` cannot be resumed as `cfg`, if it cannot: another data list
/// (its order and repeats weigh and split the faces), other crops, or another split.
fn resume_mismatch(old: &TrainConfig, cfg: &TrainConfig) -> Option<String> {
    if old.data != cfg.data {
        return Some("the run trained on another data list (its order and repeats weigh and split the faces); resume with the same `data`".into());
    }
    if (old.crop_align, old.crop_margin) != (cfg.crop_align, cfg.crop_margin) {
        return Some(format!(
            "the run trained with crop_align = {}, crop_margin = {}; resume with the same crops",
            old.crop_align, old.crop_margin
        ));
    }
    if old.ema_decay != cfg.ema_decay {
        // the best score so far is the average's (or the raw weights'): switching would
        // compare one with the other
        return Some(format!(
            "the run trained with ema_decay = {}; resume with the same",
            old.ema_decay
        ));
    }
    if (old.fold, old.seed, old.val_fraction) != (cfg.fold, cfg.seed, cfg.val_fraction) {
        return Some(format!(
            "the run split its data with fold {:?}, seed {}, val_fraction {}; resume with the same settings",
            old.fold.map(|f| f.to_string()),
            old.seed,
            old.val_fraction
        ));
    }
    None
}

/// Mean normalised target per coordinate over the training faces' inference crops (missing
/// points skipped; 0 where a coordinate is never present).
fn mean_targets(aug: &Augmenter, data: &Prepared, k: usize) -> Vec<f32> {
    let rows: Vec<(Vec<f32>, Vec<bool>)> = (0..data.images.len())
        .into_par_iter()
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let (_, t, m) = aug.make(
                &data.images[i],
                &data.points[i],
                &data.visible[i],
                &mut rng,
                false,
            );
            (t, coord_mask(&m))
        })
        .collect();
    let mut sum = vec![0.0f64; k];
    let mut cnt = vec![0usize; k];
    for (t, m) in rows {
        for j in 0..k {
            if m[j] {
                sum[j] += t[j] as f64;
                cnt[j] += 1;
            }
        }
    }
    sum.iter()
        .zip(&cnt)
        .map(|(s, c)| if *c > 0 { (*s / *c as f64) as f32 } else { 0.0 })
        .collect()
}

/// Per-face loss weights for [`TrainConfig::nme_weighted`]: `1 / d` for each face of
/// `targets` (normalised crop coordinates, `[n, 2N]`, x before y; `mask` per coordinate) with
/// `d` its outer-eye-corner distance in those units (floored at 0.1, a tenth of the crop's
/// half-side, so a face with nearly coincident corners cannot take over the batch), scaled so
/// the faces that have the distance average 1; faces without it weigh 1.
fn nme_weights(targets: &[f32], mask: &[bool], scheme: &Scheme) -> Vec<f32> {
    let k = 2 * scheme.len();
    let inv: Vec<Option<f32>> = targets
        .chunks(k)
        .zip(mask.chunks(k))
        .map(|(t, m)| {
            let (a, b) = scheme.norm_pair?;
            if !(m[2 * a] && m[2 * a + 1] && m[2 * b] && m[2 * b + 1]) {
                return None;
            }
            let d = (t[2 * a] - t[2 * b]).hypot(t[2 * a + 1] - t[2 * b + 1]);
            Some(1.0 / d.max(0.1))
        })
        .collect();
    let have: Vec<f32> = inv.iter().flatten().copied().collect();
    let mean = have.iter().sum::<f32>() / have.len().max(1) as f32;
    inv.iter().map(|v| v.map_or(1.0, |v| v / mean)).collect()
}

/// Whether `--init` copied the whole head: both its weights and its bias. Otherwise the head
/// gets [`init_head`], or it would start from random full-gain weights next to a copied bias
/// (a source with another hidden layer or last stage has the same `head.bias` but not the
/// same `head.weight`).
fn whole_head(copied: &[String]) -> bool {
    ["head.weight", "head.bias"]
        .iter()
        .all(|h| copied.iter().any(|n| n == h))
}

/// Head bias := `mean`, head weights scaled by 0.1.
fn init_head(net: &mut Network, mean: &[f32]) {
    for p in net.params_mut() {
        if p.name == "head.bias" && p.value.len() == mean.len() {
            p.value.copy_from_slice(mean);
        } else if p.name == "head.weight" {
            p.value.iter_mut().for_each(|v| *v *= 0.1);
        }
    }
}

/// Load and check the data sets; returns samples and the scheme.
pub fn load_data(cfg: &TrainConfig) -> Result<(Vec<facemark_core::Sample>, Scheme), TrainError> {
    if cfg.data.is_empty() {
        return Err(TrainError::DataShape(
            "no data set given (config `data` or --data)".into(),
        ));
    }
    let mut samples = Vec::new();
    let mut n_points = None;
    for path in &cfg.data {
        let s = facemark_formats::load_any(path).map_err(|source| TrainError::Data {
            path: path.clone(),
            source,
        })?;
        if let Some(first) = s.first() {
            let n = first.points.len();
            if let Some(m) = n_points {
                if m != n {
                    return Err(TrainError::DataShape(format!(
                        "{} has {n} points per face, an earlier data set {m}",
                        path.display()
                    )));
                }
            }
            n_points = Some(n);
            if let Some(bad) = s.iter().find(|x| x.points.len() != n) {
                return Err(TrainError::DataShape(format!(
                    "{}: face {} has {} points, others {n}",
                    path.display(),
                    bad.name,
                    bad.points.len()
                )));
            }
        }
        samples.extend(s);
    }
    let n = n_points.ok_or_else(|| TrainError::DataShape("the data sets hold no face".into()))?;
    samples.retain(|s| s.present() > 0);
    if cfg.max_samples > 0 && samples.len() > cfg.max_samples {
        samples.truncate(cfg.max_samples);
    }
    let scheme = if cfg.scheme.is_empty() {
        Scheme::for_points(n)
    } else {
        Scheme::by_name(&cfg.scheme)
            .ok_or_else(|| TrainError::DataShape(format!("unknown scheme `{}`", cfg.scheme)))?
    };
    if scheme.len() != n {
        return Err(TrainError::DataShape(format!(
            "scheme {} has {} points, the data {n}",
            scheme.name,
            scheme.len()
        )));
    }
    Ok((samples, scheme))
}

/// The architecture a config asks for, for `n_points`.
pub fn arch_for(cfg: &TrainConfig, n_points: usize) -> ArchConfig {
    let mut arch = ArchConfig::new(cfg.arch, n_points);
    if cfg.input_size > 0 {
        arch.input_size = cfg.input_size;
    }
    arch.width = cfg.width;
    arch.repeats = cfg.repeats;
    arch.head_hidden = cfg.head_hidden;
    arch.late_width = cfg.late_width;
    arch.head = match cfg.head {
        HeadName::Dense => Head::Dense,
        // the neighbour table comes from the training data: [`pip_head`]
        HeadName::Pip => Head::Pip {
            neighbours: Vec::new(),
        },
        HeadName::Integral => Head::Integral,
    };
    arch
}

/// A PIP head for `n_points` whose neighbours are the `c` nearest points of the mean shape of
/// `points` (faces in one crop frame, e.g. the training crops; `visible` per point). Errors
/// when `c` is not below the point count.
fn pip_head(
    points: &[Vec<Point>],
    visible: &[Vec<bool>],
    n_points: usize,
    c: usize,
) -> Result<Head, TrainError> {
    if c >= n_points {
        return Err(TrainError::DataShape(format!(
            "pip_neighbours = {c} needs more than {c} points (the data has {n_points})"
        )));
    }
    let mut sum = vec![[0f64; 2]; n_points];
    let mut cnt = vec![0usize; n_points];
    for (p, v) in points.iter().zip(visible) {
        for i in 0..n_points {
            if v[i] && p[i][0].is_finite() && p[i][1].is_finite() {
                sum[i][0] += p[i][0] as f64;
                sum[i][1] += p[i][1] as f64;
                cnt[i] += 1;
            }
        }
    }
    let mean: Vec<[f32; 2]> = sum
        .iter()
        .zip(&cnt)
        .map(|(s, &c)| {
            let c = c.max(1) as f64;
            [(s[0] / c) as f32, (s[1] / c) as f32]
        })
        .collect();
    Ok(Head::Pip {
        neighbours: facemark_nn::pip::nearest_neighbours(&mean, c),
    })
}

/// Train as configured. Runs on a rayon pool of `cfg.threads` threads.
pub fn train(cfg: &TrainConfig, opts: &RunOptions) -> Result<TrainSummary, TrainError> {
    cfg.validate()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| TrainError::Threads(e.to_string()))?;
    pool.install(|| {
        let (samples, scheme) = load_data(cfg)?;
        train_inner(cfg, &samples, scheme, opts)
    })
}

/// Train on samples already in memory (`cfg.data` is then only recorded in the metadata).
pub fn train_on(
    cfg: &TrainConfig,
    samples: &[facemark_core::Sample],
    scheme: Scheme,
    opts: &RunOptions,
) -> Result<TrainSummary, TrainError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| TrainError::Threads(e.to_string()))?;
    pool.install(|| train_inner(cfg, samples, scheme, opts))
}

fn train_inner(
    cfg: &TrainConfig,
    samples: &[facemark_core::Sample],
    scheme: Scheme,
    opts: &RunOptions,
) -> Result<TrainSummary, TrainError> {
    cfg.validate()?;
    let out = cfg.out.clone();
    std::fs::create_dir_all(&out).map_err(io_err(&out))?;
    let t_load = Instant::now();
    if samples.iter().any(|s| s.points.len() != scheme.len()) {
        return Err(TrainError::DataShape(format!(
            "every face must have the scheme's {} points",
            scheme.len()
        )));
    }
    // cross-validation: the fold is neither trained on nor used to pick the best epoch
    let facemark_formats::RunSplit {
        train: train_idx,
        val: val_idx,
        test: fold_idx,
    } = facemark_formats::RunSplit::new(samples, cfg.fold, cfg.val_fraction, cfg.seed);
    if train_idx.len() < 2 {
        return Err(TrainError::DataShape(format!(
            "only {} training faces after the validation split",
            train_idx.len()
        )));
    }
    let mut arch = arch_for(cfg, scheme.len());
    let size = arch.input_size;
    let crop = CropSpec {
        margin: cfg.crop_margin,
        align: cfg.crop_align,
    };
    // crops with extra context so that zoom-out, rotation and shifts find real pixels; an
    // aligned crop also turns by the face's own roll, which needs more of the photo
    let ctx = if cfg.crop_align { 1.8f32 } else { 1.5 };
    let cache_margin = ((1.0 + 2.0 * cfg.crop_margin) * ctx - 1.0) / 2.0;
    let cache_size = (size as f32 * ctx).ceil() as u32;
    let train_data = prepare(samples, &train_idx, cache_size, cache_margin)?;
    let val_data = prepare(samples, &val_idx, cache_size, cache_margin)?;
    let aug = Augmenter::new(cfg.augment.clone(), scheme.clone(), size, crop);
    let val = make_val(&aug, &val_data);
    if cfg.head == HeadName::Pip {
        arch.head = pip_head(
            &train_data.points,
            &train_data.visible,
            scheme.len(),
            cfg.pip_neighbours,
        )?;
    }
    tracing::info!(
        "{} faces ({} train, {} validation by identity, {} in the held-out fold), {} points, crops cached at {cache_size}² in {:.1} s",
        samples.len(),
        train_idx.len(),
        val_idx.len(),
        fold_idx.len(),
        scheme.len(),
        t_load.elapsed().as_secs_f32()
    );

    let mut net = arch.build(cfg.seed)?;
    let mut adam = Adam::new(AdamConfig {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
    });
    let mut ema = (cfg.ema_decay > 0.0).then(|| Ema::new(&net, cfg.ema_decay));
    let ckpt_path = out.join("checkpoint.safetensors");
    let model_path = out.join("model.safetensors");
    let mut state = CheckpointMeta {
        epochs_done: 0,
        adam_t: 0,
        best_val_nme: f32::INFINITY,
        best_epoch: 0,
        bad_epochs: 0,
        stopped_early: false,
        history: Vec::new(),
        arch: arch.clone(),
    };
    let mut head_transferred = false;
    if opts.resume {
        // the split is re-made from the config: resuming with another one would validate on
        // (or, with folds, test on) faces the first epochs trained on
        let prev = out.join("config.toml");
        let old = match TrainConfig::load(&prev) {
            Ok(old) => Some(old),
            // a run killed before it wrote its config has nothing to compare with
            Err(_) if !prev.exists() => None,
            Err(e) => {
                return Err(TrainError::Resume {
                    path: prev,
                    msg: format!(
                        "the run's config cannot be read ({e}), so its split cannot be checked"
                    ),
                })
            }
        };
        if let Some(msg) = old.and_then(|old| resume_mismatch(&old, cfg)) {
            return Err(TrainError::Resume { path: prev, msg });
        }
        state = load_checkpoint(&ckpt_path, &arch, &mut net, &mut adam, ema.as_mut())?;
        // A run that its patience stopped goes on when resumed with a longer patience (or
        // none), exactly as it would have run without the stop.
        state.stopped_early = cfg.patience > 0 && state.bad_epochs >= cfg.patience;
        tracing::info!(
            "resumed from {} after epoch {}",
            ckpt_path.display(),
            state.epochs_done
        );
        if state.stopped_early && state.epochs_done < cfg.epochs {
            tracing::warn!(
                "nothing to train: no better validation NME for the last {} epochs, and patience is {} (raise `patience`, or 0 for none, to go on)",
                state.bad_epochs,
                cfg.patience
            );
        }
    } else if let Some(init) = &cfg.init {
        let src = KeypointModel::load(init).map_err(|source| TrainError::Init {
            path: init.clone(),
            source,
        })?;
        let rep = transfer(&src.net, &mut net);
        head_transferred = whole_head(&rep.copied);
        tracing::info!(
            "--init {}: {} tensors copied, {} kept new ({:?})",
            init.display(),
            rep.copied.len(),
            rep.kept.len(),
            rep.kept
        );
    }
    if !opts.resume && !head_transferred {
        // start the head at the mean shape with small weights: the first steps then refine a
        // plausible face instead of pulling every point out of the crop centre
        let mean = mean_targets(&aug, &train_data, 2 * scheme.len());
        init_head(&mut net, &mean);
    }
    for pat in &cfg.freeze {
        if net.freeze(std::slice::from_ref(pat)).is_empty() {
            return Err(TrainError::Freeze(pat.clone()));
        }
    }
    if !opts.resume {
        // the average starts from the weights actually trained (after `--init` and the head's
        // initialisation); a resumed run has its average from the checkpoint
        ema = ema.map(|e| Ema::new(&net, e.decay));
    }
    facemark_core::io::write_atomic(&out.join("config.toml"), cfg.to_toml().as_bytes())
        .map_err(io_err(&out))?;

    let mut meta = ModelMeta::new(arch.clone(), scheme.clone(), crop);
    meta.training_data = format!(
        "{}; {} training faces, {} validation faces (split by identity, seed {}){}",
        cfg.data
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        train_idx.len(),
        val_idx.len(),
        cfg.seed,
        match cfg.fold {
            Some(f) => format!("; fold {f} ({} faces) held out", fold_idx.len()),
            None => String::new(),
        }
    );
    meta.created_by = opts.created_by.clone();

    let bs = cfg.batch_size;
    let n_train = train_data.images.len();
    let steps_per_epoch = n_train / bs + usize::from(n_train % bs >= 2);
    let total_steps = steps_per_epoch * cfg.epochs;
    let px = (size * size) as usize;
    let k = 2 * scheme.len();
    let loss_kind = cfg.loss_kind();
    let mut nme_norm = String::new();

    let first_epoch = state.epochs_done;
    for epoch in first_epoch..cfg.epochs {
        if state.stopped_early || opts.stop_after.is_some_and(|n| epoch >= first_epoch + n) {
            break;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, epoch as u64, 1));
        let mut order: Vec<usize> = (0..n_train).collect();
        order.shuffle(&mut rng);
        let bar = if opts.progress {
            ProgressBar::new(steps_per_epoch as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, cfg.epochs));
        let t0 = Instant::now();
        let (mut loss_sum, mut loss_n, mut seen) = (0.0f64, 0usize, 0usize);
        let mut lr = cfg.lr;
        for (b, chunk) in order.chunks(bs).enumerate() {
            if chunk.len() < 2 {
                continue;
            }
            let step = epoch * steps_per_epoch + b;
            lr = cfg.lr_at(step, total_steps, epoch);
            let rows: Vec<(Vec<f32>, Vec<f32>, Vec<bool>)> = chunk
                .par_iter()
                .enumerate()
                .map(|(j, &i)| {
                    let mut r = ChaCha8Rng::seed_from_u64(mix(
                        cfg.seed,
                        epoch as u64,
                        (b * bs + j) as u64 + 2,
                    ));
                    aug.make(
                        &train_data.images[i],
                        &train_data.points[i],
                        &train_data.visible[i],
                        &mut r,
                        true,
                    )
                })
                .collect();
            let n = rows.len();
            let mut x = Vec::with_capacity(n * px);
            let mut t = Vec::with_capacity(n * k);
            let mut m = Vec::with_capacity(n * k);
            for (xi, ti, mi) in rows {
                x.extend(xi);
                t.extend(ti);
                m.extend(coord_mask(&mi));
            }
            net.zero_grad();
            let y = net.forward_train(
                Tensor::new(vec![n, 1, size as usize, size as usize], x),
                &mut rng,
            );
            let weights = cfg.nme_weighted.then(|| nme_weights(&t, &m, &scheme));
            let (loss, g) = arch.loss(loss_kind, &y.data, &y.shape, &t, &m, weights.as_deref());
            if !loss.is_finite() {
                return Err(TrainError::Diverged {
                    epoch: epoch + 1,
                    loss,
                });
            }
            net.backward(Tensor::new(y.shape.clone(), g), false);
            let mut params = net.params_mut();
            adam.step(&mut params, lr);
            if let Some(ema) = ema.as_mut() {
                ema.update(&net, adam.t);
            }
            loss_sum += loss as f64;
            loss_n += 1;
            seen += n;
            let secs = t0.elapsed().as_secs_f32().max(1e-6);
            bar.set_message(format!(
                "loss {:.5} {:.0} samples/s",
                loss_sum / loss_n as f64,
                seen as f32 / secs
            ));
            bar.inc(1);
        }
        let train_secs = t0.elapsed().as_secs_f32();
        bar.finish_and_clear();
        // with averaging, the average is what is validated and saved
        let averaged = ema.as_ref().map(|e| e.averaged(&mut net));
        let scored = averaged.as_ref().unwrap_or(&net);
        let (val_loss, val_nme, norm) = validate(scored, &arch, &val, cfg, &scheme, size);
        if !norm.is_empty() {
            nme_norm = norm;
        }
        let rec = EpochRecord {
            epoch: epoch + 1,
            lr,
            train_loss: (loss_sum / loss_n.max(1) as f64) as f32,
            val_loss,
            val_nme,
            train_secs,
            samples_per_s: seen as f32 / train_secs.max(1e-6),
        };
        let msg = format!(
            "epoch {}/{}: train loss {:.5}, val loss {:.5}, val NME {:.4}, {:.0} samples/s, lr {:.2e}",
            rec.epoch, cfg.epochs, rec.train_loss, rec.val_loss, rec.val_nme, rec.samples_per_s, lr
        );
        if opts.progress {
            eprintln!("{msg}");
        }
        tracing::info!("{msg}");
        state.history.push(rec.clone());
        // the score that picks the best model: validation NME, or training loss without one
        let score = if val_nme.is_finite() {
            val_nme
        } else {
            rec.train_loss
        };
        state.epochs_done = epoch + 1;
        state.adam_t = adam.t;
        if score < state.best_val_nme {
            state.best_val_nme = score;
            state.best_epoch = epoch + 1;
            state.bad_epochs = 0;
            meta.epochs = epoch + 1;
            meta.metrics.clear();
            meta.metrics.insert("val_nme".into(), val_nme as f64);
            meta.metrics.insert("val_loss".into(), val_loss as f64);
            meta.metrics
                .insert("train_loss".into(), rec.train_loss as f64);
            let model = KeypointModel::new(meta.clone(), scored.clone());
            model.save(&model_path)?;
        } else {
            state.bad_epochs += 1;
            if cfg.patience > 0 && state.bad_epochs >= cfg.patience {
                state.stopped_early = true;
                tracing::info!(
                    "early stop: no better validation NME for {} epochs",
                    cfg.patience
                );
            }
        }
        save_checkpoint(&ckpt_path, &net, &adam, ema.as_ref(), &state)?;
        write_csv(&out.join("metrics.csv"), &state.history)?;
        plot(&out, &state.history);
    }
    net.clear_cache();
    Ok(TrainSummary {
        out: out.clone(),
        model_path,
        best_epoch: state.best_epoch,
        best_val_nme: state.best_val_nme,
        nme_norm,
        n_train: train_idx.len(),
        n_val: val_idx.len(),
        stopped_early: state.stopped_early,
        history: state.history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use facemark_core::{ImageSource, Sample};

    #[test]
    fn a_head_counts_as_transferred_only_whole() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(whole_head(&names(&[
            "conv1.weight",
            "head.weight",
            "head.bias"
        ])));
        assert!(!whole_head(&names(&["conv1.weight", "head.bias"])));
        assert!(!whole_head(&names(&["head.weight"])));
    }

    #[test]
    fn nme_weights_follow_the_inverse_eye_distance() {
        let scheme = Scheme::ibug68();
        let (a, b) = scheme.norm_pair.unwrap();
        let k = 2 * scheme.len();
        // three faces: eye corners 0.5 apart, 0.25 apart, and one corner missing
        let mut t = vec![0.0f32; 3 * k];
        let mut m = vec![true; 3 * k];
        for (f, d) in [(0, 0.5f32), (1, 0.25), (2, 0.4)] {
            t[f * k + 2 * a] = -d / 2.0;
            t[f * k + 2 * b] = d / 2.0;
        }
        m[2 * k + 2 * b + 1] = false;
        let w = nme_weights(&t, &m, &scheme);
        // 1/0.5 = 2 and 1/0.25 = 4, scaled to mean 1 over the two faces that have both
        assert!((w[0] - 2.0 / 3.0).abs() < 1e-6, "{w:?}");
        assert!((w[1] - 4.0 / 3.0).abs() < 1e-6, "{w:?}");
        assert_eq!(w[2], 1.0);
        // nearly coincident corners are floored at 0.1: no face takes over the batch
        t[k + 2 * a] = -0.001;
        t[k + 2 * b] = 0.001;
        let w = nme_weights(&t, &m, &scheme);
        assert!((w[1] / w[0] - 5.0).abs() < 1e-4, "{w:?}");
        // a scheme without eye corners weighs every face 1
        let g = Scheme::generic(68);
        assert_eq!(nme_weights(&t, &m, &g), vec![1.0; 3]);
    }

    /// Synthetic faces: a bright square on a dark 48×48 image, 5 points = its corners and
    /// centre; the square moves and changes size from face to face.
    fn samples(n: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| {
                let (w, h) = (48u32, 48u32);
                let side = 14.0 + (i % 5) as f32 * 2.0;
                let x0 = 8.0 + ((i * 7) % 13) as f32;
                let y0 = 6.0 + ((i * 5) % 11) as f32;
                let mut pixels = vec![20u8; (w * h) as usize];
                for y in 0..h {
                    for x in 0..w {
                        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                        if fx >= x0 && fx < x0 + side && fy >= y0 && fy < y0 + side {
                            pixels[(y * w + x) as usize] = 200 + (x % 3) as u8 * 20;
                        }
                    }
                }
                let pts = vec![
                    [x0, y0],
                    [x0 + side, y0],
                    [x0, y0 + side],
                    [x0 + side, y0 + side],
                    [x0 + side / 2.0, y0 + side / 2.0],
                ];
                Sample::new(
                    ImageSource::Gray {
                        width: w,
                        height: h,
                        pixels,
                    },
                    pts,
                    format!("face{i}_01.png"),
                )
            })
            .collect()
    }

    fn config(out: &Path, epochs: usize) -> TrainConfig {
        TrainConfig {
            out: out.to_path_buf(),
            arch: facemark_model::ArchKind::Mobile,
            input_size: 32,
            width: 0.25,
            epochs,
            batch_size: 8,
            lr: 3e-3,
            val_fraction: 0.2,
            threads: 2,
            patience: 0,
            ..TrainConfig::default()
        }
    }

    fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
        let m = KeypointModel::load(path).unwrap();
        m.net
            .params()
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect()
    }

    /// The checkpoint's tensors: weights, buffers and Adam moments.
    fn ckpt_tensors(out: &Path) -> std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)> {
        let bytes = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
        st::read(&bytes, "checkpoint").unwrap().tensors
    }

    #[test]
    fn trains_saves_and_is_reproducible() {
        let data = samples(40);
        let scheme = Scheme::generic(5);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let opts = RunOptions::default();
        let sa = train_on(&config(a.path(), 3), &data, scheme.clone(), &opts).unwrap();
        train_on(&config(b.path(), 3), &data, scheme.clone(), &opts).unwrap();
        assert_eq!(sa.history.len(), 3);
        assert!(sa.n_val > 0 && sa.n_train + sa.n_val == 40);
        assert!(sa.history.iter().all(|r| r.val_nme.is_finite()));
        assert!(
            sa.history[2].train_loss < sa.history[0].train_loss,
            "loss should fall: {:?}",
            sa.history
        );
        for f in ["model.safetensors", "metrics.csv", "config.toml"] {
            assert!(a.path().join(f).is_file(), "{f}");
        }
        let csv = std::fs::read_to_string(a.path().join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 4);
        // same seed, same threads → the same run
        assert!(
            ckpt_tensors(a.path()) == ckpt_tensors(b.path()),
            "runs differ"
        );
        let m = KeypointModel::load(&a.path().join("model.safetensors")).unwrap();
        assert_eq!(m.meta.scheme, scheme);
        assert!(m.meta.metrics.contains_key("val_nme"));
    }

    #[test]
    fn an_aligned_run_saves_a_refiner() {
        let data = samples(20);
        let dir = tempfile::tempdir().unwrap();
        let cfg = TrainConfig {
            crop_align: true,
            ..config(dir.path(), 1)
        };
        train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
        let m = KeypointModel::load(&dir.path().join("model.safetensors")).unwrap();
        assert!(m.is_refiner() && m.meta.crop.align);
        let plain = tempfile::tempdir().unwrap();
        train_on(
            &config(plain.path(), 1),
            &data,
            Scheme::generic(5),
            &RunOptions::default(),
        )
        .unwrap();
        assert!(
            !KeypointModel::load(&plain.path().join("model.safetensors"))
                .unwrap()
                .is_refiner()
        );
    }

    #[test]
    fn a_cross_validation_fold_is_held_out_of_training_and_validation() {
        let data = samples(40);
        let dir = tempfile::tempdir().unwrap();
        let fold: facemark_formats::Fold = "2/4".parse().unwrap();
        let cfg = TrainConfig {
            fold: Some(fold),
            ..config(dir.path(), 1)
        };
        let (_, held) = fold.split(&data, cfg.seed);
        assert!(!held.is_empty() && held.len() < 40);
        let s = train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
        assert_eq!(s.n_train + s.n_val, 40 - held.len());
        let m = KeypointModel::load(&s.model_path).unwrap();
        let note = format!("fold 2/4 ({} faces) held out", held.len());
        assert!(
            m.meta.training_data.contains(&note),
            "{}",
            m.meta.training_data
        );
    }

    #[test]
    fn trains_on_real_youtube_faces_when_present() {
        let Some(root) = facemark_core::testdata::shared_data() else {
            return; // skip reason printed by shared_data()
        };
        let csv = root.join("youtube-faces-68/training_frames_keypoints.csv");
        if !csv.is_file() {
            eprintln!("skipping: {} not found", csv.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 1);
        cfg.data = vec![csv];
        cfg.max_samples = 48;
        let s = train(&cfg, &RunOptions::default()).unwrap();
        assert_eq!(s.n_train + s.n_val, 48);
        assert_eq!(s.nme_norm, "outer-eye");
        let m = KeypointModel::load(&s.model_path).unwrap();
        assert_eq!(m.meta.scheme.name, "ibug68");
        assert_eq!(m.meta.n_points, 68);
    }

    #[test]
    fn missing_points_are_masked() {
        let mut data = samples(24);
        for (i, s) in data.iter_mut().enumerate() {
            let j = i % 5;
            if i % 2 == 0 && j != 4 {
                s.points[j] = [f32::NAN, f32::NAN];
                s.visible[j] = false;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let s = train_on(
            &config(dir.path(), 2),
            &data,
            Scheme::generic(5),
            &RunOptions::default(),
        )
        .unwrap();
        assert!(s
            .history
            .iter()
            .all(|r| r.train_loss.is_finite() && r.val_loss.is_finite()));
    }

    #[test]
    fn resume_continues_exactly() {
        let data = samples(32);
        let scheme = Scheme::generic(5);
        let (full, part) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let opts = RunOptions::default();
        train_on(&config(full.path(), 3), &data, scheme.clone(), &opts).unwrap();
        // "killed" after epoch 1, then resumed
        let killed = RunOptions {
            stop_after: Some(1),
            ..RunOptions::default()
        };
        let s1 = train_on(&config(part.path(), 3), &data, scheme.clone(), &killed).unwrap();
        assert_eq!(s1.history.len(), 1);
        let resumed = RunOptions {
            resume: true,
            ..RunOptions::default()
        };
        // another split would leak validation faces into training: refused
        let other = TrainConfig {
            fold: facemark_formats::Fold::new(1, 3),
            ..config(part.path(), 3)
        };
        let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
        assert!(e.to_string().contains("same settings"), "{e}");
        // so would another data list (order and repeats set weights and split) or crop policy
        let other = TrainConfig {
            data: vec!["more.csv".into()],
            ..config(part.path(), 3)
        };
        let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
        assert!(e.to_string().contains("data list"), "{e}");
        let other = TrainConfig {
            crop_align: true,
            ..config(part.path(), 3)
        };
        let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
        assert!(e.to_string().contains("crop_align"), "{e}");
        let other = TrainConfig {
            ema_decay: 0.99,
            ..config(part.path(), 3)
        };
        let e = train_on(&other, &data, scheme.clone(), &resumed).unwrap_err();
        assert!(e.to_string().contains("ema_decay"), "{e}");
        let s = train_on(&config(part.path(), 3), &data, scheme, &resumed).unwrap();
        assert_eq!(s.history.len(), 3);
        assert!(
            ckpt_tensors(full.path()) == ckpt_tensors(part.path()),
            "resumed run differs from the uninterrupted one"
        );
    }

    #[test]
    fn weight_averaging_is_what_is_saved_and_resumes_exactly() {
        let data = samples(32);
        let scheme = Scheme::generic(5);
        let (full, part, plain) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let cfg = |out: &Path| TrainConfig {
            ema_decay: 0.9,
            ..config(out, 3)
        };
        let opts = RunOptions::default();
        let s = train_on(&cfg(full.path()), &data, scheme.clone(), &opts).unwrap();
        assert_eq!(s.history.len(), 3);
        // the checkpoint holds the average next to the last weights
        let ck = ckpt_tensors(full.path());
        let (_, last) = &ck["head.weight"];
        assert_ne!(last, &ck["optim.ema.head.weight"].1);
        // the same steps: averaging changes what is validated, not the training itself
        train_on(&config(plain.path(), 3), &data, scheme.clone(), &opts).unwrap();
        assert_eq!(&ckpt_tensors(plain.path())["head.weight"].1, last);
        // killed after epoch 1 and resumed: the same average as the uninterrupted run
        let killed = RunOptions {
            stop_after: Some(1),
            ..RunOptions::default()
        };
        let one = train_on(&cfg(part.path()), &data, scheme.clone(), &killed).unwrap();
        // after one epoch (the best so far) the model file holds the average, not the weights
        let saved = weights(&one.model_path);
        let head = &saved.iter().find(|(n, _)| n == "head.weight").unwrap().1;
        let ck1 = ckpt_tensors(part.path());
        assert_eq!(head, &ck1["optim.ema.head.weight"].1);
        assert_ne!(head, &ck1["head.weight"].1);
        let resumed = RunOptions {
            resume: true,
            ..RunOptions::default()
        };
        train_on(&cfg(part.path()), &data, scheme, &resumed).unwrap();
        assert!(ck == ckpt_tensors(part.path()), "resumed average differs");
    }

    #[test]
    fn resume_with_a_longer_patience_goes_on_after_an_early_stop() {
        let data = samples(32);
        let scheme = Scheme::generic(5);
        let (full, part) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // lr 1e-30: steps of about 1e-30 leave every non-zero weight unchanged in f32, so
        // mostly batch-norm statistics move, the validation NME soon fails to improve and
        // patience 1 stops the run
        let cfg = |out: &Path, patience| TrainConfig {
            lr: 1e-30,
            patience,
            ..config(out, 6)
        };
        let opts = RunOptions::default();
        let stopped = train_on(&cfg(part.path(), 1), &data, scheme.clone(), &opts).unwrap();
        let n = stopped.history.len();
        assert!(stopped.stopped_early && n < 6, "{n} epochs");
        let resumed = RunOptions {
            resume: true,
            ..RunOptions::default()
        };
        // the same patience: still stopped, nothing more trained
        let again = train_on(&cfg(part.path(), 1), &data, scheme.clone(), &resumed).unwrap();
        assert_eq!(again.history.len(), n);
        // a longer patience: the remaining epochs, as a run that never stopped
        let s = train_on(&cfg(part.path(), 100), &data, scheme.clone(), &resumed).unwrap();
        assert!(!s.stopped_early);
        assert_eq!(s.history.len(), 6);
        train_on(&cfg(full.path(), 0), &data, scheme, &opts).unwrap();
        assert!(
            ckpt_tensors(full.path()) == ckpt_tensors(part.path()),
            "resumed run differs from the one that never stopped"
        );
    }

    #[test]
    fn frozen_parameters_do_not_change() {
        let data = samples(24);
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 1);
        cfg.freeze = vec!["conv1".into(), "pw*".into()]; // pw1…, pwbn1… (BN fixed too)
        train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()).unwrap();
        let init = arch_for(&cfg, 5).build(cfg.seed).unwrap();
        let after = weights(&dir.path().join("model.safetensors"));
        let mut changed = 0;
        for (name, v) in &after {
            let before = &init.param(name).unwrap().value;
            let frozen = name.starts_with("conv1") || name.starts_with("pw");
            if frozen {
                assert!(before == v, "{name} is frozen but changed");
            } else if before != v {
                changed += 1;
            }
        }
        assert!(changed > 0, "unfrozen parameters should train");
        cfg.freeze = vec!["nothing_like_this".into()];
        assert!(matches!(
            train_on(&cfg, &data, Scheme::generic(5), &RunOptions::default()),
            Err(TrainError::Freeze(_))
        ));
    }

    #[test]
    fn init_transfers_weights_to_a_new_point_count() {
        let data = samples(24);
        let dir = tempfile::tempdir().unwrap();
        train_on(
            &config(dir.path(), 1),
            &data,
            Scheme::generic(5),
            &RunOptions::default(),
        )
        .unwrap();
        let src = dir.path().join("model.safetensors");
        // 3-point data: the head is new, the rest starts from the 5-point model
        let data3: Vec<Sample> = data
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.points.truncate(3);
                s.visible.truncate(3);
                s
            })
            .collect();
        let dir2 = tempfile::tempdir().unwrap();
        let mut cfg = config(dir2.path(), 1);
        cfg.init = Some(src.clone());
        cfg.freeze = vec!["conv1".into()];
        train_on(&cfg, &data3, Scheme::generic(3), &RunOptions::default()).unwrap();
        let a = weights(&src);
        let b = weights(&dir2.path().join("model.safetensors"));
        let get =
            |w: &[(String, Vec<f32>)], n: &str| w.iter().find(|x| x.0 == n).unwrap().1.clone();
        assert_eq!(get(&a, "conv1.weight"), get(&b, "conv1.weight"));
        assert_eq!(get(&b, "head.bias").len(), 6);
    }
}
