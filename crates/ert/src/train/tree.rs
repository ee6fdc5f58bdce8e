//! Fitting one regression tree to the training copies' residuals: dlib's
//! `make_regression_tree`, `generate_split` and `randomly_generate_split_feature`, breadth
//! first, one pass over all copies per tree depth (every node of a depth at once, rather than
//! dlib's node by node: the same splits and leaves, the copies never reordered).
//!
//! Determinism: the random draws are made in dlib's order (the candidate splits of each node,
//! breadth first) from one generator, and the parallel sums are taken over fixed chunks of
//! copies and added in chunk order, so the tree does not depend on the thread count.

use super::options::TrainOptions;
use super::State;
use crate::model::{Split, Tree};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Copies per parallel work item.
const CHUNK: usize = 1024;

/// A random split of dlib's prior: two distinct feature pixels, kept with probability
/// `exp(−distance / lambda)` (at most `pool²` tries, the last kept), and a threshold uniform in
/// [−64, 64) (`(u·256 − 128) / 2`).
fn random_split(pixels: &[[f32; 2]], opts: &TrainOptions, rng: &mut ChaCha8Rng) -> Split {
    let f = opts.feature_pool_size;
    let (mut i1, mut i2) = (0, 1);
    for _ in 0..f * f {
        i1 = rng.gen_range(0..f);
        i2 = rng.gen_range(0..f);
        while i1 == i2 {
            i2 = rng.gen_range(0..f);
        }
        let (dx, dy) = (pixels[i1][0] - pixels[i2][0], pixels[i1][1] - pixels[i2][1]);
        let dist = (dx * dx + dy * dy).sqrt() as f64;
        if (-dist / opts.lambda).exp() > rng.gen::<f64>() {
            break;
        }
    }
    Split {
        idx1: i1 as u32,
        idx2: i2 as u32,
        thresh: ((rng.gen::<f64>() * 256.0 - 128.0) / 2.0) as f32,
    }
}

/// Whether a copy with features `f` goes left at `s` (dlib: `(float)f1 − (float)f2 > thresh`).
#[inline(always)]
fn goes_left(f: &[u8], s: &Split) -> bool {
    f[s.idx1 as usize] as f32 - f[s.idx2 as usize] as f32 > s.thresh
}

#[inline(always)]
fn add_to(acc: &mut [f32], v: &[f32]) {
    for (a, b) in acc.iter_mut().zip(v) {
        *a += *b;
    }
}

/// One chunk's share of a depth's candidate sums.
struct Chunk<'a> {
    cands: &'a [Split],
    /// The first node of the depth.
    first: usize,
    /// Candidates per node.
    t: usize,
    len: usize,
    nf: usize,
}

impl Chunk<'_> {
    /// Adds each copy's residual (`df`) to `acc[candidate]` for every candidate of its node
    /// (`nd`) it goes left at (features `fv`), counting them in `cnt`.
    fn run(&self, fv: &[u8], df: &[f32], nd: &[u32], acc: &mut [f32], cnt: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            #[allow(unsafe_code)]
            return unsafe { self.run_avx2(fv, df, nd, acc, cnt) };
        }
        self.body(fv, df, nd, acc, cnt)
    }

    /// [`Chunk::body`] compiled for AVX2 (the same float additions, 8 at a time).
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn run_avx2(&self, fv: &[u8], df: &[f32], nd: &[u32], acc: &mut [f32], cnt: &mut [u32]) {
        self.body(fv, df, nd, acc, cnt)
    }

    #[inline(always)]
    fn body(&self, fv: &[u8], df: &[f32], nd: &[u32], acc: &mut [f32], cnt: &mut [u32]) {
        let (t, len) = (self.t, self.len);
        for ((f, d), &k) in fv.chunks_exact(self.nf).zip(df.chunks_exact(len)).zip(nd) {
            let k = k as usize - self.first;
            for (c, s) in self.cands[k * t..(k + 1) * t].iter().enumerate() {
                if goes_left(f, s) {
                    let i = k * t + c;
                    cnt[i] += 1;
                    add_to(&mut acc[i * len..(i + 1) * len], d);
                }
            }
        }
    }
}

/// Sums of `f32` rows made per chunk, added in chunk order in f64.
fn reduce(parts: impl Iterator<Item = Vec<f32>>, len: usize) -> Vec<f64> {
    let mut total = vec![0f64; len];
    for p in parts {
        for (t, v) in total.iter_mut().zip(&p) {
            *t += *v as f64;
        }
    }
    total
}

