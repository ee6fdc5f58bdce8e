//! Where a model fails: NME per face region (jaw, brows, nose, eyes, mouth) and by head yaw.
//!
//! - **Regions** are the scheme's own point groups ([`Scheme::groups`]) merged by feature:
//!   left and right and the parts of one feature become one region ([`region_of`]), so the
//!   68-point iBUG scheme has jaw 0–16, brows 17–26, nose 27–35, eyes 36–47 and mouth 48–67.
//!   A face's region NME is the mean error of the region's present points divided by the
//!   face's normaliser (the report's primary one); the report gives its mean over the faces
//!   that have one. Schemes without groups have no regions.
//! - **Yaw** is a proxy read off the ground-truth points ([`yaw_proxy`]), not a head-pose fit;
//!   faces are put in the buckets of [`YAW_EDGES`] and each bucket gets its count, mean NME and
//!   failure rate at [`YAW_FAILURE_THRESHOLD`]. Only the 68-point iBUG scheme has the points
//!   it needs; other schemes get no yaw breakdown.

use crate::metrics;
use facemark_core::scheme::Group;
use facemark_core::{Point, Scheme};
use serde::{Deserialize, Serialize};

/// Lower edges (degrees of |yaw|) of the yaw buckets: `< 15`, `15–30`, `30–45`, `≥ 45`.
pub const YAW_EDGES: [f32; 4] = [0.0, 15.0, 30.0, 45.0];
/// The NME threshold of the yaw buckets' failure rate.
pub const YAW_FAILURE_THRESHOLD: f32 = 0.08;

/// The region a group belongs to: `jaw`, `brows`, `nose`, `eyes`, `mouth` (recognised by the
/// words in the group's name, e.g. `left_brow`, `nose_bridge`, `inner_lip`), else the group's
/// own name.
pub fn region_of(group: &str) -> &str {
    let has = |w: &str| group.split('_').any(|p| p == w);
    if has("jaw") {
        "jaw"
    } else if has("brow") {
        "brows"
    } else if has("eye") {
        "eyes"
    } else if has("nose") {
        "nose"
    } else if has("mouth") || has("lip") {
        "mouth"
    } else {
        group
    }
}

/// The scheme's regions: its groups merged by [`region_of`], in order of first appearance,
/// each region's points in the groups' order. Empty for a scheme without groups.
pub fn regions(scheme: &Scheme) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for g in &scheme.groups {
        let name = region_of(&g.name);
        match out.iter_mut().find(|r| r.name == name) {
            Some(r) => r.indices.extend(&g.indices),
            None => out.push(Group {
                name: name.to_string(),
                indices: g.indices.clone(),
            }),
        }
    }
    out
}

/// One region's NME over the evaluated faces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionStat {
    /// The region's name in the scheme (`jaw`, `left_eye`, …).
    pub region: String,
    /// The region's point indices.
    pub points: Vec<usize>,
    /// Mean over faces of (mean error of the region's present points / the face's primary
    /// normaliser); `None` when no face has one.
    pub nme: Option<f32>,
    /// Faces counted (a normaliser and at least one present point in the region).
    pub n: usize,
}

/// One face's NME over the points `idx`: the mean of their errors (`None` = missing point) in
/// pixels divided by `norm`; `None` when none of them is present.
pub fn region_nme(point_px: &[Option<f32>], idx: &[usize], norm: f32) -> Option<f32> {
    let v: Vec<f32> = idx
        .iter()
        .filter_map(|&i| point_px.get(i).copied().flatten())
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f32>() / v.len() as f32 / norm)
}

/// Per-region NME ([`RegionStat`]) of faces given as (per-point errors in pixels, normaliser in
/// pixels). A face with a non-finite region error (a NaN prediction) is left out of that
/// region's mean, as [`metrics::mean`] leaves it out of the whole-face mean.
pub fn region_stats(scheme: &Scheme, faces: &[(&[Option<f32>], f32)]) -> Vec<RegionStat> {
    regions(scheme)
        .into_iter()
        .map(|r| {
            let v: Vec<f32> = faces
                .iter()
                .filter_map(|(px, norm)| region_nme(px, &r.indices, *norm))
                .collect();
            RegionStat {
                region: r.name,
                points: r.indices,
                nme: metrics::mean(&v),
                n: v.len(),
            }
        })
        .collect()
}

/// The (outer-left, outer-right, nose-tip) points [`yaw_proxy`] reads: iBUG 68 jaw ends 0 and
/// 16 and nose tip 30; `None` for other schemes.
pub fn yaw_points(scheme: &Scheme) -> Option<(usize, usize, usize)> {
    (scheme.name == "ibug68" && scheme.len() == 68).then_some((0, 16, 30))
}

