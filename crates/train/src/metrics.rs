//! Landmark accuracy metrics: NME (outer-eye and inter-pupil), Kaggle RMSE, CED, AUC, failure rate.
//!
//! All functions are pure: points are `[x, y]` in **pixels** of the same image for prediction
//! and ground truth; `mask[i] = false` marks a ground-truth point that is missing (it is then
//! ignored everywhere). Definitions (N = number of present points of one face):
//!
//! - point error `e_i = ‖pred_i − gt_i‖₂` (pixels);
//! - **NME** of a face `= (1/N) Σ e_i / d`, with `d` the outer-eye-corner distance
//!   `‖gt[a] − gt[b]‖` for the scheme's `norm_pair (a, b)` (68 points: 36, 45), or the
//!   inter-pupil distance `‖mean(gt[L]) − mean(gt[R])‖` for the scheme's `pupils (L, R)`
//!   (68: means of points 42–47 and 36–41; 15: the eye-centre points 0 and 1);
//! - **RMSE** (Kaggle) over a set of faces `= sqrt( Σ (Δx² + Δy²) / (2·N_total) )`: the root
//!   of the mean squared *coordinate* error over every present x and y value, pooled over all
//!   faces (not a mean of per-face RMSEs);
//! - **CED** `F(t)` = fraction of faces whose NME `≤ t`;
//! - **AUC@T** `= (1/T) ∫₀ᵀ F(t) dt = (1/n) Σ_faces max(0, 1 − NME/T)` (the exact integral of
//!   the step-function CED, no sampling); **failure rate@T** = fraction of faces with NME `> T`.
//!   A face whose NME is not finite (a prediction with NaN) counts as a failure with AUC
//!   contribution 0.

use facemark_core::{Point, Scheme};
use serde::{Deserialize, Serialize};

/// The thresholds the reports use for AUC and failure rate.
pub const THRESHOLDS: [f32; 2] = [0.08, 0.10];

/// Errors of the metric functions: the inputs do not describe the same points.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricsError {
    /// The prediction, the ground truth and the presence mask must have one entry per point.
    #[error("point count mismatch: prediction has {pred} points, ground truth {gt}, mask {mask}")]
    LengthMismatch {
        /// Predicted points.
        pred: usize,
        /// Ground-truth points.
        gt: usize,
        /// Mask entries.
        mask: usize,
    },
}

fn check(pred: &[Point], gt: &[Point], mask: &[bool]) -> Result<(), MetricsError> {
    if pred.len() != gt.len() || gt.len() != mask.len() {
        return Err(MetricsError::LengthMismatch {
            pred: pred.len(),
            gt: gt.len(),
            mask: mask.len(),
        });
    }
    Ok(())
}

fn present(gt: &[Point], mask: &[bool], i: usize) -> bool {
    mask.get(i).copied().unwrap_or(false) && gt[i][0].is_finite() && gt[i][1].is_finite()
}

