//! Keras HDF5 weights (Keras 2's `model.save("file.h5")` and `model.save_weights("file.h5")`):
//! named `float32` arrays.
//!
//! Keras writes one group per layer, holding the layer's weights as datasets named after the
//! variables (`kernel:0`, `bias:0`, `beta:0`, `moving_mean:0`, …), usually one group level
//! deeper under the layer's own name again: a full model file has them under `model_weights/`
//! (`model_weights/Conv2d_1a_3x3/Conv2d_1a_3x3/kernel:0`), a weights-only file at the root.
//! [`read_keras_weights`] walks that tree and returns every dataset with its layer (the
//! top-level group), its weight name (the last path component without `:0`) and its values in
//! Keras' order (row-major; convolution kernels `[kh, kw, in, out]`, dense kernels `[in, out]`).
//!
//! HDF5 itself is read by the `hdf5-pure` crate (pure Rust, see `docs/decisions.md` D9).
//! This module is strict the way [`crate::torch`] is: an element type other than `float32` is an
//! error naming the dataset; a dataset larger than the file (possible only in a damaged file:
//! Keras stores weights uncompressed) is refused before anything is allocated; groups nested
//! deeper than [`MAX_DEPTH`] are refused (a hard-link cycle would otherwise never end). It never
//! panics (fuzz target `keras_h5`).

use hdf5_pure::{DType, File, Group};

/// Group levels below the layer group that are searched for weights (Keras uses one).
pub const MAX_DEPTH: usize = 8;

/// Why a Keras `.h5` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KerasError {
    /// The bytes are not an HDF5 file (no signature).
    #[error("not an HDF5 file (no \\x89HDF signature)")]
    NotHdf5,
    /// The HDF5 structure is damaged or uses something the reader does not read; `path` is
    /// the object being read (`/` for the file itself).
    #[error("HDF5 object `{path}`: {msg}")]
    Hdf5 {
        /// Path of the group or dataset inside the file.
        path: String,
        /// What the HDF5 reader said.
        msg: String,
    },
    /// A weight dataset holds another element type than `float32`.
    #[error("dataset `{path}` is {dtype}; float32 expected")]
    Dtype {
        /// Path of the dataset inside the file.
        path: String,
        /// Its element type, as the HDF5 reader names it.
        dtype: String,
    },
    /// A dataset's shape asks for more values than the file could hold.
    #[error("dataset `{path}`: shape {shape:?} needs {bytes} bytes, more than the file's {file}")]
    TooLarge {
        /// Path of the dataset inside the file.
        path: String,
        /// Its shape.
        shape: Vec<u64>,
        /// Bytes its values take as float32 (saturating).
        bytes: u64,
        /// The file's size in bytes.
        file: usize,
    },
    /// Layer groups nested deeper than [`MAX_DEPTH`].
    #[error("group `{0}` is nested deeper than {MAX_DEPTH} levels below its layer")]
    TooDeep(String),
}

/// One weight array of a Keras model.
#[derive(Debug, Clone, PartialEq)]
pub struct KerasWeight {
    /// The layer's name (the top-level group: `Conv2d_1a_3x3`).
    pub layer: String,
    /// The weight's name, the dataset's own name without Keras' `:0` suffix (`kernel`).
    pub name: String,
    /// The dataset's full path in the file (`model_weights/Conv2d_1a_3x3/Conv2d_1a_3x3/kernel:0`),
    /// for messages.
    pub path: String,
    /// Dimensions, outermost first (as h5py and numpy give them).
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<f32>,
}

/// Every weight of the Keras model in `bytes` (an HDF5 file), layers in name order, each layer's
/// weights in name order.
pub fn read_keras_weights(bytes: &[u8]) -> Result<Vec<KerasWeight>, KerasError> {
    if !hdf5_pure::is_hdf5_bytes(bytes) {
        return Err(KerasError::NotHdf5);
    }
    let file = File::from_bytes(bytes.to_vec()).map_err(|e| hdf5_err("/", e))?;
    let root = file.root();
    let groups = sorted(root.groups()).map_err(|e| hdf5_err("/", e))?;
    let (base, base_path) = if groups.iter().any(|g| g == "model_weights") {
        let g = root
            .group("model_weights")
            .map_err(|e| hdf5_err("model_weights", e))?;
        (g, "model_weights/".to_string())
    } else {
        (root, String::new())
    };
    let mut out = Vec::new();
    for layer in sorted(base.groups()).map_err(|e| hdf5_err(&base_path, e))? {
        let path = format!("{base_path}{layer}");
        let g = base.group(&layer).map_err(|e| hdf5_err(&path, e))?;
        walk(&g, &layer, &path, 0, bytes.len(), &mut out)?;
    }
    Ok(out)
}

