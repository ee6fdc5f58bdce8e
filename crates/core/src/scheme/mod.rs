//! Landmark schemes as data: point count, names, groups, mirror permutation, NME normaliser.
//!
//! Concrete schemes: [`Scheme::ibug68`] (iBUG / 300-W), [`Scheme::kaggle15`] (Kaggle Facial
//! Keypoints), [`Scheme::helen194`] (HELEN), [`Scheme::five`] (eye centres, nose tip, mouth
//! corners) and [`Scheme::generic`] for any other point count.
//!
//! "left"/"right" in names are the **subject's** left/right: the subject's left eye appears on
//! the *right* of the image (iBUG points 42–47, Kaggle `left_eye_center`).
//!
//! Modules: `convert` (iBUG-68 to Kaggle-15 and five points, mirror permutations), `helen`
//! (the synthesised HELEN-194 mean shape); here the types, the concrete schemes and the
//! normalisers.

mod convert;
mod helen;
#[cfg(test)]
mod tests;

pub use convert::{derive_mirror, ibug68_to_five, ibug68_to_kaggle15, is_involution};
pub use helen::helen194_mean_shape;

use crate::Point;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// A named group of points (e.g. "jaw", "left_eye"), by 0-based index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group's name, e.g. "jaw".
    pub name: String,
    /// Its points' indices in the scheme.
    pub indices: Vec<usize>,
}

/// A polyline through some of a scheme's points, in drawing order (e.g. the jaw from ear to
/// ear, or an eye's outline), for result pictures; see [`Scheme::contours`].
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    /// The contour's name, e.g. "jaw".
    pub name: &'static str,
    /// Its points' indices in the scheme, in drawing order.
    pub indices: Vec<usize>,
    /// Joins the last point back to the first (eyes, lips).
    pub closed: bool,
}

/// A landmark scheme. Indices are 0-based.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheme {
    /// Short id used in files and on the CLI: "ibug68", "kaggle15", "helen194", "five", `n<N>`.
    pub name: String,
    /// One name per point.
    pub point_names: Vec<String>,
    /// Named groups of points (jaw, eyes, …); evaluation reports NME per region from them.
    pub groups: Vec<Group>,
    /// `mirror[i]` = the index point `i` becomes after a horizontal flip. An involution.
    pub mirror: Vec<usize>,
    /// The two points whose distance normalises NME (68: outer eye corners 36, 45).
    pub norm_pair: Option<(usize, usize)>,
    /// The points whose mean is the subject's (left, right) eye centre, for inter-pupil
    /// normalisation; `None` when the scheme has no eyes it knows of.
    #[serde(default)]
    pub pupils: Option<(Vec<usize>, Vec<usize>)>,
}

/// Mean 68-point iBUG shape, in *landmark-box units*: each face's points were centred on the
/// centre of their tight box and divided by the box's longer side, then averaged. Computed
/// from the 870 faces of `300w-helen-train` (300-W HELEN training part). x right, y down.
pub const IBUG68_MEAN: [Point; 68] = [
    [-0.4773, -0.2627],
    [-0.4727, -0.1366],
    [-0.4562, -0.0114],
    [-0.4280, 0.1096],
    [-0.3766, 0.2209],
    [-0.2972, 0.3171],
    [-0.2022, 0.3955],
    [-0.1005, 0.4566],
    [0.0114, 0.4707],
    [0.1214, 0.4490],
    [0.2198, 0.3838],
    [0.3110, 0.3037],
    [0.3859, 0.2071],
    [0.4350, 0.0949],
    [0.4607, -0.0253],
    [0.4737, -0.1482],
    [0.4784, -0.2730],
    [-0.4014, -0.3584],
    [-0.3423, -0.4165],
    [-0.2568, -0.4354],
    [-0.1672, -0.4253],
    [-0.0848, -0.3960],
    [0.0714, -0.4030],
    [0.1579, -0.4335],
    [0.2461, -0.4444],
    [0.3316, -0.4251],
    [0.3892, -0.3699],
    [-0.0033, -0.2957],
    [-0.0025, -0.2139],
    [-0.0014, -0.1337],
    [0.0002, -0.0509],
    [-0.1017, 0.0084],
    [-0.0514, 0.0242],
    [-0.0002, 0.0373],
    [0.0508, 0.0229],
    [0.0968, 0.0074],
    [-0.3015, -0.2780],
    [-0.2479, -0.3097],
    [-0.1832, -0.3085],
    [-0.1299, -0.2678],
    [-0.1852, -0.2565],
    [-0.2505, -0.2556],
    [0.1193, -0.2722],
    [0.1754, -0.3164],
    [0.2391, -0.3166],
    [0.2910, -0.2872],
    [0.2450, -0.2649],
    [0.1817, -0.2620],
    [-0.1840, 0.1603],
    [-0.1156, 0.1302],
    [-0.0450, 0.1142],
    [-0.0010, 0.1260],
    [0.0486, 0.1133],
    [0.1202, 0.1287],
    [0.1866, 0.1535],
    [0.1225, 0.2207],
    [0.0545, 0.2520],
    [0.0014, 0.2583],
    [-0.0469, 0.2540],
    [-0.1164, 0.2257],
    [-0.1562, 0.1627],
    [-0.0452, 0.1545],
    [-0.0005, 0.1591],
    [0.0498, 0.1529],
    [0.1596, 0.1577],
    [0.0505, 0.1901],
    [-0.0003, 0.1972],
    [-0.0461, 0.1925],
];

