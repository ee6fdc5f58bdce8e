//! facemark-model: keypoint architectures, model files (safetensors + JSON metadata) and the
//! [`Landmarker`] implementation that runs a trained network on faces.
//!
//! A model file is a safetensors file: one f32 tensor per parameter, named as the network
//! names them (`conv1.weight`, `bn2.running_mean`, `head.bias`, …), and in `__metadata__`
//! the key `"facemark"` holding [`ModelMeta`] as JSON. A model may carry a refinement cascade
//! trained from its points ([`KeypointModel::cascade`]): its arrays are the tensors
//! `cascade.*` ([`facemark_ert::tensors`]) and its description the key `"facemark.cascade"`
//! ([`CascadeMeta`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arch;
pub mod facenet;
pub mod resnet;
pub mod st;

pub use arch::{ArchConfig, ArchError, ArchKind, Head, MAX_INPUT_SIZE};
pub use facemark_nn::Network;

use facemark_core::crop::denormalise_points;
use facemark_core::geometry::warp_gray_f32;
use facemark_core::{BoxF, CropSpec, Landmarker, Point, Scheme};
use facemark_nn::Tensor;
use image::GrayImage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Errors reading or writing model files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Reading or writing a file failed.
    // the cause is part of the message, not a `source()`, so that anyhow's `{:#}` says it once
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        error: std::io::Error,
    },
    /// The bytes are not a safetensors file of f32/f16/bf16 tensors.
    #[error("{what}: not a valid safetensors file ({detail}); truncated or not a model?")]
    Format {
        /// The file (or "embedded model").
        what: String,
        /// The parser's message.
        detail: String,
    },
    /// A parameter's value cannot be stored as the storage asked for (f16 beyond ±65504).
    #[error("cannot store the model as {storage}: {detail}")]
    Storage {
        /// The storage asked for (`f16`).
        storage: String,
        /// Which tensor and value.
        detail: String,
    },
    /// A safetensors file without facemark's metadata key ([`META_KEY`]).
    #[error("{what}: no facemark metadata (`__metadata__.facemark`); not a facemark model")]
    NoMeta {
        /// The file.
        what: String,
    },
    /// The metadata is not valid [`ModelMeta`] JSON, or fails its checks.
    #[error("{what}: bad metadata JSON: {detail}")]
    Meta {
        /// The file.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// The refinement cascade stored in the file is damaged or does not fit the model.
    #[error("{what}: refinement cascade: {detail}")]
    Cascade {
        /// The file.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// A tensor is missing, not f32, or of the wrong shape.
    #[error("{what}: tensor `{name}` {problem}")]
    Tensor {
        /// The file.
        what: String,
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The file has tensors the architecture has no parameter for.
    #[error("{what}: the file has tensors the {arch} architecture does not: {names:?}")]
    Extra {
        /// The file.
        what: String,
        /// The architecture's name.
        arch: String,
        /// The tensors it does not have.
        names: Vec<String>,
    },
    /// The architecture in the metadata cannot be built.
    #[error(transparent)]
    Arch(#[from] ArchError),
    #[error("this model is a refiner (trained on crops aligned on a face's points): it cannot place points from a face box; use or evaluate it as --refiner behind a first model")]
    /// A refiner was asked to place points from a face box.
    IsRefiner,
    #[error("input has {got} values, expected {n} × {size}² = {expected}")]
    /// [`KeypointModel::predict_batch`] got a buffer of the wrong length.
    Input {
        /// Values given.
        got: usize,
        /// Inputs asked for.
        n: usize,
        /// The model's input side.
        size: u32,
        /// Values needed: `n × size²`.
        expected: usize,
    },
}

/// Everything needed to use a model, stored with its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The architecture (the network is rebuilt from it when loading).
    pub arch: ArchConfig,
    /// The landmark scheme (name, point names, mirror permutation, NME pair).
    pub scheme: Scheme,
    /// Number of points (a copy of `arch.n_points`, for readers of the JSON).
    pub n_points: usize,
    /// Square input side in pixels.
    pub input_size: u32,
    /// Input colour: always `"gray"`.
    pub colour: String,
    /// Input scaling from 8-bit pixels: `"v/127.5-1"` (values in [-1, 1]).
    pub normalisation: String,
    /// How faces are cropped from photos (shared with training).
    pub crop: CropSpec,
    /// What the model was trained on (free text: data set path, face count, split).
    pub training_data: String,
    /// Training epochs the weights had.
    pub epochs: usize,
    /// Validation metrics (e.g. `"nme"`, `"val_loss"`).
    pub metrics: BTreeMap<String, f64>,
    /// The command line that made the model.
    pub created_by: String,
}

impl ModelMeta {
    /// Metadata for a fresh network of `arch` with `scheme` (whose length must be
    /// `arch.n_points`).
    pub fn new(arch: ArchConfig, scheme: Scheme, crop: CropSpec) -> ModelMeta {
        ModelMeta {
            n_points: arch.n_points,
            input_size: arch.input_size,
            arch,
            scheme,
            colour: "gray".into(),
            normalisation: "v/127.5-1".into(),
            crop,
            training_data: String::new(),
            epochs: 0,
            metrics: BTreeMap::new(),
            created_by: String::new(),
        }
    }
}

impl ModelMeta {
    /// Checks the metadata against itself and the network it describes: the architecture's
    /// fields ([`ArchConfig::validate`]), `n_points` and `input_size` equal to the
    /// architecture's (the architecture is the source of truth, the copies are for readers of
    /// the JSON), a scheme of `n_points` points whose indices (mirror, groups, NME pair,
    /// pupils) are points of it, gray input in [-1, 1], a finite crop margin.
    pub fn validate(&self) -> Result<(), String> {
        self.arch.validate().map_err(|e| e.to_string())?;
        let n = self.arch.n_points;
        if self.n_points != n {
            return Err(format!(
                "n_points {} disagrees with the architecture's {n}",
                self.n_points
            ));
        }
        if self.input_size != self.arch.input_size {
            return Err(format!(
                "input_size {} disagrees with the architecture's {}",
                self.input_size, self.arch.input_size
            ));
        }
        let sc = &self.scheme;
        if sc.len() != n {
            return Err(format!(
                "scheme {} has {} points but the architecture outputs {n}",
                sc.name,
                sc.len()
            ));
        }
        if sc.mirror.len() != n || !facemark_core::scheme::is_involution(&sc.mirror) {
            return Err(format!(
                "scheme {}: the mirror table is not a pairing of its {n} points",
                sc.name
            ));
        }
        let bad_index = |i: &usize| *i >= n;
        let pair_bad = sc.norm_pair.is_some_and(|(a, b)| a >= n || b >= n);
        let pupils_bad = sc
            .pupils
            .as_ref()
            .is_some_and(|(l, r)| l.is_empty() || r.is_empty() || l.iter().chain(r).any(bad_index));
        let groups_bad = sc.groups.iter().any(|g| g.indices.iter().any(bad_index));
        if pair_bad || pupils_bad || groups_bad {
            return Err(format!(
                "scheme {}: a group, the NME pair or the pupils name a point outside its {n}",
                sc.name
            ));
        }
        if self.colour != "gray" {
            return Err(format!("colour `{}` (only `gray` is known)", self.colour));
        }
        if self.normalisation != "v/127.5-1" {
            return Err(format!(
                "normalisation `{}` (only `v/127.5-1` is known)",
                self.normalisation
            ));
        }
        if !(self.crop.margin.is_finite() && (0.0..=10.0).contains(&self.crop.margin)) {
            return Err(format!(
                "crop margin {} is not in [0, 10]",
                self.crop.margin
            ));
        }
        Ok(())
    }
}

/// Arithmetic of inference (training is always f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// int8 where the CPU has AVX-512 VNNI (several times faster pointwise layers), else f32.
    #[default]
    Auto,
    /// f32 throughout (the training arithmetic).
    F32,
    /// The 1×1 convolutions and dense layers fed by a ReLU in int8
    /// ([`facemark_nn::quant`]); those layers give the same bits with or without AVX-512 VNNI,
    /// but are fast only with it.
    Int8,
}

impl Precision {
    /// Whether this setting runs int8 on this machine.
    pub fn uses_int8(self) -> bool {
        match self {
            Precision::Auto => facemark_nn::quant::vnni_available(),
            Precision::F32 => false,
            Precision::Int8 => true,
        }
    }

    /// What this setting runs on this machine, for reports: "int8" or "f32".
    pub fn arithmetic(self) -> &'static str {
        if self.uses_int8() {
            "int8"
        } else {
            "f32"
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Precision::Auto),
            "f32" => Ok(Precision::F32),
            "int8" => Ok(Precision::Int8),
            _ => Err(format!(
                "unknown precision `{s}` (expected auto, f32 or int8)"
            )),
        }
    }
}

