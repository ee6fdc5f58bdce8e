//! The shape predictor as data, and its dlib file format (`dlib::shape_predictor`, version 1).
//!
//! Layout of the file (dlib's `serialize(const shape_predictor&)`), in dlib's encodings
//! ([`facemark_formats::dlib`]):
//!
//! ```text
//! int                                          version (1)
//! matrix<float,0,1>                            initial_shape: x0 y0 x1 y1 …, in the unit square of the face rectangle
//! vector<vector<regression_tree>>              forests: one forest per cascade level
//!     regression_tree = vector<split_feature>  splits, breadth first (children of i: 2i+1, 2i+2)
//!                       vector<matrix<float,0,1>> leaf_values: splits + 1 shape increments
//!     split_feature   = unsigned long idx1, unsigned long idx2, float thresh
//! vector<vector<unsigned long>>                anchor_idx: per level, the shape point each feature pixel hangs on
//! vector<vector<vector<float,2>>>              deltas: per level, each feature pixel's offset from its anchor (initial-shape units)
//! ```

use crate::error::ErtError;
use crate::scheme::scheme_for_points;
use facemark_core::Scheme;
use facemark_formats::dlib::{DlibError, DlibReader, DlibWriter, MIN_FLOAT_BYTES, MIN_INT_BYTES};
use std::path::Path;

/// One split node of a regression tree: go left when
/// `feature[idx1] − feature[idx2] > thresh` (pixel intensities, 0–255).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// First feature pixel (index into the level's features).
    pub idx1: u32,
    /// Second feature pixel.
    pub idx2: u32,
    /// Threshold on the intensity difference.
    pub thresh: f32,
}

/// One regression tree: `splits` in breadth-first order (node `i`'s children are `2i+1`
/// (taken when the split holds) and `2i+2`), and `splits.len() + 1` leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// The split nodes.
    pub splits: Vec<Split>,
    /// The leaves' shape increments, one after the other: leaf `k` is
    /// `leaf_values[k·2n .. (k+1)·2n]` for a model of `n` points (x, y interleaved, in units of
    /// the face rectangle).
    pub leaf_values: Vec<f32>,
}

/// One level of the cascade: the feature pixels it reads and the trees it sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// For each feature pixel, the shape point it is placed relative to.
    pub anchor_idx: Vec<u32>,
    /// For each feature pixel, its offset from that point in the initial shape's frame.
    pub deltas: Vec<[f32; 2]>,
    /// The trees, flattened for speed; see [`Level::tree`].
    pub(crate) splits: Vec<Split>,
    pub(crate) leaves: Vec<f32>,
    /// Per tree: first split, number of splits, first leaf (in leaves, not floats).
    pub(crate) trees: Vec<TreeRange>,
    /// The leaves as a model file stored them at a leaf rank ([`crate::tensors`]), when the
    /// level was read so: saving it again at that rank writes these arrays, so that a loaded
    /// model saves back the same leaves (projecting and quantising the expanded leaves anew
    /// would move them a little every time).
    pub(crate) ranked: Option<RankedLeaves>,
}

/// A level's leaves stored at a rank: `leaves = scale × coefs × basis` (see [`crate::tensors`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RankedLeaves {
    /// `k`, the basis rows.
    pub rank: usize,
    /// `[k, 2n]`.
    pub basis: Vec<f32>,
    /// `[leaves, k]`, whole numbers in ±127.
    pub coefs: Vec<f32>,
    /// `[leaves]`.
    pub scale: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TreeRange {
    pub split_start: u32,
    pub n_splits: u32,
    pub leaf_start: u32,
}

