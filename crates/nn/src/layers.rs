//! Layers with hand-written forward and backward passes.
//!
//! Each layer offers `forward` (inference, `&self`, no cache), `forward_train` (keeps what the
//! backward pass needs) and `backward` (accumulates parameter gradients, returns the input
//! gradient when asked).

use crate::ops::{col2im, im2col, matmul, Mat, Window};
use crate::tensor::{Param, Tensor};
use rand::{Rng, RngCore};
use rayon::prelude::*;

fn dims4(x: &Tensor) -> (usize, usize, usize, usize) {
    assert_eq!(
        x.shape.len(),
        4,
        "expected an NCHW tensor, got {:?}",
        x.shape
    );
    (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
}

fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

thread_local! {
    static SKIP_INIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with weight initialisation skipped on this thread ([`kaiming`] gives zeros), for
/// building a network whose every parameter is about to be loaded from a file, as PyTorch's
/// `skip_init`. The default model's Kaiming draws (1.3 M logarithms and cosines) were about 19
/// ms, 13 % of a one-photo `facemark detect` (`perf`).
pub fn skip_init<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SKIP_INIT.set(self.0); // also when `f` panics
        }
    }
    let _restore = Restore(SKIP_INIT.replace(true));
    f()
}

/// Kaiming-normal values (`std = gain / sqrt(fan_in)`), Box–Muller from `rng`; zeros inside
/// [`skip_init`].
pub fn kaiming(n: usize, fan_in: usize, gain: f32, rng: &mut dyn RngCore) -> Vec<f32> {
    if SKIP_INIT.get() {
        return vec![0.0; n];
    }
    let std = gain / (fan_in.max(1) as f32).sqrt();
    (0..n)
        .map(|_| {
            let u1: f32 = rng.gen_range(1e-7f32..1.0);
            let u2: f32 = rng.gen();
            std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Convolution (im2col + GEMM)

/// 2-D convolution, weight `[out, in, k, k]`, bias `[out]`, square kernel, zero padding.
#[derive(Debug, Clone)]
pub struct Conv2d {
    pub in_c: usize,
    pub out_c: usize,
    pub win: Window,
    pub weight: Param,
    pub bias: Param,
    /// An activation fused into the output (inference-only networks from
    /// [`crate::Network::fused`]); `None` in trainable networks.
    pub act: Option<ActKind>,
    cols: Vec<f32>,
    in_shape: Vec<usize>,
}

impl Conv2d {
    pub fn new(
        name: &str,
        in_c: usize,
        out_c: usize,
        k: usize,
        stride: usize,
        pad: usize,
        rng: &mut dyn RngCore,
    ) -> Conv2d {
        let fan_in = in_c * k * k;
        Conv2d {
            in_c,
            out_c,
            win: Window { k, stride, pad },
            weight: Param::new(
                format!("{name}.weight"),
                vec![out_c, in_c, k, k],
                kaiming(out_c * fan_in, fan_in, 2f32.sqrt(), rng),
            ),
            bias: Param::new(format!("{name}.bias"), vec![out_c], vec![0.0; out_c]),
            act: None,
            cols: Vec::new(),
            in_shape: Vec::new(),
        }
    }
    /// A 1×1 convolution, stride 1, no padding: a matrix product per pixel.
    pub fn pointwise(&self) -> bool {
        self.win.k == 1 && self.win.stride == 1 && self.win.pad == 0
    }
    fn out_shape(&self, x: &Tensor) -> (usize, usize, usize, usize) {
        let (n, c, h, w) = dims4(x);
        assert_eq!(c, self.in_c, "conv {}: input channels", self.weight.name);
        (n, self.out_c, self.win.out(h), self.win.out(w))
    }
    /// `threads`: GEMM threads (1 inside per-sample parallel loops; all of them for a
    /// single-sample batch).
    fn gemm_sample(&self, col: &[f32], p: usize, o: &mut [f32], threads: usize) {
        let ick = self.in_c * self.win.k * self.win.k;
        // the bias first, then the product accumulated onto it: one pass over `o` fewer
        for (row, &b) in o.chunks_exact_mut(p).zip(&self.bias.value) {
            row.fill(b);
        }
        matmul(
            Mat::rm(&self.weight.value, self.out_c, ick),
            Mat::rm(col, ick, p),
            o,
            true,
            threads,
        );
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut out = Tensor::zeros(vec![0]);
        self.forward_into(x, &mut out);
        out
    }
    /// [`Conv2d::forward`] into `out`, whose buffer is reused when its size fits
    /// ([`Tensor::reuse_as`]).
    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        let (n, oc, oh, ow) = self.out_shape(x);
        let (_, c, h, w) = dims4(x);
        let p = oh * ow;
        let ick = c * self.win.k * self.win.k;
        let out = out.reuse_as(vec![n, oc, oh, ow]);
        if c == 1 && dw3_flat_fits(self.win) {
            // one input channel: the depthwise kernel, every output channel reading it
            out.par_chunks_mut(oc * p).enumerate().for_each(|(b, o)| {
                let (wk, bias) = (&self.weight.value, &self.bias.value);
                let xs = &x.data[b * h * w..(b + 1) * h * w];
                dw3_flat_image(xs, (oc, h, w), self.win.stride, wk, bias, self.act, o)
            });
            return;
        }
        let pw = self.pointwise();
        // big single-sample convolutions: let the GEMM use the threads the batch cannot
        let gt = if n < threads() && oc * ick * p > 1 << 22 {
            threads()
        } else {
            1
        };
        out.par_chunks_mut(oc * p).enumerate().for_each_init(
            || if pw { Vec::new() } else { vec![0.0; ick * p] },
            |col, (b, o)| {
                let xs = &x.data[b * c * h * w..(b + 1) * c * h * w];
                if pw {
                    self.gemm_sample(xs, p, o, gt);
                } else {
                    im2col(xs, c, h, w, self.win, col);
                    self.gemm_sample(col, p, o, gt);
                }
                if let Some(a) = self.act {
                    o.iter_mut().for_each(|v| *v = a.apply(*v));
                }
            },
        );
    }
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        assert!(self.act.is_none(), "fused layers are inference-only");
        let (n, oc, oh, ow) = self.out_shape(&x);
        let (_, c, h, w) = dims4(&x);
        let p = oh * ow;
        let ick = c * self.win.k * self.win.k;
        self.in_shape = x.shape.clone();
        let mut cols = std::mem::take(&mut self.cols);
        if self.pointwise() {
            cols = x.data;
        } else {
            cols.resize(n * ick * p, 0.0);
            cols.par_chunks_mut(ick * p)
                .zip(x.data.par_chunks(c * h * w))
                .for_each(|(col, xs)| im2col(xs, c, h, w, self.win, col));
        }
        let mut out = vec![0.0; n * oc * p];
        out.par_chunks_mut(oc * p)
            .zip(cols.par_chunks(ick * p))
            .for_each(|(o, col)| self.gemm_sample(col, p, o, 1));
        self.cols = cols;
        Tensor::new(vec![n, oc, oh, ow], out)
    }
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let (n, c, h, w) = (
            self.in_shape[0],
            self.in_shape[1],
            self.in_shape[2],
            self.in_shape[3],
        );
        let (oc, p) = (self.out_c, dy.shape[2] * dy.shape[3]);
        let ick = c * self.win.k * self.win.k;
        // parameter gradients: fixed chunks of the batch, summed in order (deterministic);
        // none for a frozen layer
        let chunks = if self.weight.frozen && self.bias.frozen {
            0
        } else {
            threads().min(n).max(1)
        };
        let per = n.div_ceil(chunks.max(1));
        let cols = &self.cols;
        let partial: Vec<(Vec<f32>, Vec<f32>)> = (0..chunks)
            .into_par_iter()
            .map(|ci| {
                let mut dw = vec![0.0; oc * ick];
                let mut db = vec![0.0; oc];
                for b in ci * per..((ci + 1) * per).min(n) {
                    let g = &dy.data[b * oc * p..(b + 1) * oc * p];
                    let col = &cols[b * ick * p..(b + 1) * ick * p];
                    matmul(Mat::rm(g, oc, p), Mat::rm_t(col, ick, p), &mut dw, true, 1);
                    for (o, row) in g.chunks_exact(p).enumerate() {
                        db[o] += row.iter().sum::<f32>();
                    }
                }
                (dw, db)
            })
            .collect();
        for (dw, db) in partial {
            add_into(&mut self.weight.grad, &dw);
            add_into(&mut self.bias.grad, &db);
        }
        if !need_dx {
            return None;
        }
        let mut dx = vec![0.0; n * c * h * w];
        let pw = self.pointwise();
        let wt = &self.weight.value;
        let win = self.win;
        dx.par_chunks_mut(c * h * w).enumerate().for_each_init(
            || if pw { Vec::new() } else { vec![0.0; ick * p] },
            |dcol, (b, dxs)| {
                let g = &dy.data[b * oc * p..(b + 1) * oc * p];
                if pw {
                    matmul(Mat::rm_t(wt, oc, ick), Mat::rm(g, oc, p), dxs, false, 1);
                } else {
                    matmul(Mat::rm_t(wt, oc, ick), Mat::rm(g, oc, p), dcol, false, 1);
                    col2im(dcol, c, h, w, win, dxs);
                }
            },
        );
        Some(Tensor::new(self.in_shape.clone(), dx))
    }
    fn clear(&mut self) {
        self.cols = Vec::new();
    }
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += *s);
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution (direct)