fn dist(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Outer-eye-corner distance in pixels (`scheme.norm_pair`), `None` when the scheme has no
/// pair, either point is missing, or the distance is 0.
pub fn outer_eye_distance(gt: &[Point], mask: &[bool], scheme: &Scheme) -> Option<f32> {
    let (a, b) = scheme.norm_pair?;
    if a >= gt.len() || b >= gt.len() || !present(gt, mask, a) || !present(gt, mask, b) {
        return None;
    }
    Some(dist(gt[a], gt[b])).filter(|d| *d > 0.0)
}

/// Mean of the given points, `None` if any of them is missing or the list is empty.
fn centre(gt: &[Point], mask: &[bool], idx: &[usize]) -> Option<Point> {
    if idx.is_empty() {
        return None;
    }
    let mut c = [0.0f32; 2];
    for &i in idx {
        if i >= gt.len() || !present(gt, mask, i) {
            return None;
        }
        c[0] += gt[i][0];
        c[1] += gt[i][1];
    }
    let n = idx.len() as f32;
    Some([c[0] / n, c[1] / n])
}

/// Inter-pupil distance in pixels: between the means of the scheme's `pupils` point sets.
/// `None` when the scheme defines no pupils, any of those points is missing, or it is 0.
pub fn inter_pupil_distance(gt: &[Point], mask: &[bool], scheme: &Scheme) -> Option<f32> {
    let (l, r) = scheme.pupils.as_ref()?;
    let (l, r) = (centre(gt, mask, l)?, centre(gt, mask, r)?);
    Some(dist(l, r)).filter(|d| *d > 0.0)
}

/// Per-point Euclidean error in pixels; `None` for missing ground-truth points. A non-finite
/// prediction of a present point gives `Some(f32::INFINITY)`.
pub fn point_errors(
    pred: &[Point],
    gt: &[Point],
    mask: &[bool],
) -> Result<Vec<Option<f32>>, MetricsError> {
    check(pred, gt, mask)?;
    Ok((0..gt.len())
        .map(|i| {
            present(gt, mask, i).then(|| {
                let d = dist(pred[i], gt[i]);
                if d.is_finite() {
                    d
                } else {
                    f32::INFINITY
                }
            })
        })
        .collect())
}

/// Mean point error in pixels over present points; `None` when no point is present.
pub fn mean_error_px(
    pred: &[Point],
    gt: &[Point],
    mask: &[bool],
) -> Result<Option<f32>, MetricsError> {
    let e = point_errors(pred, gt, mask)?;
    let v: Vec<f32> = e.into_iter().flatten().collect();
    Ok((!v.is_empty()).then(|| v.iter().sum::<f32>() / v.len() as f32))
}

/// NME of one face: mean point error (pixels, present points) divided by `norm` (pixels).
/// `None` when no point is present or `norm` is not a positive finite number.
pub fn nme(
    pred: &[Point],
    gt: &[Point],
    mask: &[bool],
    norm: f32,
) -> Result<Option<f32>, MetricsError> {
    let m = mean_error_px(pred, gt, mask)?;
    Ok(m.filter(|_| norm.is_finite() && norm > 0.0)
        .map(|m| m / norm))
}

/// Sum of squared coordinate errors and the number of coordinate values summed, for pooling
/// the Kaggle RMSE over many faces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SquaredError {
    /// Sum of squared coordinate errors, pixels².
    pub sum: f64,
    /// Number of coordinate values (2 per present point).
    pub count: usize,
}

impl SquaredError {
    /// Adds another face's (or batch's) errors.
    pub fn add(&mut self, o: &SquaredError) {
        self.sum += o.sum;
        self.count += o.count;
    }
    /// `sqrt(sum / count)` in pixels; `None` when nothing was counted.
    pub fn rmse(&self) -> Option<f32> {
        (self.count > 0).then(|| (self.sum / self.count as f64).sqrt() as f32)
    }
}

/// Squared coordinate errors of one face over its present points (x and y counted separately).
pub fn squared_error(
    pred: &[Point],
    gt: &[Point],
    mask: &[bool],
) -> Result<SquaredError, MetricsError> {
    check(pred, gt, mask)?;
    let mut s = SquaredError::default();
    for i in 0..gt.len() {
        if present(gt, mask, i) {
            for k in 0..2 {
                let d = (pred[i][k] - gt[i][k]) as f64;
                s.sum += if d.is_finite() { d * d } else { f64::INFINITY };
                s.count += 1;
            }
        }
    }
    Ok(s)
}

/// Kaggle RMSE in pixels of one face (present points only); `None` when none is present.
pub fn rmse_px(pred: &[Point], gt: &[Point], mask: &[bool]) -> Result<Option<f32>, MetricsError> {
    Ok(squared_error(pred, gt, mask)?.rmse())
}