impl Level {
    /// A level from its feature pixels and trees. Requires what [`ShapePredictor::new`] checks.
    pub fn new(anchor_idx: Vec<u32>, deltas: Vec<[f32; 2]>, trees: &[Tree]) -> Level {
        let mut splits = Vec::new();
        let mut leaves = Vec::new();
        let mut ranges = Vec::with_capacity(trees.len());
        let mut n_leaves = 0u32;
        for t in trees {
            ranges.push(TreeRange {
                split_start: splits.len() as u32,
                n_splits: t.splits.len() as u32,
                leaf_start: n_leaves,
            });
            splits.extend_from_slice(&t.splits);
            leaves.extend_from_slice(&t.leaf_values);
            n_leaves += t.splits.len() as u32 + 1;
        }
        Level {
            anchor_idx,
            deltas,
            splits,
            leaves,
            trees: ranges,
            ranked: None,
        }
    }

    /// Number of trees.
    pub fn num_trees(&self) -> usize {
        self.trees.len()
    }

    /// Tree `i` (a copy; for writing and inspection).
    pub fn tree(&self, i: usize, shape_len: usize) -> Tree {
        let r = self.trees[i];
        let s = r.split_start as usize;
        let l = r.leaf_start as usize * shape_len;
        Tree {
            splits: self.splits[s..s + r.n_splits as usize].to_vec(),
            leaf_values: self.leaves[l..l + (r.n_splits as usize + 1) * shape_len].to_vec(),
        }
    }
}

/// A dlib shape predictor (Kazemi & Sullivan's ensemble of regression trees): a mean shape in
/// the unit square of a face rectangle, moved towards the face by a cascade of levels of
/// regression trees on pixel-difference features. Runs exactly as dlib 19.24 does
/// (`ShapePredictor::predict_dlib`), reads and writes dlib's `.dat` files byte for byte.
#[derive(Debug, Clone)]
pub struct ShapePredictor {
    pub(crate) initial_shape: Vec<f32>,
    pub(crate) levels: Vec<Level>,
    pub(crate) scheme: Scheme,
    /// The initial shape's points centred on their mean (f64, as dlib's similarity transform
    /// computes), its mean and variance: the "from" side of every level's transform.
    pub(crate) from_centered: Vec<[f64; 2]>,
    pub(crate) from_sigma: f64,
    /// The initial shape's bounding box in the unit square: `[x0, y0, x1, y1]`.
    pub(crate) mean_box: [f64; 4],
    /// The most features any level reads.
    pub(crate) max_features: usize,
}

impl ShapePredictor {
    /// A predictor from its parts, checked: `initial_shape` holds `2n ≥ 2` finite values;
    /// every anchor is `< n`; `anchor_idx` and `deltas` have one entry per feature; every
    /// tree's leaves are `splits + 1` increments of `2n` values and its splits read features
    /// of its level. The scheme is chosen by point count ([`scheme_for_points`]).
    pub fn new(initial_shape: Vec<f32>, levels: Vec<Level>) -> Result<ShapePredictor, String> {
        let len = initial_shape.len();
        if len < 2 || !len.is_multiple_of(2) {
            return Err(format!(
                "the initial shape must hold x, y pairs, found {len} values"
            ));
        }
        if initial_shape.iter().any(|v| !v.is_finite()) {
            return Err("the initial shape has a value that is not finite".into());
        }
        let n = len / 2;
        for (li, l) in levels.iter().enumerate() {
            if l.anchor_idx.len() != l.deltas.len() {
                return Err(format!(
                    "level {li}: {} anchors but {} deltas",
                    l.anchor_idx.len(),
                    l.deltas.len()
                ));
            }
            if let Some(a) = l.anchor_idx.iter().find(|&&a| a as usize >= n) {
                return Err(format!("level {li}: anchor {a} of a {n}-point shape"));
            }
            let nf = l.anchor_idx.len();
            if let Some(s) = l
                .splits
                .iter()
                .find(|s| s.idx1 as usize >= nf || s.idx2 as usize >= nf)
            {
                return Err(format!(
                    "level {li}: a split reads features {} and {} of {nf}",
                    s.idx1, s.idx2
                ));
            }
            let leaves: usize = l.trees.iter().map(|t| t.n_splits as usize + 1).sum();
            if leaves * len != l.leaves.len() {
                return Err(format!(
                    "level {li}: leaf values do not match the trees' shape"
                ));
            }
        }
        let scheme = scheme_for_points(n);
        Ok(Self::with_derived(initial_shape, levels, scheme))
    }