/// iBUG 68 mirror permutation (the standard one from the 300-W literature).
const IBUG68_MIRROR: [usize; 68] = [
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, // jaw
    26, 25, 24, 23, 22, 21, 20, 19, 18, 17, // brows
    27, 28, 29, 30, // nose bridge
    35, 34, 33, 32, 31, // nose bottom
    45, 44, 43, 42, 47, 46, // subject's right eye → left eye
    39, 38, 37, 36, 41, 40, // left eye → right eye
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, // outer mouth
    64, 63, 62, 61, 60, 67, 66, 65, // inner mouth
];

/// Kaggle Facial Keypoints column order (each name takes the columns `NAME_x`, `NAME_y`).
pub const KAGGLE15_NAMES: [&str; 15] = [
    "left_eye_center",
    "right_eye_center",
    "left_eye_inner_corner",
    "left_eye_outer_corner",
    "right_eye_inner_corner",
    "right_eye_outer_corner",
    "left_eyebrow_inner_end",
    "left_eyebrow_outer_end",
    "right_eyebrow_inner_end",
    "right_eyebrow_outer_end",
    "nose_tip",
    "mouth_left_corner",
    "mouth_right_corner",
    "mouth_center_top_lip",
    "mouth_center_bottom_lip",
];

const KAGGLE15_MIRROR: [usize; 15] = [1, 0, 4, 5, 2, 3, 8, 9, 6, 7, 10, 12, 11, 13, 14];

/// The five-point scheme's names (subject's left/right).
pub const FIVE_NAMES: [&str; 5] = [
    "left_eye_center",
    "right_eye_center",
    "nose_tip",
    "mouth_left_corner",
    "mouth_right_corner",
];

fn group(name: &str, r: impl IntoIterator<Item = usize>) -> Group {
    Group {
        name: name.to_string(),
        indices: r.into_iter().collect(),
    }
}

/// Point names `GROUP_k` from groups that cover `0..n` in order.
fn names_from_groups(groups: &[Group], n: usize) -> Vec<String> {
    let mut names = vec![String::new(); n];
    for g in groups {
        for (k, &i) in g.indices.iter().enumerate() {
            names[i] = format!("{}_{k}", g.name);
        }
    }
    names
}

