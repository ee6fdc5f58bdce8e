//! Training a shape predictor: dlib's `shape_predictor_trainer` (Kazemi & Sullivan's ensemble
//! of regression trees, dlib 19.24's `shape_predictor_trainer.h`) in Rust, with its options and
//! defaults ([`TrainOptions`]), multi-threaded (rayon), deterministic for a seed whatever the
//! thread count. The result is a [`ShapePredictor`] that facemark runs and writes
//! ([`ShapePredictor::save`]) as a `.dat` file dlib loads.
//!
//! The algorithm, as dlib's:
//! 1. Each face's points go to the unit square of its rectangle; the initial shape is their
//!    mean. Each face is copied `oversampling_amount` times, the first copy starting from the
//!    mean shape, the others from random averages of other faces' shapes. (Not dlib's: faces
//!    given with a starting shape, [`TrainFace::start`], start every copy there, shifted by
//!    the translation jitter after the first: a refinement cascade.)
//! 2. Each of the `cascade_depth` levels draws `feature_pool_size` pixels in the mean shape's
//!    box, each anchored to its nearest mean-shape point, reads them once per copy (placed by
//!    the similarity transform from the mean shape to the copy's current shape), then fits
//!    `num_trees_per_cascade_level` trees to the residuals, one after the other, each moving
//!    the copies by `nu ×` its leaf's mean residual.
//! 3. A tree node keeps the best of `num_test_splits` random pixel-pair thresholds (pairs
//!    chosen with probability `exp(−distance / lambda)`), scored by the squared norms of the
//!    two sides' residual sums over their counts.
//!
//! Differences from dlib, none in the algorithm: the random generator (ChaCha8 seeded by
//! [`TrainOptions::random_seed`], not dlib's Mersenne twister, so a seed gives other trees than
//! dlib's), sums in f64 over fixed chunks (dlib: float, in thread blocks), and the copies are
//! never reordered (dlib partitions them in place; the sets per node are the same).
//!
//! | module | job |
//! |---|---|
//! | `options` | [`TrainOptions`]: dlib's settings and their checks |
//! | `shapes` | normalised shapes, mean shape, starting shapes, feature pixels and anchors |
//! | `tree` | one regression tree: candidate splits, the best per node, leaves |

mod options;
mod shapes;
#[cfg(test)]
mod tests;
mod tree;

pub use options::{PaddingMode, TrainOptions};

use crate::error::ErtError;
use crate::model::{Level, ShapePredictor};
use crate::predict::{feature_offsets, DlibRect};
use image::GrayImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// One annotated face to train on.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainFace {
    /// Index of its image in the `images` given to [`train`].
    pub image: usize,
    /// The face rectangle (dlib's convention: pixel centres at whole numbers); the predictor
    /// learns to place the points relative to rectangles like it.
    pub rect: DlibRect,
    /// The points, in dlib's image coordinates (facemark's minus 0.5); ignored where
    /// `present` is false.
    pub points: Vec<[f64; 2]>,
    /// Whether each point is annotated. Every point must be annotated on some face.
    pub present: Vec<bool>,
    /// Where the cascade starts for this face (dlib's image coordinates, every point), for a
    /// *refinement cascade*: another landmarker's points for the face, so that the trees learn
    /// to correct that landmarker. `None`: dlib's starting shapes (the mean shape and random
    /// averages of other faces' shapes). Either every face has one or none.
    pub start: Option<Vec<[f64; 2]>>,
}

/// Every training copy's data, laid out by copy (`len = 2 × points` values each).
struct State {
    len: usize,
    nf: usize,
    target: Vec<f32>,
    current: Vec<f32>,
    /// Per coordinate 1 or 0; `None` when every face has every point.
    present: Option<Vec<f32>>,
    diff: Vec<f32>,
    /// The copies' feature pixel values at the current level (`nf` each).
    features: Vec<u8>,
    /// Each copy's tree node while a tree is fitted.
    node: Vec<u32>,
}