/// A trained keypoint regressor: metadata + network.
///
/// Inference uses a copy of `net` with batch norms folded into the preceding layers (and with
/// [`Precision`] int8, its eligible layers quantised), made on first use; after changing `net`
/// call [`KeypointModel::refresh`].
#[derive(Debug)]
pub struct KeypointModel {
    /// What the model is: architecture, scheme, crop, provenance.
    pub meta: ModelMeta,
    /// The trained network, as in training (batch norms unfolded).
    pub net: Network,
    /// A refinement cascade trained from this network's points (`facemark train --arch ert
    /// --init MODEL`, attached by `facemark model convert --cascade`), run once on the
    /// network's final points by [`Landmarker::landmarks`] and by `facemark::Pipeline`; its
    /// provenance in [`KeypointModel::cascade_meta`]. `None` for a network alone.
    pub cascade: Option<facemark_ert::ShapePredictor>,
    /// Where `cascade` came from (the file's [`CascadeMeta::source`]); unused without one.
    pub cascade_source: String,
    /// How the cascade's leaves are stored on saving: projected on each level's this many
    /// principal directions (0: as they are; `facemark_ert::tensors`). Lossy, like f16: the
    /// saved file, not this model, is the one to evaluate. A loaded file keeps its rank.
    pub cascade_leaf_rank: usize,
    precision: Precision,
    fused: OnceLock<Network>,
    /// The int8 network and, for a PIP model, its head taken off to run sparsely
    /// ([`facemark_nn::quant::QuantPipHead`]; the network then stops before it).
    quantised: OnceLock<(
        facemark_nn::QuantNetwork,
        Option<facemark_nn::quant::QuantPipHead>,
    )>,
    /// A PIP model's head, run sparsely after `fused`/`quantised` (which then stop before it).
    sparse_pip: OnceLock<Option<facemark_nn::pip::SparsePipHead>>,
}

