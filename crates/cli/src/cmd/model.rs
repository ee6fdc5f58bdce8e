//! `facemark model`: what a model file holds, re-storing it (f16: half the size), and
//! attaching or removing the refinement cascade it carries.
//!
//! The work is done by `facemark_model` ([`KeypointModel`], [`facemark_model::st`]); this
//! module parses the arguments and prints.

use anyhow::{Context, Result};
use facemark_model::st::{self, Storage};
use facemark_model::KeypointModel;
use std::path::{Path, PathBuf};

/// `facemark model …` subcommands.
#[derive(clap::Subcommand)]
pub enum ModelCommand {
    /// What a facemark model file holds: architecture, head, scheme, input, crop, training
    /// data, epochs, validation metrics, parameters and how they are stored.
    Info {
        /// A facemark model (.safetensors).
        path: PathBuf,
        /// Print the file's whole metadata as JSON on stdout instead.
        #[arg(long)]
        json: bool,
    },
    /// Write a model again with its values stored as f32 or f16 (f16: half the file, each
    /// weight rounded to 11 significant bits; loading widens them back to f32), optionally
    /// with a refinement cascade attached or removed.
    Convert {
        /// The model to read.
        input: PathBuf,
        /// Where to write it (written whole or not at all; may be the input itself).
        output: PathBuf,
        /// How to store the values: f32 or f16 (a cascade's leaves too; its split indices and
        /// thresholds stay exact).
        #[arg(long, default_value = "f16")]
        storage: Storage,
        /// Attach this refinement cascade (`.dat`, trained by `facemark train --arch ert
        /// --init INPUT`): every command then runs it after the network, in one file.
        #[arg(long, value_name = "FILE.dat")]
        cascade: Option<PathBuf>,
        /// Remove the refinement cascade the model carries.
        #[arg(long, conflicts_with = "cascade")]
        no_cascade: bool,
        /// Store the cascade's leaves projected on each level's K principal directions: about
        /// 2n/K times smaller for n points, lossy like f16 (0: as they are; default: as the
        /// input stores them, or 0 with `--cascade`).
        #[arg(long, value_name = "K")]
        cascade_rank: Option<usize>,
    },
}

/// Runs a `facemark model` subcommand.
pub fn run(cmd: ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Info { path, json } => info(&path, json),
        ModelCommand::Convert {
            input,
            output,
            storage,
            cascade,
            no_cascade,
            cascade_rank,
        } => {
            super::check_folder(&output)?;
            let mut model = KeypointModel::load(&input)?;
            if no_cascade {
                model.set_cascade(None).map_err(anyhow::Error::msg)?;
            }
            if let Some(c) = &cascade {
                let sp = facemark::ert::ShapePredictor::load(c).context("--cascade")?;
                let note = format!("{} (facemark model convert --cascade)", c.display());
                model
                    .set_cascade(Some((sp, note)))
                    .map_err(|e| anyhow::anyhow!("--cascade {}: {e}", c.display()))?;
            }
            if let Some(k) = cascade_rank {
                let full = 2 * model.meta.n_points;
                if k >= full {
                    anyhow::bail!("--cascade-rank {k}: expected 0 to {} (the model places {} points: {full} values a leaf)", full - 1, model.meta.n_points);
                }
                model.cascade_leaf_rank = k;
            }
            model.save_as(&output, storage)?;
            let size = std::fs::metadata(&output)
                .with_context(|| format!("{}: written but cannot be read", output.display()))?
                .len();
            println!(
                "{} -> {} ({storage}, {:.2} MB)",
                input.display(),
                output.display(),
                size as f64 / 1e6
            );
            Ok(())
        }
    }
}

fn info(path: &Path, json: bool) -> Result<()> {
    let model = KeypointModel::load(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let file = st::read(&bytes, &path.display().to_string())?;
    let meta = &model.meta;
    if json {
        println!("{}", serde_json::to_string_pretty(meta)?);
        return Ok(());
    }
    let params: usize = model.net.params().iter().map(|p| p.value.len()).sum();
    let stored: Vec<&str> = file.stored_as.iter().map(|s| s.as_str()).collect();
    println!(
        "file:          {} ({:.2} MB)",
        path.display(),
        bytes.len() as f64 / 1e6
    );
    println!(
        "architecture:  {} (width {}, repeats {}, late width {}), head {}",
        meta.arch.kind,
        meta.arch.width,
        meta.arch.repeats,
        meta.arch.late_width,
        meta.arch.head.name()
    );
    println!("parameters:    {params} stored as {}", stored.join(", "));
    match model.cascade_meta() {
        Some(cm) => println!(
            "cascade:       {} levels × {} trees, run after the network{} (from {})",
            cm.levels,
            cm.trees / cm.levels.max(1),
            if cm.leaf_rank > 0 {
                format!(", leaves stored at rank {}", cm.leaf_rank)
            } else {
                String::new()
            },
            cm.source
        ),
        None => println!("cascade:       none (the network alone)"),
    }
    println!(
        "points:        {} ({} scheme)",
        meta.n_points, meta.scheme.name
    );
    println!(
        "input:         {0}×{0} {1}, {2}",
        meta.input_size, meta.colour, meta.normalisation
    );
    println!(
        "crop:          margin {} of the landmark box{}",
        meta.crop.margin,
        if meta.crop.align {
            ", aligned on points (a refiner)"
        } else {
            ""
        }
    );
    println!("epochs:        {}", meta.epochs);
    if !meta.metrics.is_empty() {
        let m: Vec<String> = meta
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {v:.5}"))
            .collect();
        println!("metrics:       {}", m.join(", "));
    }
    if !meta.training_data.is_empty() {
        println!("trained on:    {}", meta.training_data);
    }
    if !meta.created_by.is_empty() {
        println!("made by:       {}", meta.created_by);
    }
    Ok(())
}
