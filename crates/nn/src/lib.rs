//! facemark-nn: a small CPU neural-network engine for keypoint CNNs.
//!
//! Why our own engine (see `docs/decisions.md`): on the 2-core CPU machines facemark trains on,
//! the hot ops of small keypoint CNNs (im2col + GEMM convolutions, depthwise convolutions,
//! pooling, batch norm) are all that is needed; writing them over the `gemm` crate gives
//! training and inference speed close to PyTorch's with a build that takes seconds, not minutes.
//!
//! Conventions:
//! - Tensors are row-major `f32`, images **NCHW** (`[batch, channels, height, width]`), dense
//!   activations `[batch, features]`.
//! - Parameter layouts follow PyTorch: conv weight `[out, in, k, k]`, depthwise weight
//!   `[c, 1, k, k]`, dense weight `[out, in]`, batch norm `weight`, `bias`, `running_mean`,
//!   `running_var`. Parameter names are `"<layer>.<param>"` (e.g. `conv1.weight`).
//! - Every layer has a hand-written forward and backward; `tests/gradcheck.rs` checks each one
//!   against finite differences.
//! - Work is parallelised with rayon over the batch (or channels); GEMMs inside a per-sample
//!   loop run single-threaded, batch-wide GEMMs (dense layers) use rayon inside `gemm`.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "cuda")]
mod cuda;
pub mod device;
pub mod integral;
pub mod layers;
pub mod loss;
pub mod network;
pub mod ops;
pub mod optim;
pub mod pip;
pub mod quant;
pub mod small_pw;
pub mod tensor;

pub use device::{set_device, Device};

/// The environment variable that forces the portable code paths: set to `1`, no SIMD kernel
/// (AVX2 depthwise and dot products, AVX-512 pointwise, the AVX-512 VNNI int8 kernels) runs,
/// whatever the CPU has. `.ci/run` runs the engine's tests once more with it, so that the
/// portable paths (the only ones on CPUs without those instructions) are tested, against the
/// same expectations, on machines that have the SIMD ones.
pub const PORTABLE_ENV: &str = "FACEMARK_PORTABLE";

/// Whether SIMD kernels may run: `false` when [`PORTABLE_ENV`] is `1` (read once, at the
/// first call). Every SIMD dispatch of this crate asks it before checking the CPU.
pub fn simd_allowed() -> bool {
    static ALLOWED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ALLOWED.get_or_init(|| std::env::var(PORTABLE_ENV).map_or(true, |v| v.trim() != "1"))
}
pub use layers::{
    Activation, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, DepthwiseConv2d, Dropout,
    GlobalAvgPool, L2Normalize, Layer, MaxPool2d, Residual,
};
pub use loss::{masked_loss, weighted_masked_loss, LossKind};
pub use network::Network;
pub use optim::{Adam, AdamConfig};
pub use quant::QuantNetwork;
pub use tensor::{Param, Tensor};

/// Errors of the engine: shape mismatches between data and a network or a parameter file.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A tensor does not have the shape the network expects (a parameter from a file, a head's
    /// output).
    #[error("shape mismatch for {what}: expected {expected:?}, got {got:?}")]
    Shape {
        /// The parameter's name or what was being checked.
        what: String,
        /// The shape the network has.
        expected: Vec<usize>,
        /// The shape given.
        got: Vec<usize>,
    },
    /// A parameter file names a tensor the network does not have (another architecture).
    #[error("unknown parameter `{0}`")]
    UnknownParam(String),
    /// A parameter the network needs is absent from the file.
    #[error("missing parameter `{0}`")]
    MissingParam(String),
    /// The compute device asked for cannot be used (see [`device::set_device`]).
    #[error("{0}")]
    Device(String),
}
