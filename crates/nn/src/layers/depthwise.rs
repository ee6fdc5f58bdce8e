//! Depthwise 2-D convolution: [`DepthwiseConv2d`], with its direct kernels (flat 3×3,
//! channels last, generic per plane; compiled twice and run as AVX2 where the CPU has it) and
//! their per-thread scratch buffer.
//!
//! # DepthwiseConv2d
//!
//! What it represents: one `k × k` filter per channel, `y[n, c, i, j] = bias[c] +
//! Σ_{ky, kx} weight[c, 0, ky, kx] · x[n, c, i·s + ky − p, j·s + kx − p]`, PyTorch's
//! `nn.Conv2d` with `groups = in = out = c`. The window as in `Conv2d`: stride `s`, `p` pixels
//! of zero padding on every side, floor mode. Input NCHW `[n, c, h, w]`, output
//! `[n, c, oh, ow]`. Parameters `"<name>.weight"` `[c, 1, k, k]` (Kaiming normal, gain √2,
//! fan-in `k·k`) and `"<name>.bias"` `[c]` (zeros). `act`: an activation applied to the
//! output, set only by [`crate::Network::fused`].
//!
//! `forward(&self, x)`, `forward_into(&self, x, out)`
//! - requires: `x` 4-D with `c` channels (panics otherwise).
//! - ensures: `y`, then `act` if any; no cache. The kernel goes by the output plane: at most
//!   25 pixels (and more than one channel) → channels last (for a 3×3 window, stride 1,
//!   padding 1, where the CPU has AVX-512F: the planar kernel of `depthwise_small` instead,
//!   same bits); else a 3×3 window, padding 1, stride 1 or 2 → the flat kernel; else the
//!   generic loop per plane. The AVX2 and the baseline build of a kernel give the same bits. `forward_into` reuses `out`'s buffer.
//!
//! `forward_train(&mut self, x)`
//! - requires: `act` is `None` (panics "fused layers are inference-only" otherwise).
//! - ensures: `forward(x)` (the same kernels, the same values); caches the input.
//!
//! `backward(&mut self, dy, need_dx)`
//! - requires: `forward_train` ran before (panics "depthwise backward without forward_train"
//!   otherwise).
//! - ensures: per-channel `dW` and `db` **added** to `weight.grad` and `bias.grad`, always,
//!   frozen or not (the optimiser leaves frozen parameters alone, and
//!   [`crate::Network::backward`] does not reach layers below the lowest trainable one unless
//!   its caller wants the input gradient). `need_dx = false`: `None`, parameter gradients
//!   only; `true`: `Some(dx)`, `[n, c, h, w]`. Planes with a 3×3 window, stride 1, padding 1
//!   take a dedicated kernel, the others the generic loop.

use super::{add_into, depthwise_small, dims4, kaiming, ActKind};
use crate::ops::Window;
use crate::tensor::{Param, Tensor};
use rand::RngCore;
use rayon::prelude::*;

/// Depthwise 2-D convolution (one `k × k` filter per channel), weight `[c, 1, k, k]`.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2d {
    /// Channels, in and out.
    pub c: usize,
    /// Kernel side, stride and zero padding, in pixels.
    pub win: Window,
    /// `"<name>.weight"`, `[c, 1, k, k]`.
    pub weight: Param,
    /// `"<name>.bias"`, `[c]`.
    pub bias: Param,
    /// An activation fused into the output (inference only, see
    /// [`Conv2d::act`](super::Conv2d::act)).
    pub act: Option<ActKind>,
    pub(super) input: Option<Tensor>,
}

