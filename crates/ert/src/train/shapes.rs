//! Shapes before the trees: the faces' target shapes in the unit square of their rectangles,
//! the mean (initial) shape, each training copy's starting shape, and each level's feature
//! pixels with their anchors (dlib's `populate_training_sample_shapes`,
//! `randomly_sample_pixel_coordinates`, `create_shape_relative_encoding`).

use super::options::{PaddingMode, TrainOptions};
use super::TrainFace;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A face's points in the unit square of its rectangle, x, y interleaved; and per coordinate
/// whether the point is annotated (1) or not (0, value 0).
pub(super) fn normalized_shape(face: &TrainFace) -> (Vec<f32>, Vec<f32>) {
    let mut shape = Vec::with_capacity(2 * face.points.len());
    let mut present = Vec::with_capacity(2 * face.points.len());
    for (p, &v) in face.points.iter().zip(&face.present) {
        if v {
            shape.extend(face.rect.normalize(*p));
            present.extend([1.0, 1.0]);
        } else {
            shape.extend([0.0, 0.0]);
            present.extend([0.0, 0.0]);
        }
    }
    (shape, present)
}

/// The starting shape of every training copy when the faces bring their own
/// ([`TrainFace::start`], normalised like the targets), `oversampling_amount` copies per face
/// in face order: the first copy starts there, the others there shifted by a random
/// translation jitter (none when the jitter is 0).
pub(super) fn given_starts(
    faces: &[TrainFace],
    opts: &TrainOptions,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<f32>> {
    let over = opts.oversampling_amount;
    let jitter = opts.oversampling_translation_jitter;
    let mut out = Vec::with_capacity(faces.len() * over);
    for f in faces {
        let start = f.start.as_deref().expect("every face has a starting shape");
        let base: Vec<f32> = start.iter().flat_map(|p| f.rect.normalize(*p)).collect();
        for c in 0..over {
            let mut shape = base.clone();
            if c > 0 && jitter != 0.0 {
                let dx = rng.gen_range(-jitter..=jitter) as f32;
                let dy = rng.gen_range(-jitter..=jitter) as f32;
                for p in shape.chunks_exact_mut(2) {
                    p[0] += dx;
                    p[1] += dy;
                }
            }
            out.push(shape);
        }
    }
    out
}

/// The mean of the target shapes per coordinate over the faces that have it (dlib's
/// `mean_shape`, the model's initial shape).
pub(super) fn mean_shape(targets: &[Vec<f32>], present: &[Vec<f32>]) -> Vec<f32> {
    let len = targets[0].len();
    let mut sum = vec![0f64; len];
    let mut cnt = vec![0f64; len];
    for (t, p) in targets.iter().zip(present) {
        for k in 0..len {
            sum[k] += t[k] as f64;
            cnt[k] += p[k] as f64;
        }
    }
    sum.iter()
        .zip(&cnt)
        .map(|(s, c)| if *c > 0.0 { (s / c) as f32 } else { 0.0 })
        .collect()
}

/// The starting shape of every training copy, `oversampling_amount` copies per face in face
/// order: the first copy of each face starts from the mean shape, the others from a random
/// weighted average of at least two faces' target shapes (weights uniform in [0.1, 1.1), until
/// every coordinate has been seen), shifted by the translation jitter. As dlib, the faces are
/// drawn among all copies.
pub(super) fn starting_shapes(
    targets: &[Vec<f32>],
    present: &[Vec<f32>],
    mean: &[f32],
    opts: &TrainOptions,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<f32>> {
    let over = opts.oversampling_amount;
    let n = targets.len() * over;
    let len = mean.len();
    let jitter = opts.oversampling_translation_jitter;
    (0..n)
        .map(|i| {
            if i % over == 0 {
                return mean.to_vec();
            }
            let mut shape = vec![0f64; len];
            let mut hits = vec![0f64; len];
            let mut iter = 0;
            while iter < 2 || hits.contains(&0.0) {
                iter += 1;
                let face = rng.gen_range(0..n) / over;
                let alpha = rng.gen::<f64>() + 0.1;
                for k in 0..len {
                    shape[k] += alpha * targets[face][k] as f64;
                    hits[k] += alpha * present[face][k] as f64;
                }
            }
            let mut shape: Vec<f32> = shape
                .iter()
                .zip(&hits)
                .map(|(s, h)| (s / h) as f32)
                .collect();
            if jitter != 0.0 {
                let dx = rng.gen_range(-jitter..=jitter) as f32;
                let dy = rng.gen_range(-jitter..=jitter) as f32;
                for p in shape.chunks_exact_mut(2) {
                    p[0] += dx;
                    p[1] += dy;
                }
            }
            shape
        })
        .collect()
}

/// Each level's `feature_pool_size` feature pixels, uniform in the region of
/// [`PaddingMode`] (unit-square coordinates).
pub(super) fn pixel_coordinates(
    initial: &[f32],
    opts: &TrainOptions,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<[f32; 2]>> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in initial.chunks_exact(2) {
        x0 = x0.min(p[0] as f64);
        y0 = y0.min(p[1] as f64);
        x1 = x1.max(p[0] as f64);
        y1 = y1.max(p[1] as f64);
    }
    if opts.padding_mode == PaddingMode::BoundingBoxRelative {
        x0 = x0.min(0.0);
        y0 = y0.min(0.0);
        x1 = x1.max(1.0);
        y1 = y1.max(1.0);
    }
    let pad = opts.feature_pool_region_padding;
    let (x0, y0, x1, y1) = (x0 - pad, y0 - pad, x1 + pad, y1 + pad);
    (0..opts.cascade_depth)
        .map(|_| {
            (0..opts.feature_pool_size)
                .map(|_| {
                    let x = rng.gen::<f64>() * (x1 - x0) + x0;
                    let y = rng.gen::<f64>() * (y1 - y0) + y0;
                    [x as f32, y as f32]
                })
                .collect()
        })
        .collect()
}

/// Each pixel as an anchor (the nearest point of `initial`, the first on ties) and its offset
/// from it: dlib's `create_shape_relative_encoding`.
pub(super) fn relative_encoding(initial: &[f32], pixels: &[[f32; 2]]) -> (Vec<u32>, Vec<[f32; 2]>) {
    pixels
        .iter()
        .map(|q| {
            let mut best = (f32::INFINITY, 0usize);
            for (k, p) in initial.chunks_exact(2).enumerate() {
                let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
                let d = dx * dx + dy * dy;
                if d < best.0 {
                    best = (d, k);
                }
            }
            let a = best.1;
            (a as u32, [q[0] - initial[2 * a], q[1] - initial[2 * a + 1]])
        })
        .unzip()
}