impl Scheme {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.point_names.len()
    }
    /// Whether the scheme has no points.
    pub fn is_empty(&self) -> bool {
        self.point_names.is_empty()
    }
    /// A scheme with `n` anonymous points and no known symmetry (mirror = identity).
    pub fn generic(n: usize) -> Scheme {
        Scheme {
            name: format!("n{n}"),
            point_names: (0..n).map(|i| format!("p{i}")).collect(),
            groups: vec![],
            mirror: (0..n).collect(),
            norm_pair: None,
            pupils: None,
        }
    }

    /// The 68-point iBUG / 300-W scheme (0-based): jaw 0–16, subject's right brow 17–21, left
    /// brow 22–26, nose bridge 27–30, nose bottom 31–35, right eye 36–41, left eye 42–47, outer
    /// mouth 48–59, inner mouth 60–67. NME normaliser: outer eye corners 36–45.
    pub fn ibug68() -> Scheme {
        let groups = vec![
            group("jaw", 0..17),
            group("right_brow", 17..22),
            group("left_brow", 22..27),
            group("nose_bridge", 27..31),
            group("nose_bottom", 31..36),
            group("right_eye", 36..42),
            group("left_eye", 42..48),
            group("outer_mouth", 48..60),
            group("inner_mouth", 60..68),
        ];
        Scheme {
            name: "ibug68".into(),
            point_names: names_from_groups(&groups, 68),
            groups,
            mirror: IBUG68_MIRROR.to_vec(),
            norm_pair: Some((36, 45)),
            pupils: Some(((42..48).collect(), (36..42).collect())),
        }
    }

    /// The 15-point Kaggle Facial Keypoints scheme, in Kaggle's column order
    /// ([`KAGGLE15_NAMES`]). NME normaliser: outer eye corners (3, 5).
    pub fn kaggle15() -> Scheme {
        let groups = vec![
            group("left_eye", [0, 2, 3]),
            group("right_eye", [1, 4, 5]),
            group("left_brow", [6, 7]),
            group("right_brow", [8, 9]),
            group("nose", [10]),
            group("mouth", [11, 12, 13, 14]),
        ];
        Scheme {
            name: "kaggle15".into(),
            point_names: KAGGLE15_NAMES.iter().map(|s| s.to_string()).collect(),
            groups,
            mirror: KAGGLE15_MIRROR.to_vec(),
            norm_pair: Some((3, 5)),
            pupils: Some((vec![0], vec![1])),
        }
    }

    /// Five points: eye centres, nose tip, mouth corners ([`FIVE_NAMES`]). NME normaliser:
    /// the eye centres (inter-pupil distance), as the scheme has no eye corners.
    pub fn five() -> Scheme {
        Scheme {
            name: "five".into(),
            point_names: FIVE_NAMES.iter().map(|s| s.to_string()).collect(),
            groups: vec![
                group("left_eye", [0]),
                group("right_eye", [1]),
                group("nose", [2]),
                group("mouth", [3, 4]),
            ],
            mirror: vec![1, 0, 2, 4, 3],
            norm_pair: Some((0, 1)),
            pupils: Some((vec![0], vec![1])),
        }
    }

    /// The 194-point HELEN scheme (Le et al., ECCV 2012), 0-based: jaw 0–40 (41), nose 41–57
    /// (17), outer lip 58–85 (28), inner lip 86–113 (28), first eye 114–133 (20), second eye
    /// 134–153 (20), first brow 154–173 (20), second brow 174–193 (20).
    ///
    /// Layout assumptions (the annotation tool's order): open curves (jaw, nose) run from the
    /// image's left to its right; closed contours (lips, eyes, brows) start at their image-left
    /// corner and run along the upper edge first; the first eye/brow is the one on the image's
    /// left (the subject's right). The mirror permutation is *derived*, not typed in: a mean
    /// shape is built on that layout ([`helen194_mean_shape`]), reflected, and each point is
    /// matched to its nearest neighbour ([`derive_mirror`]). NME normaliser: the outer eye
    /// corners (the first eye's first point and the second eye's mid point, 114 and 144).
    pub fn helen194() -> Scheme {
        let groups = vec![
            group("jaw", 0..41),
            group("nose", 41..58),
            group("outer_lip", 58..86),
            group("inner_lip", 86..114),
            group("right_eye", 114..134),
            group("left_eye", 134..154),
            group("right_brow", 154..174),
            group("left_brow", 174..194),
        ];
        static MIRROR: OnceLock<Vec<usize>> = OnceLock::new();
        let mirror = MIRROR
            .get_or_init(|| derive_mirror(&helen194_mean_shape()))
            .clone();
        Scheme {
            name: "helen194".into(),
            point_names: names_from_groups(&groups, 194),
            groups,
            mirror,
            norm_pair: Some((114, 144)),
            pupils: Some(((134..154).collect(), (114..134).collect())),
        }
    }

    /// A scheme by its CLI/file name: "ibug68" (also "68", "300w", "ibug"), "kaggle15" ("15",
    /// "kaggle"), "helen194" ("194", "helen"), "five" ("5"), `n<N>` (generic).
    pub fn by_name(name: &str) -> Option<Scheme> {
        match name.trim().to_ascii_lowercase().as_str() {
            "ibug68" | "68" | "300w" | "ibug" => Some(Scheme::ibug68()),
            "kaggle15" | "15" | "kaggle" => Some(Scheme::kaggle15()),
            "helen194" | "194" | "helen" => Some(Scheme::helen194()),
            "five" | "5" => Some(Scheme::five()),
            s => s
                .strip_prefix('n')
                .and_then(|n| n.parse::<usize>().ok())
                .map(Scheme::generic),
        }
    }

    /// The usual scheme for a point count: 68 → iBUG, 15 → Kaggle, 194 → HELEN, 5 → five,
    /// anything else → [`Scheme::generic`].
    pub fn for_points(n: usize) -> Scheme {
        match n {
            68 => Scheme::ibug68(),
            15 => Scheme::kaggle15(),
            194 => Scheme::helen194(),
            5 => Scheme::five(),
            n => Scheme::generic(n),
        }
    }

    /// A horizontal flip of an image `image_width` pixels wide, applied to its landmarks:
    /// `x' = W − x` (pixel-edge convention: the image spans `[0, W]`), and the points are
    /// renumbered through `mirror` so that, e.g., the flipped subject's left eye is again at the
    /// left-eye indices. Panics never; extra points beyond the scheme are flipped in place.
    pub fn flip_points(&self, points: &[Point], image_width: f32) -> Vec<Point> {
        let mut out: Vec<Point> = points.iter().map(|p| [image_width - p[0], p[1]]).collect();
        for (i, p) in points.iter().enumerate() {
            if let Some(&j) = self.mirror.get(i) {
                if j < out.len() {
                    out[j] = [image_width - p[0], p[1]];
                }
            }
        }
        out
    }

    /// The visibility mask after [`Scheme::flip_points`].
    pub fn flip_visible(&self, visible: &[bool]) -> Vec<bool> {
        let mut out = visible.to_vec();
        for (i, &v) in visible.iter().enumerate() {
            if let Some(&j) = self.mirror.get(i) {
                if j < out.len() {
                    out[j] = v;
                }
            }
        }
        out
    }

    /// The subject's (left, right) eye centres in the frame of `points`, for inter-pupil
    /// normalisation; `None` when the scheme has no eyes or a needed point is missing (NaN).
    pub fn eye_centres(&self, points: &[Point]) -> Option<(Point, Point)> {
        let (l, r) = self.pupils.as_ref()?;
        Some((mean_of(points, l)?, mean_of(points, r)?))
    }

    /// Inter-pupil distance (pixels of `points`), see [`Scheme::eye_centres`].
    pub fn inter_pupil_distance(&self, points: &[Point]) -> Option<f32> {
        let (l, r) = self.eye_centres(points)?;
        Some(dist(l, r))
    }

    /// The NME normalising distance (pixels of `points`): the distance between `norm_pair`
    /// (68: outer eye corners 36–45). `None` when the scheme has none or a point is missing.
    pub fn norm_distance(&self, points: &[Point]) -> Option<f32> {
        let (a, b) = self.norm_pair?;
        let (pa, pb) = (points.get(a)?, points.get(b)?);
        let d = dist(*pa, *pb);
        d.is_finite().then_some(d)
    }

    /// The outlines to draw through the points, as face viewers do (dlib's
    /// `render_face_detections`, MediaPipe's): 68 points: jaw 0–16, each brow (17–21,
    /// 22–26), nose bridge 27–30 (open), nose base 30–35 closed through the tip 30, eyes 36–41
    /// and 42–47 (closed), outer lips 48–59 and inner lips 60–67 (closed). 194 points (HELEN):
    /// jaw and nose open, lips, eyes and brows closed (the layout of [`Scheme::helen194`]).
    /// Other schemes (15, 5, generic points) have no outlines: their points are drawn alone.
    /// Indices beyond the scheme's length are never returned.
    pub fn contours(&self) -> Vec<Contour> {
        let c = |name: &'static str, indices: Vec<usize>, closed: bool| Contour {
            name,
            indices,
            closed,
        };
        let v = match (self.name.as_str(), self.len()) {
            ("ibug68", 68) => vec![
                c("jaw", (0..17).collect(), false),
                c("right_brow", (17..22).collect(), false),
                c("left_brow", (22..27).collect(), false),
                c("nose_bridge", (27..31).collect(), false),
                c("nose_base", (30..36).collect(), true),
                c("right_eye", (36..42).collect(), true),
                c("left_eye", (42..48).collect(), true),
                c("outer_lips", (48..60).collect(), true),
                c("inner_lips", (60..68).collect(), true),
            ],
            ("helen194", 194) => vec![
                c("jaw", (0..41).collect(), false),
                c("nose", (41..58).collect(), false),
                c("outer_lips", (58..86).collect(), true),
                c("inner_lips", (86..114).collect(), true),
                c("right_eye", (114..134).collect(), true),
                c("left_eye", (134..154).collect(), true),
                c("right_brow", (154..174).collect(), true),
                c("left_brow", (174..194).collect(), true),
            ],
            _ => vec![],
        };
        debug_assert!(v.iter().all(|c| c.indices.iter().all(|&i| i < self.len())));
        v
    }

    /// A mean shape for this scheme in landmark-box units (centre 0, longer side 1), when one
    /// is known: 68 from data ([`IBUG68_MEAN`]), 15 and 5 converted from it, 194 synthesised.
    pub fn mean_shape(&self) -> Option<Vec<Point>> {
        match self.name.as_str() {
            "ibug68" => Some(IBUG68_MEAN.to_vec()),
            "kaggle15" => Some(ibug68_to_kaggle15(&IBUG68_MEAN)),
            "five" => Some(ibug68_to_five(&IBUG68_MEAN)),
            "helen194" => Some(helen194_mean_shape()),
            _ => None,
        }
    }
}

fn dist(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn mean_of(points: &[Point], idx: &[usize]) -> Option<Point> {
    if idx.is_empty() {
        return None;
    }
    let mut s = [0.0f32; 2];
    for &i in idx {
        let p = points.get(i)?;
        if !(p[0].is_finite() && p[1].is_finite()) {
            return None;
        }
        s[0] += p[0];
        s[1] += p[1];
    }
    let n = idx.len() as f32;
    Some([s[0] / n, s[1] / n])
}