/// Depthwise 2-D convolution (one `k × k` filter per channel), weight `[c, 1, k, k]`.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2d {
    pub c: usize,
    pub win: Window,
    pub weight: Param,
    pub bias: Param,
    /// An activation fused into the output (inference only, see [`Conv2d::act`]).
    pub act: Option<ActKind>,
    input: Option<Tensor>,
}

/// `avx2_dispatch!(name, name_avx2, body, (args))` defines `fn name(args)`, which runs
/// `body(args)` compiled for AVX2 when the CPU has it (std caches the check), else for the
/// baseline. The crate is built for portable x86-64, where LLVM vectorises the depthwise loops
/// 4 lanes wide (SSE2); the same code compiled for AVX2 runs 8 wide. Same operations in the
/// same order (no FMA contraction), so both give bit-identical results. `body` must be
/// `#[inline(always)]`, so that it is compiled inside the AVX2 function.
macro_rules! avx2_dispatch {
    ($(#[$doc:meta])* $name:ident, $avx2:ident, $body:ident, ($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { $avx2($($arg),*) };
            }
            $body($($arg),*)
        }

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
fn dw3_flat_fits(win: Window) -> bool {
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
fn dw3_flat_image(
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
fn dw_image_channels_last(
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
        if channels_last || dw3_flat_fits(self.win) {
            let image = |(i, o): (usize, &mut [f32])| {
                let xi = &x.data[i * c * h * w..(i + 1) * c * h * w];
                let (wk, bias) = (&self.weight.value, &self.bias.value);
                if channels_last {
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
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        assert!(self.act.is_none(), "fused layers are inference-only");
        let y = self.forward(&x);
        self.input = Some(x);
        y
    }
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

// ---------------------------------------------------------------------------------------------
// Dense

/// Fully connected layer, weight `[out, in]`, bias `[out]`; input `[n, in]`.
#[derive(Debug, Clone)]
pub struct Dense {
    pub in_f: usize,
    pub out_f: usize,
    pub weight: Param,
    pub bias: Param,
    input: Option<Tensor>,
}

impl Dense {
    /// Kaiming init with `gain` (√2 before a ReLU, 1 for a linear head).
    pub fn new(name: &str, in_f: usize, out_f: usize, gain: f32, rng: &mut dyn RngCore) -> Dense {
        Dense {
            in_f,
            out_f,
            weight: Param::new(
                format!("{name}.weight"),
                vec![out_f, in_f],
                kaiming(in_f * out_f, in_f, gain, rng),
            ),
            bias: Param::new(format!("{name}.bias"), vec![out_f], vec![0.0; out_f]),
            input: None,
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let n = x.batch();
        assert_eq!(
            x.per_sample(),
            self.in_f,
            "dense {}: inputs",
            self.weight.name
        );
        let mut out = vec![0.0; n * self.out_f];
        for row in out.chunks_exact_mut(self.out_f) {
            row.copy_from_slice(&self.bias.value);
        }
        let t = if n * self.in_f * self.out_f > 1 << 20 {
            threads()
        } else {
            1
        };
        matmul(
            Mat::rm(&x.data, n, self.in_f),
            Mat::rm_t(&self.weight.value, self.out_f, self.in_f),
            &mut out,
            true,
            t,
        );
        Tensor::new(vec![n, self.out_f], out)
    }
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        let y = self.forward(&x);
        self.input = Some(x);
        y
    }
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let x = self
            .input
            .as_ref()
            .expect("dense backward without forward_train");
        let n = x.batch();
        let t = if n * self.in_f * self.out_f > 1 << 20 {
            threads()
        } else {
            1
        };
        if !(self.weight.frozen && self.bias.frozen) {
            matmul(
                Mat::rm_t(&dy.data, n, self.out_f),
                Mat::rm(&x.data, n, self.in_f),
                &mut self.weight.grad,
                true,
                t,
            );
            for row in dy.data.chunks_exact(self.out_f) {
                add_into(&mut self.bias.grad, row);
            }
        }
        if !need_dx {
            return None;
        }
        let mut dx = vec![0.0; n * self.in_f];
        matmul(
            Mat::rm(&dy.data, n, self.out_f),
            Mat::rm(&self.weight.value, self.out_f, self.in_f),
            &mut dx,
            false,
            t,
        );
        Some(Tensor::new(x.shape.clone(), dx))
    }
}

// ---------------------------------------------------------------------------------------------
// Batch norm

/// Batch normalisation over channels (dim 1) of `[n, c]` or `[n, c, h, w]`, PyTorch semantics:
/// batch statistics (biased variance) in training, running statistics (updated with
/// `momentum`, unbiased variance) at inference.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    pub c: usize,
    pub eps: f32,
    pub momentum: f32,
    pub weight: Param,
    pub bias: Param,
    pub running_mean: Param,
    pub running_var: Param,
    xhat: Vec<f32>,
    inv_std: Vec<f32>,
    shape: Vec<usize>,
}

impl BatchNorm {
    pub fn new(name: &str, c: usize) -> BatchNorm {
        BatchNorm {
            c,
            eps: 1e-5,
            momentum: 0.1,
            weight: Param::new(format!("{name}.weight"), vec![c], vec![1.0; c]),
            bias: Param::new(format!("{name}.bias"), vec![c], vec![0.0; c]),
            running_mean: Param::buffer(format!("{name}.running_mean"), vec![c], vec![0.0; c]),
            running_var: Param::buffer(format!("{name}.running_var"), vec![c], vec![1.0; c]),
            xhat: Vec::new(),
            inv_std: Vec::new(),
            shape: Vec::new(),
        }
    }
    fn spatial(&self, x: &Tensor) -> usize {
        assert!(
            x.shape.len() >= 2 && x.shape[1] == self.c,
            "batch norm {}: input {:?}",
            self.weight.name,
            x.shape
        );
        x.shape[2..].iter().product()
    }
    /// Per-channel `(scale, shift)` of the inference transform `y = scale·x + shift`.
    pub fn inference_affine(&self) -> (Vec<f32>, Vec<f32>) {
        let scale: Vec<f32> = (0..self.c)
            .map(|i| self.weight.value[i] / (self.running_var.value[i] + self.eps).sqrt())
            .collect();
        let shift = (0..self.c)
            .map(|i| self.bias.value[i] - self.running_mean.value[i] * scale[i])
            .collect();
        (scale, shift)
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let s = self.spatial(x);
        let (scale, shift) = self.inference_affine();
        let mut out = x.data.clone();
        let c = self.c;
        out.par_chunks_mut(c * s).for_each(|sample| {
            for (ch, plane) in sample.chunks_exact_mut(s).enumerate() {
                let (a, b) = (scale[ch], shift[ch]);
                plane.iter_mut().for_each(|v| *v = a * *v + b);
            }
        });
        Tensor::new(x.shape.clone(), out)
    }
    /// A frozen batch norm (its `weight` frozen, transfer learning) behaves as at inference:
    /// a fixed affine map with the running statistics, which it does not update.
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        if self.weight.frozen {
            self.shape = x.shape.clone();
            self.xhat.clear();
            return self.forward(&x);
        }
        let s = self.spatial(&x);
        let (n, c) = (x.batch(), self.c);
        let m = (n * s) as f64;
        let stats: Vec<(f32, f32)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sum, mut sq) = (0.0f64, 0.0f64);
                for b in 0..n {
                    let p = &x.data[(b * c + ch) * s..(b * c + ch + 1) * s];
                    let (ps, pq) = p
                        .iter()
                        .fold((0.0f32, 0.0f32), |(a, q), v| (a + v, q + v * v));
                    sum += ps as f64;
                    sq += pq as f64;
                }
                let mean = sum / m;
                let var = (sq / m - mean * mean).max(0.0);
                (mean as f32, var as f32)
            })
            .collect();
        let inv: Vec<f32> = stats
            .iter()
            .map(|(_, v)| 1.0 / (v + self.eps).sqrt())
            .collect();
        for (ch, (mean, var)) in stats.iter().enumerate() {
            let unbiased = if m > 1.0 {
                var * (m / (m - 1.0)) as f32
            } else {
                *var
            };
            let mo = self.momentum;
            self.running_mean.value[ch] = (1.0 - mo) * self.running_mean.value[ch] + mo * mean;
            self.running_var.value[ch] = (1.0 - mo) * self.running_var.value[ch] + mo * unbiased;
        }
        let mut xhat = x.data;
        let mut out = vec![0.0; xhat.len()];
        let (g, bt) = (&self.weight.value, &self.bias.value);
        xhat.par_chunks_mut(c * s)
            .zip(out.par_chunks_mut(c * s))
            .for_each(|(xs, os)| {
                for ch in 0..c {
                    let (mean, a) = (stats[ch].0, inv[ch]);
                    let (gg, bb) = (g[ch], bt[ch]);
                    for (xv, ov) in xs[ch * s..(ch + 1) * s]
                        .iter_mut()
                        .zip(&mut os[ch * s..(ch + 1) * s])
                    {
                        *xv = (*xv - mean) * a;
                        *ov = gg * *xv + bb;
                    }
                }
            });
        self.xhat = xhat;
        self.inv_std = inv;
        self.shape = x.shape;
        Tensor::new(self.shape.clone(), out)
    }
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        let (n, c) = (self.shape[0], self.c);
        let s: usize = self.shape[2..].iter().product();
        if self.weight.frozen {
            // fixed affine map: no parameter gradients, dx = scale · dy
            if !need_dx {
                return None;
            }
            let (scale, _) = self.inference_affine();
            let mut dx = dy.data;
            dx.par_chunks_mut(c * s).for_each(|sample| {
                for (ch, plane) in sample.chunks_exact_mut(s).enumerate() {
                    plane.iter_mut().for_each(|v| *v *= scale[ch]);
                }
            });
            return Some(Tensor::new(self.shape.clone(), dx));
        }
        let m = (n * s) as f32;
        let xhat = &self.xhat;
        let sums: Vec<(f32, f32)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mut sd, mut sdx) = (0.0f32, 0.0f32);
                for b in 0..n {
                    let r = (b * c + ch) * s..(b * c + ch + 1) * s;
                    for (g, xh) in dy.data[r.clone()].iter().zip(&xhat[r]) {
                        sd += g;
                        sdx += g * xh;
                    }
                }
                (sd, sdx)
            })
            .collect();
        for (ch, (sd, sdx)) in sums.iter().enumerate() {
            self.weight.grad[ch] += sdx;
            self.bias.grad[ch] += sd;
        }
        if !need_dx {
            return None;
        }
        let mut dx = dy.data;
        let (g, inv) = (&self.weight.value, &self.inv_std);
        dx.par_chunks_mut(c * s)
            .zip(xhat.par_chunks(c * s))
            .for_each(|(ds, xs)| {
                for ch in 0..c {
                    let k = g[ch] * inv[ch] / m;
                    let (sd, sdx) = sums[ch];
                    for (d, xh) in ds[ch * s..(ch + 1) * s]
                        .iter_mut()
                        .zip(&xs[ch * s..(ch + 1) * s])
                    {
                        *d = k * (m * *d - sd - xh * sdx);
                    }
                }
            });
        Some(Tensor::new(self.shape.clone(), dx))
    }
}