    fn with_derived(initial_shape: Vec<f32>, levels: Vec<Level>, scheme: Scheme) -> Self {
        let n = initial_shape.len() / 2;
        // As dlib's find_similarity_transform: mean and variance in f64.
        let mut mean = [0f64; 2];
        for p in initial_shape.chunks_exact(2) {
            mean[0] += p[0] as f64;
            mean[1] += p[1] as f64;
        }
        mean[0] /= n as f64;
        mean[1] /= n as f64;
        let mut sigma = 0f64;
        let from_centered: Vec<[f64; 2]> = initial_shape
            .chunks_exact(2)
            .map(|p| {
                let d = [p[0] as f64 - mean[0], p[1] as f64 - mean[1]];
                sigma += d[0] * d[0] + d[1] * d[1];
                d
            })
            .collect();
        sigma /= n as f64;
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for p in initial_shape.chunks_exact(2) {
            b[0] = b[0].min(p[0] as f64);
            b[1] = b[1].min(p[1] as f64);
            b[2] = b[2].max(p[0] as f64);
            b[3] = b[3].max(p[1] as f64);
        }
        let max_features = levels.iter().map(|l| l.anchor_idx.len()).max().unwrap_or(0);
        ShapePredictor {
            initial_shape,
            levels,
            scheme,
            from_centered,
            from_sigma: sigma,
            mean_box: b,
            max_features,
        }
    }

    /// The same predictor naming its points by `scheme` (e.g. a custom layout of a user's
    /// model). Requires as many points as the model places.
    pub fn with_scheme(mut self, scheme: Scheme) -> Result<Self, ErtError> {
        if scheme.len() != self.num_parts() {
            return Err(ErtError::Scheme(format!(
                "the scheme {} has {} points but the shape predictor places {}",
                scheme.name,
                scheme.len(),
                self.num_parts()
            )));
        }
        self.scheme = scheme;
        Ok(self)
    }

    /// Number of points placed.
    pub fn num_parts(&self) -> usize {
        self.initial_shape.len() / 2
    }

    /// The initial (mean) shape: `[x, y]` per point in the unit square of the face rectangle
    /// (`(0,0)` its top-left corner, `(1,1)` its bottom-right one).
    pub fn initial_shape(&self) -> Vec<[f32; 2]> {
        self.initial_shape
            .chunks_exact(2)
            .map(|p| [p[0], p[1]])
            .collect()
    }

    /// The cascade's levels.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// The points' scheme (names, mirror pairs, NME normaliser).
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// Trees in all levels.
    pub fn num_trees(&self) -> usize {
        self.levels.iter().map(|l| l.num_trees()).sum()
    }

    /// Loads a dlib `.dat` shape predictor file.
    pub fn load(path: &Path) -> Result<ShapePredictor, ErtError> {
        let bytes = std::fs::read(path).map_err(|error| ErtError::Io {
            path: path.into(),
            error,
        })?;
        Self::from_bytes_named(&bytes, &path.display().to_string())
    }

    /// Reads a shape predictor from the bytes of a `.dat` file. Bytes after the predictor
    /// are ignored, as dlib ignores them.
    pub fn from_bytes(bytes: &[u8]) -> Result<ShapePredictor, ErtError> {
        Self::from_bytes_named(bytes, "shape predictor bytes")
    }

    fn from_bytes_named(bytes: &[u8], what: &str) -> Result<ShapePredictor, ErtError> {
        read_predictor(&mut DlibReader::new(bytes)).map_err(|error| ErtError::Format {
            what: what.to_string(),
            error,
        })
    }