/// A yaw estimate in degrees from a face's ground-truth points — a **proxy**, not a head-pose
/// fit: the nose tip's position between the jaw's outer points, `a = ((nose − mid) · u) / half`
/// with `mid` the jaw ends' midpoint, `u` the unit vector from point 0 to point 16 (so in-plane
/// roll does not count) and `half` half their distance, mapped to `asin(clamp(a, −1, 1))`.
/// 0 for a frontal, symmetric face; positive when the nose is towards point 16 (the image's
/// right, the subject's left jaw). Nose depth, face shape and annotation of the hidden jaw
/// side all bias it, and it saturates at ±90° once the nose passes a jaw end. `None` when the
/// scheme lacks the points ([`yaw_points`]), one of them is missing, or the jaw ends coincide.
pub fn yaw_proxy(gt: &[Point], mask: &[bool], scheme: &Scheme) -> Option<f32> {
    let (l, r, n) = yaw_points(scheme)?;
    let ok = |i: usize| {
        mask.get(i).copied().unwrap_or(false)
            && gt
                .get(i)
                .is_some_and(|p| p[0].is_finite() && p[1].is_finite())
    };
    if !(ok(l) && ok(r) && ok(n)) {
        return None;
    }
    let (a, b, c) = (gt[l], gt[r], gt[n]);
    let (ux, uy) = (b[0] - a[0], b[1] - a[1]);
    let len = (ux * ux + uy * uy).sqrt();
    if len <= 0.0 {
        return None;
    }
    let mid = [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5];
    let along = ((c[0] - mid[0]) * ux + (c[1] - mid[1]) * uy) / len;
    Some((along / (len * 0.5)).clamp(-1.0, 1.0).asin().to_degrees())
}

/// The faces of one |yaw| bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YawBucket {
    /// `"<15"`, `"15-30"`, `"30-45"`, `">=45"` (degrees of |yaw|).
    pub bucket: String,
    /// Faces with a yaw in the bucket and a primary NME.
    pub n: usize,
    /// Their mean primary NME (`None` for an empty bucket).
    pub nme: Option<f32>,
    /// Fraction of them with NME above [`YAW_FAILURE_THRESHOLD`] (`None` for an empty bucket).
    pub failure_rate: Option<f32>,
}

/// The label of bucket `k` of [`YAW_EDGES`].
fn bucket_label(k: usize) -> String {
    match YAW_EDGES.get(k + 1) {
        Some(hi) if k == 0 => format!("<{hi}"),
        Some(hi) => format!("{}-{hi}", YAW_EDGES[k]),
        None => format!(">={}", YAW_EDGES[k]),
    }
}

/// Yaw buckets ([`YAW_EDGES`]) of faces given as (yaw proxy in degrees, primary NME); every
/// bucket is listed, empty ones too. Empty when no face has both values.
pub fn yaw_buckets(faces: &[(f32, f32)]) -> Vec<YawBucket> {
    if faces.is_empty() {
        return Vec::new();
    }
    (0..YAW_EDGES.len())
        .map(|k| {
            let errs: Vec<f32> = faces
                .iter()
                .filter(|(yaw, _)| {
                    let a = yaw.abs();
                    a >= YAW_EDGES[k] && YAW_EDGES.get(k + 1).is_none_or(|hi| a < *hi)
                })
                .map(|(_, e)| *e)
                .collect();
            YawBucket {
                bucket: bucket_label(k),
                n: errs.len(),
                nme: metrics::mean(&errs),
                failure_rate: (!errs.is_empty())
                    .then(|| metrics::failure_rate(&errs, YAW_FAILURE_THRESHOLD)),
            }
        })
        .collect()
}

