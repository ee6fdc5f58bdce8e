//! f32 pointwise (1×1) convolution on tiny maps, for the int8 engine's layers that stay f32
//! ([`crate::quant::MIN_INT8_PIXELS`]): the `mobile` net's `pw7`, 384 → 384 channels on a 3×3
//! map, then its slowest layer.
//!
//! Why its own kernel: a GEMM with 9 columns leaves most of a general kernel's tile empty (the
//! gemm crate ran `pw7` at about 20 G multiply-adds/s, 65–80 µs, with its weights hot in
//! cache). Here 32 outputs sit in two AVX-512 registers and each pixel's input is broadcast:
//! every load feeds two FMAs and nothing is padded but the output count. Measured
//! (`layer_times --int8`, three alternating runs): `pw7` 66–74 → 45–54 µs, about one 16-wide
//! FMA per cycle, which is this core's rate; the default model's validation NME moved by at
//! most 5·10⁻⁷ per face.
//!
//! Requires AVX-512F (checked at run time; [`SmallPointwise::forward_into`] returns `false`
//! without it, and the caller runs the layer as it was). The sums run in a different order than the
//! GEMM's, so results differ from the f32 network's in the last bits.

use crate::layers::{ActKind, Conv2d};
use crate::Tensor;

/// A 1×1 convolution's weights transposed for [`SmallPointwise::forward_into`].
#[derive(Debug, Clone)]
pub struct SmallPointwise {
    cin: usize,
    cout: usize,
    /// `cout` rounded up to a multiple of 32 (one tile: two registers of 16 outputs).
    cout32: usize,
    /// `[cin][cout32]`, zero padded.
    wt: Vec<f32>,
    /// `cout32`, zero padded.
    bias: Vec<f32>,
    relu: bool,
}

impl SmallPointwise {
    /// `None` unless `c` is a pointwise convolution (1×1, stride 1, no padding) with no
    /// activation or a ReLU.
    pub fn from_conv(c: &Conv2d) -> Option<SmallPointwise> {
        if !c.pointwise() || !matches!(c.act, None | Some(ActKind::Relu)) {
            return None;
        }
        let (cin, cout) = (c.in_c, c.out_c);
        let cout32 = cout.div_ceil(32) * 32;
        let mut wt = vec![0.0; cin * cout32];
        for (o, row) in c.weight.value.chunks_exact(cin).enumerate() {
            for (i, &v) in row.iter().enumerate() {
                wt[i * cout32 + o] = v;
            }
        }
        let mut bias = c.bias.value.clone();
        bias.resize(cout32, 0.0);
        Some(SmallPointwise {
            cin,
            cout,
            cout32,
            wt,
            bias,
            relu: c.act == Some(ActKind::Relu),
        })
    }

    /// The layer on `x` (`NCHW`, `cin` channels) into `out`, whose buffer is reused when its
    /// size fits ([`Tensor::reuse_as`]); `false`, and `out` untouched, where the CPU lacks
    /// AVX-512F.
    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::simd_allowed() && std::is_x86_feature_detected!("avx512f") {
            let p = x.per_sample() / self.cin;
            assert_eq!(p * self.cin, x.per_sample(), "pointwise: input channels");
            let mut shape = x.shape.clone();
            shape[1] = self.cout;
            let ys = out.reuse_as(shape);
            for (xs, ys) in x
                .data
                .chunks_exact(self.cin * p)
                .zip(ys.chunks_exact_mut(self.cout * p))
            {
                // SAFETY: AVX-512F present (checked); the sizes are those `sample` documents.
                unsafe { avx512::sample(self, xs, p, ys) };
            }
            return true;
        }
        let _ = (x, out);
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::SmallPointwise;
    use std::arch::x86_64::*;

    /// One sample: `xs` `[cin][p]`, `ys` `[cout][p]`, in tiles of 32 outputs × up to 9 pixels
    /// (18 accumulators, each broadcast input feeding two FMAs; a 3×3 map is one tile, so
    /// each weight is loaded once).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F. (The sizes, `xs.len() == cin·p` and
    /// `ys.len() == cout·p`, are asserted.)
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sample(l: &SmallPointwise, xs: &[f32], p: usize, ys: &mut [f32]) {
        // SAFETY: AVX-512F present (the contract); the sizes `tile` needs are asserted first.
        unsafe {
            assert!(xs.len() == l.cin * p && ys.len() == l.cout * p);
            for ob in (0..l.cout32).step_by(32) {
                let mut q0 = 0;
                while q0 < p {
                    match p - q0 {
                        1 => tile::<1>(l, xs, p, ob, q0, ys),
                        2 => tile::<2>(l, xs, p, ob, q0, ys),
                        3 => tile::<3>(l, xs, p, ob, q0, ys),
                        4 => tile::<4>(l, xs, p, ob, q0, ys),
                        5 => tile::<5>(l, xs, p, ob, q0, ys),
                        6 => tile::<6>(l, xs, p, ob, q0, ys),
                        7 => tile::<7>(l, xs, p, ob, q0, ys),
                        8 => tile::<8>(l, xs, p, ob, q0, ys),
                        _ => tile::<9>(l, xs, p, ob, q0, ys),
                    }
                    q0 += (p - q0).min(9);
                }
            }
        }
    }