// ---------------------------------------------------------------------------------------------
// Max pool

/// Max pooling, square window, no padding, floor mode.
#[derive(Debug, Clone)]
pub struct MaxPool2d {
    pub k: usize,
    pub stride: usize,
    argmax: Vec<u32>,
    in_shape: Vec<usize>,
}

impl MaxPool2d {
    pub fn new(k: usize, stride: usize) -> MaxPool2d {
        MaxPool2d {
            k,
            stride,
            argmax: Vec::new(),
            in_shape: Vec::new(),
        }
    }
    /// Pools `x`; with `arg`, also records each output's arg-max (reusing `arg`'s memory).
    fn run(&self, x: &Tensor, arg: Option<&mut Vec<u32>>) -> Tensor {
        let (n, c, h, w) = dims4(x);
        let win = Window {
            k: self.k,
            stride: self.stride,
            pad: 0,
        };
        let (oh, ow) = (win.out(h), win.out(w));
        let mut out = vec![0.0; n * c * oh * ow];
        let (k, s) = (self.k, self.stride);
        let plane_in = |i: usize| &x.data[i * h * w..(i + 1) * h * w];
        match arg {
            Some(arg) => {
                arg.clear();
                arg.resize(out.len(), 0);
                out.par_chunks_mut(oh * ow)
                    .zip(arg.par_chunks_mut(oh * ow))
                    .enumerate()
                    .for_each(|(i, (o, a))| {
                        let xp = plane_in(i);
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let st = oy * s * w + ox * s;
                                let (mut best, mut bi) = (f32::NEG_INFINITY, st);
                                for ky in 0..k {
                                    let r = st + ky * w;
                                    for (kx, v) in xp[r..r + k].iter().enumerate() {
                                        if *v > best {
                                            best = *v;
                                            bi = r + kx;
                                        }
                                    }
                                }
                                o[oy * ow + ox] = best;
                                a[oy * ow + ox] = bi as u32;
                            }
                        }
                    });
            }
            None => {
                out.par_chunks_mut(oh * ow).enumerate().for_each(|(i, o)| {
                    let xp = plane_in(i);
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let st = oy * s * w + ox * s;
                            let mut best = f32::NEG_INFINITY;
                            for ky in 0..k {
                                let r = st + ky * w;
                                best = xp[r..r + k].iter().fold(best, |m, v| m.max(*v));
                            }
                            o[oy * ow + ox] = best;
                        }
                    }
                });
            }
        }
        Tensor::new(vec![n, c, oh, ow], out)
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.run(x, None)
    }
    pub fn forward_train(&mut self, x: Tensor) -> Tensor {
        let mut arg = std::mem::take(&mut self.argmax);
        let y = self.run(&x, Some(&mut arg));
        self.argmax = arg;
        self.in_shape = x.shape;
        y
    }
    pub fn backward(&mut self, dy: Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        let hw = self.in_shape[2] * self.in_shape[3];
        let ohw = dy.shape[2] * dy.shape[3];
        let mut dx = vec![0.0; self.in_shape.iter().product()];
        dx.par_chunks_mut(hw).enumerate().for_each(|(i, d)| {
            let g = &dy.data[i * ohw..(i + 1) * ohw];
            let a = &self.argmax[i * ohw..(i + 1) * ohw];
            for (gv, ai) in g.iter().zip(a) {
                d[*ai as usize] += gv;
            }
        });
        Some(Tensor::new(self.in_shape.clone(), dx))
    }
}