/// `avx2_dispatch!(name, name_avx2, body, (args))` defines `fn name(args)`, which runs
/// `body(args)` compiled for AVX2 when the CPU has it (std caches the check) and
/// [`crate::simd_allowed`], else for the baseline. The crate is built for portable x86-64, where LLVM vectorises the depthwise loops
/// 4 lanes wide (SSE2); the same code compiled for AVX2 runs 8 wide. Same operations in the
/// same order (no FMA contraction), so both give bit-identical results. `body` must be
/// `#[inline(always)]`, so that it is compiled inside the AVX2 function.
macro_rules! avx2_dispatch {
    ($(#[$doc:meta])* $name:ident, $avx2:ident, $body:ident, ($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if $crate::simd_allowed() && std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { $avx2($($arg),*) };
            }
            $body($($arg),*)
        }

        /// The body compiled for AVX2.
        ///
        /// # Safety
        ///
        /// The CPU must support AVX2 (`is_x86_feature_detected!("avx2")`).
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $avx2($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}

/// Runs `f` with this thread's scratch buffer for the depthwise kernels (contents
/// unspecified; resize it). Reusing it matters: an allocation per call cost about as much as
/// the arithmetic of a 5×5 map. Fetch it *outside* an AVX2 function: a closure run by
/// `LocalKey::with` is compiled for the baseline, not for its caller's features.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(f)
}

/// `dst.copy_from_slice(src)` for the short rows of the depthwise kernels, inline: the
/// `memcpy` call that `copy_from_slice` makes cost more than the copy of a 10-to-40-float row
/// (2 % of a forward pass in `perf`).
#[inline(always)]
fn copy_short(src: &[f32], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len());
    let (s8, d8) = (src.chunks_exact(8), dst.chunks_exact_mut(8));
    let (sr, n8) = (s8.remainder(), src.len() - src.len() % 8);
    for (d, s) in d8.zip(s8) {
        let s: &[f32; 8] = s.try_into().expect("chunks of 8");
        let d: &mut [f32; 8] = d.try_into().expect("chunks of 8");
        *d = *s;
    }
    for (d, s) in dst[n8..].iter_mut().zip(sr) {
        *d = *s;
    }
}

/// Does [`dw3_flat_image`] take this window? (3×3, padding 1, stride 1 or 2: every depthwise
/// layer of the `mobile` net.)
pub(super) fn dw3_flat_fits(win: Window) -> bool {
    win.k == 3 && win.pad == 1 && (win.stride == 1 || win.stride == 2)
}

/// 3×3 depthwise convolution of one image (`x`: `[c, h, w]`, `wk`: `[c, 3, 3]`, `out`:
/// `[c, oh, ow]`, `oh = ⌈h / stride⌉`), padding 1, stride 1 or 2, then bias and activation.
/// With `x` a single plane `[h, w]`, every output channel convolves that plane: a 3×3
/// convolution of a one-channel image (the `mobile` net's first layer, where it replaced
/// im2col + GEMM: 42–47 → 33–35 µs, `layer_times --int8`, four alternating runs).
///
/// Each plane is computed on a zero-padded copy laid out flat and split by stride phase (for
/// stride 2 the four planes of even/odd padded rows × even/odd padded columns), so that every
/// tap is one contiguous shifted slice and the output one run of `oh · wp` positions (`wp`:
/// the padded phase width; the `wp − ow` positions past each row's end are computed and
/// discarded). No border cases and no short rows in the inner loop, where the earlier
/// row-wise kernels spent much of their time on the edges of 3-to-40-pixel rows (and ran
/// their stride-2 loops inside a `LocalKey::with` closure, so compiled for the baseline, not
/// AVX2). Default model, one face, one thread, `layer_times --int8`: the seven depthwise
/// layers 379–384 → 205–215 µs (the two with 5×5 and 3×3 outputs stay channels last, whose
/// scratch was fetched the same way). The sums are formed in the row-wise kernels' order, the
/// padding adding exact zeros: the same bits as before.
pub(super) fn dw3_flat_image(
    x: &[f32],
    chw: (usize, usize, usize),
    stride: usize,
    wk: &[f32],
    bias: &[f32],
    act: Option<ActKind>,
    out: &mut [f32],
) {
    with_scratch(|buf| dw3_flat_run(x, chw, stride, wk, bias, act, buf, out))
}

