//! Int8 inference for the layers that hold most of a small keypoint net's multiply-adds: the
//! 1×1 (pointwise) convolutions and the dense head, when their input comes out of a ReLU.
//!
//! Why: in the `mobile` net these products take over half of the network's time in f32, at
//! close to the core's f32 FMA peak. An AVX-512 VNNI instruction (`vpdpbusd`) does 64 u8 × i8
//! multiply-adds where an f32 FMA does 16, so the same products run several times faster
//! (figures in README, `layer_times --int8`).
//!
//! Scheme (what [`QuantNetwork::forward`] computes for such a layer):
//! - weights: symmetric, per output channel: `w ≈ s_w[o] · q_w`, `q_w ∈ [-127, 127]`;
//! - inputs: per sample, from the sample's own maximum: `x ≈ s_x · q_x`, `q_x ∈ [0, 255]`
//!   (inputs are ≥ 0: only layers fed by a ReLU are quantised);
//! - products summed exactly in i32, then `y = s_x · s_w[o] · Σ q_x q_w + bias[o]`, activation.
//!
//! Before quantising, the network is equalised ([`QuantNetwork::from_fused`]), and pointwise
//! layers on maps under [`MIN_INT8_PIXELS`] run in f32. A PIP head at the end can be taken off
//! and run sparsely on its int8 weights ([`QuantNetwork::split_pip_head`], [`QuantPipHead`]):
//! the same points as the whole head. Accuracy and speed: README "int8
//! inference".
//!
//! The integer sums are exact and the f32 steps around them are the same operations in the
//! same order, so for these layers the VNNI kernels and the portable fallback give
//! bit-identical outputs; only the speed differs. (The f32 layers are as in the f32 network,
//! except the pointwise ones on tiny maps, which run
//! [`SmallPointwise`](crate::small_pw::SmallPointwise) where the CPU has AVX-512F: the same
//! products summed in another order.)

mod kernels;
mod linear;
mod network;
mod pip_head;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod vnni;

pub use linear::QLinear;
pub use network::{QuantNetwork, MIN_INT8_PIXELS};
pub use pip_head::QuantPipHead;

/// Which int8 kernel runs here, for reports: "AVX-512 VNNI" or "portable".
pub fn kernel_name() -> &'static str {
    if vnni_available() {
        "AVX-512 VNNI"
    } else {
        "portable"
    }
}

/// Whether the VNNI kernel runs here (checked once): the CPU has AVX-512 VNNI and
/// [`crate::simd_allowed`] (the portable paths are not forced by [`crate::PORTABLE_ENV`]).
pub fn vnni_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if !crate::simd_allowed() {
            return false;
        }
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| {
            std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512vnni")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}
