//! PyTorch state dicts (`torch.save(model.state_dict(), "file.pt")`): named tensors.
//!
//! Both containers `torch.save` writes are read:
//! - the zip archive (torch ≥ 1.6): `<name>/data.pkl` (the pickled dict, storages as
//!   persistent ids) and one raw little-endian file per storage, `<name>/data/<key>`;
//! - the legacy stream (`_use_new_zipfile_serialization=False`, files saved before 1.6): the
//!   pickles of the magic number, the protocol version (1001) and the system info, then the
//!   dict, then the list of storage keys, then each storage as an 8-byte element count and its
//!   raw bytes.
//!
//! Why our own reader: the pickle a state dict is written in uses a dozen opcodes and three
//! callables. `serde-pickle` refuses persistent ids and globals, and the readers that handle
//! torch's (candle-core's `pickle` module) come inside a machine-learning framework far larger
//! than facemark's engine. This one is strict: a callable, opcode, storage type or layout it does
//! not know is an error naming the byte offset or the tensor ([`TorchError`]); it never runs code
//! and never panics (fuzzed: `fuzz/fuzz_targets/torch_pt.rs`).
//!
//! Values are converted to `f32` from `float32` storages only; tensors of other types are
//! listed with their [`Dtype`] and no values (batch norm's `num_batches_tracked` is `int64`), so
//! that a caller who needs one gets a clear error rather than a silent conversion.

mod pickle;

use pickle::{StorageRef, TensorRef, Value};
use std::collections::HashMap;
use std::io::Read;

/// Why a `.pt` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TorchError {
    /// Neither a zip archive nor a legacy torch stream.
    #[error("not a PyTorch file (torch.save): {0}")]
    NotTorch(String),
    /// The zip container is damaged or lacks an entry.
    #[error("zip archive: {0}")]
    Zip(String),
    /// The pickle is malformed or uses something this reader does not read.
    #[error("pickle, byte {offset}: {msg}")]
    Pickle {
        /// Offset in the pickle.
        offset: usize,
        /// What is wrong.
        msg: String,
    },
    /// The pickled object is not a state dict (a dict of names to tensors).
    #[error("not a state dict: {0}")]
    NotStateDict(String),
    /// A tensor's storage is missing, short, or does not hold the tensor's view.
    #[error("tensor `{name}`: {msg}")]
    Tensor {
        /// The tensor's key in the dict.
        name: String,
        /// What is wrong.
        msg: String,
    },
}

/// Element type of a storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `torch.float32` (`FloatStorage`), the only type whose values are read.
    F32,
    /// `torch.float64`.
    F64,
    /// `torch.float16`.
    F16,
    /// `torch.bfloat16`.
    BF16,
    /// `torch.int64`.
    I64,
    /// `torch.int32`.
    I32,
    /// `torch.int16`.
    I16,
    /// `torch.int8`.
    I8,
    /// `torch.uint8`.
    U8,
    /// `torch.bool`.
    Bool,
}

impl Dtype {
    fn from_storage(name: &str) -> Option<Dtype> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "DoubleStorage" => Dtype::F64,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ShortStorage" => Dtype::I16,
            "CharStorage" => Dtype::I8,
            "ByteStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            _ => return None,
        })
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }
}

/// One tensor of a state dict.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    /// Dimensions, outermost first (PyTorch's `size()`).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Dtype,
    /// The values, row-major (contiguous whatever the stored strides), for [`Dtype::F32`];
    /// empty for the other types.
    pub values: Vec<f32>,
}

/// The tensors of a state dict, in the file's order, from the bytes of a `.pt` file.
pub fn read_state_dict(bytes: &[u8]) -> Result<Vec<(String, TorchTensor)>, TorchError> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_zip(bytes)
    } else if bytes.first() == Some(&0x80) {
        read_legacy(bytes)
    } else {
        Err(TorchError::NotTorch(
            "neither a zip archive nor a pickle stream".into(),
        ))
    }
}