fn check_faces(images: &[GrayImage], faces: &[TrainFace]) -> Result<usize, ErtError> {
    let bad = |m: String| Err(ErtError::Train(m));
    let Some(first) = faces.first() else {
        return bad("no face to train on".into());
    };
    let n = first.points.len();
    if n == 0 {
        return bad("the faces have no points".into());
    }
    let mut seen = vec![false; n];
    for (i, f) in faces.iter().enumerate() {
        if f.points.len() != n || f.present.len() != n {
            return bad(format!(
                "face {i} has {} points ({} flags), face 0 has {n}",
                f.points.len(),
                f.present.len()
            ));
        }
        if f.image >= images.len() {
            return bad(format!("face {i}: image {} of {}", f.image, images.len()));
        }
        let r = &f.rect;
        if ![r.left, r.top, r.right, r.bottom]
            .iter()
            .all(|v| v.is_finite())
            || r.right <= r.left
            || r.bottom <= r.top
        {
            return bad(format!(
                "face {i}: the rectangle ({}, {}, {}, {}) is empty or not finite",
                r.left, r.top, r.right, r.bottom
            ));
        }
        for (k, (p, &v)) in f.points.iter().zip(&f.present).enumerate() {
            if v && !(p[0].is_finite() && p[1].is_finite()) {
                return bad(format!("face {i}: point {k} is not finite"));
            }
            seen[k] |= v;
        }
        match (&f.start, &first.start) {
            (Some(s), Some(_)) => {
                if s.len() != n {
                    return bad(format!(
                        "face {i}: its starting shape has {} points, the faces {n}",
                        s.len()
                    ));
                }
                if let Some(k) = s
                    .iter()
                    .position(|p| !(p[0].is_finite() && p[1].is_finite()))
                {
                    return bad(format!("face {i}: starting point {k} is not finite"));
                }
            }
            (None, None) => {}
            _ => {
                return bad(format!(
                    "face {i}: either every face has a starting shape or none (face 0 {})",
                    if first.start.is_some() {
                        "has one"
                    } else {
                        "has none"
                    }
                ))
            }
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return bad(format!("point {k} is annotated on no face"));
    }
    Ok(n)
}

/// Trains a shape predictor on `faces` of `images` with `opts` (dlib's
/// `shape_predictor_trainer::train`), calling `progress(trees_done)` after each tree (from the
/// calling thread). Runs on the current rayon pool.
///
/// Errors: invalid options, no face, faces with different point counts, an image index out of
/// range, an empty or non-finite rectangle, a non-finite annotated point, a point annotated on
/// no face.
pub fn train(
    images: &[GrayImage],
    faces: &[TrainFace],
    opts: &TrainOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<ShapePredictor, ErtError> {
    opts.validate().map_err(ErtError::Train)?;
    let n_points = check_faces(images, faces)?;
    let len = 2 * n_points;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.random_seed);

    let (targets, presents): (Vec<Vec<f32>>, Vec<Vec<f32>>) =
        faces.iter().map(shapes::normalized_shape).unzip();
    let initial = shapes::mean_shape(&targets, &presents);
    let starts = if faces[0].start.is_some() {
        shapes::given_starts(faces, opts, &mut rng)
    } else {
        shapes::starting_shapes(&targets, &presents, &initial, opts, &mut rng)
    };
    let pixels = shapes::pixel_coordinates(&initial, opts, &mut rng);
    let over = opts.oversampling_amount;
    let n = starts.len();
    let all_present = presents.iter().all(|p| p.iter().all(|&v| v == 1.0));
    let mut state = State {
        len,
        nf: opts.feature_pool_size,
        target: Vec::with_capacity(n * len),
        current: starts.concat(),
        present: (!all_present).then(|| {
            (0..n)
                .flat_map(|j| presents[j / over].iter().copied())
                .collect()
        }),
        diff: vec![0.0; n * len],
        features: vec![0; n * opts.feature_pool_size],
        node: vec![0; n],
    };
    drop(starts);
    for j in 0..n {
        state.target.extend_from_slice(&targets[j / over]);
    }
    if let Some(p) = &state.present {
        // a coordinate a face lacks: the target follows the current shape (no residual)
        for (k, &v) in p.iter().enumerate() {
            if v == 0.0 {
                state.target[k] = state.current[k];
            }
        }
    }
    // the "from" side of each copy's similarity transform
    let base = ShapePredictor::new(initial.clone(), Vec::new()).map_err(ErtError::Train)?;

    let mut levels = Vec::with_capacity(opts.cascade_depth);
    let mut done = 0;
    for level_pixels in &pixels {
        let (anchor_idx, deltas) = shapes::relative_encoding(&initial, level_pixels);
        let nf = state.nf;
        state
            .features
            .par_chunks_mut(nf)
            .zip(state.current.par_chunks(len))
            .enumerate()
            .for_each_init(Vec::new, |offsets, (j, (fv, shape))| {
                let face = &faces[j / over];
                let img = &images[face.image];
                let m = base.similarity_to(shape);
                let size = (img.width() as i64, img.height() as i64);
                feature_offsets(&anchor_idx, &deltas, m, shape, &face.rect, size, offsets);
                let px = img.as_raw();
                for (f, &o) in fv.iter_mut().zip(offsets.iter()) {
                    *f = px.get(o).copied().unwrap_or(0);
                }
            });
        let mut trees = Vec::with_capacity(opts.num_trees_per_cascade_level);
        for _ in 0..opts.num_trees_per_cascade_level {
            trees.push(tree::fit_tree(&mut state, level_pixels, opts, &mut rng));
            done += 1;
            progress(done);
        }
        levels.push(Level::new(anchor_idx, deltas, &trees));
    }
    ShapePredictor::new(initial, levels).map_err(ErtError::Train)
}