avx2_dispatch!(
    /// [`dw3_flat_image`] with its scratch.
    dw3_flat_run, dw3_flat_run_avx2, dw3_flat_body,
    (x: &[f32], chw: (usize, usize, usize), stride: usize, wk: &[f32], bias: &[f32],
     act: Option<ActKind>, buf: &mut Vec<f32>, out: &mut [f32]));

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dw3_flat_body(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    stride: usize,
    wk: &[f32],
    bias: &[f32],
    act: Option<ActKind>,
    buf: &mut Vec<f32>,
    out: &mut [f32],
) {
    debug_assert!(stride == 1 || stride == 2);
    let s = stride;
    let (oh, ow) = (h.div_ceil(s), w.div_ceil(s));
    if c == 0 || oh * ow == 0 {
        return;
    }
    // phase plane (a, b) holds padded pixel (s·i + a, s·j + b) at row i, column j; one guard
    // row at the bottom keeps the discarded positions' reads inside
    let (wp, hp) = ((w + 2).div_ceil(s), (h + 2).div_ceil(s) + 1);
    let plane = wp * hp;
    let n = oh * wp;
    // zeroed once per image: every channel writes the same interior positions, so the
    // padding stays zero
    buf.clear();
    buf.resize(s * s * plane + n, 0.0);
    let (phases, acc) = buf.split_at_mut(s * s * plane);
    // one input plane for all channels: a single-channel convolution
    let shared = x.len() < c * h * w;
    debug_assert!(x.len() == h * w || x.len() == c * h * w);
    for (ch, (kc, (oc, &b))) in wk
        .chunks_exact(9)
        .zip(out.chunks_exact_mut(oh * ow).zip(bias))
        .take(c)
        .enumerate()
    {
        let xc = &x[if shared { 0 } else { ch * h * w }..][..h * w];
        for (y, row) in xc
            .chunks_exact(w)
            .enumerate()
            .filter(|_| !shared || ch == 0)
        {
            let py = y + 1;
            let base = (py % s) * s * plane + (py / s) * wp;
            if s == 1 {
                copy_short(row, &mut phases[base + 1..base + 1 + w]);
            } else {
                // padded column px = x + 1: even x → odd phase, odd x → even phase
                let (even, odd) = phases[base..].split_at_mut(plane);
                let pairs = row.chunks_exact(2);
                if let [last] = pairs.remainder() {
                    odd[w / 2] = *last;
                }
                for ((p, e), o) in pairs.zip(&mut even[1..]).zip(odd.iter_mut()) {
                    *o = p[0];
                    *e = p[1];
                }
            }
        }
        for ky in 0..3 {
            let tap = |kx: usize| {
                let start = ((ky % s) * s + kx % s) * plane + (ky / s) * wp + kx / s;
                &phases[start..start + n]
            };
            let (t0, t1, t2) = (tap(0), tap(1), tap(2));
            let (w0, w1, w2) = (kc[ky * 3], kc[ky * 3 + 1], kc[ky * 3 + 2]);
            let taps = acc.iter_mut().zip(t0).zip(t1).zip(t2);
            if ky == 0 {
                taps.for_each(|(((o, a), m), c)| *o = b + (w0 * a + w1 * m + w2 * c));
            } else {
                taps.for_each(|(((o, a), m), c)| *o += w0 * a + w1 * m + w2 * c);
            }
        }
        // the activation over the flat run (full-width vectors), then the rows out
        match act {
            Some(ActKind::Relu) => acc.iter_mut().for_each(|v| *v = v.max(0.0)),
            Some(a) => acc.iter_mut().for_each(|v| *v = a.apply(*v)),
            None => {}
        }
        for (orow, arow) in oc.chunks_exact_mut(ow).zip(acc.chunks_exact(wp)) {
            copy_short(&arow[..ow], orow);
        }
    }
}