fn read_zip(bytes: &[u8]) -> Result<Vec<(String, TorchTensor)>, TorchError> {
    let zerr = |e: zip::result::ZipError| TorchError::Zip(e.to_string());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zerr)?;
    let pkl: Vec<String> = zip
        .file_names()
        .filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .map(str::to_string)
        .collect();
    let [pkl] = pkl.as_slice() else {
        return Err(TorchError::Zip(format!(
            "expected one <name>/data.pkl entry, found {}",
            pkl.len()
        )));
    };
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    // a whole entry, at most `limit` bytes and never more than the file (torch stores its
    // entries uncompressed; a declared size is not trusted)
    let mut entry = |name: &str, limit: usize| -> Result<Option<Vec<u8>>, TorchError> {
        let limit = limit.min(bytes.len());
        let f = match zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(zerr(e)),
        };
        let mut out = Vec::new();
        f.take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| TorchError::Zip(format!("{name}: {e}")))?;
        Ok(Some(out))
    };
    if let Some(order) = entry(&format!("{prefix}byteorder"), 16)? {
        if order != b"little" {
            return Err(TorchError::Zip(format!(
                "byte order {:?} (little-endian read)",
                String::from_utf8_lossy(&order)
            )));
        }
    }
    let data = entry(pkl, bytes.len())?.unwrap_or_default();
    let (value, _) = pickle::load(&data)?;
    let dict = state_dict(value)?;
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = Vec::with_capacity(dict.len());
    for (name, t) in dict {
        let key = &t.storage.key;
        if !storages.contains_key(key) {
            let want = storage_bytes(&name, &t.storage)?;
            let b =
                entry(&format!("{prefix}data/{key}"), want)?.ok_or_else(|| TorchError::Tensor {
                    name: name.clone(),
                    msg: format!("storage data/{key} is not in the archive"),
                })?;
            storages.insert(key.clone(), b);
        }
        let tensor = materialise(&name, &t, &storages[key])?;
        out.push((name, tensor));
    }
    Ok(out)
}

fn read_legacy(bytes: &[u8]) -> Result<Vec<(String, TorchTensor)>, TorchError> {
    const MAGIC: i128 = 0x1950a86a20f9469cfc6c;
    let mut at = 0;
    let mut next = |what: &str| -> Result<Value, TorchError> {
        let (v, n) = pickle::load(&bytes[at..]).map_err(|e| match e {
            TorchError::Pickle { offset, msg } => TorchError::Pickle {
                offset: offset + at,
                msg: format!("{what}: {msg}"),
            },
            e => e,
        })?;
        at += n;
        Ok(v)
    };
    if next("magic number")? != Value::Int(MAGIC) {
        return Err(TorchError::NotTorch("no torch magic number".into()));
    }
    match next("protocol version")? {
        Value::Int(1001) => {}
        v => return Err(TorchError::NotTorch(format!("protocol version {v:?}"))),
    }
    if let Value::Dict(info) = next("system info")? {
        let little = info
            .iter()
            .find(|(k, _)| *k == Value::Str("little_endian".into()));
        if let Some((_, Value::Bool(false))) = little {
            return Err(TorchError::NotTorch("big-endian file".into()));
        }
    }
    let dict = state_dict(next("state dict")?)?;
    let Value::List(keys) = next("storage keys")? else {
        return Err(TorchError::NotTorch("storage keys are not a list".into()));
    };
    // each storage: numel (i64 LE) then its bytes, in the order of the key list
    let sizes: HashMap<&str, &StorageRef> = dict
        .iter()
        .map(|(_, t)| (t.storage.key.as_str(), &t.storage))
        .collect();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for k in keys {
        let Value::Str(k) = k else {
            return Err(TorchError::NotTorch("a storage key is not a string".into()));
        };
        let head = bytes
            .get(at..at + 8)
            .ok_or_else(|| TorchError::NotTorch(format!("storage {k}: truncated")))?;
        let numel = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        at += 8;
        let s = sizes
            .get(k.as_str())
            .ok_or_else(|| TorchError::NotTorch(format!("storage {k} belongs to no tensor")))?;
        if numel != s.numel as u64 {
            return Err(TorchError::NotTorch(format!(
                "storage {k}: {numel} elements stored, {} expected",
                s.numel
            )));
        }
        let n = storage_bytes(&k, s)?;
        let b = bytes
            .get(at..at.saturating_add(n))
            .ok_or_else(|| TorchError::NotTorch(format!("storage {k}: truncated")))?;
        at += n;
        storages.insert(k, b.to_vec());
    }
    dict.into_iter()
        .map(|(name, t)| {
            let b = storages
                .get(&t.storage.key)
                .ok_or_else(|| TorchError::Tensor {
                    name: name.clone(),
                    msg: format!("storage {} is not in the file", t.storage.key),
                })?;
            let tensor = materialise(&name, &t, b)?;
            Ok((name, tensor))
        })
        .collect()
}

