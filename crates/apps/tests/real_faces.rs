//! Filters on real annotated faces (300-W HELEN, iBUG 68 points). Skipped, with a printed
//! reason, when the shared data folder is absent.

use facemark_apps::points::eye_centers;
use facemark_apps::Filter;

#[test]
fn sunglasses_darken_both_eyes_and_hat_stays_above_the_brows_on_real_faces() {
    let Some(data) = facemark_core::testdata::shared_data() else {
        return;
    };
    let dir = data.join("300w-helen-train");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pts"))
        .collect();
    names.sort();
    let glasses = Filter::by_name("sunglasses").unwrap();
    let hat = Filter::by_name("hat").unwrap();
    for pts_path in names.iter().take(5) {
        let pts = facemark_formats::pts::read_pts(pts_path).unwrap();
        let img = image::open(pts_path.with_extension("jpg"))
            .unwrap()
            .to_rgb8();
        let luma = |im: &image::RgbImage, p: [f32; 2]| {
            let q = im.get_pixel(p[0] as u32, p[1] as u32).0;
            (q[0] as u32 + q[1] as u32 + q[2] as u32) / 3
        };
        let mut g = img.clone();
        glasses.apply(&mut g, std::slice::from_ref(&pts)).unwrap();
        let (r, l) = eye_centers(&pts);
        for e in [r, l] {
            assert!(
                luma(&g, e) < 90,
                "{}: eye {e:?} not under a dark lens",
                pts_path.display()
            );
        }
        assert_eq!(
            g.get_pixel(pts[8][0] as u32, pts[8][1] as u32),
            img.get_pixel(pts[8][0] as u32, pts[8][1] as u32),
            "chin untouched"
        );
        let mut h = img.clone();
        hat.apply(&mut h, std::slice::from_ref(&pts)).unwrap();
        for e in [r, l, pts[30], pts[8]] {
            assert_eq!(
                h.get_pixel(e[0] as u32, e[1] as u32),
                img.get_pixel(e[0] as u32, e[1] as u32),
                "{}: the hat covers the face at {e:?}",
                pts_path.display()
            );
        }
        assert_ne!(h.as_raw(), img.as_raw(), "the hat is drawn");
    }
}
