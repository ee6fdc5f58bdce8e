//! One module per subcommand.
pub mod calibrate;
pub mod compare;
pub mod data;
pub mod detect;
pub mod embed;
pub mod eval;
pub mod faces;
pub mod filter;
pub mod kaggle;
pub mod model;
pub mod train;

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The photo at `path` as every command reads it ([`facemark_core::photo::open_image`]: by
/// content, not extension, upright), the error naming the file in the words of
/// [`facemark_core::photo::describe_error`].
pub(crate) fn open_photo(path: &Path) -> anyhow::Result<image::DynamicImage> {
    facemark_core::photo::open_image(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            path.display(),
            facemark_core::photo::describe_error(&e)
        )
    })
}

/// Checks, before any work, that a picture can be written at `path`: its extension names an
/// image type facemark writes (png, jpg, webp, bmp, tif, ppm/pgm, gif) and its folder exists.
pub(crate) fn check_image_output(path: &Path) -> anyhow::Result<()> {
    let writable = image::ImageFormat::from_path(path).is_ok_and(|f| f.writing_enabled());
    anyhow::ensure!(
        writable,
        "{}: cannot write a picture of this type; name it .png, .jpg, .webp, .bmp, .tif, .ppm or .gif",
        path.display()
    );
    check_folder(path)
}

/// Checks, before any work, that the folder that would hold the file `path` exists.
pub(crate) fn check_folder(path: &Path) -> anyhow::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => anyhow::bail!(
            "{}: the folder {} does not exist",
            path.display(),
            dir.display()
        ),
        _ => Ok(()),
    }
}

/// Refuses inputs whose output files would have the same name in the folder `out`, before any
/// work: the outputs are named after each input's file stem (`shown` is the names' pattern
/// with `STEM` in it, for the message), so `a/x.jpg` and `b/x.jpg`, or `x.jpg` and `x.png`,
/// would overwrite each other's results. Stems are compared ignoring case (case-insensitive
/// file systems would merge them too); the same file named twice counts once.
///
/// Returns the inputs without repeats, in their order.
pub(crate) fn distinct_outputs(
    inputs: Vec<PathBuf>,
    out: &Path,
    shown: &str,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut seen: std::collections::HashMap<String, (PathBuf, PathBuf)> = Default::default();
    let mut kept = Vec::with_capacity(inputs.len());
    for p in inputs {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let real = p.canonicalize().unwrap_or_else(|_| p.clone());
        match seen.get(&stem.to_lowercase()) {
            Some((_, r)) if *r == real => continue,
            Some((first, _)) => anyhow::bail!(
                "{} and {} would write the same files ({}) in {}: rename one, or run them \
                 separately with different --out folders",
                first.display(),
                p.display(),
                shown.replace("STEM", &stem),
                out.display()
            ),
            None => {
                seen.insert(stem.to_lowercase(), (p.clone(), real));
                kept.push(p);
            }
        }
    }
    Ok(kept)
}

/// Landmark-model options shared by `detect`, `filter` and `eval`.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelOpts {
    /// Refiner model file (trained with `crop_align`) that refinement passes run (photos; one
    /// pass unless `--refine` says otherwise); without it they run the model again on the box
    /// around its last points. A `.dat` file is a refinement cascade (`facemark train --arch
    /// ert --init MODEL`), run once from the model's final points instead of the cascade the
    /// model carries.
    #[arg(long)]
    pub refiner: Option<PathBuf>,
    /// Run the model's network alone, without the refinement cascade it carries (the default
    /// model's: regression trees trained from its points, lower error for about 0.02 ms per
    /// face; `facemark model info` tells whether a model has one).
    #[arg(long, conflicts_with = "refiner")]
    pub no_cascade: bool,
    /// Inference arithmetic: `auto` (int8 where the CPU has AVX-512 VNNI, else f32), `f32`, or
    /// `int8` (its int8 layers give the same bits with or without VNNI; slow without). README
    /// "int8 inference" has the figures.
    #[arg(long, default_value = "auto")]
    pub precision: facemark_model::Precision,
    /// Scheme of a dlib shape predictor's points (`--model FILE.dat`): ibug68, dlib5, five,
    /// helen194, kaggle15 or n<N> [default: by point count: 68 → ibug68, 5 → dlib5 (dlib's
    /// eye corners and nose), 194 → helen194].
    #[arg(long)]
    pub scheme: Option<String>,
}

impl ModelOpts {
    /// Refinement passes: `refine` when given, else one with a refiner model and none without
    /// (a refinement cascade runs once whatever the passes).
    pub fn passes(&self, refine: Option<usize>) -> usize {
        refine.unwrap_or(usize::from(self.refiner_model().is_some()))
    }

