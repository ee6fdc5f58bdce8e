//! facemark-recog: face recognition with dlib's face-recognition ResNet
//! (`dlib_face_recognition_resnet_model_v1.dat`) run in facemark's engine.
//!
//! - [`dnn`]: dlib DNN files (the nesting dlib's `serialize` writes, read with
//!   `facemark_formats::dlib`'s primitives) for the layer types of dlib's ResNets.
//! - [`convert`]: such a network as a `facemark_nn::Network` (residual blocks included).
//! - [`resnet`]: the face-recognition network's architecture.
//! - [`chip`]: dlib's aligned 150 × 150 face chips from 68 or 5 points.
//! - [`facenet`]: FaceNet (InceptionResNetV1, facenet-pytorch's layout) from `.pt` state
//!   dicts: 160 × 160 chips → 512-d unit-length embeddings.
//! - [`FaceRecognizer`]: chips → 128-d descriptors; two faces are the same person when the
//!   Euclidean distance of their descriptors is below 0.6 (dlib's threshold).
//!
//! Why a crate of its own: it joins a file format (`formats`) and the engine (`nn`), which
//! stay independent of each other, and it is the one place that knows dlib's network
//! conventions (input scaling, layer naming, chip geometry); the facade and the CLI use it.
//!
//! The model file is not embedded (22 MB): users pass its path. It ships in the PyPI package
//! `face_recognition_models` (public domain / CC0, by Davis King).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod chip;
pub mod convert;
pub mod dnn;
pub mod facenet;
pub mod resnet;

pub use chip::{
    extract_image_chip, face_chip, face_chip_details, ChipDetails, ChipError, RECOGNITION_CHIP,
};
pub use dnn::{read_net, Arch, DlibNet, DnnError};
pub use facenet::FacenetError;

use facemark_core::Point;
use facemark_nn::{Network, Tensor};
use image::RgbImage;
use std::path::{Path, PathBuf};

/// dlib's decision threshold for its face descriptors: two faces whose descriptors are closer
/// than this (Euclidean distance) are the same person (`dnn_face_recognition_ex.cpp`).
pub const SAME_PERSON_THRESHOLD: f32 = 0.6;

/// The environment variable naming the recognition model file when no path is given.
pub const MODEL_ENV: &str = "FACEMARK_RECOGNITION_MODEL";

/// Why a recognizer could not be made or run.
#[derive(Debug, thiserror::Error)]
pub enum RecogError {
    /// The model file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// The model file is not a network of the expected architecture.
    #[error("{path}: {error}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: DnnError,
    },
    /// The FaceNet state dict is not one of InceptionResNetV1.
    #[error("{path}: {error}")]
    Facenet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: FacenetError,
    },
    /// A chip of the wrong size.
    #[error("chip {index}: the network takes {want_w}×{want_h} chips, got {got_w}×{got_h}")]
    ChipSize {
        /// Which chip.
        index: usize,
        /// Width expected.
        want_w: usize,
        /// Height expected.
        want_h: usize,
        /// Width given.
        got_w: u32,
        /// Height given.
        got_h: u32,
    },
    /// A face whose points cannot make a chip.
    #[error(transparent)]
    Chip(#[from] ChipError),
}

/// A face-descriptor network: aligned RGB chips in, one descriptor per chip out.
///
/// `embed_chips(&self)` reads no state, so one recognizer serves many threads.
#[derive(Debug, Clone)]
pub struct FaceRecognizer {
    net: Network,
    mean: [f32; 3],
    /// Input values are `(v − mean) / scale`.
    scale: f32,
    /// Then, when set, each chip's values are standardised by their own mean and standard
    /// deviation ([`prewhiten`]).
    prewhiten: bool,
    /// The chip's padding around the aligned face ([`face_chip_details`]).
    padding: f64,
    size: (usize, usize),
    threshold: f32,
    dims: usize,
}

/// The distance threshold `compare` uses for FaceNet's unit-length embeddings by default: 1.1,
/// the value used with David Sandberg's FaceNet models (whose weights facenet-pytorch converted);
/// not measured by facemark (no FaceNet weights at hand). Override with `--threshold`.
pub const FACENET_THRESHOLD: f32 = 1.1;

/// The padding of FaceNet's chips: dlib's alignment with dlib's recognition padding (0.25),
/// at 160 × 160 (see `docs/recognition.md`).
pub const FACENET_PADDING: f64 = 0.25;

