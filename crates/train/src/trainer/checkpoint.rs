//! Checkpoints and resume: `checkpoint.safetensors` holds, after every epoch, the weights and
//! batch-norm statistics, Adam's moments and step, the weight average (with `ema_decay`) and
//! the run's progress ([`CheckpointMeta`]: epochs done, best score, patience count, history).
//! `--resume` reloads it and goes on exactly as if the run had not stopped.

use super::ema::Ema;
use super::LOG_TARGET;
use super::{io_err, EpochRecord, TrainError, CHECKPOINT_FILE};
use crate::config::TrainConfig;
use facemark_model::{st, ArchConfig};
use facemark_nn::{Adam, Network};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The run's progress, stored as JSON in the checkpoint's metadata (the field order is the
/// file format's: keep it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CheckpointMeta {
    pub(super) epochs_done: usize,
    pub(super) adam_t: u64,
    /// The best score so far: validation NME, or training loss without a validation set.
    pub(super) best_val_nme: f32,
    pub(super) best_epoch: usize,
    /// Epochs since the best one (for `patience`).
    pub(super) bad_epochs: usize,
    pub(super) stopped_early: bool,
    pub(super) history: Vec<EpochRecord>,
    pub(super) arch: ArchConfig,
}

impl CheckpointMeta {
    /// A run that has trained nothing yet.
    pub(super) fn fresh(arch: ArchConfig) -> CheckpointMeta {
        CheckpointMeta {
            epochs_done: 0,
            adam_t: 0,
            best_val_nme: f32::INFINITY,
            best_epoch: 0,
            bad_epochs: 0,
            stopped_early: false,
            history: Vec::new(),
            arch,
        }
    }
}

const CKPT_KEY: &str = "facemark_checkpoint";

pub(super) fn save_checkpoint(
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
    let bytes = st::write(&tensors, &[(CKPT_KEY, json)], st::Storage::F32)
        .expect("f32 storage holds any value");
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

/// Resume the run in `out` as configured by `cfg`: check that the run's `config.toml` splits
/// and crops as `cfg` does, then load `checkpoint.safetensors` into `net`, `adam` and `ema`.
/// Returns the run's progress; `stopped_early` is re-decided by `cfg.patience`.
pub(super) fn resume(
    cfg: &TrainConfig,
    out: &Path,
    arch: &ArchConfig,
    net: &mut Network,
    adam: &mut Adam,
    ema: Option<&mut Ema>,
) -> Result<CheckpointMeta, TrainError> {
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
    let ckpt_path = out.join(CHECKPOINT_FILE);
    let mut state = load_checkpoint(&ckpt_path, arch, net, adam, ema)?;
    // A run that its patience stopped goes on when resumed with a longer patience (or
    // none), exactly as it would have run without the stop.
    state.stopped_early = cfg.patience > 0 && state.bad_epochs >= cfg.patience;
    tracing::info!(
        target: LOG_TARGET,
        "resumed from {} after epoch {}",
        ckpt_path.display(),
        state.epochs_done
    );
    if state.stopped_early && state.epochs_done < cfg.epochs {
        tracing::warn!(
            target: LOG_TARGET,
            "nothing to train: no better validation NME for the last {} epochs, and patience is {} (raise `patience`, or 0 for none, to go on)",
            state.bad_epochs,
            cfg.patience
        );
    }
    Ok(state)
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
