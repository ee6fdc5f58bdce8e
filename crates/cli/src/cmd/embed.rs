//! `facemark embed`: face descriptors for every face in photos, as JSON: 128-d from dlib's
//! face-recognition ResNet (`.dat`), or 512-d from FaceNet (a facenet-pytorch `.pt`).

use anyhow::{Context, Result};
use facemark::recognition::{embed_faces, FaceDescriptor};
use facemark_recog::FaceRecognizer;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The options `embed` and `compare` share: the recognition model and the face pipeline.
#[derive(clap::Args, Clone, Debug)]
pub struct RecogOpts {
    /// The face-recognition model: dlib's (`dlib_face_recognition_resnet_model_v1.dat`, 22 MB, in
    /// the PyPI package face_recognition_models; public domain / CC0), or a facenet-pytorch
    /// InceptionResnetV1 state dict (`FILE.pt`, torch.save of `state_dict()`; 160 × 160 chips,
    /// 512-d), or keras-facenet's `facenet_keras.h5` (`FILE.h5`; 160 × 160 chips, 128-d)
    /// [default: $FACEMARK_RECOGNITION_MODEL].
    #[arg(long, value_name = "FILE.dat|FILE.pt|FILE.h5")]
    pub recognition_model: Option<PathBuf>,
    /// Landmark model file (.safetensors) that aligns the faces (68 points); default: the
    /// embedded model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub opts: super::ModelOpts,
    /// Face detector: `haar`, `seeta`, or an OpenCV cascade XML file; default: the built-in one.
    #[arg(long)]
    pub detector: Option<String>,
    /// Smallest face side in pixels to search for [default: the detector's own].
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(20..))]
    pub min_face: Option<u32>,
}

impl RecogOpts {
    /// The face pipeline and the recognizer.
    pub fn load(&self) -> Result<(facemark::Pipeline, FaceRecognizer)> {
        let recognizer = facemark::recognition::recognizer(self.recognition_model.as_deref())
            .context("loading the face-recognition model")?;
        let pipeline = super::pipeline(
            self.model.as_deref(),
            &self.opts,
            self.detector.as_deref(),
            self.min_face,
        )?;
        Ok((pipeline, recognizer))
    }
}

/// The faces of one photo with their descriptors.
pub fn embed_photo(
    pipeline: &facemark::Pipeline,
    recognizer: &FaceRecognizer,
    photo: &Path,
) -> Result<Vec<FaceDescriptor>> {
    let image =
        facemark::open_image(photo).with_context(|| format!("reading {}", photo.display()))?;
    embed_faces(pipeline, recognizer, &image).with_context(|| photo.display().to_string())
}

#[derive(clap::Args)]
pub struct Args {
    /// Photos (jpg, png, webp, bmp, tif, ppm/pgm, gif: first frame; EXIF orientation applied).
    #[arg(required = true)]
    pub photos: Vec<PathBuf>,
    #[command(flatten)]
    pub recog: RecogOpts,
    /// Write the JSON to this file (atomically) instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Serialize)]
struct PhotoOut {
    photo: String,
    faces: Vec<FaceOut>,
}

#[derive(Serialize)]
struct FaceOut {
    /// The landmark box `[x, y, w, h]` in pixels.
    r#box: [f32; 4],
    /// The detector's score, when a detector found the face.
    score: Option<f32>,
    /// The descriptor.
    descriptor: Vec<f32>,
}

pub fn run(a: Args) -> Result<()> {
    let (pipeline, recognizer) = a.recog.load()?;
    let mut out = Vec::with_capacity(a.photos.len());
    for photo in &a.photos {
        let faces = embed_photo(&pipeline, &recognizer, photo)?;
        out.push(PhotoOut {
            photo: photo.display().to_string(),
            faces: faces
                .into_iter()
                .map(|f| {
                    let b = f.face.landmark_box;
                    FaceOut {
                        r#box: [b.x, b.y, b.w, b.h],
                        score: f.face.detection.map(|d| d.score),
                        descriptor: f.descriptor,
                    }
                })
                .collect(),
        });
    }
    let json = serde_json::to_string(&out)?;
    match &a.output {
        Some(p) => facemark_core::io::write_atomic(p, json.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?,
        None => println!("{json}"),
    }
    Ok(())
}