/// Backward of [`dw3_flat_image`] at stride 1, one plane: adds `dx` (when given) and returns `[dw (9), db]`.
fn dw3_plane_backward(
    x: &[f32],
    g: &[f32],
    h: usize,
    w: usize,
    wk: &[f32],
    dx: Option<&mut [f32]>,
) -> Vec<f32> {
    let mut acc = vec![0.0f32; 10];
    acc[9] = g.iter().sum();
    let mut dx = dx;
    for oy in 0..h {
        let grow = &g[oy * w..(oy + 1) * w];
        for ky in 0..3 {
            let iy = oy + ky;
            if iy < 1 || iy > h {
                continue;
            }
            let xr = &x[(iy - 1) * w..iy * w];
            let (w0, w1, w2) = (wk[ky * 3], wk[ky * 3 + 1], wk[ky * 3 + 2]);
            // dW: tap kx reads x[ox + kx - 1]
            let s1: f32 = grow.iter().zip(xr).map(|(a, b)| a * b).sum();
            let (mut s0, mut s2) = (0.0f32, 0.0f32);
            if w > 1 {
                s0 = grow[1..].iter().zip(&xr[..w - 1]).map(|(a, b)| a * b).sum();
                s2 = grow[..w - 1].iter().zip(&xr[1..]).map(|(a, b)| a * b).sum();
            }
            acc[ky * 3] += s0;
            acc[ky * 3 + 1] += s1;
            acc[ky * 3 + 2] += s2;
            if let Some(d) = dx.as_deref_mut() {
                let dr = &mut d[(iy - 1) * w..iy * w];
                if w == 1 {
                    dr[0] += w1 * grow[0];
                    continue;
                }
                // dx[i] += w0·g[i+1] + w1·g[i] + w2·g[i-1]
                dr[0] += w0 * grow[1] + w1 * grow[0];
                dr[w - 1] += w1 * grow[w - 1] + w2 * grow[w - 2];
                for (((dv, gp), gm), gn) in dr[1..w - 1]
                    .iter_mut()
                    .zip(&grow[2..])
                    .zip(&grow[1..w - 1])
                    .zip(&grow[..w - 2])
                {
                    *dv += w0 * gp + w1 * gm + w2 * gn;
                }
            }
        }
    }
    acc
}

/// Layers whose output planes have at most this many pixels take [`dw_image_channels_last`].
/// Per-plane kernels run their vector loops along a row, and 5- or 3-pixel rows are nearly all
/// loop overhead; channels last, the loops run along 192–384 channels instead, at the price of
/// two transposes. Measured on the default model (one face, one thread, same minute): the two
/// layers with 5×5 and 3×3 outputs 30 + 31 µs → 18 + 12 µs; a 10×10 output (stride 1) lost,
/// 30 → 44 µs, as the transposes outweigh the loop overhead there. (Later runs: 18–26 and
/// 12–14 µs; this machine is noisy.)
const CHANNELS_LAST_MAX_OUT_PLANE: usize = 5 * 5;

/// Depthwise convolution of one image (`x`: `[c, h, w]`, `wk`: `[c, k, k]`, `out`:
/// `[c, oh, ow]`) computed channels last: transpose in, for each output pixel and tap one
/// multiply-add over all channels, activation, transpose out. Any window.
pub(super) fn dw_image_channels_last(
    x: &[f32],
    chw: (usize, usize, usize),
    wk: &[f32],
    bias: &[f32],
    win: Window,
    act: Option<ActKind>,
    out: &mut [f32],
) {
    with_scratch(|buf| dw_channels_last_run(x, chw, wk, bias, win, act, buf, out))
}