/// The `(name, tensor)` pairs of a pickled dict.
fn state_dict(v: Value) -> Result<Vec<(String, TensorRef)>, TorchError> {
    let Value::Dict(items) = v else {
        return Err(TorchError::NotStateDict(
            "the pickled object is not a dict".into(),
        ));
    };
    items
        .into_iter()
        .map(|(k, v)| match (k, v) {
            (Value::Str(k), Value::Tensor(t)) => Ok((k, t)),
            (Value::Str(k), _) => Err(TorchError::NotStateDict(format!("`{k}` is not a tensor"))),
            _ => Err(TorchError::NotStateDict("a key is not a string".into())),
        })
        .collect()
}

fn storage_bytes(name: &str, s: &StorageRef) -> Result<usize, TorchError> {
    s.numel
        .checked_mul(s.dtype.size())
        .ok_or_else(|| TorchError::Tensor {
            name: name.into(),
            msg: format!("storage of {} elements", s.numel),
        })
}

/// The tensor's values out of its storage's bytes (strided view, bounds checked).
fn materialise(name: &str, t: &TensorRef, bytes: &[u8]) -> Result<TorchTensor, TorchError> {
    let bad = |msg: String| TorchError::Tensor {
        name: name.into(),
        msg,
    };
    let s = &t.storage;
    let want = storage_bytes(name, s)?;
    if bytes.len() != want {
        return Err(bad(format!(
            "storage {} has {} bytes, {} elements of {} bytes expected",
            s.key,
            bytes.len(),
            s.numel,
            s.dtype.size()
        )));
    }
    let numel = t
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("size {:?} overflows", t.shape)))?;
    if numel > s.numel {
        return Err(bad(format!(
            "size {:?} has more elements than its storage ({})",
            t.shape, s.numel
        )));
    }
    if numel > 0 {
        let last = t
            .shape
            .iter()
            .zip(&t.stride)
            .try_fold(t.offset, |a, (&d, &st)| {
                a.checked_add((d - 1).checked_mul(st)?)
            })
            .ok_or_else(|| bad("view overflows".into()))?;
        if last >= s.numel {
            return Err(bad(format!(
                "view (offset {}, size {:?}, stride {:?}) outside its storage of {} elements",
                t.offset, t.shape, t.stride, s.numel
            )));
        }
    }
    let mut values = Vec::new();
    if s.dtype == Dtype::F32 {
        values.reserve(numel);
        let mut idx = vec![0usize; t.shape.len()];
        for _ in 0..numel {
            let at: usize = t.offset
                + idx
                    .iter()
                    .zip(&t.stride)
                    .map(|(i, st)| i * st)
                    .sum::<usize>();
            let b = &bytes[at * 4..at * 4 + 4];
            values.push(f32::from_le_bytes(b.try_into().expect("4 bytes")));
            for d in (0..idx.len()).rev() {
                idx[d] += 1;
                if idx[d] < t.shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
    Ok(TorchTensor {
        shape: t.shape.clone(),
        dtype: s.dtype,
        values,
    })
}

#[cfg(test)]
mod tests;
