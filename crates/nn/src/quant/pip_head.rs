//! A PIP head in int8, run sparsely ([`QuantPipHead`]): the score maps on every cell, the
//! offsets only at the cells the read-out looks at.
//!
//! Why: the default model's head is a 1×1 convolution with `N · (3 + 2C) = 1564` outputs on
//! its 5×5 map, and the read-out ([`PipLayout::read_out`]) uses its score maps (68 × 25
//! values) and, of the 1496 offset channels, each at one cell only: landmark `i`'s own and
//! neighbour offsets at its arg-max cell. Run whole, the head took about 120 µs of a 540 µs
//! face (`layer_times --int8`); here the offsets are 1496 dot products instead of 25 × 1496.
//!
//! Same results as the whole int8 head, bit for bit: the score channels are a [`QLinear`]
//! cut from the head's (the same quantised weights, scales and biases, and the same input
//! quantisation), and each offset is the same exact i32 sum over the same packed input bytes,
//! then `sum · (s_x · s_w) + bias` in f32 as the convolution's kernels compute it.

use super::network::{run_layer, QLayer, MIN_INT8_PIXELS};
use super::{vnni_available, QLinear};
use crate::pip::{argmax, PipLayout};
use crate::Tensor;
use rayon::prelude::*;

/// The int8 head of a PIP model, taken off the end of a [`QuantNetwork`](super::QuantNetwork)
/// by [`QuantNetwork::split_pip_head`](super::QuantNetwork::split_pip_head).
#[derive(Debug, Clone)]
pub struct QuantPipHead {
    layout: PipLayout,
    /// The whole head as the network ran it: for maps under [`MIN_INT8_PIXELS`] (where it
    /// runs in f32) it still does.
    full: QLayer,
    /// The `N` score channels of the head.
    scores: QLinear,
    /// Offset channels per landmark, `2 + 2C`: its x and y offsets, then its neighbours' x
    /// and y (the order `read_out` lists them in).
    per: usize,
    /// `per` rounded up to 8 (one 256-bit register of i32 sums).
    lanes: usize,
    /// Head channel of landmark `i`'s offset `j`: `[N][per]`.
    chans: Vec<usize>,
    /// Input channels rounded up to 4 (the head's `cin4`).
    cin4: usize,
    /// `[N][cin4 / 4][lanes][4]`: landmark `i`'s weights, the 4 inputs of one `vpdpbusd`
    /// lane side by side, zero padded.
    w: Vec<i8>,
    /// Weight scale and bias of each lane, `[N][lanes]` (0 in the padding).
    w_scale: Vec<f32>,
    bias: Vec<f32>,
}

impl QuantPipHead {
    /// From the head's int8 layer (`QLayer::Int8` of a convolution with `layout.channels()`
    /// outputs and no activation; checked by the caller, panics on another layer).
    pub(super) fn new(full: QLayer, layout: PipLayout) -> QuantPipHead {
        let QLayer::Int8(q, ..) = &full else {
            panic!("QuantPipHead: the head must be an int8 layer");
        };
        let (n, c) = (layout.n_points(), layout.c());
        let per = 2 + 2 * c;
        let lanes = per.div_ceil(8) * 8;
        let chans: Vec<usize> = (0..n)
            .flat_map(|i| {
                let own = [n + i, 2 * n + i];
                let nx = (0..c).map(move |k| 3 * n + i * c + k);
                let ny = (0..c).map(move |k| 3 * n + n * c + i * c + k);
                own.into_iter().chain(nx).chain(ny)
            })
            .collect();
        let (cin4, k4) = (q.cin4, q.cin4 / 4);
        let mut w = vec![0i8; n * k4 * lanes * 4];
        let mut w_scale = vec![0.0; n * lanes];
        let mut bias = vec![0.0; n * lanes];
        for i in 0..n {
            for (j, &ch) in chans[i * per..(i + 1) * per].iter().enumerate() {
                w_scale[i * lanes + j] = q.w_scale[ch];
                bias[i * lanes + j] = q.bias[ch];
                for k in 0..k4 {
                    let at = ((i * k4 + k) * lanes + j) * 4;
                    w[at..at + 4].copy_from_slice(&q.w[ch * cin4 + 4 * k..ch * cin4 + 4 * k + 4]);
                }
            }
        }
        QuantPipHead {
            scores: q.first_outputs(n),
            layout,
            full,
            per,
            lanes,
            chans,
            cin4,
            w,
            w_scale,
            bias,
        }
    }