/// Fits one tree of `opts.tree_depth` to `state` (its residuals `target − current`), moves
/// every copy's current shape by its leaf, and returns the tree. `pixels`: the level's feature
/// pixels (unit square), for the split prior.
pub(super) fn fit_tree(
    state: &mut State,
    pixels: &[[f32; 2]],
    opts: &TrainOptions,
    rng: &mut ChaCha8Rng,
) -> Tree {
    let len = state.len;
    let nf = state.nf;
    let t = opts.num_test_splits;
    let n_splits = (1usize << opts.tree_depth) - 1;

    // residuals and their sum (the root's)
    let State {
        target,
        current,
        diff,
        node,
        features,
        ..
    } = state;
    let root: Vec<Vec<f32>> = diff
        .par_chunks_mut(CHUNK * len)
        .zip(target.par_chunks(CHUNK * len))
        .zip(current.par_chunks(CHUNK * len))
        .map(|((d, tg), c)| {
            let mut acc = vec![0f32; len];
            for ((d, tg), c) in d
                .chunks_exact_mut(len)
                .zip(tg.chunks_exact(len))
                .zip(c.chunks_exact(len))
            {
                for k in 0..len {
                    d[k] = tg[k] - c[k];
                }
                add_to(&mut acc, d);
            }
            acc
        })
        .collect();
    node.par_iter_mut().for_each(|v| *v = 0);
    let mut sums = vec![Vec::new(); 2 * n_splits + 1];
    sums[0] = reduce(root.into_iter(), len);
    let mut counts = vec![0usize; 2 * n_splits + 1];
    counts[0] = node.len();
    let mut splits = Vec::with_capacity(n_splits);

    for depth in 0..opts.tree_depth {
        let first = (1usize << depth) - 1;
        let width = 1usize << depth;
        let cands: Vec<Split> = (0..width * t)
            .map(|_| random_split(pixels, opts, rng))
            .collect();
        // per chunk: for each node of this depth and each candidate, the sum of the residuals
        // that go left and their count
        let parts: Vec<(Vec<f32>, Vec<u32>)> = features
            .par_chunks(CHUNK * nf)
            .zip(diff.par_chunks(CHUNK * len))
            .zip(node.par_chunks(CHUNK))
            .map(|((fv, df), nd)| {
                let mut acc = vec![0f32; width * t * len];
                let mut cnt = vec![0u32; width * t];
                let job = Chunk {
                    cands: &cands,
                    first,
                    t,
                    len,
                    nf,
                };
                job.run(fv, df, nd, &mut acc, &mut cnt);
                (acc, cnt)
            })
            .collect();
        let mut left_cnt = vec![0usize; width * t];
        for (_, c) in &parts {
            for (a, b) in left_cnt.iter_mut().zip(c) {
                *a += *b as usize;
            }
        }
        let left_sums = reduce(parts.into_iter().map(|(a, _)| a), width * t * len);
        // the best candidate of each node (dlib's score: |L|²/nL + |R|²/nR, both sides
        // non-empty; the first candidate when none is)
        let mut chosen = Vec::with_capacity(width);
        for k in 0..width {
            let id = first + k;
            let (sum, total) = (&sums[id], counts[id]);
            let mut best = (-1f64, 0usize);
            for c in 0..t {
                let i = k * t + c;
                let (lc, rc) = (left_cnt[i], total - left_cnt[i]);
                if lc != 0 && rc != 0 {
                    let l = &left_sums[i * len..(i + 1) * len];
                    let (mut ll, mut rr) = (0f64, 0f64);
                    for (a, s) in l.iter().zip(sum) {
                        ll += a * a;
                        rr += (s - a) * (s - a);
                    }
                    let score = ll / lc as f64 + rr / rc as f64;
                    if score > best.0 {
                        best = (score, c);
                    }
                }
            }
            let i = k * t + best.1;
            let left = left_sums[i * len..(i + 1) * len].to_vec();
            let right: Vec<f64> = sum.iter().zip(&left).map(|(s, l)| s - l).collect();
            sums[2 * id + 1] = left;
            sums[2 * id + 2] = right;
            counts[2 * id + 1] = left_cnt[i];
            counts[2 * id + 2] = total - left_cnt[i];
            splits.push(cands[i]);
            chosen.push(cands[i]);
        }
        node.par_chunks_mut(CHUNK)
            .zip(features.par_chunks(CHUNK * nf))
            .for_each(|(nd, fv)| {
                for (k, f) in nd.iter_mut().zip(fv.chunks_exact(nf)) {
                    let s = &chosen[*k as usize - first];
                    *k = 2 * *k + if goes_left(f, s) { 1 } else { 2 };
                }
            });
    }

    // leaves: nu × the mean residual of their copies, per coordinate over the copies that
    // have it
    let n_leaves = n_splits + 1;
    let present_counts: Vec<f64> = match &state.present {
        None => (0..n_leaves)
            .flat_map(|l| std::iter::repeat_n(counts[n_splits + l] as f64, len))
            .collect(),
        Some(present) => {
            let parts = present
                .par_chunks(CHUNK * len)
                .zip(state.node.par_chunks(CHUNK))
                .map(|(p, nd)| {
                    let mut acc = vec![0f32; n_leaves * len];
                    for (p, &k) in p.chunks_exact(len).zip(nd) {
                        let l = k as usize - n_splits;
                        add_to(&mut acc[l * len..(l + 1) * len], p);
                    }
                    acc
                })
                .collect::<Vec<_>>();
            reduce(parts.into_iter(), n_leaves * len)
        }
    };
    let mut leaf_values = vec![0f32; n_leaves * len];
    for l in 0..n_leaves {
        if counts[n_splits + l] == 0 {
            continue;
        }
        let sum = &sums[n_splits + l];
        for k in 0..len {
            let c = present_counts[l * len + k];
            if c > 0.0 {
                leaf_values[l * len + k] = (sum[k] * opts.nu / c) as f32;
            }
        }
    }
    let State {
        target,
        current,
        present,
        node,
        ..
    } = state;
    let leaves = &leaf_values;
    current
        .par_chunks_mut(len)
        .zip(target.par_chunks_mut(len))
        .zip(node.par_iter())
        .enumerate()
        .for_each(|(j, ((c, tg), &k))| {
            let l = k as usize - n_splits;
            add_to(c, &leaves[l * len..(l + 1) * len]);
            // a coordinate a face lacks follows its current value: no residual, ignored
            if let Some(p) = present.as_deref() {
                for q in 0..len {
                    if p[j * len + q] == 0.0 {
                        tg[q] = c[q];
                    }
                }
            }
        });
    Tree {
        splits,
        leaf_values,
    }
}
