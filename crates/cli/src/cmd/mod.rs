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
/// `facemark_detect::detector_by_name`; default: the default detector).
pub(crate) fn pipeline(
    model: Option<&std::path::Path>,
    detector: Option<&str>,
) -> anyhow::Result<facemark::Detector> {
    let model = match model {
        Some(p) => facemark_model::KeypointModel::load(p)
            .with_context(|| format!("loading model {}", p.display()))?,
        None => facemark::default_model()?,
    };
    let face_detector = match detector {
        Some(name) => facemark_detect::detector_by_name(name)?,
        None => facemark_detect::default_detector()?,
    };
    Ok(facemark::Detector::new(face_detector, model))
}
