//! Which landmark scheme a shape predictor's points follow, by point count.

use facemark_core::scheme::Group;
use facemark_core::Scheme;

/// The scheme of a dlib shape predictor with `n` points: 68 → iBUG 68 (dlib's
/// `shape_predictor_68_face_landmarks.dat`), 5 → [`dlib5`] (dlib's
/// `shape_predictor_5_face_landmarks.dat`: eye corners and the base of the nose, not facemark's
/// `five`), 194 → HELEN, anything else as [`Scheme::for_points`]. Override with
/// `ShapePredictor::with_scheme` for a custom layout.
pub fn scheme_for_points(n: usize) -> Scheme {
    match n {
        5 => dlib5(),
        n => Scheme::for_points(n),
    }
}

/// dlib's 5-point layout (`shape_predictor_5_face_landmarks.dat`): 0 and 1 the subject's
/// left eye's outer and inner corners (iBUG 45, 42), 2 and 3 the right eye's outer and inner
/// corners (iBUG 36, 39), 4 the base of the nose (iBUG 33). NME normaliser: the outer eye
/// corners (0, 2), as iBUG 36–45.
pub fn dlib5() -> Scheme {
    let names = [
        "left_eye_outer",
        "left_eye_inner",
        "right_eye_outer",
        "right_eye_inner",
        "nose_base",
    ];
    Scheme {
        name: "dlib5".into(),
        point_names: names.iter().map(|s| s.to_string()).collect(),
        groups: vec![
            Group {
                name: "left_eye".into(),
                indices: vec![0, 1],
            },
            Group {
                name: "right_eye".into(),
                indices: vec![2, 3],
            },
            Group {
                name: "nose".into(),
                indices: vec![4],
            },
        ],
        mirror: vec![2, 3, 0, 1, 4],
        norm_pair: Some((0, 2)),
        pupils: Some((vec![0, 1], vec![2, 3])),
    }
}

/// The iBUG-68 indices of [`dlib5`]'s points.
pub const DLIB5_FROM_IBUG68: [usize; 5] = [45, 42, 36, 39, 33];