avx2_dispatch!(
    /// [`dw_image_channels_last`] with its scratch.
    dw_channels_last_run, dw_channels_last_run_avx2, dw_channels_last_body,
    (x: &[f32], chw: (usize, usize, usize), wk: &[f32], bias: &[f32], win: Window,
     act: Option<ActKind>, buf: &mut Vec<f32>, out: &mut [f32]));

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dw_channels_last_body(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    wk: &[f32],
    bias: &[f32],
    win: Window,
    act: Option<ActKind>,
    buf: &mut Vec<f32>,
    out: &mut [f32],
) {
    let (oh, ow) = (win.out(h), win.out(w));
    let kk = win.k * win.k;
    buf.resize((h * w + kk + oh * ow) * c, 0.0);
    let (xt, rest) = buf.split_at_mut(h * w * c);
    let (wt, ot) = rest.split_at_mut(kk * c);
    for (ch, plane) in x.chunks_exact(h * w).take(c).enumerate() {
        for (p, v) in plane.iter().enumerate() {
            xt[p * c + ch] = *v;
        }
        for (t, v) in wk[ch * kk..(ch + 1) * kk].iter().enumerate() {
            wt[t * c + ch] = *v;
        }
    }
    for o in ot.chunks_exact_mut(c) {
        o.copy_from_slice(bias);
    }
    // input coordinate of output `o`, tap `t` along an axis of `n` pixels (None: padding)
    let tap =
        |o: usize, t: usize, n: usize| (o * win.stride + t).checked_sub(win.pad).filter(|&v| v < n);
    for oy in 0..oh {
        for ox in 0..ow {
            let o = &mut ot[(oy * ow + ox) * c..(oy * ow + ox + 1) * c];
            for ky in 0..win.k {
                let Some(iy) = tap(oy, ky, h) else { continue };
                for kx in 0..win.k {
                    let Some(ix) = tap(ox, kx, w) else { continue };
                    let xi = &xt[(iy * w + ix) * c..(iy * w + ix + 1) * c];
                    let wi = &wt[(ky * win.k + kx) * c..(ky * win.k + kx + 1) * c];
                    for ((o, a), b) in o.iter_mut().zip(wi).zip(xi) {
                        *o += a * b;
                    }
                }
            }
        }
    }
    if let Some(a) = act {
        ot.iter_mut().for_each(|v| *v = a.apply(*v));
    }
    for (ch, plane) in out.chunks_exact_mut(oh * ow).take(c).enumerate() {
        for (p, v) in plane.iter_mut().enumerate() {
            *v = ot[p * c + ch];
        }
    }
}

/// Any window: one strided pass per kernel tap.
fn dw_plane_generic(
    x: &[f32],
    h: usize,
    w: usize,
    wk: &[f32],
    b: f32,
    win: Window,
    out: &mut [f32],
) {
    let (oh, ow) = (win.out(h), win.out(w));
    out.iter_mut().for_each(|v| *v = b);
    let (k, s) = (win.k, win.stride);
    for ky in 0..k {
        let (ylo, yhi) = win.valid(ky, h, oh);
        for kx in 0..k {
            let wv = wk[ky * k + kx];
            let (xlo, xhi) = win.valid(kx, w, ow);
            if xlo >= xhi {
                continue;
            }
            for oy in ylo..yhi {
                let iy = oy * s + ky - win.pad;
                let row = &x[iy * w..(iy + 1) * w];
                let orow = &mut out[oy * ow + xlo..oy * ow + xhi];
                let ix0 = xlo * s + kx - win.pad;
                if s == 1 {
                    for (o, v) in orow.iter_mut().zip(&row[ix0..ix0 + (xhi - xlo)]) {
                        *o += wv * v;
                    }
                } else {
                    for (j, o) in orow.iter_mut().enumerate() {
                        *o += wv * row[ix0 + j * s];
                    }
                }
            }
        }
    }
}

