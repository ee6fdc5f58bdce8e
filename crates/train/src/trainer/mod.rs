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
//!
//! Progress: the trainer draws nothing; it reports each epoch and step to a
//! [`TrainObserver`] ([`train_with_observer`], [`train_on_with_observer`]), and logs one
//! `tracing` line per epoch.
//!
//! Layout, one job per module:
//! - this module: the entry points ([`train`], [`train_on`]) and a run's steps in order
//!   (`train_inner`: prepare the data, start the network, write the config, run the epochs);
//! - `data`: loading and checking data sets ([`load_data`]), the identity split, the
//!   face-crop cache and the validation set;
//! - `init`: the architecture ([`arch_for`]), `--init` weight transfer, the head started at
//!   the mean shape, `--freeze`;
//! - `epoch`: the epoch loop: batches, steps, and what follows each epoch;
//! - `validate`: validation loss and NME;
//! - `ema`: weight averaging;
//! - `checkpoint`: the checkpoint file and `--resume`;
//! - `output`: `config.toml`, model metadata, `metrics.csv`, curves;
//! - `observer`: the progress reports ([`TrainObserver`]).

mod checkpoint;
mod data;
mod ema;
mod epoch;
#[cfg(test)]
mod facenet_tests;
mod features;
mod init;
mod observer;
pub(crate) mod output;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transfer_tests;
mod validate;

pub use data::load_data;
pub use init::{arch_for, InitKind};
pub use observer::{StepInfo, TrainObserver};

use crate::config::{ConfigError, TrainConfig};
use checkpoint::CheckpointMeta;
use data::RunData;
use ema::Ema;
use facemark_core::Scheme;
use facemark_model::ModelError;
use facemark_nn::{Adam, AdamConfig, Network};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration is unreadable or out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    // The causes below are part of the messages and deliberately not `source()`s, so that
    // error-chain printers (anyhow's `{:#}`) do not repeat them.
    /// A data set (or the crop cache, `path` "(crop cache)") cannot be read; the format's
    /// error names the file.
    #[error("{error}")]
    Data {
        /// The data set as configured.
        path: PathBuf,
        /// The reader's error (file, line, field).
        error: facemark_formats::FormatError,
    },
    /// The data sets do not fit together or the config (no face, different point counts, an
    /// unknown or mismatched scheme, too few faces to split).
    #[error("data: {0}")]
    DataShape(String),
    /// Writing the model or checkpoint failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The architecture cannot be built with these options (e.g. the input is too small).
    #[error(transparent)]
    Arch(#[from] facemark_model::ArchError),
    /// Creating the output folder or writing `metrics.csv`, the charts or `config.toml` failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        error: std::io::Error,
    },
    /// The `init` model could not be read (the model's error names the file).
    #[error("--init: {error}")]
    Init {
        /// The model file given as `init`.
        path: PathBuf,
        /// The reader's error.
        error: ModelError,
    },
    /// The `init` dlib network could not be read (the error names the file).
    #[error("--init: {0}")]
    InitRecog(facemark_recog::RecogError),
    /// The `init` file is of a kind `--init` cannot start from, or its network does not fit
    /// the architecture.
    #[error("--init {}: {detail}", path.display())]
    InitKind {
        /// The file given as `init`.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A `freeze` pattern names nothing (a typo would otherwise silently train everything).
    #[error("--freeze: pattern `{0}` matches no parameter of the network")]
    Freeze(String),
    /// The checkpoint cannot be resumed: missing, corrupt, or written with another config.
    #[error("resume from {path}: {msg}")]
    Resume {
        /// The checkpoint file.
        path: PathBuf,
        /// What did not match.
        msg: String,
    },
    /// The training loss became NaN or infinite; the run stops instead of saving garbage
    /// (lower `lr` or add warm-up).
    #[error("training diverged at epoch {epoch}: loss is {loss}")]
    Diverged {
        /// The epoch, counted from 1.
        epoch: usize,
        /// The non-finite loss.
        loss: f32,
    },
    /// Training a shape predictor (`arch = "ert"`) failed.
    #[error(transparent)]
    Ert(#[from] facemark_ert::ErtError),
    /// Validating the trained shape predictor failed.
    #[error("validation: {0}")]
    Eval(#[from] crate::eval::EvalError),
    /// The rayon pool of `threads` workers could not be built.
    #[error("thread pool: {0}")]
    Threads(String),
}

/// How to run (not part of the config: does not change the result). Progress reports go to
/// a [`TrainObserver`] instead ([`train_with_observer`]).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Continue from `out/checkpoint.safetensors`.
    pub resume: bool,
    /// The command line, stored in the model's metadata.
    pub created_by: String,
    /// Stop after this many epochs in this invocation (as if killed after the checkpoint);
    /// `None` = run to the configured epoch count.
    pub stop_after: Option<usize>,
    /// Never cache the frozen prefix's features (`super::features`; they are cached when
    /// augmentation is off and the first layers are frozen): the same training, to float
    /// rounding, each face through the whole network at every step.
    pub no_feature_cache: bool,
}

/// One epoch's figures (a row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// The learning rate of the epoch's last optimiser step.
    pub lr: f32,
    /// Mean training loss over the epoch's batches (with augmentation and dropout).
    pub train_loss: f32,
    /// Validation loss (no augmentation, inference mode); NaN without a validation set.
    pub val_loss: f32,
    /// Validation NME (see [`TrainSummary::nme_norm`]); NaN without a validation set.
    pub val_nme: f32,
    /// Seconds of training (without validation) in this epoch.
    pub train_secs: f32,
    /// Training throughput: faces trained on / `train_secs`.
    pub samples_per_s: f32,
}