impl Clone for KeypointModel {
    fn clone(&self) -> Self {
        let mut m =
            KeypointModel::new(self.meta.clone(), self.net.clone()).with_precision(self.precision);
        m.cascade = self.cascade.clone();
        m.cascade_source = self.cascade_source.clone();
        m.cascade_leaf_rank = self.cascade_leaf_rank;
        m
    }
}

/// The metadata key in safetensors `__metadata__`.
pub const META_KEY: &str = "facemark";
/// The metadata key of a model's refinement cascade ([`CascadeMeta`]).
pub const CASCADE_META_KEY: &str = "facemark.cascade";
/// The prefix of a refinement cascade's tensors in a model file.
pub const CASCADE_PREFIX: &str = "cascade";

/// What a model file says of the refinement cascade it carries (metadata key
/// [`CASCADE_META_KEY`], beside the tensors `cascade.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CascadeMeta {
    /// Where it came from: the `.dat` file and the command that attached it.
    pub source: String,
    /// Levels × trees per level, as trained (a check on the tensors).
    pub levels: usize,
    /// Trees in all levels.
    pub trees: usize,
    /// The leaves' storage rank (`KeypointModel::cascade_leaf_rank`; 0, or absent in older
    /// files: the leaves as they are).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leaf_rank: usize,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl KeypointModel {
    /// A model from its metadata and network, with [`Precision::Auto`].
    pub fn new(meta: ModelMeta, net: Network) -> KeypointModel {
        KeypointModel {
            meta,
            net,
            cascade: None,
            cascade_source: String::new(),
            cascade_leaf_rank: 0,
            precision: Precision::default(),
            fused: OnceLock::new(),
            quantised: OnceLock::new(),
            sparse_pip: OnceLock::new(),
        }
    }
    /// Set the inference arithmetic (default [`Precision::Auto`]).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }
    /// The inference arithmetic setting.
    pub fn precision(&self) -> Precision {
        self.precision
    }
    /// Forget the inference copies (after `net` changed).
    pub fn refresh(&mut self) {
        self.fused = OnceLock::new();
        self.quantised = OnceLock::new();
        self.sparse_pip = OnceLock::new();
    }
    /// The PIP head as a [`facemark_nn::pip::SparsePipHead`] in f32 inference (`None` for
    /// other heads, and in int8, which has its own sparse head: `quantised`; in f32 the full
    /// head costs about 300 µs).
    fn sparse_pip(&self) -> Option<&facemark_nn::pip::SparsePipHead> {
        self.sparse_pip
            .get_or_init(|| {
                if self.precision.uses_int8() {
                    return None;
                }
                let layout = self.meta.arch.pip_layout().ok().flatten()?;
                let Some(facemark_nn::layers::Layer::Conv2d(head)) = self.net.layers.last() else {
                    return None;
                };
                facemark_nn::pip::SparsePipHead::new(head, layout).ok()
            })
            .as_ref()
    }
    /// The fused network inference runs: all of it, or up to the head's input for a PIP model
    /// (whose head runs sparsely, [`KeypointModel::sparse_pip`]).
    fn infer_net(&self) -> &Network {
        self.fused.get_or_init(|| {
            let mut net = self.net.fused();
            if self.sparse_pip().is_some() {
                net.layers.pop();
            }
            net
        })
    }
    /// The int8 network, and a PIP model's int8 head run sparsely: the same points as the
    /// whole head's output decoded, without its offsets on every cell (about 120 of 540 µs
    /// per face of the default model, `layer_times --int8`).
    fn quantised(
        &self,
    ) -> &(
        facemark_nn::QuantNetwork,
        Option<facemark_nn::quant::QuantPipHead>,
    ) {
        self.quantised.get_or_init(|| {
            let mut net = facemark_nn::QuantNetwork::from_fused(self.infer_net());
            let layout = self.meta.arch.pip_layout().ok().flatten();
            let head = layout.and_then(|l| net.split_pip_head(l));
            (net, head)
        })
    }
    fn infer(&self, x: &Tensor) -> Tensor {
        if self.precision.uses_int8() {
            self.quantised().0.forward(x)
        } else {
            self.infer_net().forward(x)
        }
    }

    /// Load a model file.
    pub fn load(path: &Path) -> Result<KeypointModel, ModelError> {
        let bytes = std::fs::read(path).map_err(|error| ModelError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_bytes_named(&bytes, &path.display().to_string())
    }
    /// Load from bytes (e.g. `include_bytes!`).
    pub fn from_bytes(bytes: &[u8]) -> Result<KeypointModel, ModelError> {
        Self::from_bytes_named(bytes, "model bytes")
    }
    fn from_bytes_named(bytes: &[u8], what: &str) -> Result<KeypointModel, ModelError> {
        let file = st::read(bytes, what)?;
        let json = file
            .metadata
            .get(META_KEY)
            .ok_or_else(|| ModelError::NoMeta {
                what: what.to_string(),
            })?;
        let meta: ModelMeta = serde_json::from_str(json).map_err(|e| ModelError::Meta {
            what: what.to_string(),
            detail: e.to_string(),
        })?;
        meta.validate().map_err(|detail| ModelError::Meta {
            what: what.to_string(),
            detail,
        })?;
        // every size is bounded and the network no larger than the file's tensors (`assign`
        // needs every parameter in the file) before anything is allocated
        let params = meta.arch.param_count()?;
        let in_file: usize = file.tensors.values().map(|(_, v)| v.len()).sum();
        if params > in_file {
            return Err(ModelError::Meta {
                what: what.to_string(),
                detail: format!(
                    "the {} architecture described has {params} parameters, the file only \
                     {in_file} values",
                    meta.arch.kind
                ),
            });
        }
        // every parameter comes from the file (`assign` refuses a missing one): no random init
        let mut net = facemark_nn::layers::skip_init(|| meta.arch.build(0))?;
        st::assign(&mut net, &file, what, &meta.arch.kind.to_string())?;
        let mut model = KeypointModel::new(meta, net);
        model.read_cascade(&file, what)?;
        Ok(model)
    }
    /// The refinement cascade of `file`, when its metadata names one: its tensors must all be
    /// there and place the model's points; tensors `cascade.*` without the metadata are refused.
    fn read_cascade(&mut self, file: &st::StFile, what: &str) -> Result<(), ModelError> {
        let err = |detail: String| ModelError::Cascade {
            what: what.to_string(),
            detail,
        };
        let Some(json) = file.metadata.get(CASCADE_META_KEY) else {
            let stray: Vec<String> = file
                .tensors
                .keys()
                .filter(|k| facemark_ert::ShapePredictor::is_tensor_name(CASCADE_PREFIX, k))
                .cloned()
                .collect();
            if stray.is_empty() {
                return Ok(());
            }
            return Err(err(format!(
                "tensors {stray:?} but no `{CASCADE_META_KEY}` metadata"
            )));
        };
        let cm: CascadeMeta = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
        let sp = facemark_ert::ShapePredictor::from_tensors(CASCADE_PREFIX, |n| {
            file.tensors.get(n).map(|(s, v)| (&s[..], &v[..]))
        })
        .map_err(err)?;
        let rank = sp.stored_leaf_rank();
        if rank != cm.leaf_rank {
            return Err(err(format!(
                "the metadata says leaf rank {}, the tensors hold {rank}",
                cm.leaf_rank
            )));
        }
        if (sp.levels().len(), sp.num_trees()) != (cm.levels, cm.trees) {
            return Err(err(format!(
                "the metadata says {} levels and {} trees, the tensors hold {} and {}",
                cm.levels,
                cm.trees,
                sp.levels().len(),
                sp.num_trees()
            )));
        }
        self.set_cascade(Some((sp, cm.source))).map_err(err)?;
        self.cascade_leaf_rank = rank;
        Ok(())
    }
    /// What the model file says of its cascade (derived from [`KeypointModel::cascade`]:
    /// `None` without one).
    pub fn cascade_meta(&self) -> Option<CascadeMeta> {
        self.cascade.as_ref().map(|c| CascadeMeta {
            source: self.cascade_source.clone(),
            levels: c.levels().len(),
            trees: c.num_trees(),
            leaf_rank: c.effective_leaf_rank(self.cascade_leaf_rank),
        })
    }
    /// Attach (or with `None` remove) a refinement cascade trained from this model's points,
    /// with a note of where it came from. Requires a cascade that places the model's number
    /// of points; it takes the model's scheme.
    pub fn set_cascade(
        &mut self,
        cascade: Option<(facemark_ert::ShapePredictor, String)>,
    ) -> Result<(), String> {
        let Some((sp, source)) = cascade else {
            self.cascade = None;
            self.cascade_source.clear();
            self.cascade_leaf_rank = 0;
            return Ok(());
        };
        if sp.num_parts() != self.meta.n_points {
            return Err(format!(
                "the cascade places {} points, the model {}",
                sp.num_parts(),
                self.meta.n_points
            ));
        }
        self.cascade_source = source;
        let sp = sp
            .with_scheme(self.meta.scheme.clone())
            .map_err(|e| e.to_string())?;
        self.cascade = Some(sp);
        Ok(())
    }
    /// The model as safetensors bytes, values stored as f32 (exact).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_as(st::Storage::F32)
            .expect("f32 storage holds any value")
    }
    /// The model as safetensors bytes, values stored as `storage` says (f16: half the size;
    /// [`KeypointModel::load`] widens them back to f32). Fails only for f16 with a parameter
    /// beyond ±65504 (the error names it).
    pub fn to_bytes_as(&self, storage: st::Storage) -> Result<Vec<u8>, ModelError> {
        let json = serde_json::to_string(&self.meta).expect("metadata serialises");
        let mut metadata = vec![(META_KEY, json)];
        let cascade = self
            .cascade
            .as_ref()
            .map(|c| c.to_tensors(CASCADE_PREFIX, self.cascade_leaf_rank))
            .unwrap_or_default();
        if let Some(cm) = self.cascade_meta() {
            metadata.push((
                CASCADE_META_KEY,
                serde_json::to_string(&cm).expect("metadata serialises"),
            ));
        }
        // the cascade's indices and thresholds stay exact; only its leaves follow `storage`
        let tensors: Vec<(String, Vec<usize>, &[f32], st::Storage)> = self
            .net
            .params()
            .into_iter()
            .map(|p| (p.name.clone(), p.shape.clone(), &p.value[..], storage))
            .chain(cascade.iter().map(|t| {
                let s = match t.kind {
                    facemark_ert::tensors::Stored::Exact => st::Storage::F32,
                    facemark_ert::tensors::Stored::Rounded => storage,
                    facemark_ert::tensors::Stored::Int8 => st::Storage::Int8,
                };
                (t.name.clone(), t.shape.clone(), &t.values[..], s)
            }))
            .collect();
        st::write_each(&tensors, &metadata).map_err(|detail| ModelError::Storage {
            storage: storage.to_string(),
            detail,
        })
    }
    /// Save atomically (never leaves a half-written file), values stored as f32.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        self.save_as(path, st::Storage::F32)
    }
    /// Save atomically, values stored as `storage` says (see [`KeypointModel::to_bytes_as`]).
    pub fn save_as(&self, path: &Path, storage: st::Storage) -> Result<(), ModelError> {
        let bytes = self.to_bytes_as(storage)?;
        facemark_core::io::write_atomic(path, &bytes).map_err(|error| ModelError::Io {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Square input side in pixels.
    pub fn input_size(&self) -> u32 {
        self.meta.input_size
    }

    /// Run the network on `n` inputs (`n × size × size` values in [-1, 1], row-major) and
    /// return `n × 2·n_points` normalised coordinates in [-1, 1] about the crop centre, x
    /// before y (see `facemark_core::crop`).
    pub fn predict_batch(&self, inputs: &[f32], n: usize) -> Result<Vec<f32>, ModelError> {
        let s = self.meta.input_size;
        let expected = n * (s * s) as usize;
        if inputs.len() != expected || n == 0 {
            return Err(ModelError::Input {
                got: inputs.len(),
                n,
                size: s,
                expected,
            });
        }
        let x = Tensor::new(vec![n, 1, s as usize, s as usize], inputs.to_vec());
        let y = self.infer(&x);
        let int8_pip = self
            .precision
            .uses_int8()
            .then(|| self.quantised().1.as_ref());
        Ok(
            match (&self.meta.arch.head, self.sparse_pip(), int8_pip.flatten()) {
                (Head::Dense, ..) => y.data,
                (_, Some(head), _) => head.forward(&y),
                (_, _, Some(head)) => head.forward(&y),
                _ => self.meta.arch.decode(&y.data, &y.shape),
            },
        )
    }

    /// Whether this model is a refiner: it was trained on roll-normalised crops made from a
    /// face's points (`CropSpec::align`), so it runs after a first model, never from a box.
    pub fn is_refiner(&self) -> bool {
        self.meta.crop.align
    }

    /// Requires a model that places points from a face box: a refiner is refused
    /// ([`ModelError::IsRefiner`]).
    pub fn require_box_model(&self) -> Result<(), ModelError> {
        if self.is_refiner() {
            return Err(ModelError::IsRefiner);
        }
        Ok(())
    }

    /// The crop transform (photo pixels → input pixels) for the face whose landmark box is
    /// `face_box`: the model's crop policy (`CropSpec::transform`).
    pub fn crop_for_box(&self, face_box: &BoxF) -> facemark_core::Affine2 {
        self.meta.crop.transform(face_box, self.meta.input_size)
    }

    /// The crop transform (photo pixels → input pixels) for a face whose points (photo pixels,
    /// this model's scheme) are known, e.g. from a first model: the model's own crop policy
    /// (`CropSpec::transform_points`; roll-normalised for a refiner). `None` when no point is
    /// finite.
    pub fn crop_for_points(&self, points: &[Point]) -> Option<facemark_core::Affine2> {
        self.meta
            .crop
            .transform_points(points, &self.meta.scheme, self.meta.input_size)
    }

    /// The network input seen through `t` (photo pixels → input pixels): `size²` values in
    /// [-1, 1], row-major.
    pub fn input_through(&self, image: &GrayImage, t: &facemark_core::Affine2) -> Vec<f32> {
        let s = self.meta.input_size;
        // warp_gray_f32 gives v/255; the model wants v/127.5 - 1 = 2·(v/255) - 1
        warp_gray_f32(image, t, s, s)
            .into_iter()
            .map(|v| v * 2.0 - 1.0)
            .collect()
    }

    /// One pass on the crop `t` (photo pixels → input pixels): the landmarks in photo pixels.
    pub fn points_through(&self, image: &GrayImage, t: &facemark_core::Affine2) -> Vec<Point> {
        let uv = self
            .predict_batch(&self.input_through(image, t), 1)
            .expect("crop has the model's input size");
        self.to_photo(&uv, t)
    }

    /// Network outputs (normalised) → photo pixels through the inverse of `t`.
    pub fn to_photo(&self, uv: &[f32], t: &facemark_core::Affine2) -> Vec<Point> {
        let inv = t.inverse().unwrap_or(facemark_core::Affine2::IDENTITY);
        denormalise_points(uv, self.meta.input_size)
            .into_iter()
            .map(|p| inv.apply(p))
            .collect()
    }
}

use facemark_ert::landmarker::refine_if;

impl Landmarker for KeypointModel {
    fn scheme(&self) -> &Scheme {
        &self.meta.scheme
    }
    /// The network's points on the face box's crop, refined by the model's cascade when it
    /// carries one.
    fn landmarks(&self, image: &GrayImage, face_box: &BoxF) -> Vec<Point> {
        let points = self.points_through(image, &self.crop_for_box(face_box));
        refine_if(self.cascade.as_ref(), image, points)
    }
    /// With a cascade: its points to report, the network's to follow.
    fn landmarks_to_track(&self, image: &GrayImage, face_box: &BoxF) -> (Vec<Point>, Vec<Point>) {
        let follow = self.points_through(image, &self.crop_for_box(face_box));
        (
            refine_if(self.cascade.as_ref(), image, follow.clone()),
            follow,
        )
    }
}

/// What [`transfer`] copied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransferReport {
    /// Tensors copied (same name and shape).
    pub copied: Vec<String>,
    /// Tensors of the destination left at their initial values (absent from the source, or of
    /// another shape, e.g. a new head for another point count).
    pub kept: Vec<String>,
}

/// Copy weights from `src` into `dst` by name where the shapes agree (`--init`).
pub fn transfer(src: &Network, dst: &mut Network) -> TransferReport {
    let mut rep = TransferReport::default();
    for p in dst.params_mut() {
        match src.param(&p.name) {
            Some(s) if s.shape == p.shape => {
                p.value.copy_from_slice(&s.value);
                rep.copied.push(p.name.clone());
            }
            _ => rep.kept.push(p.name.clone()),
        }
    }
    rep
}

#[cfg(test)]
mod tests;
