//! The 3-D mean face the head-pose fit uses, and the factorisation that derived it.
//!
//! The table [`MEAN_FACE_68`] is facemark's own, not copied from any other project: it is the
//! rigid 3-D shape that best explains the 2-D iBUG 68-point annotations of the 300-W HELEN and
//! LFPW training photos (1675 faces, each also mirrored), found by [`mean_face_from_shapes`]
//! (Tomasi–Kanade factorisation with a weak-perspective camera per face, then the metric
//! upgrade, see there). Reproduce it with
//! `cargo run --release -p facemark-formats --example mean_face_3d -- ../shared/data/300w-helen-train ../shared/data/300w-lfpw-train`.

use crate::scheme::Scheme;
use crate::Point;
use nalgebra::{DMatrix, Matrix3, SymmetricEigen, Vector3};

/// The iBUG 68-point 3-D mean face in the model frame of [`crate::pose`]: `X` towards the
/// image's right for a frontal face (the subject's left), `Y` down (towards the chin), `Z` away
/// from the camera (into the head), origin at the points' centroid. Units: scaled so that the
/// outer eye corners (36, 45) are [`EYE_CORNER_MM`] apart, i.e. roughly millimetres of an
/// average adult face. Mirror-symmetric in `X` (point `i` mirrors point `mirror[i]` of
/// [`Scheme::ibug68`]).
pub const MEAN_FACE_68: [[f32; 3]; 68] = [
    [-73.63, -33.90, 27.55],  // 0
    [-73.06, -16.21, 26.43],  // 1
    [-70.86, 1.47, 25.95],    // 2
    [-66.85, 18.81, 25.28],   // 3
    [-59.31, 34.85, 21.97],   // 4
    [-47.66, 48.78, 16.61],   // 5
    [-33.47, 60.44, 10.15],   // 6
    [-17.79, 69.81, 3.77],    // 7
    [0.00, 72.44, 1.48],      // 8
    [17.79, 69.81, 3.77],     // 9
    [33.47, 60.44, 10.15],    // 10
    [47.66, 48.78, 16.61],    // 11
    [59.31, 34.85, 21.97],    // 12
    [66.85, 18.81, 25.28],    // 13
    [70.86, 1.47, 25.95],     // 14
    [73.06, -16.21, 26.43],   // 15
    [73.63, -33.90, 27.55],   // 16
    [-59.95, -49.01, 4.75],   // 17
    [-50.70, -56.34, -0.37],  // 18
    [-38.00, -58.55, -4.81],  // 19
    [-24.93, -56.95, -8.42],  // 20
    [-12.36, -52.67, -11.13], // 21
    [12.36, -52.67, -11.13],  // 22
    [24.93, -56.95, -8.42],   // 23
    [38.00, -58.55, -4.81],   // 24
    [50.70, -56.34, -0.37],   // 25
    [59.95, -49.01, 4.75],    // 26
    [0.00, -38.16, -10.98],   // 27
    [0.00, -26.47, -14.30],   // 28
    [0.00, -14.91, -18.08],   // 29
    [0.00, -3.04, -21.77],    // 30
    [-14.67, 4.93, -11.48],   // 31
    [-7.59, 7.24, -13.09],    // 32
    [0.00, 9.39, -13.99],     // 33
    [7.59, 7.24, -13.09],     // 34
    [14.67, 4.93, -11.48],    // 35
    [-45.00, -36.31, 1.48],   // 36
    [-37.23, -40.75, -0.85],  // 37
    [-27.50, -40.63, -1.74],  // 38
    [-19.57, -34.79, -1.68],  // 39
    [-28.37, -32.98, -1.76],  // 40
    [-37.88, -33.10, -0.78],  // 41
    [19.57, -34.79, -1.68],   // 42
    [27.50, -40.63, -1.74],   // 43
    [37.23, -40.75, -0.85],   // 44
    [45.00, -36.31, 1.48],    // 45
    [37.88, -33.10, -0.78],   // 46
    [28.37, -32.98, -1.76],   // 47
    [-28.30, 27.34, 0.24],    // 48
    [-18.03, 23.11, -6.95],   // 49
    [-7.32, 20.89, -11.09],   // 50
    [0.00, 22.58, -11.70],    // 51
    [7.32, 20.89, -11.09],    // 52
    [18.03, 23.11, -6.95],    // 53
    [28.30, 27.34, 0.24],     // 54
    [18.39, 36.49, -4.44],    // 55
    [7.97, 40.44, -7.86],     // 56
    [0.00, 41.16, -8.46],     // 57
    [-7.97, 40.44, -7.86],    // 58
    [-18.39, 36.49, -4.44],   // 59
    [-24.01, 27.84, -0.73],   // 60
    [-7.44, 26.84, -9.94],    // 61
    [0.00, 27.54, -10.64],    // 62
    [7.44, 26.84, -9.94],     // 63
    [24.01, 27.84, -0.73],    // 64
    [7.57, 31.51, -8.33],     // 65
    [0.00, 32.31, -8.96],     // 66
    [-7.57, 31.51, -8.33],    // 67
];

