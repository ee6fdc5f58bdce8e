//! `facemark train`: train a keypoint model from a TOML config, with flag overrides.

use anyhow::Context;
use facemark_train::config::{ArchName, TrainConfig};
use facemark_train::trainer::{
    train, train_with_observer, EpochRecord, RunOptions, StepInfo, TrainObserver,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// TOML config (see `facemark_train::config`); flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data set(s): YouTube-Faces CSV, Kaggle training.csv/.zip, 300-W folder, imglab XML, …
    /// Repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub data: Vec<PathBuf>,
    /// Architecture: seed001, naimish, mobile, dlib_resnet or facenet (networks; the last two
    /// implied by `--init FILE.dat` / `FILE.pt|FILE.h5`), or ert (dlib's shape predictor:
    /// writes OUT/model.dat; options below and in the config's `[ert]` table).
    #[arg(long)]
    pub arch: Option<ArchName>,
    /// Landmark read-out (mobile): dense (regression), pip (pixel-in-pixel) or integral
    /// (soft-argmax with offsets).
    #[arg(long)]
    pub head: Option<facemark_train::config::HeadName>,
    /// Network input side in pixels (default per architecture: 224, 96, 64).
    #[arg(long)]
    pub input_size: Option<u32>,
    /// Passes over the training faces, at most (early stopping may end sooner; default 30).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Faces per optimiser step, at least 2 (default 32).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate of Adam, before the schedule (default 0.001).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Output folder (model.safetensors, checkpoint, metrics.csv, loss.png).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Continue from OUT/checkpoint.safetensors.
    #[arg(long)]
    pub resume: bool,
    /// Start from a trained model's weights (by name; a new head if the point count differs),
    /// or from dlib's face-recognition ResNet (`…resnet_model_v1.dat`: arch dlib_resnet), or
    /// from FaceNet (facenet-pytorch `FILE.pt`, keras-facenet `FILE.h5`: arch facenet).
    /// With `--arch ert`: train a refinement cascade that starts from this facemark model's
    /// points (run it with `--refiner OUT/model.dat`).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Keep matching parameters fixed: prefix (`conv1`) or glob (`pw*`), `!PAT` for an
    /// exception (`'*,!head.'`); repeat or commas.
    #[arg(long, value_delimiter = ',')]
    pub freeze: Vec<String>,
    /// Seed of the split, shuffling, augmentation and initial weights (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Use at most N faces (quick runs).
    #[arg(long)]
    pub max_samples: Option<usize>,
    /// Cross-validation: hold fold K of N (by identity) out of training and validation, e.g.
    /// `--fold 2/5`; evaluate it afterwards with `facemark eval --fold 2/5 --split test`.
    #[arg(long)]
    pub fold: Option<facemark_formats::Fold>,
    /// Early-stopping patience in epochs (0 = off).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Loss: mse, l1 or wing.
    #[arg(long)]
    pub loss: Option<String>,
    /// Landmark scheme name (default: from the point count).
    #[arg(long)]
    pub scheme: Option<String>,
    /// Where the large matrix products run: `cpu`, or `cuda` / `cuda:N` in a build with
    /// `--features cuda` (everything else stays on the CPU threads).
    #[arg(long, default_value = "cpu")]
    pub device: facemark_nn::Device,
    /// No progress bar (one line per epoch on stderr instead).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub ert: ErtArgs,
}