    /// `--refiner` when it is a refiner model (not a `.dat` cascade).
    fn refiner_model(&self) -> Option<&std::path::Path> {
        self.refiner.as_deref().filter(|p| !is_dlib_model(p))
    }

    /// Set `model`'s refinement cascade as the flags say: none with `--no-cascade`, the
    /// `--refiner` file when it is a `.dat`, else the one the model carries (if any).
    pub fn set_cascade(&self, model: &mut facemark_model::KeypointModel) -> anyhow::Result<()> {
        if self.no_cascade {
            model.cascade = None;
            return Ok(());
        }
        if let Some(p) = self.refiner.as_deref().filter(|p| is_dlib_model(p)) {
            let sp = facemark::ert::ShapePredictor::load(p).context("--refiner")?;
            model
                .set_cascade(Some((sp, p.display().to_string())))
                .map_err(|e| anyhow::anyhow!("--refiner {}: {e}", p.display()))?;
        }
        Ok(())
    }

    /// The `--refiner` file when it is a refiner model, loaded to run in `--precision`; `None`
    /// without one or when it is a cascade ([`ModelOpts::load_cascade`]).
    pub fn load_refiner(&self) -> anyhow::Result<Option<facemark_model::KeypointModel>> {
        self.refiner_model()
            .map(|p| {
                facemark_model::KeypointModel::load(p)
                    .context("--refiner")
                    .map(|m| m.with_precision(self.precision))
            })
            .transpose()
    }

    /// The dlib shape predictor `path` (a `.dat` file), its points named by `--scheme` when
    /// given. Refuses `--refiner`, which refines facemark models only.
    pub fn load_shape_predictor(
        &self,
        path: &std::path::Path,
    ) -> anyhow::Result<facemark::ert::ShapePredictor> {
        anyhow::ensure!(
            self.refiner.is_none(),
            "--refiner refines a facemark model's points; {} is a dlib shape predictor",
            path.display()
        );
        let sp = facemark::ert::ShapePredictor::load(path)?;
        match &self.scheme {
            None => Ok(sp),
            Some(name) => {
                let scheme = if name.eq_ignore_ascii_case("dlib5") {
                    facemark::ert::scheme::dlib5()
                } else {
                    facemark_core::Scheme::by_name(name).with_context(|| {
                        format!("--scheme {name}: expected ibug68, dlib5, five, helen194, kaggle15 or n<N>")
                    })?
                };
                Ok(sp.with_scheme(scheme).context("--scheme")?)
            }
        }
    }

    /// Refuses `--refiner` for `video`: videos are tracked, each crop placed from the last
    /// frame's points, so no refinement pass runs there (the model's own cascade does run).
    pub fn for_photos_only(&self, video: &std::path::Path) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.refiner.is_none(),
            "--refiner is for photos; videos are tracked (each crop comes from the last frame's points): {}",
            video.display()
        );
        Ok(())
    }
}

/// Whether a `--model` file is a dlib shape predictor (`.dat`) rather than a facemark model.
pub(crate) fn is_dlib_model(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dat"))
}

/// The landmark pipeline of the photo and video commands: the model file `model` (default:
/// the embedded model) behind the face detector `detector` (a name for
/// `facemark_detect::detector_with`; default: the default detector) searching for faces of at
/// least `min_face` pixels (default: the detector's own). Refinement passes run the refiner
/// file `refiner` (a model trained with `crop_align`), else the model again. Both run in
/// `precision`.
pub(crate) fn pipeline(
    model: Option<&std::path::Path>,
    opts: &ModelOpts,
    detector: Option<&str>,
    min_face: Option<u32>,
) -> anyhow::Result<facemark::Pipeline> {
    if let Some(path) = model.filter(|p| is_dlib_model(p)) {
        let sp = opts.load_shape_predictor(path)?;
        let face_detector = facemark_detect::detector_with(detector, min_face)?;
        return Ok(facemark::Pipeline::with_shape_predictor(face_detector, sp));
    }
    let mut first = match model {
        // the model's errors name the file
        Some(m) => facemark_model::KeypointModel::load(m).context("--model")?,
        None => facemark::default_model()?,
    }
    .with_precision(opts.precision);
    opts.set_cascade(&mut first)?;
    let second = opts.load_refiner()?;
    let face_detector = facemark_detect::detector_with(detector, min_face)?;
    let what = model.map_or("the default model".to_string(), |p| p.display().to_string());
    let pipeline =
        facemark::Pipeline::new(face_detector, first).with_context(|| format!("model {what}"))?;
    let refiner_name = opts
        .refiner
        .as_deref()
        .map_or(String::new(), |p| p.display().to_string());
    pipeline
        .with_refiner(second)
        .with_context(|| format!("refiner {refiner_name}"))
}
