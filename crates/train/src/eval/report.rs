//! The evaluation report's types ([`EvalReport`] and its parts) and the queries on it.

use super::BoxSource;
use crate::breakdown::{RegionStat, YawBucket};
use crate::metrics::{self, FaceErrors};
use facemark_core::{BoxF, Point};
use serde::{Deserialize, Serialize};

/// One evaluated face.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceResult {
    /// Index into the evaluated `samples`.
    pub index: usize,
    /// The sample's name (usually its image file name).
    pub name: String,
    /// NME by outer-eye-corner distance (`None`: scheme or points do not allow it).
    pub nme_outer: Option<f32>,
    /// NME by inter-pupil distance.
    pub nme_pupil: Option<f32>,
    /// This face's RMSE in pixels (present points).
    pub rmse_px: Option<f32>,
    /// Mean point error in pixels.
    pub mean_px: Option<f32>,
    /// The box given to the landmarker (pixels), after any box shift.
    pub face_box: BoxF,
    /// Yaw proxy of the ground truth in degrees
    /// ([`breakdown::yaw_proxy`](crate::breakdown::yaw_proxy); 68 points only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yaw_deg: Option<f32>,
    /// Predicted points (pixels); not in the JSON.
    #[serde(skip)]
    pub pred: Vec<Point>,
    #[serde(skip)]
    pub(super) errors: Option<FaceErrors>,
}

/// Mean and median of a per-face metric, and over how many faces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean over the faces that have the metric.
    pub mean: f32,
    /// Median over the same faces (robust to a few failures).
    pub median: f32,
    /// Faces that have the metric.
    pub n: usize,
}

impl Summary {
    pub(super) fn of(v: &[f32]) -> Option<Summary> {
        Some(Summary {
            mean: metrics::mean(v)?,
            median: metrics::median(v)?,
            n: v.len(),
        })
    }
}

/// AUC and failure rate at one NME threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdStat {
    /// The NME threshold (a fraction of the normaliser: 0.08 is 8 %).
    pub threshold: f32,
    /// CED area up to the threshold, divided by the threshold, in `[0, 1]`.
    pub auc: f32,
    /// Fraction of faces with NME above the threshold.
    pub failure_rate: f32,
}

/// A face that could not be evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    /// The sample's name.
    pub name: String,
    /// Why it was skipped (the decoder's or box source's message).
    pub reason: String,
}

/// Everything measured on one data set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    /// The landmark scheme's name.
    pub scheme: String,
    /// Points per face in that scheme.
    pub n_points: usize,
    /// Faces evaluated.
    pub n_faces: usize,
    /// Where the boxes given to the landmarker came from.
    pub box_source: BoxSource,
    /// The `box_shift` and its seed (0: the boxes as chosen).
    #[serde(default)]
    pub box_shift: f32,
    /// The seed the box shifts were drawn with.
    #[serde(default)]
    pub box_shift_seed: u64,
    /// Which NME the thresholds, CED, per-point NME and worst faces use: `"outer_eye"` when
    /// available, else `"inter_pupil"`, else `"none"` (then only pixel metrics exist).
    pub primary: String,
    /// NME by outer-eye-corner distance over the faces that allow it (300-W's normaliser).
    pub nme_outer: Option<Summary>,
    /// NME by inter-pupil distance over the faces that allow it.
    pub nme_pupil: Option<Summary>,
    /// Pooled Kaggle RMSE over every present coordinate of every face (pixels).
    pub rmse_px: Option<f32>,
    /// Mean over faces of the mean point error (pixels).
    pub mean_error_px: Option<f32>,
    /// AUC and failure rate of the primary NME at 0.08 and 0.10.
    pub thresholds: Vec<ThresholdStat>,
    /// Per point: mean over faces of the point's error divided by the face's primary
    /// normaliser (`None`: never present, or no normaliser).
    pub per_point_nme: Vec<Option<f32>>,
    /// Per point: mean error in pixels.
    pub per_point_px: Vec<Option<f32>>,
    /// Per region of the scheme's point groups: mean over faces of the region's primary NME
    /// ([`breakdown::region_stats`](crate::breakdown::region_stats)); empty without groups or
    /// normaliser.
    #[serde(default)]
    pub regions: Vec<RegionStat>,
    /// Count, primary NME and failure rate at 0.08 by |yaw| bucket (a proxy from the ground
    /// truth, [`breakdown::yaw_buckets`](crate::breakdown::yaw_buckets)); empty for schemes
    /// without the points it needs.
    #[serde(default)]
    pub yaw: Vec<YawBucket>,
    /// Wall-clock seconds of the evaluation (loading + prediction), and faces per second.
    pub seconds: f32,
    /// `n_faces / seconds`.
    pub faces_per_second: f32,
    /// Every evaluated face, in sample order.
    pub faces: Vec<FaceResult>,
    /// The faces that could not be evaluated, with their reasons.
    pub skipped: Vec<Skipped>,
}

impl EvalReport {
    /// The primary NME of every face that has one (see `primary`).
    pub fn primary_errors(&self) -> Vec<f32> {
        self.faces
            .iter()
            .filter_map(|f| self.primary_of(f))
            .collect()
    }

    pub(super) fn primary_of(&self, f: &FaceResult) -> Option<f32> {
        match self.primary.as_str() {
            "outer_eye" => f.nme_outer,
            "inter_pupil" => f.nme_pupil,
            _ => None,
        }
    }

    /// The CED of the primary NME sampled at 201 points in `[0, max]`.
    pub fn ced(&self, max: f32) -> Vec<(f32, f32)> {
        metrics::ced_curve(&self.primary_errors(), max, 200)
    }

    /// Indices (into `faces`) of the `n` faces with the largest primary NME (or pixel error
    /// when there is no NME), worst first.
    pub fn worst(&self, n: usize) -> Vec<usize> {
        let key = |f: &FaceResult| {
            let v = self.primary_of(f).or(f.mean_px).unwrap_or(f32::INFINITY);
            if v.is_nan() {
                f32::INFINITY
            } else {
                v
            }
        };
        let mut idx: Vec<usize> = (0..self.faces.len()).collect();
        idx.sort_by(|&a, &b| key(&self.faces[b]).total_cmp(&key(&self.faces[a])));
        idx.truncate(n);
        idx
    }
}
