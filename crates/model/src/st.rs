//! Minimal safetensors reading/writing of f32 tensors (used for models and checkpoints).

use crate::ModelError;
use facemark_nn::Network;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};

/// A parsed safetensors file: f32 tensors by name, and the string metadata.
#[derive(Debug, Clone, Default)]
pub struct StFile {
    /// Tensors by name: shape and row-major values.
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// The `__metadata__` string pairs.
    pub metadata: HashMap<String, String>,
}

/// Serialise f32 tensors `(name, shape, values)` with metadata key/values.
pub fn write(tensors: &[(String, Vec<usize>, &[f32])], metadata: &[(&str, String)]) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("shape matches data"),
            )
        })
        .collect();
    let meta: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    safetensors::tensor::serialize(views, &Some(meta)).expect("tensor names are unique")
}

/// Parse safetensors bytes (all tensors must be f32). `what` names the source in errors.
pub fn read(bytes: &[u8], what: &str) -> Result<StFile, ModelError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Format {
        what: what.to_string(),
        detail: format!("{e:?}"),
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| ModelError::Format {
        what: what.to_string(),
        detail: format!("{e:?}"),
    })?;
    let mut out = StFile {
        metadata: header.metadata().clone().unwrap_or_default(),
        ..Default::default()
    };
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(ModelError::Tensor {
                what: what.to_string(),
                name,
                problem: format!("has dtype {:?}, expected F32", view.dtype()),
            });
        }
        let vals = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.tensors.insert(name, (view.shape().to_vec(), vals));
    }
    Ok(out)
}

/// Set every parameter of `net` from `file`: each must be present with the right shape, and
/// the file may hold no other tensors (names starting with `optim.` are ignored, they belong
/// to checkpoints).
pub fn assign(net: &mut Network, file: &StFile, what: &str, arch: &str) -> Result<(), ModelError> {
    let mut used = std::collections::HashSet::new();
    for p in net.params_mut() {
        let (shape, vals) = file
            .tensors
            .get(&p.name)
            .ok_or_else(|| ModelError::Tensor {
                what: what.to_string(),
                name: p.name.clone(),
                problem: format!("is missing (the {arch} architecture needs it)"),
            })?;
        if *shape != p.shape {
            return Err(ModelError::Tensor {
                what: what.to_string(),
                name: p.name.clone(),
                problem: format!(
                    "has shape {shape:?}, the {arch} architecture expects {:?}",
                    p.shape
                ),
            });
        }
        p.value.copy_from_slice(vals);
        used.insert(p.name.clone());
    }
    let extra: Vec<String> = file
        .tensors
        .keys()
        .filter(|k| !used.contains(*k) && !k.starts_with("optim."))
        .cloned()
        .collect();
    if !extra.is_empty() {
        return Err(ModelError::Extra {
            what: what.to_string(),
            arch: arch.to_string(),
            names: extra,
        });
    }
    Ok(())
}
