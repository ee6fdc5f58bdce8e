//! `facemark kaggle`: predict a Kaggle Facial Keypoints `test.csv` and write the submission
//! through `IdLookupTable.csv`; optionally score it against known answers, or make
//! Kaggle-format test files from a held-out split of a `training.csv`.

use anyhow::Context;
use facemark_model::KeypointModel;
use facemark_train::config::TrainConfig;
use facemark_train::kaggle;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model file predicting the 15 Kaggle points (e.g. trained on `training.csv`).
    #[arg(long, required_unless_present = "make_test")]
    pub model: Option<PathBuf>,
    /// Kaggle `test.csv` (`ImageId,Image`), bare or zipped.
    #[arg(long, required_unless_present = "make_test")]
    pub test: Option<PathBuf>,
    /// `IdLookupTable.csv` (`RowId,ImageId,FeatureName,Location`), bare or zipped.
    #[arg(long, required_unless_present = "make_test")]
    pub lookup: Option<PathBuf>,
    /// Submission file to write (`RowId,Location`, values clipped to [0, 96]).
    #[arg(long, short, default_value = "submission.csv")]
    pub out: PathBuf,
    /// First face box: the mean landmark box of this annotated Kaggle file (e.g. the
    /// training.csv the model was trained on); default: the whole 96×96 image.
    #[arg(long)]
    pub box_from: Option<PathBuf>,
    /// Faces of `--box-from` to average: `all`, or `train` (the trainer's identity split with
    /// `--val-fraction` and `--seed`, leaving out the validation faces).
    #[arg(long, default_value = "all")]
    pub box_split: String,
    /// Re-predict this many times from the box around the previous prediction.
    #[arg(long, default_value_t = 1, value_parser = facemark_core::limits::parse_refine)]
    pub refine: usize,
    /// Known answers for the test faces (`training.csv` layout, in ImageId order, e.g. the
    /// `truth.csv` of `--make-test`): print the Kaggle RMSE of the submission.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Instead of predicting: write `test.csv`, `IdLookupTable.csv` and `truth.csv` into this
    /// folder from the faces of `--data` (the `--split` of the trainer's identity split).
    #[arg(long)]
    pub make_test: Option<PathBuf>,
    /// Kaggle `training.csv`/`.zip` for `--make-test`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// For `--make-test`: `val` (default; the trainer's validation faces), `train` or `all`.
    #[arg(long, default_value = "val")]
    pub split: String,
    /// Validation fraction of the identity split (the trainer's default).
    #[arg(long, default_value_t = TrainConfig::default().val_fraction,
          value_parser = facemark_core::limits::parse_val_fraction)]
    pub val_fraction: f32,
    /// Seed of the identity split (the trainer's default).
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(dir) = &args.make_test {
        let data = args
            .data
            .as_ref()
            .context("--make-test needs --data training.csv")?;
        let cfg = TrainConfig {
            data: vec![data.clone()],
            ..TrainConfig::default()
        };
        let (samples, scheme) = facemark_train::trainer::load_data(&cfg).context("loading data")?;
        anyhow::ensure!(
            scheme.len() == 15,
            "{} has {} points per face; Kaggle test files need the 15 Kaggle points",
            data.display(),
            scheme.len()
        );
        let picked: Vec<_> = match args.split.as_str() {
            "all" => samples,
            "val" | "train" => {
                let (train, val) =
                    facemark_formats::split_by_identity(&samples, args.val_fraction, args.seed);
                let idx = if args.split == "val" { val } else { train };
                idx.into_iter().map(|i| samples[i].clone()).collect()
            }
            s => anyhow::bail!("--split: expected all, val or train, got `{s}`"),
        };
        anyhow::ensure!(!picked.is_empty(), "no faces in the {} split", args.split);
        let paths = kaggle::write_test_set(&picked, dir)?;
        println!(
            "{} test faces: {}, {}, {}",
            picked.len(),
            paths[0].display(),
            paths[1].display(),
            paths[2].display()
        );
        return Ok(());
    }
    let (Some(model), Some(test), Some(lookup)) = (&args.model, &args.test, &args.lookup) else {
        anyhow::bail!("--model, --test and --lookup are required");
    };
    // the model's errors name the file
    let lm = KeypointModel::load(model).context("--model")?;
    lm.require_box_model()
        .with_context(|| model.display().to_string())?;
    let start = match &args.box_from {
        Some(p) => {
            let all = facemark_formats::load_any(p)
                .with_context(|| format!("reading {}", p.display()))?;
            let faces = match args.box_split.as_str() {
                "all" => all,
                "train" => {
                    let (train, _) =
                        facemark_formats::split_by_identity(&all, args.val_fraction, args.seed);
                    train.into_iter().map(|i| all[i].clone()).collect()
                }
                s => anyhow::bail!("--box-split: expected all or train, got `{s}`"),
            };
            let b = kaggle::mean_landmark_box(&faces)
                .with_context(|| format!("{}: no face with visible points", p.display()))?;
            eprintln!(
                "first box: mean landmark box of {} faces: x {:.1} y {:.1} w {:.1} h {:.1}",
                faces.len(),
                b.x,
                b.y,
                b.w,
                b.h
            );
            kaggle::TestBox::Fixed(b)
        }
        None => {
            eprintln!(
                "note: first box = the whole image; a model trained on landmark-box crops does \
                 better with --box-from training.csv (its mean landmark box)"
            );
            kaggle::TestBox::WholeImage
        }
    };
    let opts = kaggle::PredictOptions {
        start,
        refine: args.refine,
    };
    let t0 = std::time::Instant::now();
    let s = kaggle::write_submission(&lm, test, lookup, &args.out, &opts)?;
    println!(
        "{} test faces, {} submission rows → {} ({:.1} s)",
        s.test_faces,
        s.rows,
        args.out.display(),
        t0.elapsed().as_secs_f32()
    );
    if let Some(truth) = &args.truth {
        let truth_faces = facemark_formats::kaggle::read(truth)?;
        let lookup_rows = facemark_formats::kaggle::read_id_lookup(lookup)?;
        let text = std::fs::read_to_string(&args.out)
            .with_context(|| format!("reading {}", args.out.display()))?;
        let sub = kaggle::parse_submission(&text, &args.out)?;
        let sq = kaggle::score_submission(&sub, &lookup_rows, &truth_faces);
        match sq.rmse() {
            Some(r) => println!(
                "Kaggle RMSE {r:.4} px over {} coordinates (truth {})",
                sq.count,
                truth.display()
            ),
            None => println!(
                "no submission row has a known answer in {}",
                truth.display()
            ),
        }
    }
    Ok(())
}