    /// Outputs `ob .. ob + 32` (those below `cout`) of pixels `q0 .. q0 + NP`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F; `xs.len() == l.cin·p`, `ys.len() == l.cout·p`,
    /// `q0 + NP ≤ p` and `ob < l.cout32` a multiple of 32 (the reads of `l.wt` and `l.bias`
    /// are then inside their `cout32`-padded rows).
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const NP: usize>(
        l: &SmallPointwise,
        xs: &[f32],
        p: usize,
        ob: usize,
        q0: usize,
        ys: &mut [f32],
    ) {
        // SAFETY: the caller upholds the `# Safety` contract above.
        unsafe {
            let (wt, x) = (l.wt.as_ptr(), xs.as_ptr());
            let b0 = _mm512_loadu_ps(l.bias.as_ptr().add(ob));
            let b1 = _mm512_loadu_ps(l.bias.as_ptr().add(ob + 16));
            let (mut a0, mut a1) = ([b0; NP], [b1; NP]);
            for i in 0..l.cin {
                let w0 = _mm512_loadu_ps(wt.add(i * l.cout32 + ob));
                let w1 = _mm512_loadu_ps(wt.add(i * l.cout32 + ob + 16));
                for k in 0..NP {
                    let xb = _mm512_set1_ps(*x.add(i * p + q0 + k));
                    a0[k] = _mm512_fmadd_ps(w0, xb, a0[k]);
                    a1[k] = _mm512_fmadd_ps(w1, xb, a1[k]);
                }
            }
            // registers hold 16 outputs of one pixel; the layout is [cout][p]: through a buffer
            let zero = _mm512_setzero_ps();
            let mut buf = [[0.0f32; 32]; NP];
            for k in 0..NP {
                let (mut v0, mut v1) = (a0[k], a1[k]);
                if l.relu {
                    v0 = _mm512_max_ps(v0, zero);
                    v1 = _mm512_max_ps(v1, zero);
                }
                _mm512_storeu_ps(buf[k].as_mut_ptr(), v0);
                _mm512_storeu_ps(buf[k].as_mut_ptr().add(16), v1);
            }
            for j in 0..32.min(l.cout - ob) {
                for (k, b) in buf.iter().enumerate() {
                    ys[(ob + j) * p + q0 + k] = b[j];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Same outputs as the layer's own forward (GEMM), up to rounding, for map sizes 1–15,
    /// output counts that do and do not fill a tile, with and without ReLU, batch of 2.
    #[test]
    fn matches_the_gemm_layer() {
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for (cin, cout) in [(7, 5), (40, 33), (64, 96)] {
            for relu in [false, true] {
                let mut c = Conv2d::new("pw", cin, cout, 1, 1, 0, rng);
                c.bias.value = (0..cout).map(|i| i as f32 * 0.01 - 0.1).collect();
                c.act = relu.then_some(ActKind::Relu);
                let s = SmallPointwise::from_conv(&c).expect("pointwise");
                for side in 1..=3 {
                    for w in [side, side + 2] {
                        let p = side * w;
                        let x = Tensor::new(
                            vec![2, cin, side, w],
                            (0..2 * cin * p)
                                .map(|i| ((i * 37) % 23) as f32 / 11.0 - 1.0)
                                .collect(),
                        );
                        let want = c.forward(&x);
                        let mut got = Tensor::zeros(vec![0]);
                        if !s.forward_into(&x, &mut got) {
                            println!("no AVX-512F here: kernel not exercised");
                            return;
                        }
                        assert_eq!(got.shape, want.shape);
                        for (a, b) in got.data.iter().zip(&want.data) {
                            assert!(
                                (a - b).abs() < 1e-4,
                                "{cin}→{cout} relu {relu} {side}×{w}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn only_pointwise_layers() {
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert!(SmallPointwise::from_conv(&Conv2d::new("c", 3, 4, 3, 1, 1, rng)).is_none());
        let mut elu = Conv2d::new("c", 3, 4, 1, 1, 0, rng);
        elu.act = Some(ActKind::Elu);
        assert!(SmallPointwise::from_conv(&elu).is_none());
    }
}
