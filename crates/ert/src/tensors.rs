//! The shape predictor as named arrays, to store it inside another file: a facemark model
//! file carries its refinement cascade this way (`facemark_model`, tensors `cascade.*` of its
//! safetensors), so that the network and the cascade trained from its points never part.
//!
//! Layout, for a predictor of `n` points and levels `0 … L−1` (all values f32; indices are
//! whole numbers, exact in f32 below 2²⁴):
//!
//! ```text
//! PREFIX.initial_shape      [2n]           x0 y0 x1 y1 …, unit square of the face rectangle
//! PREFIX.L.anchor_idx       [F]            per feature pixel, the point it hangs on
//! PREFIX.L.deltas           [F, 2]         its offset from that point
//! PREFIX.L.tree_splits      [T]            per tree, its number of splits
//! PREFIX.L.splits           [S, 3]         idx1, idx2, thresh of every split, tree after tree
//! PREFIX.L.leaves           [S + T, 2n]    every leaf's shape increment, tree after tree
//! ```
//!
//! or, stored at a leaf rank `k` (`0 < k < 2n`), instead of `leaves`:
//!
//! ```text
//! PREFIX.L.leaf_basis       [k, 2n]        the level's k principal directions (orthonormal rows)
//! PREFIX.L.leaf_coefs       [S + T, k]     every leaf in that basis, whole numbers in ±127 (int8)
//! PREFIX.L.leaf_scale       [S + T]        per leaf: leaf = scale × coefs × basis
//! ```
//!
//! A level's leaves are shape increments, and shapes vary along few directions: 48 of the 136
//! dimensions of a 68-point level, with 8-bit coefficients, keep the cascade's points
//! (docs/experiments.md), for a sixth of the size. Lossy, like f16; it only happens on storing.
//!
//! Only the leaves may be stored rounded ([`Stored`]); the rest must come back exactly, or a
//! split would read another pixel or compare against another threshold.

use crate::model::{Level, ShapePredictor, Split, Tree};

/// One named array of a predictor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// `PREFIX.initial_shape`, `PREFIX.0.leaves`, …
    pub name: String,
    /// Row-major shape.
    pub shape: Vec<usize>,
    /// The values.
    pub values: Vec<f32>,
    /// How the values may be stored.
    pub kind: Stored,
}

/// How an array's values may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Exactly (f32): indices, thresholds, the feature pixels' places.
    Exact,
    /// Rounded, as the file's weights are (f16 in an f16 file): the leaves, increments summed
    /// over hundreds of trees, where f16's 11 significant bits move a point by about 10⁻⁴ of
    /// the face.
    Rounded,
    /// Whole numbers in −127…127, exact in one byte (int8): quantised leaf coefficients.
    Int8,
}

/// Largest index stored as f32 and read back exactly.
const MAX_EXACT: u32 = 1 << 24;