/// The distance between the outer eye corners (iBUG 36 and 45) in [`MEAN_FACE_68`]: 90 mm,
/// about the adult biocular width (so pose translations come out in about millimetres).
pub const EYE_CORNER_MM: f64 = 90.0;

/// Errors of [`mean_face_from_shapes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeriveError {
    /// Fewer than 3 usable faces (68 finite points, not all coincident).
    TooFewFaces(usize),
    /// The shapes do not pin down a 3-D shape (no pose variety, or the metric upgrade found no
    /// positive-definite solution).
    Degenerate(&'static str),
}

impl std::fmt::Display for DeriveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeriveError::TooFewFaces(n) => {
                write!(
                    f,
                    "{n} usable faces (68 finite points each); need at least 3"
                )
            }
            DeriveError::Degenerate(why) => write!(f, "no 3-D shape: {why}"),
        }
    }
}

impl std::error::Error for DeriveError {}

/// A rigid 3-D shape of the 68 iBUG points from many 2-D annotations of faces in varied poses.
///
/// Method (Tomasi & Kanade 1992, weak perspective): each face's points are centred and scaled
/// to unit RMS radius, stacked as two rows of a `2F × 68` matrix `W`; its best rank-3
/// approximation `W ≈ M S` gives the shape `S` up to an invertible 3×3 `Q`; `Q` is found from
/// the camera constraints (each face's two rows of `M Q` orthogonal and of equal length: a
/// linear least-squares problem in the symmetric `L = Q Qᵀ`, then `Q` from `L`'s eigen
/// decomposition). What is left — a rotation and a reflection — is fixed by the points'
/// meaning: `X` from the right eye's outer corner (36) to the left one's (45), `Y` from the eyes
/// towards the chin (8), and `Z` chosen so that the nose tip (30) is nearer the camera than the
/// jaw ends (0, 16). Finally the shape is made mirror-symmetric (averaged with its mirror image
/// through `scheme.mirror`), centred on its centroid and scaled to [`EYE_CORNER_MM`].
///
/// Requires iBUG-68 shapes (`scheme` = [`Scheme::ibug68`]); faces with a non-finite point are
/// skipped. Expression and identity are averaged out as noise. Ensures a right-handed frame
/// as [`MEAN_FACE_68`]'s.
pub fn mean_face_from_shapes(
    shapes: &[Vec<Point>],
    scheme: &Scheme,
) -> Result<Vec<[f64; 3]>, DeriveError> {
    let n = 68;
    let usable: Vec<Vec<[f64; 2]>> = shapes
        .iter()
        .filter(|s| s.len() == n && s.iter().all(|p| p[0].is_finite() && p[1].is_finite()))
        .filter_map(|s| {
            let c = s.iter().fold([0.0f64; 2], |a, p| {
                [a[0] + p[0] as f64 / n as f64, a[1] + p[1] as f64 / n as f64]
            });
            let centred: Vec<[f64; 2]> = s
                .iter()
                .map(|p| [p[0] as f64 - c[0], p[1] as f64 - c[1]])
                .collect();
            let rms = (centred
                .iter()
                .map(|p| p[0] * p[0] + p[1] * p[1])
                .sum::<f64>()
                / n as f64)
                .sqrt();
            (rms > 1e-9).then(|| centred.iter().map(|p| [p[0] / rms, p[1] / rms]).collect())
        })
        .collect();
    let f = usable.len();
    if f < 3 {
        return Err(DeriveError::TooFewFaces(f));
    }
    let w = DMatrix::from_fn(2 * f, n, |r, c| usable[r / 2][c][r % 2]);
    // rank 3: the top eigenvectors of WᵀW (68×68) are the rows of S up to Q
    let eig = SymmetricEigen::new(w.transpose() * &w);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let s_hat = DMatrix::from_fn(3, n, |r, c| eig.eigenvectors[(c, order[r])]);
    let m_hat = &w * s_hat.transpose(); // rows of S_hat are orthonormal
                                        // metric upgrade: for each face rows a, b of M_hat: a L aᵀ − b L bᵀ = 0, a L bᵀ = 0
    let sym = |a: &[f64; 3], b: &[f64; 3]| {
        [
            a[0] * b[0],
            a[1] * b[1],
            a[2] * b[2],
            a[0] * b[1] + a[1] * b[0],
            a[0] * b[2] + a[2] * b[0],
            a[1] * b[2] + a[2] * b[1],
        ]
    };
    let mut rows = Vec::with_capacity(2 * f + 1);
    for k in 0..f {
        let a = [m_hat[(2 * k, 0)], m_hat[(2 * k, 1)], m_hat[(2 * k, 2)]];
        let b = [
            m_hat[(2 * k + 1, 0)],
            m_hat[(2 * k + 1, 1)],
            m_hat[(2 * k + 1, 2)],
        ];
        let (aa, bb, ab) = (sym(&a, &a), sym(&b, &b), sym(&a, &b));
        rows.push(std::array::from_fn::<f64, 6, _>(|i| aa[i] - bb[i]));
        rows.push(ab);
    }
    let a = DMatrix::from_fn(rows.len(), 6, |r, c| rows[r][c]);
    let ata = SymmetricEigen::new(a.transpose() * &a);
    let imin = (0..6)
        .min_by(|&i, &j| ata.eigenvalues[i].total_cmp(&ata.eigenvalues[j]))
        .unwrap_or(0);
    let l = ata.eigenvectors.column(imin);
    let mut lm = Matrix3::new(l[0], l[3], l[4], l[3], l[1], l[5], l[4], l[5], l[2]);
    if lm.trace() < 0.0 {
        lm = -lm;
    }
    let le = SymmetricEigen::new(lm);
    if le.eigenvalues.iter().any(|&v| v <= 0.0) {
        return Err(DeriveError::Degenerate(
            "the metric upgrade is not positive definite (too little pose variety?)",
        ));
    }
    // L = Q Qᵀ with Q = V √Λ; S = Q⁻¹ S_hat
    let q = le.eigenvectors * Matrix3::from_diagonal(&le.eigenvalues.map(f64::sqrt));
    let q_inv = q
        .try_inverse()
        .ok_or(DeriveError::Degenerate("singular metric upgrade"))?;
    let s3 = DMatrix::from_fn(3, 3, |r, c| q_inv[(r, c)]) * s_hat;
    let pts: Vec<Vector3<f64>> = (0..n)
        .map(|i| Vector3::new(s3[(0, i)], s3[(1, i)], s3[(2, i)]))
        .collect();
    Ok(canonical(&pts, scheme))
}