impl EpochRecord {
    /// The line the trainer logs for the epoch (`tracing` info), of `total_epochs`:
    /// `epoch 3/40: train loss …, val loss …, val NME …, … samples/s, lr …`.
    pub fn summary(&self, total_epochs: usize) -> String {
        format!(
            "epoch {}/{}: train loss {:.5}, val loss {:.5}, val NME {:.4}, {:.0} samples/s, lr {:.2e}",
            self.epoch,
            total_epochs,
            self.train_loss,
            self.val_loss,
            self.val_nme,
            self.samples_per_s,
            self.lr
        )
    }
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    /// The run's output folder.
    pub out: PathBuf,
    /// The saved model (`out/model.safetensors`: the best epoch's weights).
    pub model_path: PathBuf,
    /// The epoch (from 1) with the lowest validation NME (training loss without a validation
    /// set): the weights saved.
    pub best_epoch: usize,
    /// That epoch's validation NME (its training loss without a validation set).
    pub best_val_nme: f32,
    /// The distance NME is normalised by: "outer-eye", "inter-pupil" or "box" (landmark-box
    /// side, for schemes without eye corners).
    pub nme_norm: String,
    /// Training faces (after any `max_samples` limit, without augmentation copies).
    pub n_train: usize,
    /// Validation faces (held out by identity).
    pub n_val: usize,
    /// The run ended before `epochs` because validation NME stopped improving (`patience`).
    pub stopped_early: bool,
    /// Every epoch's record, this run and any it resumed.
    pub history: Vec<EpochRecord>,
}

/// The target of the trainer's log lines, whichever submodule writes them: the module users
/// know (and filter by, e.g. `RUST_LOG=facemark_train::trainer=info`).
const LOG_TARGET: &str = module_path!();

/// The best model so far, in the output folder.
const MODEL_FILE: &str = "model.safetensors";
/// The last finished epoch, for `--resume`.
const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |error| TrainError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// What the epochs change, all of it kept in the checkpoint: the network, the optimiser, the
/// weight average and the run's progress.
struct TrainState {
    net: Network,
    adam: Adam,
    ema: Option<Ema>,
    progress: CheckpointMeta,
}

/// Train as configured. Runs on a rayon pool of `cfg.threads` threads.
pub fn train(cfg: &TrainConfig, opts: &RunOptions) -> Result<TrainSummary, TrainError> {
    train_with_observer(cfg, opts, &mut ())
}

