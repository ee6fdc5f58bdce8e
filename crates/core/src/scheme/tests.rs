//! Tests of the landmark schemes: consistency of every scheme, conversions, normalisers.

use super::*;

fn all() -> Vec<Scheme> {
    vec![
        Scheme::ibug68(),
        Scheme::kaggle15(),
        Scheme::helen194(),
        Scheme::five(),
        Scheme::generic(7),
    ]
}

#[test]
fn every_mirror_is_an_involution_and_names_are_complete() {
    for s in all() {
        assert!(is_involution(&s.mirror), "{} mirror", s.name);
        assert_eq!(s.mirror.len(), s.len(), "{}", s.name);
        assert!(s.point_names.iter().all(|n| !n.is_empty()), "{}", s.name);
        for g in &s.groups {
            assert!(g.indices.iter().all(|&i| i < s.len()), "{}", s.name);
        }
        if let Some((a, b)) = s.norm_pair {
            assert!(a < s.len() && b < s.len());
        }
    }
}

#[test]
fn by_name_and_for_points() {
    for s in all() {
        assert_eq!(Scheme::by_name(&s.name).unwrap(), s);
        assert_eq!(Scheme::for_points(s.len()).name, s.name);
    }
    assert!(Scheme::by_name("nonsense").is_none());
    assert_eq!(Scheme::for_points(3).len(), 3);
}

#[test]
fn ibug68_mirror_matches_nearest_neighbour_on_the_mean_shape() {
    assert_eq!(derive_mirror(&IBUG68_MEAN), IBUG68_MIRROR.to_vec());
}

/// The mean face in a 200 px wide image.
fn face68(w: f32) -> Vec<Point> {
    IBUG68_MEAN
        .iter()
        .map(|p| [w * 0.5 + p[0] * 150.0, 100.0 + p[1] * 150.0])
        .collect()
}

#[test]
fn flipping_the_mean_face_puts_the_left_eye_where_the_left_eye_was() {
    let s = Scheme::ibug68();
    let w = 200.0;
    let f = face68(w);
    let g = s.flip_points(&f, w);
    // The flipped face is a face again: each point lands near the same-index point.
    for i in 0..68 {
        let d = dist(f[i], g[i]);
        assert!(d < 6.0, "point {i} moved {d} px (face 150 px)");
    }
    // Without the renumbering the eyes would swap sides (far off).
    assert!(dist(f[36], [w - f[36][0], f[36][1]]) > 50.0);
    // And the subject's left eye (image right) stays on the image's right.
    let (l, r) = s.eye_centres(&g).unwrap();
    assert!(l[0] > w * 0.5 && r[0] < w * 0.5);
    // Flipping twice gives the points back exactly.
    let h = s.flip_points(&g, w);
    for i in 0..68 {
        assert!(dist(f[i], h[i]) < 1e-4);
    }
}

#[test]
fn flip_visible_follows_the_points() {
    let s = Scheme::kaggle15();
    let mut v = vec![true; 15];
    v[0] = false;
    let f = s.flip_visible(&v);
    assert!(f[0] && !f[1]);
}

#[test]
fn kaggle_flip_swaps_eyes() {
    let s = Scheme::kaggle15();
    let pts = ibug68_to_kaggle15(&face68(96.0));
    let g = s.flip_points(&pts, 96.0);
    for i in 0..15 {
        assert!(dist(pts[i], g[i]) < 3.0, "kaggle point {i}");
    }
}

#[test]
fn helen194_mirror_maps_left_to_right() {
    let s = Scheme::helen194();
    let mean = helen194_mean_shape();
    assert_eq!(mean.len(), 194);
    let g = |n: &str| {
        s.groups
            .iter()
            .find(|g| g.name == n)
            .unwrap()
            .indices
            .clone()
    };
    for (a, b) in [("left_eye", "right_eye"), ("left_brow", "right_brow")] {
        let (ga, gb) = (g(a), g(b));
        for (&i, _) in ga.iter().zip(&gb) {
            assert!(gb.contains(&s.mirror[i]), "{a} point {i} must map into {b}");
        }
    }
    // Jaw runs left to right: its ends swap, its middle point is fixed.
    assert_eq!(s.mirror[0], 40);
    assert_eq!(s.mirror[20], 20);
    // Points on the image's left map to points on its right.
    for i in 0..194 {
        let j = s.mirror[i];
        if mean[i][0] < -0.02 {
            assert!(mean[j][0] > 0.02, "{i} -> {j}");
        }
    }
    // Outer lip corners swap (58 ↔ 72), outer eye corners swap.
    assert_eq!(s.mirror[58], 72);
    assert_eq!(s.mirror[114], 144);
}

#[test]
fn ibug_to_kaggle_uses_subjects_left() {
    let k = ibug68_to_kaggle15(&face68(200.0));
    assert_eq!(k.len(), 15);
    // Subject's left eye is on the image's right.
    assert!(k[0][0] > k[1][0]);
    assert!(
        k[11][0] > k[12][0],
        "mouth_left_corner on the image's right"
    );
    assert!(k[13][1] < k[14][1], "top lip above bottom lip");
    let f = ibug68_to_five(&face68(200.0));
    assert_eq!(f[2], k[10]);
    // Missing input → NaN output, not a panic.
    assert!(ibug68_to_kaggle15(&[[1.0, 2.0]])[0][0].is_nan());
}

#[test]
fn contours_follow_the_scheme() {
    let c = Scheme::ibug68().contours();
    let names: Vec<&str> = c.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "jaw",
            "right_brow",
            "left_brow",
            "nose_bridge",
            "nose_base",
            "right_eye",
            "left_eye",
            "outer_lips",
            "inner_lips"
        ]
    );
    // every point is on an outline; open curves and closed loops as dlib draws them
    let mut seen = [false; 68];
    for c in &c {
        for &i in &c.indices {
            seen[i] = true;
        }
    }
    assert!(seen.iter().all(|&s| s));
    assert!(!c[0].closed && c[0].indices == (0..17).collect::<Vec<_>>());
    assert!(c[4].closed && c[4].indices == [30, 31, 32, 33, 34, 35]);
    assert!(c[8].closed && c[8].indices.len() == 8);
    let h = Scheme::helen194().contours();
    assert_eq!(h.iter().map(|c| c.indices.len()).sum::<usize>(), 194);
    assert!(!h[0].closed && h[2].closed);
    // schemes without known outlines draw their points alone
    for s in [Scheme::kaggle15(), Scheme::five(), Scheme::generic(68)] {
        assert!(s.contours().is_empty(), "{}", s.name);
    }
}

#[test]
fn distances() {
    let s = Scheme::ibug68();
    let f = face68(200.0);
    let d = s.norm_distance(&f).unwrap();
    assert!((d - dist(f[36], f[45])).abs() < 1e-6);
    let ipd = s.inter_pupil_distance(&f).unwrap();
    assert!(ipd > 0.5 * d && ipd < d);
    let mut g = f.clone();
    g[36] = [f32::NAN, f32::NAN];
    assert!(s.norm_distance(&g).is_none());
    assert!(Scheme::generic(3).eye_centres(&f).is_none());
}