/// AUC of the CED up to `threshold`, normalised to `[0, 1]`:
/// `(1/n) Σ max(0, 1 − e/threshold)` over all faces (non-finite `e` contributes 0).
/// `0` for an empty list or a non-positive threshold.
pub fn auc(errors: &[f32], threshold: f32) -> f32 {
    if errors.is_empty() || threshold <= 0.0 {
        return 0.0;
    }
    let s: f64 = errors
        .iter()
        .map(|&e| {
            if e.is_finite() {
                (1.0 - e as f64 / threshold as f64).max(0.0)
            } else {
                0.0
            }
        })
        .sum();
    (s / errors.len() as f64) as f32
}

/// Fraction of faces with error `> threshold` (non-finite errors fail); `0` for no faces.
pub fn failure_rate(errors: &[f32], threshold: f32) -> f32 {
    if errors.is_empty() {
        return 0.0;
    }
    let f = errors
        .iter()
        .filter(|e| e.is_nan() || **e > threshold)
        .count();
    f as f32 / errors.len() as f32
}

/// The CED sampled at `steps + 1` evenly spaced errors `t` in `[0, max]`: `(t, F(t))` with
/// `F(t)` = fraction of faces with error `≤ t`.
pub fn ced_curve(errors: &[f32], max: f32, steps: usize) -> Vec<(f32, f32)> {
    let steps = steps.max(1);
    let mut sorted: Vec<f32> = errors.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len().max(1) as f32;
    (0..=steps)
        .map(|k| {
            let t = max * k as f32 / steps as f32;
            let below = sorted.partition_point(|e| *e <= t);
            (t, below as f32 / n)
        })
        .collect()
}

/// Arithmetic mean of the finite values; `None` when there is none.
pub fn mean(v: &[f32]) -> Option<f32> {
    let f: Vec<f64> = v
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| x as f64)
        .collect();
    (!f.is_empty()).then(|| (f.iter().sum::<f64>() / f.len() as f64) as f32)
}

/// Median of all values (non-finite ones sort last, as failures); `None` for an empty list.
pub fn median(v: &[f32]) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| {
        let ka = if a.is_nan() { f32::INFINITY } else { *a };
        let kb = if b.is_nan() { f32::INFINITY } else { *b };
        ka.total_cmp(&kb)
    });
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) * 0.5
    })
}

/// Per-point mean over faces of per-face per-point values (e.g. [`point_errors`] divided by
/// a normaliser), skipping `None` (missing) and non-finite entries. Entry `i` is `None` when
/// point `i` was never measured. Rows may have different lengths; the result has the longest.
pub fn per_point_mean(rows: &[Vec<Option<f32>>]) -> Vec<Option<f32>> {
    let n = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut sum = vec![0.0f64; n];
    let mut cnt = vec![0usize; n];
    for r in rows {
        for (i, e) in r.iter().enumerate() {
            if let Some(e) = e.filter(|e| e.is_finite()) {
                sum[i] += e as f64;
                cnt[i] += 1;
            }
        }
    }
    sum.iter()
        .zip(&cnt)
        .map(|(s, &c)| (c > 0).then(|| (s / c as f64) as f32))
        .collect()
}

/// Every metric of one face, as [`crate::eval`] collects them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceErrors {
    /// Mean point error in pixels (present points).
    pub mean_px: Option<f32>,
    /// NME by outer-eye-corner distance.
    pub nme_outer: Option<f32>,
    /// NME by inter-pupil distance.
    pub nme_pupil: Option<f32>,
    /// Squared coordinate errors for the pooled Kaggle RMSE.
    pub squared: SquaredError,
    /// Per-point error in pixels (`None` = missing ground truth).
    pub point_px: Vec<Option<f32>>,
    /// The outer-eye distance used (pixels), if any.
    pub outer_eye_px: Option<f32>,
    /// The inter-pupil distance used (pixels), if any.
    pub pupil_px: Option<f32>,
}

