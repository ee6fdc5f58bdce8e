//! The network a run starts from: its architecture ([`arch_for`], a PIP head's neighbour
//! table from the training faces), weights transferred from a trained model (`--init`), the
//! head started at the mean shape, and the parameters kept fixed (`--freeze`).

use super::TrainError;
use super::LOG_TARGET;
use crate::config::{HeadName, TrainConfig};
use facemark_core::Point;
use facemark_model::{facenet, resnet};
use facemark_model::{transfer, ArchConfig, ArchKind, Head, KeypointModel};
use facemark_nn::{Layer, Network};
use facemark_recog::facenet as recog_facenet;
use std::path::Path;

/// What kind of file `--init` names, by its extension (lower case): `.dat` a dlib DNN file
/// (the face-recognition ResNet, [`ArchKind::DlibResnet`]), `.pt`/`.pth` a facenet-pytorch
/// state dict and `.h5`/`.hdf5` a Keras FaceNet ([`ArchKind::Facenet`]), anything else a
/// facemark model.
/// A new pretrained backbone adds its kind here, its architecture to [`InitKind::arch`] and
/// its reader to [`transfer_from`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitKind {
    /// A facemark model file (safetensors with facemark's metadata).
    Facemark,
    /// A dlib DNN file (`dlib_face_recognition_resnet_model_v1.dat`).
    DlibDnn,
    /// A facenet-pytorch InceptionResnetV1 state dict (`torch.save(model.state_dict())`).
    FacenetPt,
    /// A Keras FaceNet in keras-facenet's layout (`facenet_keras.h5`).
    FacenetH5,
}

impl InitKind {
    /// The kind of `path`.
    pub fn of(path: &Path) -> InitKind {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("dat") => InitKind::DlibDnn,
            Some("pt" | "pth") => InitKind::FacenetPt,
            Some("h5" | "hdf5") => InitKind::FacenetH5,
            _ => InitKind::Facemark,
        }
    }
    /// The architecture a pretrained backbone of this kind needs (`None`: the config's).
    pub fn arch(self) -> Option<ArchKind> {
        match self {
            InitKind::Facemark => None,
            InitKind::DlibDnn => Some(ArchKind::DlibResnet),
            InitKind::FacenetPt | InitKind::FacenetH5 => Some(ArchKind::Facenet),
        }
    }
}

/// The architecture a config asks for, for `n_points` (an `init` backbone's own, e.g.
/// `dlib_resnet` for a `.dat` file: [`InitKind::arch`]).
pub fn arch_for(cfg: &TrainConfig, n_points: usize) -> ArchConfig {
    // (`ert` is trained by `crate::ert`; `TrainConfig::validate` refuses it for a network)
    let kind = cfg
        .init
        .as_deref()
        .and_then(|p| InitKind::of(p).arch())
        .unwrap_or_else(|| cfg.arch.network().unwrap_or(ArchKind::Mobile));
    let mut arch = ArchConfig::new(kind, n_points);
    if cfg.input_size > 0 {
        arch.input_size = cfg.input_size;
    }
    arch.width = cfg.width;
    arch.repeats = cfg.repeats;
    arch.head_hidden = cfg.head_hidden;
    arch.late_width = cfg.late_width;
    arch.head = match cfg.head {
        HeadName::Dense => Head::Dense,
        // the neighbour table comes from the training data: [`pip_head`]
        HeadName::Pip => Head::Pip {
            neighbours: Vec::new(),
        },
        HeadName::Integral => Head::Integral,
    };
    arch
}

/// A PIP head for `n_points` whose neighbours are the `c` nearest points of the mean shape of
/// `points` (faces in one crop frame, e.g. the training crops; `visible` per point). Errors
/// when `c` is not below the point count.
pub(super) fn pip_head(
    points: &[Vec<Point>],
    visible: &[Vec<bool>],
    n_points: usize,
    c: usize,
) -> Result<Head, TrainError> {
    if c >= n_points {
        return Err(TrainError::DataShape(format!(
            "pip_neighbours = {c} needs more than {c} points (the data has {n_points})"
        )));
    }
    let mut sum = vec![[0f64; 2]; n_points];
    let mut cnt = vec![0usize; n_points];
    for (p, v) in points.iter().zip(visible) {
        for i in 0..n_points {
            if v[i] && p[i][0].is_finite() && p[i][1].is_finite() {
                sum[i][0] += p[i][0] as f64;
                sum[i][1] += p[i][1] as f64;
                cnt[i] += 1;
            }
        }
    }
    let mean: Vec<[f32; 2]> = sum
        .iter()
        .zip(&cnt)
        .map(|(s, &c)| {
            let c = c.max(1) as f64;
            [(s[0] / c) as f32, (s[1] / c) as f32]
        })
        .collect();
    Ok(Head::Pip {
        neighbours: facemark_nn::pip::nearest_neighbours(&mean, c),
    })
}

