//! Data preparation: the data sets loaded and checked ([`load_data`]), the identity split,
//! the face-crop cache the augmenter draws from, and the validation set made once.

use super::init::{arch_for, pip_head};
use super::TrainError;
use super::LOG_TARGET;
use crate::augment::Augmenter;
use crate::config::{HeadName, TrainConfig};
use facemark_core::{CropSpec, Point, Scheme};
use facemark_formats::FaceCache;
use facemark_model::ArchConfig;
use image::GrayImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

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
        let s = facemark_formats::load_any(path).map_err(|error| TrainError::Data {
            path: path.clone(),
            error,
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

/// Everything a run trains and validates on, made once before the first epoch.
pub(super) struct RunData {
    pub(super) scheme: Scheme,
    /// The network's architecture (a PIP head with its neighbours from the training faces).
    pub(super) arch: ArchConfig,
    pub(super) crop: CropSpec,
    pub(super) aug: Augmenter,
    /// The training faces' cached crops.
    pub(super) train: Prepared,
    pub(super) val: ValSet,
    /// Faces in the training, validation and held-out (cross-validation fold) parts.
    pub(super) n_train: usize,
    pub(super) n_val: usize,
    pub(super) n_held_out: usize,
    /// The fixed prefix's features, when the run caches them ([`super::features`]); set
    /// after the network is made.
    pub(super) features: Option<super::features::Features>,
}

impl RunData {
    /// Split `samples` (by identity; a cross-validation fold is neither trained on nor used
    /// to pick the best epoch), cache their crops and make the validation set.
    pub(super) fn prepare(
        cfg: &TrainConfig,
        samples: &[facemark_core::Sample],
        scheme: Scheme,
    ) -> Result<RunData, TrainError> {
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
            target: LOG_TARGET,
            "{} faces ({} train, {} validation by identity, {} in the held-out fold), {} points, crops cached at {cache_size}² in {:.1} s",
            samples.len(),
            train_idx.len(),
            val_idx.len(),
            fold_idx.len(),
            scheme.len(),
            t_load.elapsed().as_secs_f32()
        );
        Ok(RunData {
            scheme,
            arch,
            crop,
            aug,
            train: train_data,
            val,
            n_train: train_idx.len(),
            n_val: val_idx.len(),
            n_held_out: fold_idx.len(),
            features: None,
        })
    }
}

/// A data set ready for training: cached crops (with context for augmentation).
pub(super) struct Prepared {
    pub(super) images: Vec<GrayImage>,
    pub(super) points: Vec<Vec<Point>>,
    pub(super) visible: Vec<Vec<bool>>,
}

fn prepare(
    samples: &[facemark_core::Sample],
    idx: &[usize],
    size: u32,
    margin: f32,
) -> Result<Prepared, TrainError> {
    let sub: Vec<facemark_core::Sample> = idx.iter().map(|&i| samples[i].clone()).collect();
    let cache = FaceCache::build(&sub, size, CropSpec::with_margin(margin)).map_err(|error| {
        TrainError::Data {
            path: PathBuf::from("(crop cache)"),
            error,
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

/// Per-coordinate mask (2 per point) from a per-point mask.
pub(super) fn coord_mask(m: &[bool]) -> Vec<bool> {
    m.iter().flat_map(|v| [*v, *v]).collect()
}

/// Validation inputs made once (deterministic inference crops).
pub(super) struct ValSet {
    pub(super) inputs: Vec<f32>,
    pub(super) targets: Vec<f32>,
    pub(super) masks: Vec<bool>,
    pub(super) n: usize,
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

/// Mean normalised target per coordinate over the training faces' inference crops (missing
/// points skipped; 0 where a coordinate is never present).
pub(super) fn mean_targets(aug: &Augmenter, data: &Prepared, k: usize) -> Vec<f32> {
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