    /// Landmarks (`batch × 2N` normalised, x before y, as [`PipLayout::decode`] gives them)
    /// from the feature map the head reads, `features = [batch, cin, H, W]`: the same values
    /// as the whole int8 head's output decoded.
    pub fn forward(&self, features: &Tensor) -> Vec<f32> {
        self.forward_with(features, vnni_available())
    }

    /// [`QuantPipHead::forward`] with the AVX-512 kernels (`fast`, where the CPU has them) or
    /// the portable loops: the same bits either way.
    pub(super) fn forward_with(&self, features: &Tensor, fast: bool) -> Vec<f32> {
        let &[b, cin, h, w] = &features.shape[..] else {
            panic!(
                "PIP features {:?}: expected [batch, cin, h, w]",
                features.shape
            );
        };
        assert_eq!(cin, self.scores.cin, "PIP features: channels");
        if h * w < MIN_INT8_PIXELS {
            let mut out = Tensor::zeros(vec![0]);
            run_layer(&self.full, features, &mut out);
            return self.layout.decode(&out.data, &out.shape);
        }
        let per = cin * h * w;
        if b == 1 {
            return self.sample(&features.data, h, w, fast);
        }
        features
            .data
            .par_chunks(per)
            .flat_map_iter(|xs| self.sample(xs, h, w, fast))
            .collect()
    }

    /// One face: its `2N` coordinates.
    fn sample(&self, xs: &[f32], h: usize, w: usize, fast: bool) -> Vec<f32> {
        thread_local! {
            /// Per-thread scratch (packed input, i32 sums, score maps), reused between calls.
            static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<i32>, Vec<f32>)> = Default::default();
        }
        let (n, p) = (self.layout.n_points(), h * w);
        let p16 = p.div_ceil(16) * 16;
        SCRATCH.with(|cell| {
            let (xq, acc, scores) = &mut *cell.borrow_mut();
            scores.resize(n * p, 0.0);
            // the score maps, leaving the input quantised and packed in `xq`
            let sx = self.scores.sample_in(xs, p, scores, fast, xq, acc);
            let cells: Vec<usize> = scores.chunks_exact(p).map(argmax).collect();
            let mut sums = vec![0i32; n * self.lanes];
            let k4 = self.cin4 / 4;
            let xq = &xq[..self.cin4 * p16];
            assert!(cells.iter().all(|&q| q < p) && self.w.len() == n * k4 * self.lanes * 4);
            #[cfg(target_arch = "x86_64")]
            if fast && avx512vl_vnni() {
                // SAFETY: AVX-512F/VL and VNNI present (checked); sizes asserted just above.
                unsafe { vnni_offsets::run(xq, p16, &cells, &self.w, k4, self.lanes, &mut sums) };
            } else {
                offsets_portable(xq, p16, &cells, &self.w, k4, self.lanes, &mut sums);
            }
            #[cfg(not(target_arch = "x86_64"))]
            offsets_portable(xq, p16, &cells, &self.w, k4, self.lanes, &mut sums);
            // dequantised as the convolution's kernels do: `sum · (s_x · s_w) + bias`
            let mut vals = vec![0.0f32; self.layout.channels()];
            for i in 0..n {
                for (j, &ch) in self.chans[i * self.per..(i + 1) * self.per]
                    .iter()
                    .enumerate()
                {
                    let l = i * self.lanes + j;
                    let scale = sx * self.w_scale[l];
                    vals[ch] = sums[l] as f32 * scale + self.bias[l];
                }
            }
            // every offset channel `read_out` asks for is landmark `i`'s at `cells[i]`
            self.layout.read_out(w, h, &cells, |chan, _cell| vals[chan])
        })
    }
}

