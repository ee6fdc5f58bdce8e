//! One module per subcommand.
pub mod calibrate;
pub mod data;
pub mod detect;
pub mod eval;
pub mod faces;
pub mod filter;
pub mod kaggle;
pub mod train;

use anyhow::Context;

/// The landmark pipeline of the photo and video commands: the model file `model` (default:
/// the embedded model) behind the face detector `detector` (a name for
/// `facemark_detect::detector_with`; default: the default detector) searching for faces of at
/// least `min_face` pixels (default: the detector's own). Refinement passes run the refiner
/// file `refiner` (a model trained with `crop_align`), else the model again. Both run in
/// `precision`.
pub(crate) fn pipeline(
    model: Option<&std::path::Path>,
    refiner: Option<&std::path::Path>,
    detector: Option<&str>,
    min_face: Option<u32>,
    precision: facemark_model::Precision,
) -> anyhow::Result<facemark::Detector> {
    let load = |p: &std::path::Path, what: &str| {
        facemark_model::KeypointModel::load(p)
            .with_context(|| format!("loading {what} {}", p.display()))
    };
    let first = match model {
        Some(m) => load(m, "model")?,
        None => facemark::default_model()?,
    }
    .with_precision(precision);
    let second = refiner
        .map(|r| load(r, "refiner").map(|m| m.with_precision(precision)))
        .transpose()?;
    let face_detector = facemark_detect::detector_with(detector, min_face)?;
    let what = model.map_or("the default model".to_string(), |p| p.display().to_string());
    let pipeline =
        facemark::Detector::new(face_detector, first).with_context(|| format!("model {what}"))?;
    let refiner_name = refiner.map_or(String::new(), |p| p.display().to_string());
    pipeline
        .with_refiner(second)
        .with_context(|| format!("refiner {refiner_name}"))
}