impl ShapePredictor {
    /// The predictor as named arrays under `prefix` (layout above), each level's leaves
    /// projected on its `leaf_rank` principal directions (0, or `2n` and above: the leaves
    /// themselves). Requires feature and point indices below 2²⁴ (any predictor dlib or
    /// facemark trains). Deterministic: the same predictor gives the same arrays.
    pub fn to_tensors(&self, prefix: &str, leaf_rank: usize) -> Vec<Tensor> {
        let len = self.initial_shape.len();
        let mut out = vec![Tensor {
            name: format!("{prefix}.initial_shape"),
            shape: vec![len],
            values: self.initial_shape.clone(),
            kind: Stored::Exact,
        }];
        for (li, l) in self.levels.iter().enumerate() {
            let f = l.anchor_idx.len();
            let t = l.trees.len();
            let s = l.splits.len();
            debug_assert!(l.splits.iter().all(|s| s.idx1.max(s.idx2) < MAX_EXACT));
            out.extend([
                Tensor {
                    name: format!("{prefix}.{li}.anchor_idx"),
                    shape: vec![f],
                    values: l.anchor_idx.iter().map(|&a| a as f32).collect(),
                    kind: Stored::Exact,
                },
                Tensor {
                    name: format!("{prefix}.{li}.deltas"),
                    shape: vec![f, 2],
                    values: l.deltas.iter().flatten().copied().collect(),
                    kind: Stored::Exact,
                },
                Tensor {
                    name: format!("{prefix}.{li}.tree_splits"),
                    shape: vec![t],
                    values: l.trees.iter().map(|r| r.n_splits as f32).collect(),
                    kind: Stored::Exact,
                },
                Tensor {
                    name: format!("{prefix}.{li}.splits"),
                    shape: vec![s, 3],
                    values: l
                        .splits
                        .iter()
                        .flat_map(|s| [s.idx1 as f32, s.idx2 as f32, s.thresh])
                        .collect(),
                    kind: Stored::Exact,
                },
            ]);
            let leaf_rank = self.effective_leaf_rank(leaf_rank);
            if leaf_rank == 0 {
                out.push(Tensor {
                    name: format!("{prefix}.{li}.leaves"),
                    shape: vec![s + t, len],
                    values: l.leaves.clone(),
                    kind: Stored::Rounded,
                });
            } else {
                let (basis, coefs, scale) = match &l.ranked {
                    // read at this rank: the same arrays again
                    Some(r) if r.rank == leaf_rank => {
                        (r.basis.clone(), r.coefs.clone(), r.scale.clone())
                    }
                    _ => {
                        let (basis, coefs) = principal_leaves(&l.leaves, len, leaf_rank);
                        let (coefs, scale) = quantise_rows(&coefs, leaf_rank);
                        (basis, coefs, scale)
                    }
                };
                out.extend([
                    Tensor {
                        name: format!("{prefix}.{li}.leaf_basis"),
                        shape: vec![leaf_rank, len],
                        values: basis,
                        kind: Stored::Rounded,
                    },
                    Tensor {
                        name: format!("{prefix}.{li}.leaf_coefs"),
                        shape: vec![s + t, leaf_rank],
                        values: coefs,
                        kind: Stored::Int8,
                    },
                    Tensor {
                        name: format!("{prefix}.{li}.leaf_scale"),
                        shape: vec![s + t],
                        values: scale,
                        kind: Stored::Rounded,
                    },
                ]);
            }
        }
        out
    }

    /// The leaf rank [`ShapePredictor::to_tensors`] writes for `leaf_rank`: 0 (the leaves
    /// themselves) for 0 or a rank of `2n` and more, else `leaf_rank`.
    pub fn effective_leaf_rank(&self, leaf_rank: usize) -> usize {
        if leaf_rank < self.initial_shape.len() {
            leaf_rank
        } else {
            0
        }
    }

    /// The leaf rank this predictor was read at by [`ShapePredictor::from_tensors`] (its first
    /// level's; 0: the leaves themselves, a predictor made otherwise, or no level).
    pub fn stored_leaf_rank(&self) -> usize {
        self.levels
            .first()
            .and_then(|l| l.ranked.as_ref())
            .map_or(0, |r| r.rank)
    }