/// `--init`: copy `init`'s weights into `net` by name (a tensor whose shape differs, e.g. the
/// head for another point count, is kept new). Returns whether the whole head was copied.
///
/// A dlib DNN file ([`InitKind::DlibDnn`]) gives the whole backbone of a `dlib_resnet`
/// network (an error when any of its tensors is not in the file at its shape) and the input
/// layer's channel means ([`facemark_model::resnet::rgb_in`]); the head is new. A FaceNet file
/// ([`InitKind::FacenetPt`], [`InitKind::FacenetH5`]) gives the whole backbone of a `facenet`
/// network of `arch`'s widths and depths (read by `facemark_recog::facenet`, which checks every
/// tensor); the head is new.
pub(super) fn transfer_from(
    init: &Path,
    net: &mut Network,
    arch: &ArchConfig,
) -> Result<bool, TrainError> {
    let rep = match InitKind::of(init) {
        InitKind::Facemark => {
            let src = KeypointModel::load(init).map_err(|error| TrainError::Init {
                path: init.to_path_buf(),
                error,
            })?;
            transfer(&src.net, net)
        }
        InitKind::DlibDnn => {
            let (src, mean) = facemark_recog::load_network(init).map_err(TrainError::InitRecog)?;
            let rep = transfer(&src, net);
            let missing: Vec<&String> = rep
                .kept
                .iter()
                .filter(|n| !n.starts_with("head.") && !n.starts_with(resnet::RGB_IN))
                .collect();
            if !missing.is_empty() {
                return Err(TrainError::InitKind {
                    path: init.to_path_buf(),
                    detail: format!(
                        "the file's network does not fit the dlib_resnet backbone (at width 1): \
                         {} tensors missing or of another shape, e.g. {:?}",
                        missing.len(),
                        &missing[..missing.len().min(4)]
                    ),
                });
            }
            if let Some(Layer::Conv2d(c)) = net.layers.first_mut() {
                let fresh = resnet::rgb_in(mean);
                c.bias.value.copy_from_slice(&fresh.bias.value);
            }
            rep
        }
        kind @ (InitKind::FacenetPt | InitKind::FacenetH5) => {
            let src = facenet_backbone(init, kind, arch)?;
            let rep = transfer(&src, net);
            let missing: Vec<&String> = rep
                .kept
                .iter()
                .filter(|n| !n.starts_with("head.") && !n.starts_with(facenet::GRAY_IN))
                .collect();
            if !missing.is_empty() {
                return Err(TrainError::InitKind {
                    path: init.to_path_buf(),
                    detail: format!(
                        "the file's network does not fit the facenet backbone: {} tensors \
                         missing or of another shape, e.g. {:?}",
                        missing.len(),
                        &missing[..missing.len().min(4)]
                    ),
                });
            }
            rep
        }
    };
    tracing::info!(
        target: LOG_TARGET,
        "--init {}: {} tensors copied, {} kept new ({:?})",
        init.display(),
        rep.copied.len(),
        rep.kept.len(),
        rep.kept
    );
    Ok(whole_head(&rep.copied))
}

/// The InceptionResNetV1 of a FaceNet file, at `arch`'s widths and depths
/// ([`facenet::backbone_config`]).
fn facenet_backbone(init: &Path, kind: InitKind, arch: &ArchConfig) -> Result<Network, TrainError> {
    let bad = |detail: String| TrainError::InitKind {
        path: init.to_path_buf(),
        detail,
    };
    let mut cfg = facenet::backbone_config(arch).map_err(|e| bad(e.to_string()))?;
    let bytes = std::fs::read(init).map_err(|e| bad(e.to_string()))?;
    let net = if kind == InitKind::FacenetH5 {
        let w =
            facemark_formats::keras::read_keras_weights(&bytes).map_err(|e| bad(e.to_string()))?;
        if let Some(k) = w
            .iter()
            .find(|w| w.layer == "Bottleneck" && w.name == "kernel")
        {
            cfg.embedding = k.shape.last().copied().unwrap_or(cfg.embedding);
        }
        recog_facenet::from_keras_weights(&w, cfg)
    } else {
        let sd =
            facemark_formats::torch::read_state_dict(&bytes).map_err(|e| bad(e.to_string()))?;
        if let Some((_, t)) = sd.iter().find(|(n, _)| n == "last_linear.weight") {
            cfg.embedding = t.shape.first().copied().unwrap_or(cfg.embedding);
        }
        recog_facenet::from_state_dict(&sd, cfg)
    };
    net.map_err(|e| bad(e.to_string()))
}

/// Whether `--init` copied the whole head: both its weights and its bias. Otherwise the head
/// gets [`init_head`], or it would start from random full-gain weights next to a copied bias
/// (a source with another hidden layer or last stage has the same `head.bias` but not the
/// same `head.weight`).
fn whole_head(copied: &[String]) -> bool {
    ["head.weight", "head.bias"]
        .iter()
        .all(|h| copied.iter().any(|n| n == h))
}

/// Head bias := `mean`, head weights scaled by 0.1.
pub(super) fn init_head(net: &mut Network, mean: &[f32]) {
    for p in net.params_mut() {
        if p.name == "head.bias" && p.value.len() == mean.len() {
            p.value.copy_from_slice(mean);
        } else if p.name == "head.weight" {
            p.value.iter_mut().for_each(|v| *v *= 0.1);
        }
    }
}

/// `--freeze`: keep the parameters matching the patterns fixed, except those matching an
/// exception `!PAT` ([`Network::freeze`]); a pattern or exception that matches no parameter
/// is an error.
pub(super) fn freeze(net: &mut Network, patterns: &[String]) -> Result<(), TrainError> {
    let names: Vec<String> = net.params().iter().map(|p| p.name.clone()).collect();
    for pat in patterns {
        let p = pat.strip_prefix('!').unwrap_or(pat);
        if !names
            .iter()
            .any(|n| facemark_nn::network::name_matches(p, n))
        {
            return Err(TrainError::Freeze(pat.clone()));
        }
    }
    net.freeze(patterns);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_counts_as_transferred_only_whole() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(whole_head(&names(&[
            "conv1.weight",
            "head.weight",
            "head.bias"
        ])));
        assert!(!whole_head(&names(&["conv1.weight", "head.bias"])));
        assert!(!whole_head(&names(&["head.weight"])));
    }
}