/// Whether the CPU has what the offset kernel uses (AVX-512 VNNI on 256-bit registers).
#[cfg(target_arch = "x86_64")]
fn avx512vl_vnni() -> bool {
    vnni_available() && std::is_x86_feature_detected!("avx512vl")
}

/// `sums[i][j] = Σ_k x[k][cells[i]] · w[i][k][j]` (exact i32, wrapping as `vpdpbusd`), `x`
/// packed `[k4][p16][4]`, `w` `[N][k4][lanes][4]`: the reference of the VNNI kernel.
pub(super) fn offsets_portable(
    xq: &[u8],
    p16: usize,
    cells: &[usize],
    w: &[i8],
    k4: usize,
    lanes: usize,
    sums: &mut [i32],
) {
    for (i, &q) in cells.iter().enumerate() {
        for j in 0..lanes {
            let mut s = 0i32;
            for k in 0..k4 {
                let x4 = &xq[(k * p16 + q) * 4..(k * p16 + q) * 4 + 4];
                let w4 = &w[((i * k4 + k) * lanes + j) * 4..((i * k4 + k) * lanes + j) * 4 + 4];
                for b in 0..4 {
                    s = s.wrapping_add(x4[b] as i32 * w4[b] as i32);
                }
            }
            sums[i * lanes + j] = s;
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod vnni_offsets {
    use std::arch::x86_64::*;

    /// [`super::offsets_portable`] in AVX-512 VNNI: up to 4 landmarks at a time, each one
    /// broadcast of its cell's 4 inputs against `lanes / 8` registers of weights.
    ///
    /// # Safety
    ///
    /// AVX-512F/VL and VNNI; `xq.len() ≥ k4·p16·4`, every cell `< p16`, `w.len() ≥
    /// cells.len()·k4·lanes·4`, `sums.len() ≥ cells.len()·lanes`, `lanes` a multiple of 8.
    #[target_feature(enable = "avx512f,avx512vl,avx512vnni")]
    pub unsafe fn run(
        xq: &[u8],
        p16: usize,
        cells: &[usize],
        w: &[i8],
        k4: usize,
        lanes: usize,
        sums: &mut [i32],
    ) {
        assert!(lanes.is_multiple_of(8) && sums.len() >= cells.len() * lanes);
        assert!(w.len() >= cells.len() * k4 * lanes * 4 && xq.len() >= k4 * p16 * 4);
        assert!(cells.iter().all(|&q| q < p16));
        // SAFETY: the sizes just asserted are those `tile` reads and writes.
        unsafe {
            match lanes / 8 {
                1 => tiles::<1>(xq, p16, cells, w, k4, sums),
                2 => tiles::<2>(xq, p16, cells, w, k4, sums),
                3 => tiles::<3>(xq, p16, cells, w, k4, sums),
                4 => tiles::<4>(xq, p16, cells, w, k4, sums),
                _ => super::offsets_portable(xq, p16, cells, w, k4, lanes, sums),
            }
        }
    }

    /// Landmarks in tiles of up to 4, `B` registers of 8 lanes each.
    ///
    /// # Safety
    ///
    /// As [`run`], with `lanes = 8·B`.
    #[target_feature(enable = "avx512f,avx512vl,avx512vnni")]
    unsafe fn tiles<const B: usize>(
        xq: &[u8],
        p16: usize,
        cells: &[usize],
        w: &[i8],
        k4: usize,
        sums: &mut [i32],
    ) {
        let (x, wp, s) = (xq.as_ptr(), w.as_ptr(), sums.as_mut_ptr());
        let mut i0 = 0;
        // SAFETY: as `run` asserted; each tile covers landmarks `i0 .. i0 + L` of `cells`.
        unsafe {
            while i0 < cells.len() {
                let c = &cells[i0..];
                match c.len().min(4) {
                    4 => tile::<4, B>(x, p16, c, wp, k4, s, i0),
                    3 => tile::<3, B>(x, p16, c, wp, k4, s, i0),
                    2 => tile::<2, B>(x, p16, c, wp, k4, s, i0),
                    _ => tile::<1, B>(x, p16, c, wp, k4, s, i0),
                }
                i0 += 4;
            }
        }
    }

    /// Landmarks `i0 .. i0 + L` (cells `c[..L]`): `B` registers of 8 sums each, over all
    /// `k4` groups of 4 inputs.
    ///
    /// # Safety
    ///
    /// As [`run`]; `c.len() ≥ L`, `i0 + L ≤` the landmark count.
    #[target_feature(enable = "avx512f,avx512vl,avx512vnni")]
    unsafe fn tile<const L: usize, const B: usize>(
        x: *const u8,
        p16: usize,
        c: &[usize],
        w: *const i8,
        k4: usize,
        sums: *mut i32,
        i0: usize,
    ) {
        let lanes = 8 * B;
        // SAFETY: the caller's contract bounds every offset below.
        unsafe {
            let mut s = [[_mm256_setzero_si256(); B]; L];
            for k in 0..k4 {
                for (l, row) in s.iter_mut().enumerate() {
                    let x4 = (x.add((k * p16 + c[l]) * 4) as *const i32).read_unaligned();
                    let xb = _mm256_set1_epi32(x4);
                    let wl = w.add(((i0 + l) * k4 + k) * lanes * 4);
                    for (b, v) in row.iter_mut().enumerate() {
                        let wv = _mm256_loadu_si256(wl.add(32 * b) as *const __m256i);
                        *v = _mm256_dpbusd_epi32(*v, xb, wv);
                    }
                }
            }
            for (l, row) in s.iter().enumerate() {
                for (b, v) in row.iter().enumerate() {
                    let at = sums.add((i0 + l) * lanes + 8 * b) as *mut __m256i;
                    _mm256_storeu_si256(at, *v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{ActKind, Conv2d, Layer};
    use crate::{Network, QuantNetwork};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A PIP layout of `n` points, each with the next `c` points (cyclically) as neighbours.
    fn layout(n: usize, c: usize) -> PipLayout {
        PipLayout {
            neighbours: (0..n)
                .map(|i| (1..=c).map(|k| (i + k) % n).collect())
                .collect(),
        }
    }

    /// A small PIP net: a 3×3 convolution, a pointwise layer (both ReLU), the head.
    fn pip_net(cin: usize, l: &PipLayout, rng: &mut ChaCha8Rng) -> Network {
        let mut c1 = Conv2d::new("c1", 1, 12, 3, 1, 1, rng);
        c1.act = Some(ActKind::Relu);
        let mut pw = Conv2d::new("pw", 12, cin, 1, 1, 0, rng);
        pw.act = Some(ActKind::Relu);
        let mut head = Conv2d::new("head", cin, l.channels(), 1, 1, 0, rng);
        head.bias
            .value
            .iter_mut()
            .for_each(|b| *b = rng.gen_range(-0.5..0.5));
        Network::new(vec![
            Layer::Conv2d(c1),
            Layer::Conv2d(pw),
            Layer::Conv2d(head),
        ])
    }

    /// The sparse head gives the bits the whole int8 head's output decoded gives, with the
    /// VNNI kernel and the portable loops, for neighbour counts that fill 1 to 5 registers,
    /// odd channel counts, maps above and below [`MIN_INT8_PIXELS`], batches of 1 and 3.
    #[test]
    fn sparse_int8_head_equals_the_whole_head_decoded() {
        let mut rng = ChaCha8Rng::seed_from_u64(15);
        for (n, c, cin) in [
            (7, 1, 13),
            (9, 3, 20),
            (19, 10, 37),
            (19, 15, 8),
            (19, 16, 21),
        ] {
            let l = layout(n, c);
            let net = pip_net(cin, &l, &mut rng);
            let whole = QuantNetwork::from_fused(&net);
            let mut body = QuantNetwork::from_fused(&net);
            let head = body.split_pip_head(l.clone()).expect("an int8 PIP head");
            assert_eq!(body.n_int8() + 1, whole.n_int8());
            for (b, h, w) in [(1, 5, 5), (3, 4, 7), (1, 6, 6), (2, 3, 3), (1, 9, 2)] {
                let x = Tensor::new(
                    vec![b, 1, h, w],
                    (0..b * h * w)
                        .map(|_| rng.gen_range(-1.0..1.0f32))
                        .collect(),
                );
                let y = whole.forward(&x);
                let want = l.decode(&y.data, &y.shape);
                let features = body.forward(&x);
                for fast in [true, false] {
                    let got = head.forward_with(&features, fast);
                    assert_eq!(got, want, "N {n} C {c} cin {cin}, {b}×{h}×{w}, fast {fast}");
                }
            }
        }
        if !avx512vl_vnni_here() {
            eprintln!("no AVX-512 VNNI/VL here: only the portable loops were checked");
        }
    }

    fn avx512vl_vnni_here() -> bool {
        #[cfg(target_arch = "x86_64")]
        return avx512vl_vnni();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Heads the sparse path cannot take stay in the network.
    #[test]
    fn other_last_layers_are_left_alone() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let l = layout(5, 2);
        // an activation on the head, the wrong channel count, a head not fed by a ReLU
        let mut with_act = pip_net(8, &l, &mut rng);
        if let Some(Layer::Conv2d(h)) = with_act.layers.last_mut() {
            h.act = Some(ActKind::Relu);
        }
        let wrong = pip_net(8, &layout(6, 2), &mut rng);
        let mut no_relu = pip_net(8, &l, &mut rng);
        if let Layer::Conv2d(pw) = &mut no_relu.layers[1] {
            pw.act = None;
        }
        for net in [with_act, wrong, no_relu] {
            let mut q = QuantNetwork::from_fused(&net);
            let before = q.n_int8();
            assert!(q.split_pip_head(l.clone()).is_none());
            assert_eq!(q.n_int8(), before);
        }
    }

    /// The VNNI offset kernel equals the portable loops on random bytes: 1 to 9 landmarks
    /// (tiles of 4 and their remainders), 1 to 5 registers per landmark, odd input counts.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vnni_offsets_equal_the_portable_loops() {
        if !avx512vl_vnni() {
            eprintln!("skipped: no AVX-512 VNNI/VL here (or FACEMARK_PORTABLE=1)");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for (n, lanes, k4, p16) in [
            (1, 8, 1, 16),
            (5, 16, 7, 16),
            (9, 24, 33, 32),
            (3, 32, 128, 32),
            (6, 40, 5, 48),
        ] {
            let xq: Vec<u8> = (0..k4 * p16 * 4).map(|_| rng.gen()).collect();
            let w: Vec<i8> = (0..n * k4 * lanes * 4)
                .map(|_| rng.gen_range(-127..=127))
                .collect();
            let cells: Vec<usize> = (0..n).map(|_| rng.gen_range(0..p16)).collect();
            let mut want = vec![0; n * lanes];
            offsets_portable(&xq, p16, &cells, &w, k4, lanes, &mut want);
            let mut got = vec![1; n * lanes];
            // SAFETY: AVX-512 VNNI/VL present (checked); sizes as `run` documents.
            unsafe { vnni_offsets::run(&xq, p16, &cells, &w, k4, lanes, &mut got) };
            assert_eq!(
                got, want,
                "{n} landmarks, {lanes} lanes, k4 {k4}, p16 {p16}"
            );
        }
    }
}