/// dlib's `shape_predictor_trainer` options for `--arch ert`, dlib's names (defaults: dlib's,
/// or the config's `[ert]` table).
#[derive(clap::Args)]
#[command(next_help_heading = "ERT options (--arch ert; dlib's names and defaults)")]
pub struct ErtArgs {
    /// Levels of the cascade (dlib: 10).
    #[arg(long)]
    pub cascade_depth: Option<usize>,
    /// Depth of each tree (dlib: 4).
    #[arg(long)]
    pub tree_depth: Option<usize>,
    /// Trees per cascade level (dlib: 500).
    #[arg(long)]
    pub num_trees_per_cascade_level: Option<usize>,
    /// Shrinkage of each tree's step, in (0, 1] (dlib: 0.1).
    #[arg(long)]
    pub nu: Option<f64>,
    /// Starting shapes per training face (dlib: 20).
    #[arg(long)]
    pub oversampling_amount: Option<usize>,
    /// Random shift of the starting shapes, in face-rectangle widths (dlib: 0).
    #[arg(long)]
    pub oversampling_translation_jitter: Option<f64>,
    /// Feature pixels per level (dlib: 400).
    #[arg(long)]
    pub feature_pool_size: Option<usize>,
    /// Prior on split pixel pairs: exp(−distance / lambda) (dlib: 0.1).
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Random splits tried per node (dlib: 20).
    #[arg(long)]
    pub num_test_splits: Option<usize>,
    /// Growth of the feature pixels' region, in face-rectangle units (dlib: 0).
    #[arg(long)]
    pub feature_pool_region_padding: Option<f64>,
    /// With --init (a refinement cascade): how far the training copies move and scale the
    /// box the start model runs on, as a fraction of its side (config `ert_box_jitter`,
    /// default 0.05; not a dlib option).
    #[arg(long)]
    pub box_jitter: Option<f32>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => TrainConfig::load(p)?,
        None => TrainConfig::default(),
    };
    if !args.data.is_empty() {
        cfg.data = args.data.clone();
    }
    if let Some(a) = args.arch {
        cfg.arch = a;
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = args.$f.clone() { cfg.$f = v; } )* };
    }
    set!(
        head,
        input_size,
        epochs,
        batch_size,
        lr,
        out,
        seed,
        threads,
        max_samples,
        patience,
        scheme
    );
    if args.fold.is_some() {
        cfg.fold = args.fold;
    }
    if args.init.is_some() {
        cfg.init = args.init.clone();
    }
    if !args.freeze.is_empty() {
        cfg.freeze = args.freeze.clone();
    }
    let e = &args.ert;
    macro_rules! set_ert {
        ($($f:ident),*) => { $( if let Some(v) = e.$f { cfg.ert.$f = v; } )* };
    }
    set_ert!(
        cascade_depth,
        tree_depth,
        num_trees_per_cascade_level,
        nu,
        oversampling_amount,
        oversampling_translation_jitter,
        feature_pool_size,
        lambda,
        num_test_splits,
        feature_pool_region_padding
    );
    if let Some(j) = e.box_jitter {
        cfg.ert_box_jitter = j;
    }
    if let Some(l) = &args.loss {
        cfg.loss = TrainConfig::from_toml(&format!("loss = \"{}\"", l.to_ascii_lowercase()))
            .map_err(|_| anyhow::anyhow!("--loss: expected mse, l1 or wing, got `{l}`"))?
            .loss;
    }
    let device = facemark_nn::set_device(args.device).context("--device")?;
    if args.device != facemark_nn::Device::Cpu {
        eprintln!(
            "matrix products of ≥ {} multiply-adds on {device}",
            facemark_nn::device::GPU_MIN_MACS
        );
    }
    let created_by = std::iter::once("facemark".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let opts = RunOptions {
        resume: args.resume,
        created_by,
        stop_after: None,
        ..RunOptions::default()
    };
    let progress = !args.quiet && std::io::stderr().is_terminal();
    if cfg.arch == ArchName::Ert {
        return run_ert(&cfg, progress);
    }
    let quiet_lines = !progress;
    if quiet_lines {
        eprintln!(
            "training {} on {} for {} epochs → {}",
            // a pretrained backbone (`--init FILE.dat|.pt|.h5`) brings its own architecture
            cfg.init
                .as_deref()
                .and_then(|p| facemark_train::trainer::InitKind::of(p).arch())
                .map(ArchName::from)
                .unwrap_or(cfg.arch),
            cfg.data
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            cfg.epochs,
            cfg.out.display()
        );
    }
    let s = if progress {
        train_with_observer(&cfg, &opts, &mut Bar::default())
    } else {
        train(&cfg, &opts)
    }
    .context("training failed")?;
    if quiet_lines {
        for r in &s.history {
            eprintln!(
                "epoch {}: train loss {:.5}, val loss {:.5}, val NME {:.4}, {:.0} samples/s",
                r.epoch, r.train_loss, r.val_loss, r.val_nme, r.samples_per_s
            );
        }
    }
    println!(
        "best model: {} (epoch {}, validation NME {:.4} [{}], {} train / {} validation faces){}",
        s.model_path.display(),
        s.best_epoch,
        s.best_val_nme,
        s.nme_norm,
        s.n_train,
        s.n_val,
        if s.stopped_early {
            ", stopped early"
        } else {
            ""
        }
    );
    Ok(())
}

/// `--arch ert`: a dlib shape predictor, its validation figures on stdout.
fn run_ert(cfg: &TrainConfig, progress: bool) -> anyhow::Result<()> {
    if !progress {
        eprintln!(
            "training a dlib shape predictor on {} ({} levels × {} trees) → {}",
            cfg.data
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            cfg.ert.cascade_depth,
            cfg.ert.num_trees_per_cascade_level,
            cfg.out.display()
        );
    }
    let s = facemark_train::ert::train_ert(cfg, progress).context("training failed")?;
    let val = match s
        .val
        .as_ref()
        .and_then(|r| r.nme_outer.as_ref().map(|n| (r, n)))
    {
        Some((r, n)) => format!(
            ", validation NME {:.4} (outer-eye, mean over {} faces)",
            n.mean, r.n_faces
        ),
        None => String::new(),
    };
    println!(
        "shape predictor: {} ({:.1} MB; {} train / {} validation faces; {:.0} s of training){val}",
        s.model_path.display(),
        s.model_bytes as f64 / 1e6,
        s.n_train,
        s.n_val,
        s.train_secs
    );
    if let Some(n) = s.start_val.as_ref().and_then(|r| r.nme_outer.as_ref()) {
        println!(
            "start model alone ({}): validation NME {:.4} on the same faces",
            cfg.init
                .as_deref()
                .unwrap_or_else(|| "?".as_ref())
                .display(),
            n.mean
        );
    }
    Ok(())
}

/// The progress bar of an epoch's steps on stderr, and the epoch's line once it is validated.
#[derive(Default)]
struct Bar {
    bar: Option<ProgressBar>,
}

impl TrainObserver for Bar {
    fn epoch_start(&mut self, epoch: usize, total_epochs: usize, steps: usize) {
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}/{total_epochs}"));
        self.bar = Some(bar);
    }

    fn step(&mut self, info: &StepInfo) {
        let Some(bar) = &self.bar else { return };
        bar.set_message(format!(
            "loss {:.5} {:.0} samples/s",
            info.mean_loss, info.samples_per_s
        ));
        bar.inc(1);
        if info.step == info.steps {
            // the steps are done: no bar while validating
            bar.finish_and_clear();
        }
    }

    fn epoch_end(&mut self, record: &EpochRecord, total_epochs: usize) {
        if let Some(bar) = self.bar.take() {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
        eprintln!("{}", record.summary(total_epochs));
    }
}