impl DepthwiseConv2d {
    /// A `k × k` filter per channel, stride `stride`, `pad` pixels of zero padding, parameters
    /// named `"<name>.weight"` (Kaiming normal from `rng`, gain √2, fan-in `k·k`) and
    /// `"<name>.bias"` (zeros).
    pub fn new(
        name: &str,
        c: usize,
        k: usize,
        stride: usize,
        pad: usize,
        rng: &mut dyn RngCore,
    ) -> DepthwiseConv2d {
        DepthwiseConv2d {
            c,
            win: Window { k, stride, pad },
            weight: Param::new(
                format!("{name}.weight"),
                vec![c, 1, k, k],
                kaiming(c * k * k, k * k, 2f32.sqrt(), rng),
            ),
            bias: Param::new(format!("{name}.bias"), vec![c], vec![0.0; c]),
            act: None,
            input: None,
        }
    }
    /// Inference: `[n, c, h, w]` → `[n, c, oh, ow]`, then `act`; no cache (module docs).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut out = Tensor::zeros(vec![0]);
        self.forward_into(x, &mut out);
        out
    }
    /// [`DepthwiseConv2d::forward`] into `out`, whose buffer is reused when its size fits
    /// ([`Tensor::reuse_as`]).
    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        let (n, c, h, w) = dims4(x);
        assert_eq!(c, self.c, "depthwise {}: channels", self.weight.name);
        let (oh, ow) = (self.win.out(h), self.win.out(w));
        let kk = self.win.k * self.win.k;
        let out = out.reuse_as(vec![n, c, oh, ow]);
        // whole-image kernels: channels last for small output planes, else the flat 3×3 one
        let channels_last = oh * ow <= CHANNELS_LAST_MAX_OUT_PLANE && c > 1;
        // of those, 3×3 stride 1 ones run planar in AVX-512 where the CPU has it (same bits)
        let small = channels_last
            && self.win
                == (Window {
                    k: 3,
                    stride: 1,
                    pad: 1,
                })
            && oh * ow <= depthwise_small::MAX_PLANE
            && depthwise_small::available();
        if channels_last || dw3_flat_fits(self.win) {
            let image = |(i, o): (usize, &mut [f32])| {
                let xi = &x.data[i * c * h * w..(i + 1) * c * h * w];
                let (wk, bias) = (&self.weight.value, &self.bias.value);
                if channels_last && small {
                    depthwise_small::image(xi, (c, h, w), wk, bias, self.act, o)
                } else if channels_last {
                    dw_image_channels_last(xi, (c, h, w), wk, bias, self.win, self.act, o)
                } else {
                    dw3_flat_image(xi, (c, h, w), self.win.stride, wk, bias, self.act, o)
                }
            };
            if n == 1 {
                out.chunks_mut(c * oh * ow).enumerate().for_each(image);
            } else {
                out.par_chunks_mut(c * oh * ow).enumerate().for_each(image);
            }
            return;
        }
        let go = |(i, o): (usize, &mut [f32])| {
            let ch = i % c;
            dw_plane_generic(
                &x.data[i * h * w..(i + 1) * h * w],
                h,
                w,
                &self.weight.value[ch * kk..(ch + 1) * kk],
                self.bias.value[ch],
                self.win,
                o,
            );
            if let Some(a) = self.act {
                o.iter_mut().for_each(|v| *v = a.apply(*v));
            }
        };
        if n == 1 {
            out.chunks_mut(oh * ow).enumerate().for_each(go);
        } else {
            out.par_chunks_mut(oh * ow).enumerate().for_each(go);
        }
    }
    /// [`DepthwiseConv2d::forward`], keeping the input for the backward pass. Panics on a
    /// fused layer (`act` set).
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        assert!(self.act.is_none(), "fused layers are inference-only");
        let y = self.forward(&x);
        self.input = Some(x);
        y
    }
    /// Adds the weight and bias gradients of `dy` (`[n, c, oh, ow]`) to their `grad`, frozen
    /// or not; returns the input gradient when `need_dx`. Panics without a
    /// [`DepthwiseConv2d::forward_train`] before.
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let x = self
            .input
            .as_ref()
            .expect("depthwise backward without forward_train");
        let (n, c, h, w) = dims4(x);
        let (oh, ow) = (dy.shape[2], dy.shape[3]);
        let win = self.win;
        let (k, s) = (win.k, win.stride);
        let kk = k * k;
        let mut dx = vec![0.0; if need_dx { n * c * h * w } else { 0 }];
        let wv = &self.weight.value;
        let plane = |i: usize, dxp: Option<&mut [f32]>| -> Vec<f32> {
            // returns [dw (k*k), db]
            let ch = i % c;
            let xp = &x.data[i * h * w..(i + 1) * h * w];
            let gp = &dy.data[i * oh * ow..(i + 1) * oh * ow];
            if k == 3 && s == 1 && win.pad == 1 {
                return dw3_plane_backward(xp, gp, h, w, &wv[ch * kk..(ch + 1) * kk], dxp);
            }
            let mut acc = vec![0.0; kk + 1];
            acc[kk] = gp.iter().sum();
            let mut dxp = dxp;
            for ky in 0..k {
                let (ylo, yhi) = win.valid(ky, h, oh);
                for kx in 0..k {
                    let (xlo, xhi) = win.valid(kx, w, ow);
                    if xlo >= xhi {
                        continue;
                    }
                    let wgt = wv[ch * kk + ky * k + kx];
                    let mut sum = 0.0f32;
                    for oy in ylo..yhi {
                        let iy = oy * s + ky - win.pad;
                        let g = &gp[oy * ow + xlo..oy * ow + xhi];
                        let ix0 = xlo * s + kx - win.pad;
                        if s == 1 {
                            let xr = &xp[iy * w + ix0..iy * w + ix0 + (xhi - xlo)];
                            sum += g.iter().zip(xr).map(|(a, b)| a * b).sum::<f32>();
                            if let Some(d) = dxp.as_deref_mut() {
                                let dr = &mut d[iy * w + ix0..iy * w + ix0 + (xhi - xlo)];
                                for (dv, gv) in dr.iter_mut().zip(g) {
                                    *dv += wgt * gv;
                                }
                            }
                        } else {
                            for (j, gv) in g.iter().enumerate() {
                                sum += gv * xp[iy * w + ix0 + j * s];
                            }
                            if let Some(d) = dxp.as_deref_mut() {
                                for (j, gv) in g.iter().enumerate() {
                                    d[iy * w + ix0 + j * s] += wgt * gv;
                                }
                            }
                        }
                    }
                    acc[ky * k + kx] = sum;
                }
            }
            acc
        };
        let partial: Vec<Vec<f32>> = if need_dx {
            dx.par_chunks_mut(h * w)
                .enumerate()
                .map(|(i, d)| plane(i, Some(d)))
                .collect()
        } else {
            (0..n * c).into_par_iter().map(|i| plane(i, None)).collect()
        };
        for (i, acc) in partial.iter().enumerate() {
            let ch = i % c;
            add_into(&mut self.weight.grad[ch * kk..(ch + 1) * kk], &acc[..kk]);
            self.bias.grad[ch] += acc[kk];
        }
        need_dx.then(|| Tensor::new(vec![n, c, h, w], dx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The channels-last image kernel agrees with the per-plane generic loop (then bias,
    /// activation) for any window, odd and even planes, one and many channels.
    #[test]
    fn depthwise_channels_last_matches_the_generic_loop() {
        let wins = [(3, 1, 1), (3, 2, 1), (3, 2, 0), (2, 1, 0), (1, 1, 0)];
        for (k, stride, pad) in wins {
            let win = Window { k, stride, pad };
            for (c, h, w) in [(1, 1, 1), (3, 5, 5), (9, 4, 7), (17, 10, 10), (2, 3, 1)] {
                if h + 2 * pad < k || w + 2 * pad < k {
                    continue;
                }
                let (oh, ow) = (win.out(h), win.out(w));
                let x: Vec<f32> = (0..c * h * w)
                    .map(|i| ((i * 7) % 11) as f32 - 5.0)
                    .collect();
                let wk: Vec<f32> = (0..c * k * k)
                    .map(|i| ((i * 5) % 9) as f32 * 0.25 - 1.0)
                    .collect();
                let bias: Vec<f32> = (0..c).map(|i| i as f32 * 0.1 - 0.3).collect();
                let mut fast = vec![f32::NAN; c * oh * ow];
                dw_image_channels_last(
                    &x,
                    (c, h, w),
                    &wk,
                    &bias,
                    win,
                    Some(ActKind::Relu),
                    &mut fast,
                );
                for ch in 0..c {
                    let mut slow = vec![0.0; oh * ow];
                    let xp = &x[ch * h * w..(ch + 1) * h * w];
                    dw_plane_generic(
                        xp,
                        h,
                        w,
                        &wk[ch * k * k..(ch + 1) * k * k],
                        bias[ch],
                        win,
                        &mut slow,
                    );
                    for (a, b) in fast[ch * oh * ow..(ch + 1) * oh * ow].iter().zip(&slow) {
                        assert!(
                            (a - b.max(0.0)).abs() < 1e-4,
                            "k{k} s{stride} p{pad} {c}×{h}×{w} channel {ch}: {a} vs {b}"
                        );
                    }
                }
            }
        }
        // through the layer: a small late map takes this path, batch of 3, fused activation
        use rand::SeedableRng;
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut layer = DepthwiseConv2d::new("dw", 6, 3, 2, 1, rng);
        layer.act = Some(ActKind::Relu);
        let x = Tensor::new(
            vec![3, 6, 5, 5],
            (0..450).map(|i| ((i * 13) % 17) as f32 - 8.0).collect(),
        );
        let y = layer.forward(&x);
        assert_eq!(y.shape, vec![3, 6, 3, 3]);
        for i in 0..18 {
            let ch = i % 6;
            let mut slow = vec![0.0; 9];
            dw_plane_generic(
                &x.data[i * 25..(i + 1) * 25],
                5,
                5,
                &layer.weight.value[ch * 9..(ch + 1) * 9],
                layer.bias.value[ch],
                layer.win,
                &mut slow,
            );
            for (a, b) in y.data[i * 9..(i + 1) * 9].iter().zip(&slow) {
                assert!((a - b.max(0.0)).abs() < 1e-4, "plane {i}: {a} vs {b}");
            }
        }
    }

    /// The flat 3×3 depthwise kernel (stride 1 and 2) agrees with the generic loop on every
    /// plane size, odd and even, down to 1×1, and on the default model's sizes; several
    /// channels per call (the scratch's padding must stay zero between channels), bias and
    /// ReLU applied.
    #[test]
    fn depthwise_flat_kernel_matches_the_generic_loop() {
        let c = 3;
        let wk: Vec<f32> = (0..9 * c)
            .map(|i| (i % 9) as f32 * 0.25 - 1.0 + (i / 9) as f32 * 0.1)
            .collect();
        let bias = [0.5, -0.25, 2.0];
        let sizes = (1..=9).flat_map(|h| (1..=9).map(move |w| (h, w)));
        for (h, w) in sizes.chain([(40, 40), (20, 20), (21, 13), (10, 10)]) {
            for stride in [1, 2] {
                let win = Window {
                    k: 3,
                    stride,
                    pad: 1,
                };
                let x: Vec<f32> = (0..c * h * w)
                    .map(|i| ((i * 7) % 11) as f32 - 5.0)
                    .collect();
                let n = win.out(h) * win.out(w);
                for act in [None, Some(ActKind::Relu)] {
                    let mut fast = vec![f32::NAN; c * n];
                    dw3_flat_image(&x, (c, h, w), stride, &wk, &bias, act, &mut fast);
                    for ch in 0..c {
                        let mut slow = vec![-9.0; n];
                        dw_plane_generic(
                            &x[ch * h * w..(ch + 1) * h * w],
                            h,
                            w,
                            &wk[ch * 9..(ch + 1) * 9],
                            bias[ch],
                            win,
                            &mut slow,
                        );
                        for (a, b) in fast[ch * n..(ch + 1) * n].iter().zip(&slow) {
                            let b = if act.is_some() { b.max(0.0) } else { *b };
                            assert!(
                                (a - b).abs() < 1e-4,
                                "stride {stride} {h}×{w} channel {ch} {act:?}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }
}