/// `pts` (any rigid frame, either handedness) in [`MEAN_FACE_68`]'s frame, symmetric, centred
/// and scaled; see [`mean_face_from_shapes`].
fn canonical(pts: &[Vector3<f64>], scheme: &Scheme) -> Vec<[f64; 3]> {
    let x = (pts[45] - pts[36]).normalize();
    let eyes = (pts[36] + pts[45]) * 0.5;
    let down = pts[8] - eyes;
    let y = (down - x * x.dot(&down)).normalize();
    let mut z = x.cross(&y);
    let jaw = (pts[0] + pts[16]) * 0.5;
    if (pts[30] - jaw).dot(&z) > 0.0 {
        // the nose must point to −Z (towards the camera): this is the depth-reversed twin
        z = -z;
    }
    let local: Vec<Vector3<f64>> = pts
        .iter()
        .map(|p| Vector3::new(p.dot(&x), p.dot(&y), p.dot(&z)))
        .collect();
    let mirror = &scheme.mirror;
    let sym: Vec<Vector3<f64>> = (0..local.len())
        .map(|i| {
            let m = local[mirror[i]];
            (local[i] + Vector3::new(-m.x, m.y, m.z)) * 0.5
        })
        .collect();
    let c = sym.iter().sum::<Vector3<f64>>() / sym.len() as f64;
    let scale = EYE_CORNER_MM / (sym[45] - sym[36]).norm();
    sym.iter()
        .map(|p| {
            let q = (p - c) * scale;
            [q.x, q.y, q.z]
        })
        .collect()
}