/// Lines for the text summary: the regions' NME on one line, the yaw buckets on one line each.
pub fn summary_text(primary: &str, regions: &[RegionStat], yaw: &[YawBucket]) -> String {
    let f = |v: Option<f32>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut s = String::new();
    if !regions.is_empty() {
        let parts: Vec<String> = regions
            .iter()
            .map(|r| format!("{} {}", r.region, f(r.nme)))
            .collect();
        s += &format!("NME by region ({primary}): {}\n", parts.join("  "));
    }
    if !yaw.is_empty() {
        s += &format!(
            "|yaw| (proxy from GT points)  faces  NME     failure@{YAW_FAILURE_THRESHOLD:.2}\n"
        );
        for b in yaw {
            let label = format!("{}°", b.bucket);
            s += &format!(
                "  {label:<26}  {:>5}  {:<6}  {}\n",
                b.n,
                f(b.nme),
                f(b.failure_rate)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{evaluate, EvalOptions, EvalReport, MeanShape};
    use facemark_core::scheme::IBUG68_MEAN;
    use facemark_core::{BoxF, ImageSource, Landmarker, Sample};
    use image::GrayImage;

    #[test]
    fn ibug68_regions_come_from_its_groups() {
        let r = regions(&Scheme::ibug68());
        let got: Vec<(&str, usize, usize, usize)> = r
            .iter()
            .map(|g| {
                let (lo, hi) = (g.indices[0], *g.indices.last().unwrap());
                (g.name.as_str(), lo, hi, g.indices.len())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("jaw", 0, 16, 17),
                ("brows", 17, 26, 10),
                ("nose", 27, 35, 9),
                ("eyes", 36, 47, 12),
                ("mouth", 48, 67, 20)
            ]
        );
        assert!(regions(&Scheme::generic(5)).is_empty());
        let k: Vec<String> = regions(&Scheme::kaggle15())
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(k, ["eyes", "brows", "nose", "mouth"]);
    }

    /// Ground truth = the mean shape scaled to 200 px; the prediction is off by 6 px on the
    /// mouth points only, so the mouth's NME is 6 / outer-eye distance and the others are 0.
    #[test]
    fn an_error_in_one_region_shows_only_there() {
        let s = Scheme::ibug68();
        let gt: Vec<Point> = IBUG68_MEAN
            .iter()
            .map(|p| [100.0 + 200.0 * p[0], 100.0 + 200.0 * p[1]])
            .collect();
        let mut pred = gt.clone();
        for p in &mut pred[48..68] {
            p[1] += 6.0;
        }
        let mut mask = vec![true; 68];
        let e = metrics::face_errors(&pred, &gt, &mask, &s).unwrap();
        let d = e.outer_eye_px.unwrap();
        // two faces: the second has its lower lip missing (still 6 px on the present points)
        mask[55..60].iter_mut().for_each(|m| *m = false);
        let e2 = metrics::face_errors(&pred, &gt, &mask, &s).unwrap();
        let stats = region_stats(&s, &[(&e.point_px, d), (&e2.point_px, d)]);
        for r in &stats {
            let want = if r.region == "mouth" { 6.0 / d } else { 0.0 };
            assert!((r.nme.unwrap() - want).abs() < 1e-5, "{r:?}");
            assert_eq!(r.n, 2);
        }
        // the whole-face NME is the point-weighted mix of the regions
        assert!((e.nme_outer.unwrap() - 6.0 * 20.0 / 68.0 / d).abs() < 1e-5);
        let text = summary_text("outer_eye", &stats, &[]);
        assert!(text.contains("jaw 0.0000") && text.contains(&format!("mouth {:.4}", 6.0 / d)));
        assert!(region_stats(&Scheme::generic(68), &[(&e.point_px, d)]).is_empty());
    }

    fn face(nose_dx: f32) -> Vec<Point> {
        let mut p: Vec<Point> = IBUG68_MEAN
            .iter()
            .map(|p| [200.0 * p[0], 200.0 * p[1]])
            .collect();
        // exactly symmetric jaw ends, nose tip moved sideways
        p[0] = [-95.0, -50.0];
        p[16] = [95.0, -50.0];
        p[30] = [nose_dx, -10.0];
        p
    }

    #[test]
    fn yaw_proxy_is_zero_when_symmetric_and_follows_the_nose() {
        let s = Scheme::ibug68();
        let m = vec![true; 68];
        assert!(yaw_proxy(&face(0.0), &m, &s).unwrap().abs() < 1e-4);
        // the mean shape is nearly symmetric
        assert!(yaw_proxy(&IBUG68_MEAN, &m, &s).unwrap().abs() < 0.5);
        let mut last = 0.0;
        for dx in [10.0, 30.0, 50.0, 80.0] {
            let y = yaw_proxy(&face(dx), &m, &s).unwrap();
            let y_neg = yaw_proxy(&face(-dx), &m, &s).unwrap();
            assert!(y > last, "{dx}: {y} after {last}");
            assert!((y + y_neg).abs() < 1e-4);
            assert!((y - (dx / 95.0).asin().to_degrees()).abs() < 1e-3);
            last = y;
        }
        assert!((yaw_proxy(&face(200.0), &m, &s).unwrap() - 90.0).abs() < 1e-4);
        // roll does not count: rotating the symmetric face keeps 0
        let (c, si) = (0.5f32.cos(), 0.5f32.sin());
        let rolled: Vec<Point> = face(0.0)
            .iter()
            .map(|p| [c * p[0] - si * p[1], si * p[0] + c * p[1]])
            .collect();
        assert!(yaw_proxy(&rolled, &m, &s).unwrap().abs() < 1e-3);
        // missing points, other schemes
        let mut m2 = m.clone();
        m2[30] = false;
        assert_eq!(yaw_proxy(&face(0.0), &m2, &s), None);
        assert_eq!(yaw_proxy(&face(0.0), &m, &Scheme::generic(68)), None);
    }

    #[test]
    fn yaw_buckets_count_nme_and_failures() {
        let faces = [
            (0.0, 0.02),
            (-14.9, 0.04),
            (15.0, 0.06),
            (-29.0, 0.10),
            (44.0, 0.09),
            (-70.0, 0.12),
            (90.0, f32::NAN),
        ];
        let b = yaw_buckets(&faces);
        let labels: Vec<&str> = b.iter().map(|b| b.bucket.as_str()).collect();
        assert_eq!(labels, ["<15", "15-30", "30-45", ">=45"]);
        assert_eq!(b.iter().map(|b| b.n).collect::<Vec<_>>(), [2, 2, 1, 2]);
        assert!((b[0].nme.unwrap() - 0.03).abs() < 1e-6);
        assert_eq!(b[0].failure_rate, Some(0.0));
        assert_eq!(b[1].failure_rate, Some(0.5));
        assert_eq!(b[2].failure_rate, Some(1.0));
        // the NaN face fails and is left out of the mean NME
        assert_eq!(b[3].failure_rate, Some(1.0));
        assert!((b[3].nme.unwrap() - 0.12).abs() < 1e-6);
        assert!(yaw_buckets(&[]).is_empty());
        let one = yaw_buckets(&[(3.0, 0.05)]);
        assert_eq!((one[1].n, one[1].nme, one[1].failure_rate), (0, None, None));
        let text = summary_text("outer_eye", &[], &b);
        assert!(
            text.contains("failure@0.08") && text.contains(">=45°"),
            "{text}"
        );
    }

    /// 68 points: the mean-shape baseline on faces whose ground truth is the mean shape with
    /// the mouth moved up 3 px (inside the landmark box, so the prediction stays put): the
    /// error is all in the mouth region, and the frontal faces fall in the first yaw bucket.
    #[test]
    fn report_breaks_down_by_region_and_yaw() {
        let lm = MeanShape::new(Scheme::ibug68()).unwrap();
        let faces: Vec<Sample> = [100.0f32, 160.0]
            .iter()
            .map(|&side| {
                let mut pts =
                    lm.landmarks(&GrayImage::new(1, 1), &BoxF::new(20.0, 30.0, side, side));
                pts[48..].iter_mut().for_each(|p| p[1] -= 3.0);
                let img = ImageSource::Gray {
                    width: 8,
                    height: 8,
                    pixels: vec![0; 64],
                };
                Sample::new(img, pts, "f")
            })
            .collect();
        let r = evaluate(&lm, &faces, &EvalOptions::default()).unwrap();
        let d: Vec<f32> = faces
            .iter()
            .map(|s| metrics::outer_eye_distance(&s.points, &s.visible, lm.scheme()).unwrap())
            .collect();
        let names: Vec<&str> = r.regions.iter().map(|g| g.region.as_str()).collect();
        assert_eq!(names, ["jaw", "brows", "nose", "eyes", "mouth"]);
        for g in &r.regions {
            let want = if g.region == "mouth" {
                (3.0 / d[0] + 3.0 / d[1]) / 2.0
            } else {
                0.0
            };
            assert!((g.nme.unwrap() - want).abs() < 1e-4, "{g:?}");
        }
        assert_eq!(r.yaw.iter().map(|b| b.n).collect::<Vec<_>>(), [2, 0, 0, 0]);
        assert!(r.faces.iter().all(|f| f.yaw_deg.unwrap().abs() < 1.0));
        let t = r.summary_text();
        assert!(t.contains("NME by region (outer_eye): jaw 0.0000") && t.contains("<15°"));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["regions"][4]["region"], "mouth");
        assert_eq!(v["yaw"][0]["bucket"], "<15");
        // a report written before these fields still reads
        let mut old = v.clone();
        for k in ["regions", "yaw", "box_shift", "box_shift_seed"] {
            old.as_object_mut().unwrap().remove(k);
        }
        let back: EvalReport = serde_json::from_value(old).unwrap();
        assert!(back.regions.is_empty() && back.yaw.is_empty() && back.box_shift == 0.0);
    }
}
