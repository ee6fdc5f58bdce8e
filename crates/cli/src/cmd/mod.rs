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
/// least `min_face` pixels (default: the detector's own).
pub(crate) fn pipeline(
    model: Option<&std::path::Path>,
    detector: Option<&str>,
    min_face: Option<u32>,
) -> anyhow::Result<facemark::Detector> {
    let model = match model {
        Some(p) => facemark_model::KeypointModel::load(p)
            .with_context(|| format!("loading model {}", p.display()))?,
        None => facemark::default_model()?,
    };
    let face_detector = facemark_detect::detector_with(detector, min_face)?;
    Ok(facemark::Detector::new(face_detector, model))
}
