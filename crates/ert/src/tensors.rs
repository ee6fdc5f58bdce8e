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
//! Only the leaves may be stored rounded (f16: [`Tensor::lossy`]); the rest must come back
//! exactly, or a split would read another pixel or compare against another threshold.

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
    /// Whether the values may be stored rounded (the leaves: increments summed over hundreds
    /// of trees, where f16's 11 significant bits move a point by about 10⁻⁴ of the face).
    pub lossy: bool,
}

/// Largest index stored as f32 and read back exactly.
const MAX_EXACT: u32 = 1 << 24;

impl ShapePredictor {
    /// The predictor as named arrays under `prefix` (layout above). Requires feature and point
    /// indices below 2²⁴ (any predictor dlib or facemark trains).
    pub fn to_tensors(&self, prefix: &str) -> Vec<Tensor> {
        let len = self.initial_shape.len();
        let mut out = vec![Tensor {
            name: format!("{prefix}.initial_shape"),
            shape: vec![len],
            values: self.initial_shape.clone(),
            lossy: false,
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
                    lossy: false,
                },
                Tensor {
                    name: format!("{prefix}.{li}.deltas"),
                    shape: vec![f, 2],
                    values: l.deltas.iter().flatten().copied().collect(),
                    lossy: false,
                },
                Tensor {
                    name: format!("{prefix}.{li}.tree_splits"),
                    shape: vec![t],
                    values: l.trees.iter().map(|r| r.n_splits as f32).collect(),
                    lossy: false,
                },
                Tensor {
                    name: format!("{prefix}.{li}.splits"),
                    shape: vec![s, 3],
                    values: l
                        .splits
                        .iter()
                        .flat_map(|s| [s.idx1 as f32, s.idx2 as f32, s.thresh])
                        .collect(),
                    lossy: false,
                },
                Tensor {
                    name: format!("{prefix}.{li}.leaves"),
                    shape: vec![s + t, len],
                    values: l.leaves.clone(),
                    lossy: true,
                },
            ]);
        }
        out
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
            let (lshape, leaves) = fetch(name("leaves"), 2)?;
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
            if total != sshape[0] || lshape != [total + counts.len(), len] {
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
            levels.push(Level::new(anchor_idx, deltas, &trees));
        }
        ShapePredictor::new(initial.to_vec(), levels)
    }
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

    #[test]
    fn round_trip_gives_the_same_dat_bytes() {
        let sp = tiny();
        let ts = sp.to_tensors("cascade");
        assert_eq!(ts.len(), 1 + 2 * 5);
        assert_eq!(ts.iter().filter(|t| t.lossy).count(), 2, "only the leaves");
        let m = table(&ts);
        let back =
            ShapePredictor::from_tensors("cascade", |n| m.get(n).map(|(s, v)| (&s[..], &v[..])))
                .unwrap();
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

    #[test]
    fn damaged_arrays_are_named() {
        let sp = tiny();
        let check = |edit: &dyn Fn(&mut Table), want: &str| {
            let mut m = table(&sp.to_tensors("c"));
            edit(&mut m);
            let e = ShapePredictor::from_tensors("c", |n| m.get(n).map(|(s, v)| (&s[..], &v[..])))
                .unwrap_err();
            assert!(e.contains(want), "{e}");
        };
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
    }
}