/// [`train`], reporting progress to `observer`.
pub fn train_with_observer(
    cfg: &TrainConfig,
    opts: &RunOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary, TrainError> {
    cfg.validate()?;
    thread_pool(cfg)?.install(|| {
        let (samples, scheme) = load_data(cfg)?;
        train_inner(cfg, &samples, scheme, opts, observer)
    })
}

/// Train on samples already in memory (`cfg.data` is then only recorded in the metadata).
pub fn train_on(
    cfg: &TrainConfig,
    samples: &[facemark_core::Sample],
    scheme: Scheme,
    opts: &RunOptions,
) -> Result<TrainSummary, TrainError> {
    train_on_with_observer(cfg, samples, scheme, opts, &mut ())
}

/// [`train_on`], reporting progress to `observer`.
pub fn train_on_with_observer(
    cfg: &TrainConfig,
    samples: &[facemark_core::Sample],
    scheme: Scheme,
    opts: &RunOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary, TrainError> {
    thread_pool(cfg)?.install(|| train_inner(cfg, samples, scheme, opts, observer))
}

pub(crate) fn thread_pool(cfg: &TrainConfig) -> Result<rayon::ThreadPool, TrainError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| TrainError::Threads(e.to_string()))
}

/// A run, step by step.
fn train_inner(
    cfg: &TrainConfig,
    samples: &[facemark_core::Sample],
    scheme: Scheme,
    opts: &RunOptions,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary, TrainError> {
    cfg.validate()?;
    if cfg.arch.network().is_none() {
        return Err(ConfigError::Invalid {
            field: "arch",
            msg: "`ert` is not a network: train it with `facemark_train::ert::train_ert`".into(),
        }
        .into());
    }
    let out = &cfg.out;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let mut run = RunData::prepare(cfg, samples, scheme)?;
    let mut state = start(cfg, opts, &run)?;
    if !opts.no_feature_cache && features::applies(cfg, &state.net) {
        run.features = Some(features::compute(&run, &state.net));
    }
    output::write_config(out, cfg)?;
    let mut meta = output::model_meta(cfg, &run, &opts.created_by);
    let nme_norm = epoch::run_epochs(cfg, opts, &run, &mut state, &mut meta, observer)?;
    let progress = state.progress;
    Ok(TrainSummary {
        out: out.clone(),
        model_path: out.join(MODEL_FILE),
        best_epoch: progress.best_epoch,
        best_val_nme: progress.best_val_nme,
        nme_norm,
        n_train: run.n_train,
        n_val: run.n_val,
        stopped_early: progress.stopped_early,
        history: progress.history,
    })
}

/// The state the first epoch starts from: a resumed run's checkpoint; otherwise the new
/// network with `--init`'s weights, its head started at the mean shape (unless `--init`
/// copied the whole head), a fresh optimiser and the weight average starting from those
/// weights. `--freeze` applies to both.
fn start(cfg: &TrainConfig, opts: &RunOptions, run: &RunData) -> Result<TrainState, TrainError> {
    let mut net = run.arch.build(cfg.seed)?;
    let mut adam = Adam::new(AdamConfig {
        lr: cfg.lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
    });
    let mut ema = (cfg.ema_decay > 0.0).then(|| Ema::new(&net, cfg.ema_decay));
    let mut progress = CheckpointMeta::fresh(run.arch.clone());
    let mut head_transferred = false;
    if opts.resume {
        progress = checkpoint::resume(cfg, &cfg.out, &run.arch, &mut net, &mut adam, ema.as_mut())?;
    } else if let Some(init) = &cfg.init {
        head_transferred = init::transfer_from(init, &mut net, &run.arch)?;
    }
    if !opts.resume && !head_transferred {
        // start the head at the mean shape with small weights: the first steps then refine a
        // plausible face instead of pulling every point out of the crop centre
        let mean = data::mean_targets(&run.aug, &run.train, 2 * run.scheme.len());
        init::init_head(&mut net, &mean);
    }
    init::freeze(&mut net, &cfg.freeze)?;
    if !opts.resume {
        // the average starts from the weights actually trained (after `--init` and the head's
        // initialisation); a resumed run has its average from the checkpoint
        ema = ema.map(|e| Ema::new(&net, e.decay));
    }
    Ok(TrainState {
        net,
        adam,
        ema,
        progress,
    })
}
