//! `facemark compare`: are the faces in two photos the same person? The distance of their
//! descriptors (dlib's face-recognition ResNet) against dlib's 0.6 threshold.

use anyhow::{bail, Result};
use facemark::recognition::{distance, FaceDescriptor};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The first photo (its largest face is compared).
    pub a: PathBuf,
    /// The second photo (its largest face is compared).
    pub b: PathBuf,
    #[command(flatten)]
    pub recog: super::embed::RecogOpts,
    /// Same person when the distance is below this [default: the model's, 0.6 for dlib's].
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Print the result as JSON (`{"distance", "threshold", "same_person"}`).
    #[arg(long)]
    pub json: bool,
}

fn largest(faces: Vec<FaceDescriptor>, photo: &std::path::Path) -> Result<FaceDescriptor> {
    let Some(f) = faces.into_iter().max_by(|p, q| {
        p.face
            .landmark_box
            .area()
            .total_cmp(&q.face.landmark_box.area())
    }) else {
        bail!("{}: no face found", photo.display());
    };
    Ok(f)
}

pub fn run(a: Args) -> Result<()> {
    let (pipeline, recognizer) = a.recog.load()?;
    let fa = largest(
        super::embed::embed_photo(&pipeline, &recognizer, &a.a)?,
        &a.a,
    )?;
    let fb = largest(
        super::embed::embed_photo(&pipeline, &recognizer, &a.b)?,
        &a.b,
    )?;
    let d = distance(&fa.descriptor, &fb.descriptor);
    let threshold = a.threshold.unwrap_or(recognizer.threshold());
    let same = d < threshold;
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "distance": d, "threshold": threshold, "same_person": same })
        );
    } else {
        println!(
            "distance {d:.4}: {} (threshold {threshold})",
            if same {
                "same person"
            } else {
                "different people"
            }
        );
    }
    Ok(())
}