/// All per-face metrics at once (see the module docs for the definitions).
pub fn face_errors(
    pred: &[Point],
    gt: &[Point],
    mask: &[bool],
    scheme: &Scheme,
) -> Result<FaceErrors, MetricsError> {
    let point_px = point_errors(pred, gt, mask)?;
    let v: Vec<f32> = point_px.iter().flatten().copied().collect();
    let mean_px = (!v.is_empty()).then(|| v.iter().sum::<f32>() / v.len() as f32);
    let outer = outer_eye_distance(gt, mask, scheme);
    let pupil = inter_pupil_distance(gt, mask, scheme);
    Ok(FaceErrors {
        mean_px,
        nme_outer: mean_px.zip(outer).map(|(m, d)| m / d),
        nme_pupil: mean_px.zip(pupil).map(|(m, d)| m / d),
        squared: squared_error(pred, gt, mask)?,
        point_px,
        outer_eye_px: outer,
        pupil_px: pupil,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn nme_and_rmse_by_hand() {
        // Generic 3-point scheme with norm pair (0, 1) 10 px apart.
        let mut s = Scheme::generic(3);
        s.norm_pair = Some((0, 1));
        s.pupils = Some((vec![0], vec![1]));
        let gt = [[0.0, 0.0], [10.0, 0.0], [5.0, 5.0]];
        // errors: 3-4-5 triangle (5 px), 0, 2 px in x only.
        let pred = [[3.0, 4.0], [10.0, 0.0], [7.0, 5.0]];
        let m = [true; 3];
        assert!(close(
            mean_error_px(&pred, &gt, &m).unwrap().unwrap(),
            7.0 / 3.0
        ));
        assert!(close(
            nme(&pred, &gt, &m, 10.0).unwrap().unwrap(),
            7.0 / 30.0
        ));
        // RMSE: squared coords 9 + 16 + 0 + 0 + 4 + 0 = 29 over 6 values.
        assert!(close(
            rmse_px(&pred, &gt, &m).unwrap().unwrap(),
            (29.0f32 / 6.0).sqrt()
        ));
        let f = face_errors(&pred, &gt, &m, &s).unwrap();
        assert!(close(f.nme_outer.unwrap(), 7.0 / 30.0));
        assert!(close(f.nme_pupil.unwrap(), 7.0 / 30.0));
        assert_eq!(
            f.squared,
            SquaredError {
                sum: 29.0,
                count: 6
            }
        );
    }

    #[test]
    fn missing_points_are_ignored() {
        let gt = [[0.0, 0.0], [f32::NAN, f32::NAN], [4.0, 0.0]];
        let pred = [[1.0, 0.0], [100.0, 100.0], [4.0, 3.0]];
        let m = [true, false, true];
        assert!(close(mean_error_px(&pred, &gt, &m).unwrap().unwrap(), 2.0));
        // (1 + 0 + 0 + 9) / 4
        assert!(close(
            rmse_px(&pred, &gt, &m).unwrap().unwrap(),
            2.5f32.sqrt()
        ));
        assert_eq!(point_errors(&pred, &gt, &m).unwrap()[1], None);
        // a masked-out present-looking point is ignored too
        let gt2 = [[0.0, 0.0], [50.0, 50.0], [4.0, 0.0]];
        assert!(close(
            rmse_px(&pred, &gt2, &m).unwrap().unwrap(),
            2.5f32.sqrt()
        ));
        assert_eq!(rmse_px(&pred, &gt, &[false; 3]).unwrap(), None);
    }

    #[test]
    fn pooled_rmse_is_not_a_mean_of_face_rmses() {
        let a = SquaredError { sum: 4.0, count: 2 }; // rmse sqrt(2)
        let mut b = SquaredError {
            sum: 100.0,
            count: 8,
        }; // rmse sqrt(12.5)
        b.add(&a);
        assert!(close(b.rmse().unwrap(), (104.0f32 / 10.0).sqrt()));
        assert_eq!(SquaredError::default().rmse(), None);
    }

    #[test]
    fn ibug68_normalisers() {
        let s = Scheme::ibug68();
        let mut gt = vec![[0.0f32, 0.0]; 68];
        // right eye 36–41 centred on (30, 50), left eye 42–47 on (70, 50); corners 36 and 45.
        for (i, p) in gt.iter_mut().enumerate().take(48).skip(36) {
            let (cx, ci) = if i < 42 { (30.0, 38.5) } else { (70.0, 44.5) };
            *p = [cx + (i as f32 - ci), 50.0];
        }
        let m = vec![true; 68];
        assert!(close(outer_eye_distance(&gt, &m, &s).unwrap(), 70.5 - 27.5));
        assert!(close(inter_pupil_distance(&gt, &m, &s).unwrap(), 40.0));
        let mut m2 = m.clone();
        m2[40] = false;
        assert_eq!(inter_pupil_distance(&gt, &m2, &s), None);
        m2[45] = false;
        assert_eq!(outer_eye_distance(&gt, &m2, &s), None);
        assert_eq!(outer_eye_distance(&gt, &m, &Scheme::generic(68)), None);
    }

    #[test]
    fn kaggle15_pupils_are_the_eye_centres() {
        let s = Scheme::kaggle15();
        let mut gt = vec![[48.0f32, 48.0]; 15];
        gt[0] = [66.0, 38.0];
        gt[1] = [30.0, 38.0];
        assert!(close(
            inter_pupil_distance(&gt, &[true; 15], &s).unwrap(),
            36.0
        ));
    }

    #[test]
    fn auc_failure_and_ced_by_hand() {
        let e = [0.0, 0.04, 0.08, 0.2];
        // AUC@0.08 = (1 + 0.5 + 0 + 0) / 4
        assert!(close(auc(&e, 0.08), 0.375));
        // AUC@0.10 = (1 + 0.6 + 0.2 + 0) / 4
        assert!(close(auc(&e, 0.10), 0.45));
        assert!(close(failure_rate(&e, 0.08), 0.25));
        assert!(close(failure_rate(&e, 0.05), 0.5));
        assert!(close(failure_rate(&[f32::NAN, 0.0], 0.1), 0.5));
        assert!(close(auc(&[f32::INFINITY, 0.0], 0.1), 0.5));
        let c = ced_curve(&e, 0.08, 2);
        assert_eq!(c, vec![(0.0, 0.25), (0.04, 0.5), (0.08, 0.75)]);
        // The exact AUC matches a fine numerical integration of the CED.
        let fine = ced_curve(&e, 0.1, 100_000);
        let num: f32 = fine
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * w[0].1)
            .sum::<f32>()
            / 0.1;
        assert!((num - auc(&e, 0.1)).abs() < 1e-3, "{num}");
        assert_eq!(auc(&[], 0.1), 0.0);
        assert_eq!(failure_rate(&[], 0.1), 0.0);
    }

    #[test]
    fn mean_median_and_per_point() {
        assert_eq!(mean(&[1.0, 2.0, f32::INFINITY]), Some(1.5));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f32::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        let rows = vec![
            vec![Some(1.0), None, Some(4.0)],
            vec![Some(3.0), None, None],
        ];
        assert_eq!(per_point_mean(&rows), vec![Some(2.0), None, Some(4.0)]);
    }

    #[test]
    fn bad_input_is_an_error_and_nan_predictions_fail() {
        let gt = [[0.0, 0.0], [10.0, 0.0]];
        assert_eq!(
            rmse_px(&[[0.0, 0.0]], &gt, &[true, true]),
            Err(MetricsError::LengthMismatch {
                pred: 1,
                gt: 2,
                mask: 2
            })
        );
        let pred = [[f32::NAN, 0.0], [10.0, 0.0]];
        let e = point_errors(&pred, &gt, &[true, true]).unwrap();
        assert_eq!(e[0], Some(f32::INFINITY));
        let n = nme(&pred, &gt, &[true, true], 10.0).unwrap().unwrap();
        assert!(n.is_infinite());
        assert_eq!(nme(&pred, &gt, &[true, true], 0.0).unwrap(), None);
    }
}
