//! The output folder's files besides the checkpoint: `config.toml`, the model's metadata,
//! `metrics.csv` and the `loss.png` / `nme.png` curves.

use super::data::RunData;
use super::LOG_TARGET;
use super::{io_err, EpochRecord, TrainError};
use crate::config::TrainConfig;
use facemark_model::ModelMeta;
use std::path::Path;

/// `out/config.toml`: the effective configuration (what `--resume` checks the split against).
pub(crate) fn write_config(out: &Path, cfg: &TrainConfig) -> Result<(), TrainError> {
    facemark_core::io::write_atomic(&out.join("config.toml"), cfg.to_toml().as_bytes())
        .map_err(io_err(out))
}

/// The metadata saved with the model: architecture, scheme, crop, the data it trained on and
/// the command line (`epochs` and `metrics` are filled in when an epoch is the best).
pub(super) fn model_meta(cfg: &TrainConfig, run: &RunData, created_by: &str) -> ModelMeta {
    let mut meta = ModelMeta::new(run.arch.clone(), run.scheme.clone(), run.crop);
    meta.training_data = format!(
        "{}; {} training faces, {} validation faces (split by identity, seed {}){}",
        cfg.data
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        run.n_train,
        run.n_val,
        cfg.seed,
        match cfg.fold {
            Some(f) => format!("; fold {f} ({} faces) held out", run.n_held_out),
            None => String::new(),
        }
    );
    meta.created_by = created_by.to_string();
    meta
}

/// `metrics.csv`: one row per epoch (the whole history, rewritten after every epoch).
pub(super) fn write_csv(path: &Path, history: &[EpochRecord]) -> Result<(), TrainError> {
    let mut s = String::from("epoch,lr,train_loss,val_loss,val_nme,train_secs,samples_per_s\n");
    for r in history {
        s.push_str(&format!(
            "{},{:e},{},{},{},{:.2},{:.1}\n",
            r.epoch, r.lr, r.train_loss, r.val_loss, r.val_nme, r.train_secs, r.samples_per_s
        ));
    }
    facemark_core::io::write_atomic(path, s.as_bytes()).map_err(io_err(path))
}

/// The `loss.png` and `nme.png` curves; one that cannot be drawn is a warning, not an error.
pub(super) fn plot(out: &Path, history: &[EpochRecord]) {
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
            tracing::warn!(target: LOG_TARGET, "could not draw curves: {e}");
        }
    }
}