// ---------------------------------------------------------------------------------------------
// Activations, dropout, flatten

/// Element-wise activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActKind {
    Relu,
    Relu6,
    Elu,
}

impl ActKind {
    #[inline]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            ActKind::Relu => v.max(0.0),
            ActKind::Relu6 => v.clamp(0.0, 6.0),
            ActKind::Elu => {
                if v > 0.0 {
                    v
                } else {
                    v.exp_m1()
                }
            }
        }
    }
    /// Derivative expressed through the output `y`.
    #[inline]
    fn grad_from_output(self, y: f32) -> f32 {
        match self {
            ActKind::Relu => (y > 0.0) as u8 as f32,
            ActKind::Relu6 => (y > 0.0 && y < 6.0) as u8 as f32,
            ActKind::Elu => {
                if y > 0.0 {
                    1.0
                } else {
                    y + 1.0
                }
            }
        }
    }
}

/// An activation layer (keeps its output for the backward pass).
#[derive(Debug, Clone)]
pub struct Activation {
    pub kind: ActKind,
    out: Vec<f32>,
}

impl Activation {
    pub fn new(kind: ActKind) -> Activation {
        Activation {
            kind,
            out: Vec::new(),
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = x.clone();
        self.apply_inplace(&mut y.data);
        y
    }
    fn apply_inplace(&self, d: &mut [f32]) {
        let k = self.kind;
        d.par_chunks_mut(1 << 14)
            .for_each(|c| c.iter_mut().for_each(|v| *v = k.apply(*v)));
    }
    pub fn forward_train(&mut self, mut x: Tensor) -> Tensor {
        self.apply_inplace(&mut x.data);
        // reuse the buffer across steps (no fresh pages per step)
        self.out.clear();
        self.out.extend_from_slice(&x.data);
        x
    }
    pub fn backward(&mut self, mut dy: Tensor, need_dx: bool) -> Option<Tensor> {
        if !need_dx {
            return None;
        }
        let k = self.kind;
        dy.data
            .par_chunks_mut(1 << 14)
            .zip(self.out.par_chunks(1 << 14))
            .for_each(|(d, y)| {
                d.iter_mut()
                    .zip(y)
                    .for_each(|(d, y)| *d *= k.grad_from_output(*y))
            });
        Some(dy)
    }
}

/// Inverted dropout: in training, zeroes each value with probability `p` and scales the rest
/// by `1/(1-p)`; identity at inference.
#[derive(Debug, Clone)]
pub struct Dropout {
    pub p: f32,
    mask: Vec<f32>,
}

impl Dropout {
    pub fn new(p: f32) -> Dropout {
        Dropout {
            p,
            mask: Vec::new(),
        }
    }
    pub fn forward_train(&mut self, mut x: Tensor, rng: &mut dyn RngCore) -> Tensor {
        if self.p <= 0.0 {
            self.mask.clear();
            return x;
        }
        let keep = 1.0 / (1.0 - self.p);
        let p = self.p;
        self.mask.clear();
        self.mask
            .extend((0..x.len()).map(|_| if rng.gen::<f32>() < p { 0.0 } else { keep }));
        x.data.iter_mut().zip(&self.mask).for_each(|(v, m)| *v *= m);
        x
    }
    pub fn backward(&mut self, mut dy: Tensor) -> Tensor {
        if !self.mask.is_empty() {
            dy.data
                .iter_mut()
                .zip(&self.mask)
                .for_each(|(v, m)| *v *= m);
        }
        dy
    }
}

/// One layer of a sequential network. (Variants differ in size; a network holds a few dozen
/// layers, so boxing would buy nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Layer {
    Conv2d(Conv2d),
    Depthwise(DepthwiseConv2d),
    Dense(Dense),
    BatchNorm(BatchNorm),
    Act(Activation),
    MaxPool(MaxPool2d),
    Dropout(Dropout),
    /// `[n, ...]` → `[n, prod(...)]`.
    Flatten,
}