impl FaceRecognizer {
    /// `dlib_face_recognition_resnet_model_v1.dat` (or any file of the same architecture,
    /// [`resnet::face_resnet_arch`]) from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<FaceRecognizer, DnnError> {
        Self::from_bytes_with_arch(bytes, &resnet::face_resnet_arch())
    }

    /// A network of architecture `arch` from the bytes of a dlib DNN file. Requires a sized
    /// RGB input (`input_rgb_image_sized`) and a network whose output is a vector.
    pub fn from_bytes_with_arch(bytes: &[u8], arch: &Arch) -> Result<FaceRecognizer, DnnError> {
        let net = read_net(bytes, arch)?;
        let network = convert::to_network(&net)?;
        let (nr, nc) = net.input.size.expect("to_network requires a sized input");
        let out = convert::check_shapes(&network, [3, nr, nc])?;
        let dims = out.iter().product();
        Ok(FaceRecognizer {
            net: network.fused(),
            mean: net.input.mean,
            scale: 256.0,
            prewhiten: false,
            padding: RECOGNITION_CHIP.1,
            size: (nc, nr),
            threshold: net
                .loss
                .map_or(SAME_PERSON_THRESHOLD, |l| l.distance_threshold),
            dims,
        })
    }

    /// FaceNet (InceptionResNetV1) from the bytes of a facenet-pytorch `.pt` state dict
    /// ([`facenet::load_pt`]): 160 × 160 chips standardised as `(v − 127.5) / 128`,
    /// 512-d unit-length embeddings, [`FACENET_THRESHOLD`].
    pub fn facenet_from_bytes(bytes: &[u8]) -> Result<FaceRecognizer, FacenetError> {
        Ok(Self::facenet(facenet::load_pt(bytes)?, 512))
    }

    /// A recognizer over an InceptionResNetV1 `network` ([`facenet::inception_resnet_v1`]
    /// or [`facenet::from_state_dict`]) whose embeddings have `dims` values.
    pub fn facenet(network: Network, dims: usize) -> FaceRecognizer {
        FaceRecognizer {
            net: network.fused(),
            mean: [127.5; 3],
            scale: 128.0,
            prewhiten: false,
            padding: FACENET_PADDING,
            size: (facenet::FACENET_SIZE, facenet::FACENET_SIZE),
            threshold: FACENET_THRESHOLD,
            dims,
        }
    }

    /// FaceNet from the bytes of a Keras `.h5` file in the layout of keras-facenet's
    /// `facenet_keras.h5` ([`facenet::load_h5`]): 160 × 160 chips standardised per chip as
    /// that model was trained and as keras-facenet's demo feeds it ([`prewhiten`]),
    /// unit-length embeddings of the file's length (128 in `facenet_keras.h5`),
    /// [`FACENET_THRESHOLD`].
    pub fn facenet_h5_from_bytes(bytes: &[u8]) -> Result<FaceRecognizer, FacenetError> {
        let net = facenet::load_h5(bytes)?;
        let dims = net
            .param("last_bn.running_mean")
            .map_or(0, |p| p.value.len());
        Ok(FaceRecognizer {
            mean: [0.0; 3],
            scale: 1.0,
            prewhiten: true,
            ..Self::facenet(net, dims)
        })
    }

    /// Reads the model file at `path`: a facenet-pytorch state dict when its name ends in
    /// `.pt` or `.pth` ([`FaceRecognizer::facenet_from_bytes`]), a Keras FaceNet when it ends
    /// in `.h5` ([`FaceRecognizer::facenet_h5_from_bytes`]), a dlib DNN file otherwise
    /// ([`FaceRecognizer::from_bytes`]).
    pub fn load(path: &Path) -> Result<FaceRecognizer, RecogError> {
        let bytes = std::fs::read(path).map_err(|error| RecogError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let ext = ext.to_ascii_lowercase();
        let facenet = match ext.as_str() {
            "pt" | "pth" => Some(Self::facenet_from_bytes(&bytes)),
            "h5" | "hdf5" => Some(Self::facenet_h5_from_bytes(&bytes)),
            _ => None,
        };
        if let Some(rec) = facenet {
            return rec.map_err(|error| RecogError::Facenet {
                path: path.to_path_buf(),
                error,
            });
        }
        Self::from_bytes(&bytes).map_err(|error| RecogError::Model {
            path: path.to_path_buf(),
            error,
        })
    }

    /// The chip size the network takes, `(width, height)` in pixels.
    pub fn input_size(&self) -> (usize, usize) {
        self.size
    }

    /// Length of a descriptor (128 for dlib's face model).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The same-person distance threshold stored in the file's `loss_metric` (0.6 for dlib's
    /// face model), [`SAME_PERSON_THRESHOLD`] when the file has no loss layer.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The engine's network (fused: each affine folded into its convolution, ReLUs into
    /// the convolutions' output loops).
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The input tensor `[n, 3, h, w]` of `chips`: `(value − mean) / 256` per channel as
    /// dlib's `input_rgb_image_sized` makes it, `(value − 127.5) / 128` for facenet-pytorch's
    /// FaceNet, [`prewhiten`]ed for Keras' FaceNet.
    pub fn to_tensor(&self, chips: &[RgbImage]) -> Result<Tensor, RecogError> {
        let (w, h) = self.size;
        let plane = w * h;
        let mut data = vec![0.0f32; chips.len() * 3 * plane];
        for (i, (chip, out)) in chips
            .iter()
            .zip(data.chunks_exact_mut(3 * plane))
            .enumerate()
        {
            if chip.width() as usize != w || chip.height() as usize != h {
                return Err(RecogError::ChipSize {
                    index: i,
                    want_w: w,
                    want_h: h,
                    got_w: chip.width(),
                    got_h: chip.height(),
                });
            }
            for (j, p) in chip.pixels().enumerate() {
                for k in 0..3 {
                    out[k * plane + j] = (p.0[k] as f32 - self.mean[k]) / self.scale;
                }
            }
            if self.prewhiten {
                prewhiten(out);
            }
        }
        Ok(Tensor::new(vec![chips.len(), 3, h, w], data))
    }

    /// One descriptor per chip (chips of [`FaceRecognizer::input_size`], as
    /// [`chip::face_chip`] cuts them), run as one batch.
    pub fn embed_chips(&self, chips: &[RgbImage]) -> Result<Vec<Vec<f32>>, RecogError> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.to_tensor(chips)?;
        let y = self.net.forward(&x);
        Ok(y.data
            .chunks_exact(self.dims)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// The chip this network takes for the face with `points` (68 or 5, facemark's
    /// convention) in `img`: dlib's alignment ([`face_chip_details`]) at
    /// [`FaceRecognizer::input_size`] with this network's padding (dlib's ResNet: exactly
    /// [`face_chip`]).
    pub fn face_chip(&self, img: &RgbImage, points: &[Point]) -> Result<RgbImage, ChipError> {
        let d = face_chip_details(points, self.size.0, self.padding)?;
        Ok(extract_image_chip(img, &d))
    }

    /// The descriptor of the face with `points` (68 or 5, facemark's convention) in `img`.
    pub fn embed_face(&self, img: &RgbImage, points: &[Point]) -> Result<Vec<f32>, RecogError> {
        let chip = self.face_chip(img, points)?;
        Ok(self.embed_chips(&[chip])?.remove(0))
    }
}

/// The network of a dlib face-recognition file at `path` ([`resnet::face_resnet_arch`]) as
/// trained, unfused (parameters named as in [`convert`]), with its input's channel means
/// (red, green, blue, 8-bit units; dlib's input is `(value − mean) / 256`): the backbone for
/// transfer learning (`facemark train --init FILE.dat`).
pub fn load_network(path: &Path) -> Result<(Network, [f32; 3]), RecogError> {
    let model = |error| RecogError::Model {
        path: path.to_path_buf(),
        error,
    };
    let bytes = std::fs::read(path).map_err(|error| RecogError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let net = read_net(&bytes, &resnet::face_resnet_arch()).map_err(model)?;
    let network = convert::to_network(&net).map_err(model)?;
    Ok((network, net.input.mean))
}

/// David Sandberg's `prewhiten` (FaceNet's `facenet.py`, keras-facenet's demo): the values
/// less their mean, divided by their standard deviation (population), at least `1 / √n`.
pub fn prewhiten(values: &mut [f32]) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt().max(1.0 / n.sqrt());
    for v in values {
        *v = ((*v as f64 - mean) / std) as f32;
    }
}

/// Euclidean distance of two descriptors (dlib's `length(a - b)`); `f32::INFINITY` when their
/// lengths differ.
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(p, q)| ((p - q) as f64).powi(2))
        .sum::<f64>()
        .sqrt() as f32
}
