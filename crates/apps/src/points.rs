//! Named landmark points of the 68-point iBUG 300-W scheme, references to points (by index,
//! name or mean of several) as used by overlay anchor files, and the mean face shape the built-in
//! artwork is drawn against.
//!
//! "left"/"right" are the **subject's** left/right (iBUG and Kaggle convention): the subject's
//! left eye (points 42–47) appears on the right of an unmirrored photo.

use crate::error::FilterError;
use facemark_core::Point;
use serde::{Deserialize, Serialize};

/// Number of points of the iBUG scheme every filter expects.
pub const IBUG68: usize = 68;

/// Mean 68-point face in the *face frame* the built-in artwork is drawn in: eye centres at
/// `(-1, 0)` (subject's right eye, points 36–41) and `(1, 0)` (subject's left eye, 42–47), so one
/// unit is half the distance between the eye centres; x right, y down.
///
/// Measured: the 870 HELEN faces of `300w-helen-train` (iBUG annotations), each mapped by the
/// similarity that puts its two eye centres (mean of the six eye points) at `(∓1, 0)`, then
/// averaged point by point.
pub const MEAN_SHAPE_68: [Point; 68] = [
    [-2.234, 0.071],
    [-2.222, 0.665],
    [-2.154, 1.257],
    [-2.029, 1.830],
    [-1.794, 2.358],
    [-1.429, 2.818],
    [-0.989, 3.196],
    [-0.517, 3.493],
    [0.009, 3.569],
    [0.530, 3.476],
    [1.001, 3.176],
    [1.439, 2.807],
    [1.802, 2.359],
    [2.045, 1.836],
    [2.178, 1.270],
    [2.252, 0.690],
    [2.287, 0.101],
    [-1.865, -0.386],
    [-1.583, -0.658],
    [-1.181, -0.744],
    [-0.760, -0.691],
    [-0.375, -0.546],
    [0.361, -0.568],
    [0.774, -0.705],
    [1.193, -0.747],
    [1.595, -0.645],
    [1.862, -0.376],
    [0.001, -0.065],
    [-0.002, 0.319],
    [-0.005, 0.695],
    [-0.005, 1.083],
    [-0.488, 1.363],
    [-0.252, 1.442],
    [-0.012, 1.507],
    [0.229, 1.443],
    [0.448, 1.374],
    [-1.401, 0.001],
    [-1.146, -0.146],
    [-0.842, -0.135],
    [-0.594, 0.061],
    [-0.855, 0.110],
    [-1.162, 0.110],
    [0.578, 0.060],
    [0.846, -0.144],
    [1.147, -0.139],
    [1.389, 0.005],
    [1.169, 0.105],
    [0.871, 0.113],
    [-0.886, 2.081],
    [-0.564, 1.940],
    [-0.231, 1.867],
    [-0.025, 1.926],
    [0.210, 1.870],
    [0.548, 1.951],
    [0.861, 2.079],
    [0.553, 2.389],
    [0.229, 2.531],
    [-0.022, 2.556],
    [-0.249, 2.532],
    [-0.574, 2.394],
    [-0.755, 2.093],
    [-0.235, 2.059],
    [-0.024, 2.083],
    [0.213, 2.058],
    [0.733, 2.096],
    [0.215, 2.237],
    [-0.025, 2.267],
    [-0.240, 2.241],
];

/// Named points: name → the 0-based iBUG indices whose mean it is.
pub const NAMED_POINTS: &[(&str, &[usize])] = &[
    ("left_eye_center", &[42, 43, 44, 45, 46, 47]),
    ("right_eye_center", &[36, 37, 38, 39, 40, 41]),
    (
        "eyes_center",
        &[36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47],
    ),
    ("left_eye_outer_corner", &[45]),
    ("left_eye_inner_corner", &[42]),
    ("right_eye_outer_corner", &[36]),
    ("right_eye_inner_corner", &[39]),
    ("left_eyebrow_center", &[22, 23, 24, 25, 26]),
    ("right_eyebrow_center", &[17, 18, 19, 20, 21]),
    ("nose_bridge", &[27]),
    ("nose_tip", &[30]),
    ("nose_base", &[33]),
    (
        "mouth_center",
        &[48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59],
    ),
    ("mouth_left_corner", &[54]),
    ("mouth_right_corner", &[48]),
    ("mouth_center_top_lip", &[51]),
    ("mouth_center_bottom_lip", &[57]),
    ("chin", &[8]),
    ("jaw_left", &[16]),
    ("jaw_right", &[0]),
];

/// A reference to a landmark position: an index, a named point, or the mean of several indices.
///
/// JSON forms: `"left_eye_center"`, `{"index": 30}`, `30`, `[36, 39]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PointRef {
    /// A named point from [`NAMED_POINTS`].
    Named(String),
    /// One landmark, 0-based.
    Index(usize),
    /// One landmark, 0-based, written `{"index": i}`.
    IndexObj {
        /// The landmark, 0-based.
        index: usize,
    },
    /// The mean of several landmarks, 0-based.
    Mean(Vec<usize>),
}

