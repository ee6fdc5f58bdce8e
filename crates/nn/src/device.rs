//! Where the engine's large matrix products run: the CPU (always) or a CUDA GPU through cuBLAS
//! (cargo feature `cuda`, chosen at run time with [`set_device`]).
//!
//! Only the GEMMs move: they are ≥ 90 % of the arithmetic of the seed-001 and NaimishNet
//! convolutions (im2col + GEMM) and of every dense layer, and they are one call site
//! ([`crate::ops::matmul`]). Each product copies its operands to the GPU and the result back,
//! so only products of at least [`GPU_MIN_MACS`] multiply-adds go there; the rest of the step
//! (im2col, pooling, batch norm, depthwise convolutions, Adam) stays on the CPU threads.

use crate::NnError;
use std::sync::atomic::{AtomicBool, Ordering};

/// Smallest GEMM (m·n·k multiply-adds) sent to the GPU: below it the copies cost more than the
/// CPU's own time (a 4 M-MAC product is ≈ 0.1 ms on one CPU core at 40 GFLOP/s, about the
/// time of copying its 16 MB worst-case operands over PCIe 4).
pub const GPU_MIN_MACS: usize = 1 << 22;

/// A compute device name as the CLI takes it: `cpu`, `cuda` (GPU 0) or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU engine (gemm and the crate's own kernels); always available.
    #[default]
    Cpu,
    /// CUDA device ordinal.
    Cuda(usize),
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Device, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| format!("expected cpu, cuda or cuda:N, got `{s}`")),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

static GPU_ON: AtomicBool = AtomicBool::new(false);

/// Send the engine's large GEMMs to `device` from now on (process-wide). Returns a description
/// of the device (`"cpu"`, or the GPU's name).
///
/// Errors: `Cuda` in a build without the `cuda` feature, or when no CUDA driver, cuBLAS or GPU
/// is found — never a silent fallback to the CPU.
pub fn set_device(device: Device) -> Result<String, NnError> {
    match device {
        Device::Cpu => {
            GPU_ON.store(false, Ordering::SeqCst);
            Ok("cpu".into())
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(ordinal) => {
            let name = crate::cuda::init(ordinal).map_err(NnError::Device)?;
            GPU_ON.store(true, Ordering::SeqCst);
            Ok(name)
        }
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(_) => Err(NnError::Device(
            "this facemark was built without CUDA support: rebuild with `cargo build --release --features cuda`"
                .into(),
        )),
    }
}

/// Whether GEMMs of `macs` multiply-adds go to the GPU.
#[inline]
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) fn on_gpu(macs: usize) -> bool {
    macs >= GPU_MIN_MACS && GPU_ON.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!("cpu".parse(), Ok(Device::Cpu));
        assert_eq!("cuda".parse(), Ok(Device::Cuda(0)));
        assert_eq!("cuda:2".parse(), Ok(Device::Cuda(2)));
        assert_eq!(Device::Cuda(2).to_string(), "cuda:2");
        assert!("tpu".parse::<Device>().unwrap_err().contains("cpu, cuda"));
        assert!("cuda:x".parse::<Device>().is_err());
    }

    #[test]
    fn cpu_is_always_available() {
        assert_eq!(set_device(Device::Cpu).unwrap(), "cpu");
        assert!(!on_gpu(usize::MAX));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let e = set_device(Device::Cuda(0)).unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
        assert!(!on_gpu(usize::MAX));
    }
}