/// The datasets of `group` (at `path`, inside layer `layer`) and of its subgroups into `out`.
fn walk(
    group: &Group,
    layer: &str,
    path: &str,
    depth: usize,
    file_len: usize,
    out: &mut Vec<KerasWeight>,
) -> Result<(), KerasError> {
    if depth > MAX_DEPTH {
        return Err(KerasError::TooDeep(path.to_string()));
    }
    for name in sorted(group.datasets()).map_err(|e| hdf5_err(path, e))? {
        let ds_path = format!("{path}/{name}");
        let err = |e| hdf5_err(&ds_path, e);
        let ds = group.dataset(&name).map_err(err)?;
        let dtype = ds.dtype().map_err(err)?;
        if dtype != DType::F32 {
            return Err(KerasError::Dtype {
                path: ds_path,
                dtype: dtype.to_string(),
            });
        }
        let shape = ds.shape().map_err(err)?;
        let bytes = shape
            .iter()
            .try_fold(4u64, |a, &d| a.checked_mul(d))
            .unwrap_or(u64::MAX);
        if bytes > file_len as u64 {
            return Err(KerasError::TooLarge {
                path: ds_path,
                shape,
                bytes,
                file: file_len,
            });
        }
        let values = ds.read_f32().map_err(err)?;
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        if values.len() != shape.iter().product::<usize>() {
            return Err(KerasError::Hdf5 {
                path: ds_path,
                msg: format!("{} values for shape {shape:?}", values.len()),
            });
        }
        out.push(KerasWeight {
            layer: layer.to_string(),
            name: name.strip_suffix(":0").unwrap_or(&name).to_string(),
            path: ds_path,
            shape,
            values,
        });
    }
    for name in sorted(group.groups()).map_err(|e| hdf5_err(path, e))? {
        let sub = format!("{path}/{name}");
        let g = group.group(&name).map_err(|e| hdf5_err(&sub, e))?;
        walk(&g, layer, &sub, depth + 1, file_len, out)?;
    }
    Ok(())
}

/// An HDF5 file (the bytes) holding `weights` as Keras 2's `model.save` lays them out:
/// `model_weights/<layer>/<layer>/<name>:0`, float32, layers in the order given. What
/// [`read_keras_weights`] reads back (its `path`s are not used here); for tests and for
/// handing facemark's weights to Keras-layout tools. The HDF5 structure is `hdf5-pure`'s
/// (new-style groups), which h5py and libhdf5 read.
pub fn write_keras_weights(weights: &[KerasWeight]) -> Result<Vec<u8>, KerasError> {
    let mut b = hdf5_pure::FileBuilder::new();
    let mut mw = b.create_group("model_weights");
    let mut layers: Vec<&str> = Vec::new();
    for w in weights {
        if !layers.contains(&w.layer.as_str()) {
            layers.push(&w.layer);
        }
    }
    for layer in layers {
        let mut g = mw.create_group(layer);
        let mut inner = g.create_group(layer);
        for w in weights.iter().filter(|w| w.layer == layer) {
            let shape: Vec<u64> = w.shape.iter().map(|&d| d as u64).collect();
            inner
                .create_dataset(&format!("{}:0", w.name))
                .with_f32_data(&w.values)
                .with_shape(&shape);
        }
        g.add_group(inner.finish());
        mw.add_group(g.finish());
    }
    b.add_group(mw.finish());
    b.finish().map_err(|e| hdf5_err("/", e))
}

fn sorted(names: Result<Vec<String>, hdf5_pure::Error>) -> Result<Vec<String>, hdf5_pure::Error> {
    let mut names = names?;
    names.sort();
    Ok(names)
}

fn hdf5_err(path: &str, e: hdf5_pure::Error) -> KerasError {
    KerasError::Hdf5 {
        path: if path.is_empty() { "/" } else { path }.to_string(),
        msg: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
