//! Regression losses with a mask for missing points.

use serde::{Deserialize, Serialize};

/// Loss on normalised keypoint coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LossKind {
    /// Mean squared error (the seeds' loss).
    #[default]
    Mse,
    /// Mean absolute error.
    L1,
    /// Wing loss (Feng et al. 2018): `w·ln(1+|x|/ε)` for `|x| < w`, else `|x| − C`.
    /// `w` and `epsilon` in normalised units (e.g. 0.05 and 0.01 for [-1,1] targets).
    Wing {
        /// Width of the logarithmic region (normalised units).
        w: f32,
        /// Curvature of the logarithmic region (normalised units); smaller is sharper.
        epsilon: f32,
    },
}

/// Loss and gradient over `pred` and `target` (`[n, 2N]` flattened, x before y) where
/// `mask[i]` (one per coordinate, i.e. `2N` per sample) says whether the coordinate is present.
/// The loss is the mean over present coordinates; missing ones contribute nothing to loss or
/// gradient. Returns `(loss, dL/dpred)`; with no present coordinate, `(0, zeros)`.
pub fn masked_loss(kind: LossKind, pred: &[f32], target: &[f32], mask: &[bool]) -> (f32, Vec<f32>) {
    weighted_masked_loss(kind, pred, target, mask, None)
}

/// [`masked_loss`] with one weight per sample (`face_weights.len()` samples of
/// `pred.len() / face_weights.len()` coordinates each): each present coordinate's loss and
/// gradient are multiplied by its sample's weight, and the sum is still divided by the number
/// of present coordinates (so weights averaging 1 keep the loss's scale). `None` = all 1.
///
/// Requires `pred.len()` to be a multiple of `face_weights.len()`.
pub fn weighted_masked_loss(
    kind: LossKind,
    pred: &[f32],
    target: &[f32],
    mask: &[bool],
    face_weights: Option<&[f32]>,
) -> (f32, Vec<f32>) {
    assert_eq!(pred.len(), target.len());
    assert_eq!(pred.len(), mask.len());
    let per_face = match face_weights {
        Some(w) => {
            assert!(
                !w.is_empty() && pred.len().is_multiple_of(w.len()),
                "{} coordinates do not split into {} faces",
                pred.len(),
                w.len()
            );
            pred.len() / w.len()
        }
        None => usize::MAX,
    };
    let count = mask.iter().filter(|m| **m).count();
    let mut grad = vec![0.0; pred.len()];
    if count == 0 {
        return (0.0, grad);
    }
    let inv = 1.0 / count as f32;
    let mut total = 0.0f64;
    for i in 0..pred.len() {
        if !mask[i] {
            continue;
        }
        let d = pred[i] - target[i];
        let (l, g) = match kind {
            LossKind::Mse => (d * d, 2.0 * d),
            LossKind::L1 => (d.abs(), d.signum()),
            LossKind::Wing { w, epsilon } => {
                let a = d.abs();
                if a < w {
                    (w * (1.0 + a / epsilon).ln(), w / (epsilon + a) * d.signum())
                } else {
                    let c = w - w * (1.0 + w / epsilon).ln();
                    (a - c, d.signum())
                }
            }
        };
        let fw = face_weights.map_or(1.0, |w| w[i / per_face]);
        total += (fw * l) as f64;
        grad[i] = fw * g * inv;
    }
    ((total * inv as f64) as f32, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_points_contribute_nothing() {
        let pred = [0.5, 0.5, 9.0, -9.0];
        let tgt = [0.0, 1.0, 0.0, 0.0];
        let mask = [true, true, false, false];
        let (l, g) = masked_loss(LossKind::Mse, &pred, &tgt, &mask);
        assert!((l - 0.25).abs() < 1e-6);
        assert_eq!(g[2], 0.0);
        assert_eq!(g[3], 0.0);
        assert!((g[0] - 0.5).abs() < 1e-6 && (g[1] + 0.5).abs() < 1e-6);
        // changing a masked prediction changes nothing
        let (l2, _) = masked_loss(LossKind::Mse, &[0.5, 0.5, 0.0, 0.0], &tgt, &mask);
        assert_eq!(l, l2);
    }

    #[test]
    fn face_weights_scale_each_face_and_none_equals_ones() {
        let pred = [0.3f32, -0.2, 0.04, 0.9];
        let tgt = [0.1f32, 0.1, 0.0, 0.2];
        let mask = [true; 4];
        let kind = LossKind::Wing {
            w: 0.5,
            epsilon: 0.1,
        };
        let (l, g) = masked_loss(kind, &pred, &tgt, &mask);
        let (l1, g1) = weighted_masked_loss(kind, &pred, &tgt, &mask, Some(&[1.0, 1.0]));
        assert_eq!((l, &g), (l1, &g1));
        // face 0 counts 0, face 1 counts 2: only face 1's gradient, doubled
        let (l2, g2) = weighted_masked_loss(kind, &pred, &tgt, &mask, Some(&[0.0, 2.0]));
        assert_eq!(&g2[..2], &[0.0, 0.0]);
        assert!((g2[2] - 2.0 * g[2]).abs() < 1e-6 && (g2[3] - 2.0 * g[3]).abs() < 1e-6);
        let face1 = masked_loss(kind, &pred[2..], &tgt[2..], &mask[2..]).0;
        assert!((l2 - face1).abs() < 1e-6, "{l2} vs {face1}");
    }

    #[test]
    fn losses_match_finite_differences() {
        let pred = [0.3f32, -0.2, 0.04, 0.9];
        let tgt = [0.1f32, 0.1, 0.0, 0.2];
        let mask = [true; 4];
        for kind in [
            LossKind::Mse,
            LossKind::L1,
            LossKind::Wing {
                w: 0.5,
                epsilon: 0.1,
            },
        ] {
            let (_, g) = masked_loss(kind, &pred, &tgt, &mask);
            for i in 0..4 {
                let h = 1e-3;
                let mut p = pred;
                p[i] += h;
                let lp = masked_loss(kind, &p, &tgt, &mask).0;
                p[i] -= 2.0 * h;
                let lm = masked_loss(kind, &p, &tgt, &mask).0;
                let num = (lp - lm) / (2.0 * h);
                assert!((num - g[i]).abs() < 1e-2, "{kind:?} {i}: {num} vs {}", g[i]);
            }
        }
    }
}