impl PointRef {
    /// A reference by name; the name is checked when it is resolved ([`PointRef::indices`]).
    pub fn named(name: &str) -> PointRef {
        PointRef::Named(name.to_string())
    }

    /// The indices this reference averages.
    pub fn indices(&self) -> Result<Vec<usize>, FilterError> {
        match self {
            PointRef::Named(n) => NAMED_POINTS
                .iter()
                .find(|(k, _)| *k == n.as_str())
                .map(|(_, v)| v.to_vec())
                .ok_or_else(|| FilterError::UnknownPoint {
                    name: n.clone(),
                    known: NAMED_POINTS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            PointRef::Index(i) | PointRef::IndexObj { index: i } => Ok(vec![*i]),
            PointRef::Mean(v) if v.is_empty() => Err(FilterError::EmptyPointList),
            PointRef::Mean(v) => Ok(v.clone()),
        }
    }

    /// The referenced position in `points` (pixels). Errors when an index is out of range.
    pub fn resolve(&self, points: &[Point]) -> Result<Point, FilterError> {
        let idx = self.indices()?;
        let mut s = [0.0f32; 2];
        for &i in &idx {
            let p = points.get(i).ok_or(FilterError::PointIndex {
                index: i,
                len: points.len(),
            })?;
            s[0] += p[0];
            s[1] += p[1];
        }
        let n = idx.len() as f32;
        Ok([s[0] / n, s[1] / n])
    }
}

/// Mean of `points[indices]`. Panics on out-of-range indices (internal use with fixed tables).
pub fn mean_of(points: &[Point], indices: &[usize]) -> Point {
    let mut s = [0.0f32; 2];
    for &i in indices {
        s[0] += points[i][0];
        s[1] += points[i][1];
    }
    let n = indices.len().max(1) as f32;
    [s[0] / n, s[1] / n]
}

/// Eye centres `(subject's right, subject's left)` of a 68-point face, pixels.
pub fn eye_centers(points: &[Point]) -> (Point, Point) {
    (
        mean_of(points, &[36, 37, 38, 39, 40, 41]),
        mean_of(points, &[42, 43, 44, 45, 46, 47]),
    )
}

/// Distance between the eye centres of a 68-point face, pixels (the flicker normaliser).
pub fn eye_distance(points: &[Point]) -> f32 {
    let (r, l) = eye_centers(points);
    ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt()
}

/// How far a 68-point face is from a face shape: RMS distance, in eye distances, between the
/// points and the mean face ([`MEAN_SHAPE_68`]) placed on them by the best similarity.
/// About 0.1–0.2 on real faces (expressions, turned heads); `NaN` when degenerate.
pub fn shape_residual(points: &[Point]) -> f32 {
    if points.len() != 68 {
        return f32::NAN;
    }
    let Some(t) = facemark_core::Affine2::similarity(&MEAN_SHAPE_68, points) else {
        return f32::NAN;
    };
    let iod = 2.0 * t.mean_scale();
    let ss: f32 = MEAN_SHAPE_68
        .iter()
        .zip(points)
        .map(|(m, p)| {
            let q = t.apply(*m);
            (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)
        })
        .sum();
    (ss / 68.0).sqrt() / iod.max(1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_refs_parse_and_resolve() {
        let refs: Vec<PointRef> =
            serde_json::from_str(r#"["nose_tip", {"index": 8}, 3, [36, 39]]"#).unwrap();
        let pts: Vec<Point> = (0..68).map(|i| [i as f32, 2.0 * i as f32]).collect();
        assert_eq!(refs[0].resolve(&pts).unwrap(), [30.0, 60.0]);
        assert_eq!(refs[1].resolve(&pts).unwrap(), [8.0, 16.0]);
        assert_eq!(refs[2].resolve(&pts).unwrap(), [3.0, 6.0]);
        assert_eq!(refs[3].resolve(&pts).unwrap(), [37.5, 75.0]);
        assert!(PointRef::named("third_eye").resolve(&pts).is_err());
        assert!(PointRef::Index(70).resolve(&pts).is_err());
    }

    #[test]
    fn shape_residual_is_zero_for_a_placed_mean_face_and_grows_with_distortion() {
        let t = facemark_core::Affine2::rotate(0.4)
            .followed_by(&facemark_core::Affine2::scale(30.0, 30.0));
        let face: Vec<Point> = MEAN_SHAPE_68.iter().map(|p| t.apply(*p)).collect();
        assert!(shape_residual(&face) < 1e-3);
        let squashed: Vec<Point> = face.iter().map(|p| [p[0], p[1] * 0.5]).collect();
        assert!(shape_residual(&squashed) > 0.2);
        assert!(shape_residual(&face[..10]).is_nan());
    }

    #[test]
    fn mean_shape_has_eyes_at_unit_positions() {
        let (r, l) = eye_centers(&MEAN_SHAPE_68);
        assert!((r[0] + 1.0).abs() < 0.01 && r[1].abs() < 0.01, "{r:?}");
        assert!((l[0] - 1.0).abs() < 0.01 && l[1].abs() < 0.01, "{l:?}");
    }
}
