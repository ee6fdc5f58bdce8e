//! Minimal safetensors reading/writing of f32 tensors (used for models and checkpoints).
//!
//! Values are f32 in memory; a file may store them as f32, f16 or bf16 (read back widened to
//! f32). Checkpoints are always f32, so that a resumed run continues exactly; a finished model
//! may be stored as f16 ([`Storage::F16`]), half the size.

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
    /// How the file stored its values: the dtypes met (`"F32"`, `"F16"`, `"BF16"`, `"I8"`),
    /// sorted.
    pub stored_as: std::collections::BTreeSet<String>,
}

/// How a file stores the values of its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// 4 bytes a value, exact.
    #[default]
    F32,
    /// IEEE half precision, 2 bytes a value: rounds each value to 11 significant bits (relative
    /// error ≤ 2⁻¹¹); values beyond ±65504 become infinite, so [`write`] refuses them.
    F16,
    /// One byte a value, exact, for whole numbers in −127…127 only ([`write`] refuses
    /// others): arrays quantised beforehand (a refinement cascade's leaf coefficients), not a
    /// model's weights (`--storage` does not offer it).
    Int8,
}

impl Storage {
    fn dtype(self) -> Dtype {
        match self {
            Storage::F32 => Dtype::F32,
            Storage::F16 => Dtype::F16,
            Storage::Int8 => Dtype::I8,
        }
    }
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Storage::F32 => "f32",
            Storage::F16 => "f16",
            Storage::Int8 => "int8",
        })
    }
}

impl std::str::FromStr for Storage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Storage::F32),
            "f16" => Ok(Storage::F16),
            _ => Err(format!("unknown storage `{s}` (expected f32 or f16)")),
        }
    }
}

/// Serialise f32 tensors `(name, shape, values)` with metadata key/values, each value stored
/// as `storage` says. Requires: for [`Storage::F16`], every value finite and within f16's range
/// (±65504); the error names the first tensor that is not.
pub fn write(
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: &[(&str, String)],
    storage: Storage,
) -> Result<Vec<u8>, String> {
    let each: Vec<_> = tensors
        .iter()
        .map(|(n, s, v)| (n.clone(), s.clone(), *v, storage))
        .collect();
    write_each(&each, metadata)
}

/// As [`write`], each tensor stored as its own [`Storage`] says (a model file keeps its
/// refinement cascade's indices and thresholds in f32 when its weights are f16).
pub fn write_each(
    tensors: &[(String, Vec<usize>, &[f32], Storage)],
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, String> {
    let mut bytes: Vec<Vec<u8>> = Vec::with_capacity(tensors.len());
    for (name, _, v, storage) in tensors {
        bytes.push(match storage {
            Storage::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Storage::F16 => {
                if let Some(x) = v
                    .iter()
                    .find(|x| !x.is_finite() || x.abs() > f32::from(half::f16::MAX))
                {
                    return Err(format!(
                        "tensor `{name}` holds {x}, which f16 cannot store (largest 65504)"
                    ));
                }
                v.iter()
                    .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                    .collect()
            }
            Storage::Int8 => {
                if let Some(x) = v
                    .iter()
                    .find(|x| !(x.fract() == 0.0 && x.abs() <= 127.0))
                {
                    return Err(format!(
                        "tensor `{name}` holds {x}, which int8 storage cannot hold (whole numbers in −127…127)"
                    ));
                }
                v.iter().map(|&x| x as i8 as u8).collect()
            }
        });
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _, storage), b)| {
            (
                n.clone(),
                TensorView::new(storage.dtype(), s.clone(), b).expect("shape matches data"),
            )
        })
        .collect();
    let meta: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let bytes =
        safetensors::tensor::serialize(views, &Some(meta)).expect("tensor names are unique");
    Ok(sorted_metadata(bytes))
}

/// The same safetensors bytes with the `__metadata__` keys in sorted order: safetensors writes
/// them in its `HashMap`'s order, which changes from run to run once there are two keys, and a
/// model file must be the same bytes every time it is made. The header stays padded with
/// spaces to a multiple of 8 bytes, as safetensors pads it; tensor offsets are relative to the
/// data after the header, so they do not change.
fn sorted_metadata(bytes: Vec<u8>) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8-byte length")) as usize;
    let mut header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + n]).expect("safetensors wrote JSON");
    if let Some(serde_json::Value::Object(m)) = header.get_mut("__metadata__") {
        let mut entries: Vec<(String, serde_json::Value)> = std::mem::take(m).into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        m.extend(entries);
    }
    let mut json = serde_json::to_vec(&header).expect("JSON serialises");
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// Parse safetensors bytes (tensors stored as f32, f16, bf16 or i8; any other dtype is an
/// error).
/// `what` names the source in errors.
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
        let data = view.data();
        let vals: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::I8 => data.iter().map(|&b| b as i8 as f32).collect(),
            other => {
                return Err(ModelError::Tensor {
                    what: what.to_string(),
                    name,
                    problem: format!("has dtype {other:?}, expected F32, F16, BF16 or I8"),
                })
            }
        };
        out.stored_as.insert(format!("{:?}", view.dtype()));
        out.tensors.insert(name, (view.shape().to_vec(), vals));
    }
    Ok(out)
}

/// Set every parameter of `net` from `file`: each must be present with the right shape, and
/// the file may hold no other tensors (names starting with `optim.` are ignored, they belong
/// to checkpoints, and with `cascade.`, a model's refinement cascade, read apart).
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
        .filter(|k| {
            !used.contains(*k)
                && !k.starts_with("optim.")
                && !facemark_ert::ShapePredictor::is_tensor_name(crate::CASCADE_PREFIX, k)
        })
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