impl Layer {
    /// Inference forward pass (batch norm uses running statistics, dropout is off).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Layer::Conv2d(l) => l.forward(x),
            Layer::Depthwise(l) => l.forward(x),
            Layer::Dense(l) => l.forward(x),
            Layer::BatchNorm(l) => l.forward(x),
            Layer::Act(l) => l.forward(x),
            Layer::MaxPool(l) => l.forward(x),
            Layer::Dropout(_) => x.clone(),
            Layer::Flatten => Tensor::new(vec![x.batch(), x.per_sample()], x.data.clone()),
        }
    }
    /// [`Layer::forward`] into `out`, reusing its buffer where the layer can (the
    /// convolutions; [`Tensor::reuse_as`]): inference engines that run the same network again
    /// and again keep one output per layer and skip an allocation and its zeroing per layer.
    pub fn forward_into(&self, x: &Tensor, out: &mut Tensor) {
        match self {
            Layer::Conv2d(l) => l.forward_into(x, out),
            Layer::Depthwise(l) => l.forward_into(x, out),
            _ => *out = self.forward(x),
        }
    }
    /// Training forward pass; keeps what [`Layer::backward`] needs.
    pub fn forward_train(&mut self, x: Tensor, rng: &mut dyn RngCore) -> Tensor {
        match self {
            Layer::Conv2d(l) => l.forward_train(x),
            Layer::Depthwise(l) => l.forward_train(x),
            Layer::Dense(l) => l.forward_train(x),
            Layer::BatchNorm(l) => l.forward_train(x),
            Layer::Act(l) => l.forward_train(x),
            Layer::MaxPool(l) => l.forward_train(x),
            Layer::Dropout(l) => l.forward_train(x, rng),
            Layer::Flatten => {
                let (n, f) = (x.batch(), x.per_sample());
                Tensor::new(vec![n, f], x.data)
            }
        }
    }
    /// Backward pass: accumulates parameter gradients; returns the input gradient if
    /// `need_dx`. `in_shape` is the shape the layer received (for flatten).
    pub fn backward(&mut self, dy: Tensor, need_dx: bool, in_shape: &[usize]) -> Option<Tensor> {
        match self {
            Layer::Conv2d(l) => l.backward(dy, need_dx),
            Layer::Depthwise(l) => l.backward(dy, need_dx),
            Layer::Dense(l) => l.backward(dy, need_dx),
            Layer::BatchNorm(l) => l.backward(dy, need_dx),
            Layer::Act(l) => l.backward(dy, need_dx),
            Layer::MaxPool(l) => l.backward(dy, need_dx),
            Layer::Dropout(l) => Some(l.backward(dy)),
            Layer::Flatten => Some(Tensor::new(in_shape.to_vec(), dy.data)),
        }
    }
    pub fn params(&self) -> Vec<&Param> {
        match self {
            Layer::Conv2d(l) => vec![&l.weight, &l.bias],
            Layer::Depthwise(l) => vec![&l.weight, &l.bias],
            Layer::Dense(l) => vec![&l.weight, &l.bias],
            Layer::BatchNorm(l) => vec![&l.weight, &l.bias, &l.running_mean, &l.running_var],
            _ => vec![],
        }
    }
    pub fn params_mut(&mut self) -> Vec<&mut Param> {
        match self {
            Layer::Conv2d(l) => vec![&mut l.weight, &mut l.bias],
            Layer::Depthwise(l) => vec![&mut l.weight, &mut l.bias],
            Layer::Dense(l) => vec![&mut l.weight, &mut l.bias],
            Layer::BatchNorm(l) => vec![
                &mut l.weight,
                &mut l.bias,
                &mut l.running_mean,
                &mut l.running_var,
            ],
            _ => vec![],
        }
    }
    /// Drop training caches (frees memory after training).
    pub fn clear_cache(&mut self) {
        match self {
            Layer::Conv2d(l) => l.clear(),
            Layer::Depthwise(l) => l.input = None,
            Layer::Dense(l) => l.input = None,
            Layer::BatchNorm(l) => {
                l.xhat = Vec::new();
                l.inv_std = Vec::new();
            }
            Layer::Act(l) => l.out = Vec::new(),
            Layer::MaxPool(l) => l.argmax = Vec::new(),
            Layer::Dropout(l) => l.mask = Vec::new(),
            Layer::Flatten => {}
        }
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

    /// Inside `skip_init` weights are zeros; outside, and after a panic inside, Kaiming again.
    #[test]
    fn skip_init_is_scoped() {
        use rand::SeedableRng;
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let zeros = skip_init(|| kaiming(50, 9, 1.0, rng));
        assert!(zeros.iter().all(|&v| v == 0.0));
        assert!(kaiming(50, 9, 1.0, rng).iter().any(|&v| v != 0.0));
        let caught = std::panic::catch_unwind(|| skip_init(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(kaiming(50, 9, 1.0, rng).iter().any(|&v| v != 0.0));
    }

    /// A one-channel 3×3 convolution (the flat depthwise kernel with a shared input plane)
    /// agrees with the im2col + GEMM path that training uses, batch of 2, odd and even sizes.
    #[test]
    fn single_channel_conv_matches_im2col() {
        use rand::SeedableRng;
        let rng = &mut rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for stride in [1, 2] {
            for (h, w) in [(1, 1), (5, 7), (8, 8), (13, 4), (80, 80)] {
                let mut conv = Conv2d::new("c", 1, 6, 3, stride, 1, rng);
                conv.bias.value = (0..6).map(|i| i as f32 * 0.1 - 0.2).collect();
                let x = Tensor::new(
                    vec![2, 1, h, w],
                    (0..2 * h * w)
                        .map(|i| ((i * 7) % 13) as f32 / 6.0 - 1.0)
                        .collect(),
                );
                let fast = conv.forward(&x);
                let slow = conv.clone().forward_train(x);
                assert_eq!(fast.shape, slow.shape);
                for (a, b) in fast.data.iter().zip(&slow.data) {
                    assert!((a - b).abs() < 1e-4, "stride {stride} {h}×{w}: {a} vs {b}");
                }
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