    /// The `.dat` bytes dlib writes for this predictor (`serialize(sp, out)`): dlib loads
    /// them, and a file read by [`ShapePredictor::load`] is written back byte for byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = self.initial_shape.len();
        let mut w = DlibWriter::new();
        w.write_signed(1);
        w.write_column_f32(&self.initial_shape);
        w.write_len(self.levels.len());
        for l in &self.levels {
            w.write_len(l.trees.len());
            for i in 0..l.trees.len() {
                let t = l.tree(i, len);
                w.write_len(t.splits.len());
                for s in &t.splits {
                    w.write_unsigned(s.idx1 as u64);
                    w.write_unsigned(s.idx2 as u64);
                    w.write_f32(s.thresh);
                }
                w.write_len(t.splits.len() + 1);
                for leaf in t.leaf_values.chunks_exact(len) {
                    w.write_column_f32(leaf);
                }
            }
        }
        w.write_len(self.levels.len());
        for l in &self.levels {
            w.write_len(l.anchor_idx.len());
            for &a in &l.anchor_idx {
                w.write_unsigned(a as u64);
            }
        }
        w.write_len(self.levels.len());
        for l in &self.levels {
            w.write_len(l.deltas.len());
            for &d in &l.deltas {
                w.write_point_f32(d);
            }
        }
        w.into_bytes()
    }

    /// Writes the `.dat` file atomically (a temporary file renamed).
    pub fn save(&self, path: &Path) -> Result<(), ErtError> {
        facemark_core::io::write_atomic(path, &self.to_bytes()).map_err(|error| ErtError::Io {
            path: path.into(),
            error,
        })
    }
}

/// A `u32` index read as dlib's `unsigned long`.
fn read_index(r: &mut DlibReader, what: &str) -> Result<u32, DlibError> {
    let at = r.offset();
    let v = r.read_ulong(what)?;
    u32::try_from(v)
        .map_err(|_| DlibError::new(at, format!("{what}: an index below 2^32, found {v}")))
}

