//! Training configuration: a TOML file, every field optional, overridable from the CLI.
//!
//! ```toml
//! data = ["../shared/data/youtube-faces-68/training_frames_keypoints.csv"]
//! out = "runs/mobile68"
//! arch = "mobile"          # seed001 | naimish | mobile | ert (dlib's shape predictor)
//! # input_size = 64        # default per architecture (224, 96, 64)
//! epochs = 40
//! batch_size = 32
//! lr = 0.001
//! schedule = "cosine"      # cosine | step | constant
//! loss = "mse"             # mse | l1 | wing
//! val_fraction = 0.15      # validation split by identity
//! patience = 10            # early stopping on validation NME (epochs without improvement)
//! seed = 1
//!
//! [augment]                # facemark_train::augment::AugmentConfig, fields optional
//! rotation_deg = 15.0
//!
//! [ert]                    # arch = "ert": dlib's shape_predictor_trainer options, same names
//! cascade_depth = 10       # and defaults (facemark_ert::train::TrainOptions)
//! ```

use crate::augment::AugmentConfig;
use facemark_formats::Fold;
use facemark_model::ArchKind;
use facemark_nn::LossKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Learning-rate schedule (per optimiser step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// `lr · (min_lr_factor + (1 − min_lr_factor)·(1 + cos(π·t/T))/2)` over all steps.
    Cosine,
    /// `lr · gamma^(epoch / step_epochs)`.
    Step,
    /// `lr` throughout (after any warm-up).
    Constant,
}

/// The model a config trains: one of facemark's networks, or dlib's ensemble of regression
/// trees (`ert`, trained by [`crate::ert`] into a `.dat` shape predictor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchName {
    /// [`ArchKind::Seed001`].
    Seed001,
    /// [`ArchKind::Naimish`].
    Naimish,
    /// [`ArchKind::Mobile`].
    Mobile,
    /// [`ArchKind::DlibResnet`] (implied by `init = "….dat"`).
    #[serde(rename = "dlib_resnet")]
    DlibResnet,
    /// [`ArchKind::Facenet`] (implied by `init = "….pt"` or `"….h5"`).
    Facenet,
    /// dlib's shape predictor (Kazemi & Sullivan's ERT), options in the `[ert]` table.
    Ert,
}

impl ArchName {
    /// The network, or `None` for `ert`.
    pub fn network(self) -> Option<ArchKind> {
        match self {
            ArchName::Seed001 => Some(ArchKind::Seed001),
            ArchName::Naimish => Some(ArchKind::Naimish),
            ArchName::Mobile => Some(ArchKind::Mobile),
            ArchName::DlibResnet => Some(ArchKind::DlibResnet),
            ArchName::Facenet => Some(ArchKind::Facenet),
            ArchName::Ert => None,
        }
    }
}

impl From<ArchKind> for ArchName {
    fn from(k: ArchKind) -> Self {
        match k {
            ArchKind::Seed001 => ArchName::Seed001,
            ArchKind::Naimish => ArchName::Naimish,
            ArchKind::Mobile => ArchName::Mobile,
            ArchKind::DlibResnet => ArchName::DlibResnet,
            ArchKind::Facenet => ArchName::Facenet,
        }
    }
}

impl std::str::FromStr for ArchName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("ert") {
            return Ok(ArchName::Ert);
        }
        s.parse::<ArchKind>().map(ArchName::from).map_err(|_| {
            format!("unknown architecture `{s}` (expected seed001, naimish, mobile, dlib_resnet, facenet or ert)")
        })
    }
}

impl std::fmt::Display for ArchName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.network() {
            Some(k) => k.fmt(f),
            None => f.write_str("ert"),
        }
    }
}

/// Loss name in configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossName {
    /// Mean squared error of the normalised coordinates: the smooth default.
    Mse,
    /// Mean absolute error: less pulled by the few badly labelled or occluded points.
    L1,
    /// Wing loss ([`LossKind::Wing`]): logarithmic for small errors, so they keep a gradient
    /// once most points are close; width and curvature from `wing_w` and `wing_epsilon`.
    Wing,
}