    /// Whether `name` is one of the arrays [`ShapePredictor::to_tensors`] writes under
    /// `prefix` (to tell them from a file's other arrays).
    pub fn is_tensor_name(prefix: &str, name: &str) -> bool {
        name.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The predictor stored by [`ShapePredictor::to_tensors`] under `prefix`; `get` looks an
    /// array up by name (shape, values). Every array is checked: present, of the layout's
    /// shape, indices whole and in range ([`ShapePredictor::new`]); the error names the array.
    pub fn from_tensors<'a>(
        prefix: &str,
        get: impl Fn(&str) -> Option<(&'a [usize], &'a [f32])>,
    ) -> Result<ShapePredictor, String> {
        let fetch = |name: String, dims: usize| -> Result<(&'a [usize], &'a [f32]), String> {
            let (shape, values) = get(&name).ok_or_else(|| format!("`{name}` is missing"))?;
            if shape.len() != dims || shape.iter().product::<usize>() != values.len() {
                return Err(format!(
                    "`{name}` has shape {shape:?}, expected {dims} dimension(s)"
                ));
            }
            Ok((shape, values))
        };
        let index = |name: &str, v: f32| -> Result<u32, String> {
            if v.fract() == 0.0 && (0.0..MAX_EXACT as f32).contains(&v) {
                Ok(v as u32)
            } else {
                Err(format!("`{name}` holds {v}, expected a whole index"))
            }
        };
        let (_, initial) = fetch(format!("{prefix}.initial_shape"), 1)?;
        let len = initial.len();
        let mut levels = Vec::new();
        for li in 0.. {
            let name = |k: &str| format!("{prefix}.{li}.{k}");
            if get(&name("anchor_idx")).is_none() {
                break;
            }
            let (_, anchors) = fetch(name("anchor_idx"), 1)?;
            let anchor_idx = anchors
                .iter()
                .map(|&v| index(&name("anchor_idx"), v))
                .collect::<Result<Vec<_>, _>>()?;
            let (dshape, deltas) = fetch(name("deltas"), 2)?;
            if dshape[1] != 2 {
                return Err(format!(
                    "`{}` has shape {dshape:?}, expected [F, 2]",
                    name("deltas")
                ));
            }
            let deltas: Vec<[f32; 2]> = deltas.chunks_exact(2).map(|d| [d[0], d[1]]).collect();
            let (_, tree_splits) = fetch(name("tree_splits"), 1)?;
            let (sshape, splits) = fetch(name("splits"), 2)?;
            let mut ranked = None;
            let (lshape, leaves) = match get(&name("leaf_basis")) {
                None => {
                    let (shape, leaves) = fetch(name("leaves"), 2)?;
                    (shape.to_vec(), std::borrow::Cow::Borrowed(leaves))
                }
                Some(_) => {
                    let (bshape, basis) = fetch(name("leaf_basis"), 2)?;
                    let (cshape, coefs) = fetch(name("leaf_coefs"), 2)?;
                    let (_, scale) = fetch(name("leaf_scale"), 1)?;
                    if bshape[1] != len || cshape[1] != bshape[0] || scale.len() != cshape[0] {
                        return Err(format!(
                            "`{}` has shape {bshape:?}, `{}` {cshape:?} and `{}` [{}]: expected [k, {len}], [leaves, k] and [leaves]",
                            name("leaf_basis"),
                            name("leaf_coefs"),
                            name("leaf_scale"),
                            scale.len()
                        ));
                    }
                    if let Some(c) = coefs
                        .iter()
                        .find(|c| !(c.fract() == 0.0 && c.abs() <= 127.0))
                    {
                        return Err(format!(
                            "`{}` holds {c}, expected whole numbers in −127…127",
                            name("leaf_coefs")
                        ));
                    }
                    let leaves = expand_leaves(basis, coefs, scale, len);
                    ranked = Some(crate::model::RankedLeaves {
                        rank: bshape[0],
                        basis: basis.to_vec(),
                        coefs: coefs.to_vec(),
                        scale: scale.to_vec(),
                    });
                    (vec![cshape[0], len], std::borrow::Cow::Owned(leaves))
                }
            };
            if sshape[1] != 3 {
                return Err(format!(
                    "`{}` has shape {sshape:?}, expected [S, 3]",
                    name("splits")
                ));
            }
            let counts = tree_splits
                .iter()
                .map(|&v| index(&name("tree_splits"), v).map(|c| c as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let total: usize = counts.iter().sum();
            if total != sshape[0] || lshape[..] != [total + counts.len(), len] {
                return Err(format!(
                    "level {li}: {} trees of {total} splits need `{}` of shape [{total}, 3] and `{}` of shape [{}, {len}]; found {sshape:?} and {lshape:?}",
                    counts.len(),
                    name("splits"),
                    name("leaves"),
                    total + counts.len()
                ));
            }
            let mut trees = Vec::with_capacity(counts.len());
            let (mut s0, mut l0) = (0, 0);
            for &c in &counts {
                let splits = splits[3 * s0..3 * (s0 + c)]
                    .chunks_exact(3)
                    .map(|s| {
                        Ok(Split {
                            idx1: index(&name("splits"), s[0])?,
                            idx2: index(&name("splits"), s[1])?,
                            thresh: s[2],
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let leaf_values = leaves[l0 * len..(l0 + c + 1) * len].to_vec();
                trees.push(Tree {
                    splits,
                    leaf_values,
                });
                s0 += c;
                l0 += c + 1;
            }
            let mut level = Level::new(anchor_idx, deltas, &trees);
            level.ranked = ranked;
            levels.push(level);
        }
        ShapePredictor::new(initial.to_vec(), levels)
    }
}

/// A level's leaves (rows of `len` values) projected on their `k` principal directions
/// (uncentred: the eigenvectors of `leavesᵀ·leaves` with the largest eigenvalues, each signed
/// so that its largest component is positive): the basis `[k, len]` and the coefficients
/// `[rows, k]`, row-major. Requires `0 < k ≤ len`.
fn principal_leaves(leaves: &[f32], len: usize, k: usize) -> (Vec<f32>, Vec<f32>) {
    use nalgebra::{DMatrix, SymmetricEigen};
    let rows = leaves.len() / len;
    let m = DMatrix::from_row_iterator(rows, len, leaves.iter().map(|&v| v as f64));
    let eig = SymmetricEigen::new(m.transpose() * &m);
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let mut basis = Vec::with_capacity(k * len);
    for &c in &order[..k] {
        let v = eig.eigenvectors.column(c);
        let big = v
            .iter()
            .copied()
            .fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        basis.extend(v.iter().map(|&x| (sign * x) as f32));
    }
    let coefs = leaves
        .chunks_exact(len)
        .flat_map(|row| {
            basis
                .chunks_exact(len)
                .map(|b| {
                    row.iter()
                        .zip(b)
                        .map(|(&x, &y)| x as f64 * y as f64)
                        .sum::<f64>() as f32
                })
                .collect::<Vec<_>>()
        })
        .collect();
    (basis, coefs)
}

/// Each row of `k` values as whole numbers in −127…127 and its scale: `row ≈ scale × ints`,
/// the row's largest magnitude at ±127 (a zero row: zeros, scale 0).
fn quantise_rows(values: &[f32], k: usize) -> (Vec<f32>, Vec<f32>) {
    let mut ints = Vec::with_capacity(values.len());
    let mut scale = Vec::with_capacity(values.len() / k);
    for row in values.chunks_exact(k) {
        let m = row.iter().fold(0.0f32, |a, x| a.max(x.abs()));
        let s = m / 127.0;
        scale.push(s);
        ints.extend(row.iter().map(|&x| {
            if s > 0.0 {
                (x / s).round().clamp(-127.0, 127.0)
            } else {
                0.0
            }
        }));
    }
    (ints, scale)
}

/// Leaves from their basis `[k, len]`, coefficients `[rows, k]` and per-row scale `[rows]`:
/// `scale × coefs × basis`.
fn expand_leaves(basis: &[f32], coefs: &[f32], scale: &[f32], len: usize) -> Vec<f32> {
    let k = basis.len() / len;
    let mut out = vec![0.0f32; scale.len() * len];
    if k == 0 {
        return out;
    }
    for ((row, c), &s) in out
        .chunks_exact_mut(len)
        .zip(coefs.chunks_exact(k))
        .zip(scale)
    {
        for (&ci, b) in c.iter().zip(basis.chunks_exact(len)) {
            for (o, &bv) in row.iter_mut().zip(b) {
                *o += s * ci * bv;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn tiny() -> ShapePredictor {
        let tree = |t: f32| Tree {
            splits: vec![Split {
                idx1: 0,
                idx2: 2,
                thresh: t,
            }],
            leaf_values: vec![0.01, -0.02, 0.03, 0.0, -0.01, 0.02, 0.0, 0.005],
        };
        let level = Level::new(
            vec![0, 1, 1],
            vec![[0.1, 0.0], [-0.05, 0.2], [0.0, 0.0]],
            &[tree(3.5), tree(-7.25)],
        );
        ShapePredictor::new(vec![0.3, 0.4, 0.7, 0.4], vec![level.clone(), level]).unwrap()
    }

    /// Arrays by name: shape and values.
    type Table = HashMap<String, (Vec<usize>, Vec<f32>)>;

    fn table(ts: &[Tensor]) -> Table {
        ts.iter()
            .map(|t| (t.name.clone(), (t.shape.clone(), t.values.clone())))
            .collect()
    }

    /// The predictor stored in `m` under `prefix`.
    fn from_table(prefix: &str, m: &Table) -> Result<ShapePredictor, String> {
        ShapePredictor::from_tensors(prefix, |n| m.get(n).map(|(s, v)| (&s[..], &v[..])))
    }

    #[test]
    fn round_trip_gives_the_same_dat_bytes() {
        let sp = tiny();
        let ts = sp.to_tensors("cascade", 0);
        assert_eq!(ts.len(), 1 + 2 * 5);
        assert_eq!(
            ts.iter().filter(|t| t.kind != Stored::Exact).count(),
            2,
            "only the leaves"
        );
        let m = table(&ts);
        let back = from_table("cascade", &m).unwrap();
        assert_eq!(back.to_bytes(), sp.to_bytes());
        assert!(ShapePredictor::is_tensor_name(
            "cascade",
            "cascade.0.leaves"
        ));
        assert!(!ShapePredictor::is_tensor_name(
            "cascade",
            "cascades.0.leaves"
        ));
    }

    /// A predictor of `n` points whose leaves are `rank` fixed shape directions mixed
    /// differently in every leaf: exactly of that rank.
    fn of_rank(n: usize, rank: usize) -> ShapePredictor {
        let dirs: Vec<Vec<f32>> = (0..rank)
            .map(|r| {
                (0..2 * n)
                    .map(|i| ((i * (r + 3) + r) % 7) as f32 / 7.0 - 0.4)
                    .collect()
            })
            .collect();
        let tree = |k: usize| Tree {
            splits: vec![Split {
                idx1: 0,
                idx2: 1,
                thresh: k as f32,
            }],
            leaf_values: (0..2)
                .flat_map(|leaf| {
                    let dirs = &dirs;
                    (0..2 * n).map(move |i| {
                        dirs.iter()
                            .enumerate()
                            .map(|(r, d)| d[i] * 0.01 * (((k + leaf) * (r + 1)) % 5) as f32)
                            .sum::<f32>()
                    })
                })
                .collect(),
        };
        let trees: Vec<Tree> = (0..6).map(tree).collect();
        let level = Level::new(vec![0, 1], vec![[0.1, 0.0], [0.0, 0.1]], &trees);
        let initial = (0..n)
            .flat_map(|i| [0.1 + 0.8 * i as f32 / n as f32, 0.5])
            .collect();
        ShapePredictor::new(initial, vec![level]).unwrap()
    }

    fn leaves_of(sp: &ShapePredictor) -> Vec<f32> {
        sp.levels()[0].leaves.clone()
    }

    #[test]
    fn leaves_stored_at_a_rank_come_back_within_their_projection() {
        let sp = of_rank(6, 3);
        let full = leaves_of(&sp);
        let load = |k: usize| {
            let ts = sp.to_tensors("c", k);
            let m = table(&ts);
            let back = from_table("c", &m).unwrap();
            assert_eq!(back.stored_leaf_rank(), if k < 12 { k } else { 0 });
            assert_eq!(ts.iter().any(|t| t.name == "c.0.leaves"), k == 0 || k >= 12);
            leaves_of(&back)
        };
        let err = |k: usize| {
            load(k)
                .iter()
                .zip(&full)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
        };
        let biggest = full.iter().fold(0.0f32, |a, x| a.max(x.abs()));
        // the full leaves: the same (to f32 rounding)
        for k in [0, 12] {
            assert!(err(k) < 1e-6, "rank {k}: {}", err(k));
        }
        // the leaves' own rank or more: the same but for the coefficients' 8 bits
        for k in [3, 4, 11] {
            assert!(err(k) < 0.01 * biggest, "rank {k}: {} of {biggest}", err(k));
        }
        // less: the leaves' best approximation of that rank, no longer the same
        assert!(err(2) > 0.05 * biggest, "rank 2: {} of {biggest}", err(2));
        assert!(err(1) > err(2), "rank 1 {} rank 2 {}", err(1), err(2));
        // the same predictor stores the same arrays, and read back, stores them again
        let ts = sp.to_tensors("c", 3);
        assert_eq!(ts, sp.to_tensors("c", 3));
        let m = table(&ts);
        let back = from_table("c", &m).unwrap();
        assert_eq!(back.to_tensors("c", 3), ts);
        // at another rank its leaves are projected anew
        assert_ne!(back.to_tensors("c", 4)[..], ts[..]);
    }

    #[test]
    fn damaged_arrays_are_named() {
        let sp = tiny();
        // the arrays stored at `rank`, edited, must be refused with `want` in the message
        let check_at = |rank: usize, edit: &dyn Fn(&mut Table), want: &str| {
            let mut m = table(&sp.to_tensors("c", rank));
            edit(&mut m);
            let e = from_table("c", &m).unwrap_err();
            assert!(e.contains(want), "{e}");
        };
        let check = |edit: &dyn Fn(&mut Table), want: &str| check_at(0, edit, want);
        check(
            &|m| drop(m.remove("c.initial_shape")),
            "`c.initial_shape` is missing",
        );
        check(&|m| drop(m.remove("c.1.leaves")), "`c.1.leaves` is missing");
        check(
            &|m| m.get_mut("c.0.splits").unwrap().1[0] = 0.5,
            "whole index",
        );
        check(
            &|m| m.get_mut("c.0.splits").unwrap().1[1] = 9.0,
            "reads features",
        );
        check(
            &|m| m.get_mut("c.0.anchor_idx").unwrap().1[0] = 5.0,
            "anchor 5",
        );
        check(
            &|m| m.get_mut("c.1.tree_splits").unwrap().1[0] = 2.0,
            "level 1",
        );
        check(
            &|m| m.get_mut("c.0.deltas").unwrap().0 = vec![2, 3],
            "expected [F, 2]",
        );
        let check_low = |edit: &dyn Fn(&mut Table), want: &str| check_at(2, edit, want);
        check_low(
            &|m| drop(m.remove("c.1.leaf_coefs")),
            "`c.1.leaf_coefs` is missing",
        );
        check_low(
            &|m| {
                let b = m.get_mut("c.0.leaf_basis").unwrap();
                b.0 = vec![1, 8];
                b.1.truncate(8);
            },
            "expected [k, 4], [leaves, k] and [leaves]",
        );
        check_low(
            &|m| {
                let c = m.get_mut("c.0.leaf_coefs").unwrap();
                c.0 = vec![3, 2];
                c.1.truncate(6);
                let sc = m.get_mut("c.0.leaf_scale").unwrap();
                sc.0 = vec![3];
                sc.1.truncate(3);
            },
            "level 0",
        );
        check_low(
            &|m| m.get_mut("c.0.leaf_coefs").unwrap().1[0] = 0.5,
            "whole numbers in −127…127",
        );
        check_low(
            &|m| drop(m.remove("c.0.leaf_scale")),
            "`c.0.leaf_scale` is missing",
        );
    }
}