fn read_predictor(r: &mut DlibReader) -> Result<ShapePredictor, DlibError> {
    let at = r.offset();
    let version = r.read_int("the shape_predictor version (int)")?;
    if version != 1 {
        return Err(DlibError::new(
            at,
            format!("shape_predictor version 1, found {version}"),
        ));
    }
    let at = r.offset();
    let initial_shape = r.read_column_f32("the initial shape (matrix<float,0,1>)")?;
    let len = initial_shape.len();
    if len < 2 || !len.is_multiple_of(2) {
        return Err(DlibError::new(
            at,
            format!("an initial shape of x, y pairs, found {len} values"),
        ));
    }
    if initial_shape.iter().any(|v| !v.is_finite()) {
        return Err(DlibError::new(at, "a finite initial shape"));
    }
    let n = len / 2;

    // forests
    let forests_at = r.offset();
    let n_levels = r.read_len(MIN_INT_BYTES, "the number of cascade levels")?;
    let mut forests: Vec<(usize, Vec<Tree>)> = Vec::with_capacity(n_levels);
    for li in 0..n_levels {
        let level_at = r.offset();
        let trees = r
            .read_vec(2 * MIN_INT_BYTES, "the number of trees", |r, ti| {
                read_tree(r, len).map_err(|e| e.within(format!("tree {ti}")))
            })
            .map_err(|e| e.within(format!("forest of level {li}")))?;
        forests.push((level_at, trees));
    }
    let _ = forests_at;

    // anchor_idx
    let at = r.offset();
    let anchors = r.read_vec(MIN_INT_BYTES, "the number of anchor lists", |r, li| {
        let at = r.offset();
        let a = r
            .read_vec(MIN_INT_BYTES, "the number of anchors", |r, _| {
                read_index(r, "an anchor index")
            })
            .map_err(|e| e.within(format!("anchors of level {li}")))?;
        if let Some(bad) = a.iter().find(|&&a| a as usize >= n) {
            return Err(DlibError::new(
                at,
                format!("anchors of level {li}: indices below the {n} points, found {bad}"),
            ));
        }
        Ok(a)
    })?;
    if anchors.len() != n_levels {
        return Err(DlibError::new(
            at,
            format!(
                "{n_levels} anchor lists (one per level), found {}",
                anchors.len()
            ),
        ));
    }

    // deltas
    let at = r.offset();
    let deltas = r.read_vec(MIN_INT_BYTES, "the number of delta lists", |r, li| {
        r.read_vec(2 * MIN_FLOAT_BYTES, "the number of deltas", |r, _| {
            r.read_point_f32("a feature pixel's delta")
        })
        .map_err(|e| e.within(format!("deltas of level {li}")))
    })?;
    if deltas.len() != n_levels {
        return Err(DlibError::new(
            at,
            format!(
                "{n_levels} delta lists (one per level), found {}",
                deltas.len()
            ),
        ));
    }

    let mut levels = Vec::with_capacity(n_levels);
    for (li, ((level_at, trees), (a, d))) in forests
        .into_iter()
        .zip(anchors.into_iter().zip(deltas))
        .enumerate()
    {
        if a.len() != d.len() {
            return Err(DlibError::new(
                at,
                format!(
                    "level {li}: as many deltas as anchors ({}), found {}",
                    a.len(),
                    d.len()
                ),
            ));
        }
        let nf = a.len();
        for (ti, t) in trees.iter().enumerate() {
            if let Some(s) = t
                .splits
                .iter()
                .find(|s| s.idx1 as usize >= nf || s.idx2 as usize >= nf)
            {
                return Err(DlibError::new(
                    level_at,
                    format!(
                        "level {li}, tree {ti}: splits on the level's {nf} feature pixels, found features {} and {}",
                        s.idx1, s.idx2
                    ),
                ));
            }
        }
        levels.push(Level::new(a, d, &trees));
    }
    ShapePredictor::new(initial_shape, levels).map_err(|m| DlibError::new(0, m))
}

fn read_tree(r: &mut DlibReader, len: usize) -> Result<Tree, DlibError> {
    let splits = r.read_vec(
        2 * MIN_INT_BYTES + MIN_FLOAT_BYTES,
        "the number of splits",
        |r, _| {
            Ok(Split {
                idx1: read_index(r, "a split's first feature (idx1)")?,
                idx2: read_index(r, "a split's second feature (idx2)")?,
                thresh: r.read_f32("a split's threshold")?,
            })
        },
    )?;
    let at = r.offset();
    let n_leaves = r.read_len(2 * MIN_INT_BYTES, "the number of leaves")?;
    if n_leaves != splits.len() + 1 {
        return Err(DlibError::new(
            at,
            format!(
                "{} leaves for {} splits (a full tree), found {n_leaves}",
                splits.len() + 1,
                splits.len()
            ),
        ));
    }
    // Each leaf holds `len` floats: bound the whole tree before allocating it.
    if (n_leaves as u128) * (len as u128) * (MIN_FLOAT_BYTES as u128) > r.remaining() as u128 {
        return Err(DlibError::new(
            at,
            format!(
                "{n_leaves} leaves of {len} values, but only {} bytes are left (truncated file?)",
                r.remaining()
            ),
        ));
    }
    let mut leaf_values = Vec::with_capacity(n_leaves * len);
    for k in 0..n_leaves {
        let leaf = r
            .read_column_f32("a leaf's shape increment (matrix<float,0,1>)")
            .map_err(|e| e.within(format!("leaf {k}")))?;
        if leaf.len() != len {
            return Err(DlibError::new(
                at,
                format!("leaf {k}: {len} values (the shape's), found {}", leaf.len()),
            ));
        }
        leaf_values.extend_from_slice(&leaf);
    }
    Ok(Tree {
        splits,
        leaf_values,
    })
}