/// The landmark read-out a config asks for (`facemark_model::Head` without its data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadName {
    /// Regression of every coordinate from the flattened last feature map (any architecture).
    #[default]
    Dense,
    /// Pixel-in-pixel: a score, an offset and neighbour offsets per cell of the stride-16 map
    /// (mobile only).
    Pip,
    /// Soft-argmax of a heat map per point with offsets (mobile only).
    Integral,
}

impl std::str::FromStr for HeadName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dense" => Ok(HeadName::Dense),
            "pip" => Ok(HeadName::Pip),
            "integral" => Ok(HeadName::Integral),
            _ => Err(format!(
                "unknown head `{s}` (expected dense, pip or integral)"
            )),
        }
    }
}

/// Everything a training run needs. See the module docs for the TOML form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Data sets (any format `facemark_formats::load_any` reads); all with the same point count.
    /// Relative paths are relative to the working directory, not to the config file.
    pub data: Vec<PathBuf>,
    /// Output folder: `model.safetensors` (best), `checkpoint.safetensors`, `metrics.csv`,
    /// `loss.png`, `config.toml`.
    pub out: PathBuf,
    /// The network (`seed001`, `naimish`, `mobile`), or `ert` (dlib's shape predictor, options
    /// in `ert`); default `mobile`. Most other options (width, head, repeats, …) apply to
    /// `mobile` only; `ert` uses `data`, `out`, `val_fraction`, `fold`, `seed` (also its random
    /// seed), `threads`, `max_samples`, `scheme` and `ert`.
    pub arch: ArchName,
    /// Square input side in pixels (0 = the architecture's default).
    pub input_size: u32,
    /// Channel width multiplier (mobile).
    pub width: f32,
    /// Channel width multiplier of the last stage (mobile; 0 = `width`; `ArchConfig::late_width`).
    pub late_width: f32,
    /// Extra stride-1 blocks at the smallest maps (mobile; `ArchConfig::repeats`).
    pub repeats: usize,
    /// Hidden units of a dense layer (+ batch norm and ReLU) before the head (mobile; 0 = the
    /// head reads the flattened last map directly; `ArchConfig::head_hidden`).
    pub head_hidden: usize,
    /// Landmark read-out (mobile): `dense` (regression from the flattened last map), `pip`
    /// (pixel-in-pixel on the stride-16 map) or `integral` (soft-argmax with offsets on it);
    /// `facemark_model::Head`.
    pub head: HeadName,
    /// PIP: neighbours each point also predicts (nearest in the training mean shape).
    pub pip_neighbours: usize,
    /// Weigh each face's loss by 1 / the distance between the scheme's normalising pair
    /// (`Scheme::norm_pair`: the outer eye corners of the 68-point scheme), normalised to mean 1
    /// per batch, so training counts errors the way NME does: a profile face, whose eye
    /// corners are close, counts more. Faces without both points (or schemes without the
    /// pair) weigh 1.
    pub nme_weighted: bool,
    /// Polyak averaging: validate and save an exponential moving average of the weights (and
    /// batch-norm statistics), updated after every optimiser step with this decay (0 = off;
    /// e.g. 0.998: a time constant of 500 steps). Smooths the epoch-to-epoch jitter of the
    /// last weights; costs nothing at inference.
    pub ema_decay: f32,
    /// Landmark scheme name (`ibug68`, `kaggle15`, …); empty = the usual one for the point
    /// count of the data.
    pub scheme: String,
    /// Crop margin around the landmark box (fraction of its longer side), as at inference.
    pub crop_margin: f32,
    /// Train a refiner: roll-normalised crops made from the face's points
    /// (`CropSpec::align`), used after a first model at inference (`--refiner`). Its
    /// augmentation should then mimic the first model's errors (a few degrees, a few per cent).
    pub crop_align: bool,
    /// Passes over the training samples (at most; early stopping may end sooner); default 30,
    /// at least 1.
    pub epochs: usize,
    /// Samples per optimiser step; default 32, at least 2 (batch norm needs two samples).
    pub batch_size: usize,
    /// Peak learning rate of Adam, before the schedule and warm-up; default 1e-3, > 0.
    pub lr: f32,
    /// Adam's decay of the gradient's running mean; default 0.9, in [0, 1).
    pub beta1: f32,
    /// Adam's decay of the squared gradient's running mean; default 0.999, in [0, 1).
    pub beta2: f32,
    /// Adam's denominator guard; default 1e-8.
    pub eps: f32,
    /// Decoupled weight decay (AdamW); 0 = Adam.
    pub weight_decay: f32,
    /// How the learning rate changes over the run; default `cosine`.
    pub schedule: Schedule,
    /// Cosine: floor of the learning rate as a fraction of `lr`.
    pub min_lr_factor: f32,
    /// Linear warm-up from `lr/warmup_steps` to the schedule over the first optimiser steps
    /// (steadies Adam and batch norm at the start; 0 = none).
    pub warmup_steps: usize,
    /// Step schedule: epochs per decay.
    pub step_epochs: usize,
    /// Step schedule: decay factor.
    pub gamma: f32,
    /// The training loss on normalised coordinates ([-1, 1] about the crop centre); default `mse`.
    pub loss: LossName,
    /// Wing loss: width of the logarithmic region, in normalised units; default 0.05.
    pub wing_w: f32,
    /// Wing loss: curvature of the logarithmic region, in normalised units; default 0.01.
    pub wing_epsilon: f32,
    /// Fraction of the samples held out for validation, split by identity.
    pub val_fraction: f32,
    /// Cross-validation: hold this fold (`"K/N"`, by identity) out of training and validation
    /// entirely, to be evaluated afterwards with `facemark eval --fold K/N --split test`.
    #[serde(with = "fold_text", skip_serializing_if = "Option::is_none")]
    pub fold: Option<Fold>,
    /// Early stopping: epochs without a better validation NME (0 = never stop early).
    pub patience: usize,
    /// Seed of every random choice (split, shuffling, augmentation, initial weights): the same
    /// seed, data and thread count give the same model. Default 1.
    pub seed: u64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Start from this model's weights (copied by name where shapes agree), or from a
    /// pretrained backbone by file kind (`.dat`: dlib's face-recognition ResNet, which implies
    /// `arch = "dlib_resnet"`; `.pt`/`.pth` facenet-pytorch's or `.h5` Keras' FaceNet, which
    /// imply `arch = "facenet"`; `trainer::InitKind`).
    pub init: Option<PathBuf>,
    /// Parameters to keep fixed: prefixes (`conv1`) or globs (`pw*`, `*.bias`); `!PAT` for
    /// an exception (`["*", "!head."]`: all but the head).
    pub freeze: Vec<String>,
    /// Use at most this many samples (0 = all): quick runs and smoke tests.
    pub max_samples: usize,
    /// Landmark-aware augmentation of the training crops (`[augment]` table; validation crops
    /// are never augmented).
    pub augment: AugmentConfig,
    /// `arch = "ert"`: dlib's `shape_predictor_trainer` options, with dlib's names and defaults
    /// (`[ert]` table; its random seed is `seed`).
    pub ert: facemark_ert::train::TrainOptions,
    /// `arch = "ert"` with `init` (a refinement cascade): how far the training copies after
    /// the first move and scale the landmark box the start model is run on, up to this
    /// fraction of the box's side (uniform, in x, y and scale); default 0.05, in [0, 0.5).
    pub ert_box_jitter: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: Vec::new(),
            out: PathBuf::from("runs/train"),
            arch: ArchName::Mobile,
            input_size: 0,
            width: 1.0,
            late_width: 0.0,
            repeats: 0,
            head_hidden: 0,
            head: HeadName::Dense,
            pip_neighbours: 10,
            nme_weighted: false,
            ema_decay: 0.0,
            scheme: String::new(),
            crop_margin: facemark_core::CropSpec::default().margin,
            crop_align: false,
            epochs: 30,
            batch_size: 32,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            schedule: Schedule::Cosine,
            min_lr_factor: 0.02,
            warmup_steps: 0,
            step_epochs: 10,
            gamma: 0.3,
            loss: LossName::Mse,
            wing_w: 0.05,
            wing_epsilon: 0.01,
            val_fraction: 0.15,
            fold: None,
            patience: 10,
            seed: 1,
            threads: 0,
            init: None,
            freeze: Vec::new(),
            max_samples: 0,
            augment: AugmentConfig::default(),
            ert: facemark_ert::train::TrainOptions::default(),
            ert_box_jitter: 0.05,
        }
    }
}

/// `fold = "2/5"` in TOML.
mod fold_text {
    use facemark_formats::Fold;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(f: &Option<Fold>, s: S) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.serialize_str(&f.to_string()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Fold>, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// Errors in a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The config file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown field or a value of the wrong type.
    #[error("{path}: {msg}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's message (with line and column).
        msg: String,
    },
    /// A field's value is out of its valid range ([`TrainConfig::validate`]).
    #[error("config field `{field}`: {msg}")]
    Invalid {
        /// The field's name as written in TOML.
        field: &'static str,
        /// The valid range or why the value does not fit the other options.
        msg: String,
    },
}

impl TrainConfig {
    /// Read a TOML config (unknown fields are errors, to catch typos).
    pub fn load(path: &Path) -> Result<TrainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|msg| ConfigError::Parse {
            path: path.to_path_buf(),
            msg,
        })
    }
    /// Parse a config from TOML text; fields left out take their defaults, unknown fields are
    /// errors. Values are not range-checked: call [`TrainConfig::validate`].
    pub fn from_toml(text: &str) -> Result<TrainConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
    /// Every field as TOML (what a run saves as `config.toml`); [`TrainConfig::from_toml`]
    /// reads it back to an equal config.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }
    /// The loss as the engine knows it.
    pub fn loss_kind(&self) -> LossKind {
        match self.loss {
            LossName::Mse => LossKind::Mse,
            LossName::L1 => LossKind::L1,
            LossName::Wing => LossKind::Wing {
                w: self.wing_w,
                epsilon: self.wing_epsilon,
            },
        }
    }
    /// Check values that would make training meaningless.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, msg: &str| {
            Err(ConfigError::Invalid {
                field,
                msg: msg.to_string(),
            })
        };
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.batch_size < 2 {
            return bad(
                "batch_size",
                "must be at least 2 (batch norm needs two samples)",
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad("beta1/beta2", "must be in [0, 1)");
        }
        if facemark_core::limits::check_val_fraction(self.val_fraction).is_err() {
            return bad("val_fraction", "must be in [0, 0.9)");
        }
        if !(self.crop_margin.is_finite() && self.crop_margin >= 0.0) {
            return bad("crop_margin", "must be ≥ 0");
        }
        if !(self.width > 0.0 && self.width <= 8.0) {
            return bad("width", "must be in (0, 8]");
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return bad("ema_decay", "must be in [0, 1) (0 = off)");
        }
        if self.arch != ArchName::Mobile && (self.head_hidden > 0 || self.late_width > 0.0) {
            return bad(
                if self.head_hidden > 0 {
                    "head_hidden"
                } else {
                    "late_width"
                },
                "is an option of the mobile architecture only",
            );
        }
        if !(self.late_width >= 0.0 && self.late_width <= 8.0) {
            return bad("late_width", "must be in [0, 8] (0 = width)");
        }
        if self.head_hidden > 4096 {
            return bad("head_hidden", "must be at most 4096");
        }
        if self.head != HeadName::Dense && self.arch != ArchName::Mobile {
            return bad(
                "head",
                "pip and integral heads need the mobile architecture",
            );
        }
        if self.head != HeadName::Dense && self.head_hidden > 0 {
            return bad("head_hidden", "is an option of the dense head only");
        }
        if self.head == HeadName::Pip && !(1..=32).contains(&self.pip_neighbours) {
            return bad("pip_neighbours", "must be in 1..=32");
        }
        if self.repeats > 8 {
            return bad("repeats", "must be at most 8");
        }
        if self.arch == ArchName::Ert {
            self.ert
                .validate()
                .map_err(|msg| ConfigError::Invalid { field: "ert", msg })?;
            if !(0.0..0.5).contains(&self.ert_box_jitter) {
                return bad("ert_box_jitter", "must be in [0, 0.5)");
            }
        }
        Ok(())
    }
    /// Learning rate at optimiser step `step` of `total` (epoch `epoch`).
    pub fn lr_at(&self, step: usize, total: usize, epoch: usize) -> f32 {
        let warm = if step < self.warmup_steps {
            (step + 1) as f32 / self.warmup_steps as f32
        } else {
            1.0
        };
        warm * match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step => self.lr * self.gamma.powi((epoch / self.step_epochs.max(1)) as i32),
            Schedule::Cosine => {
                let t = step as f32 / total.max(1) as f32;
                let c = 0.5 * (1.0 + (std::f32::consts::PI * t.min(1.0)).cos());
                self.lr * (self.min_lr_factor + (1.0 - self.min_lr_factor) * c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_fields_are_optional_and_typos_are_errors() {
        let c =
            TrainConfig::from_toml("arch = \"naimish\"\nepochs = 3\n[augment]\nflip_prob = 0.0\n")
                .unwrap();
        assert_eq!(c.arch, ArchName::Naimish);
        let e = TrainConfig::from_toml("arch = \"ert\"\n[ert]\ntree_depth = 3\n").unwrap();
        assert_eq!(
            (e.arch, e.ert.tree_depth, e.ert.nu),
            (ArchName::Ert, 3, 0.1)
        );
        assert_eq!(TrainConfig::from_toml(&e.to_toml()).unwrap(), e);
        let bad = TrainConfig::from_toml("arch = \"ert\"\n[ert]\nnu = 2.0\n").unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("nu"));
        let j = TrainConfig::from_toml("arch = \"ert\"\nert_box_jitter = 0.15\n").unwrap();
        assert_eq!(j.ert_box_jitter, 0.15);
        j.validate().unwrap();
        let bad = TrainConfig::from_toml("arch = \"ert\"\nert_box_jitter = 0.5\n").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("ert_box_jitter"));
        let r = TrainConfig::from_toml("[ert]\nrandom_seed = 3\n");
        assert!(r.is_err(), "{r:?}");
        assert_eq!(c.epochs, 3);
        assert_eq!(c.augment.flip_prob, 0.0);
        assert_eq!(c.batch_size, TrainConfig::default().batch_size);
        assert!(TrainConfig::from_toml("epochz = 3").is_err());
        let f = TrainConfig::from_toml("fold = \"2/5\"").unwrap();
        assert_eq!(f.fold, Fold::new(2, 5));
        assert_eq!(TrainConfig::from_toml(&f.to_toml()).unwrap(), f);
        let e = TrainConfig::from_toml("fold = \"6/5\"").unwrap_err();
        assert!(e.contains("K/N"), "{e}");
        assert!(TrainConfig::from_toml("arch = \"resnet\"").is_err());
        let back = TrainConfig::from_toml(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn the_new_training_options_are_checked() {
        let ok = |t: &str| TrainConfig::from_toml(t).unwrap().validate();
        assert!(
            ok("head_hidden = 64\nlate_width = 2.0\nema_decay = 0.998\nnme_weighted = true")
                .is_ok()
        );
        for (t, field) in [
            ("ema_decay = 1.0", "ema_decay"),
            ("ema_decay = -0.5", "ema_decay"),
            ("late_width = -1.0", "late_width"),
            ("head_hidden = 5000", "head_hidden"),
            ("arch = \"naimish\"\nhead = \"pip\"", "head"),
            ("head = \"pip\"\nhead_hidden = 64", "head_hidden"),
            ("head = \"pip\"\npip_neighbours = 0", "pip_neighbours"),
            ("arch = \"naimish\"\nhead_hidden = 64", "head_hidden"),
            ("arch = \"seed001\"\nlate_width = 2.0", "late_width"),
        ] {
            let e = ok(t).unwrap_err().to_string();
            assert!(e.contains(field), "{t}: {e}");
        }
    }

    #[test]
    fn schedules() {
        let mut c = TrainConfig {
            lr: 1.0,
            min_lr_factor: 0.0,
            ..TrainConfig::default()
        };
        assert!((c.lr_at(0, 100, 0) - 1.0).abs() < 1e-6);
        assert!((c.lr_at(50, 100, 0) - 0.5).abs() < 1e-6);
        assert!(c.lr_at(100, 100, 9).abs() < 1e-6);
        c.schedule = Schedule::Step;
        c.step_epochs = 2;
        c.gamma = 0.5;
        assert_eq!(c.lr_at(0, 100, 3), 0.5);
        c.warmup_steps = 4;
        assert_eq!(c.lr_at(0, 100, 0), 0.25);
        c.batch_size = 1;
        assert!(c.validate().is_err());
    }
}
