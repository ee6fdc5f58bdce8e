//! Tests of the evaluation: metrics on faces with known errors, skipped faces, box shifts,
//! pictures.

use super::{
    evaluate, plot_ced, BoxSource, EvalError, EvalOptions, EvalReport, GT_COLOR, PRED_COLOR,
};
use facemark_core::Scheme;
use facemark_core::{BoxF, ImageSource, Landmarker, Point, Sample};
use image::GrayImage;

/// 3 points: 0 subject's left eye (image right), 1 right eye, 2 nose; NME pair (0, 1).
fn scheme() -> Scheme {
    let mut s = Scheme::generic(3);
    s.mirror = vec![1, 0, 2];
    s.norm_pair = Some((0, 1));
    s.pupils = Some((vec![0], vec![1]));
    s
}

/// Ground truth from a landmark box: eyes at the top corners, nose bottom-centre.
fn shape(b: &BoxF) -> Vec<Point> {
    vec![[b.x + b.w, b.y], [b.x, b.y], [b.x + b.w * 0.5, b.y + b.h]]
}

/// Predicts the shape of the box it is given, moved right by `pixel(0,0)/1000 · box width`:
/// so a face whose first pixel is `v` has NME exactly `v / 1000`.
struct Fake(Scheme);
impl Landmarker for Fake {
    fn scheme(&self) -> &Scheme {
        &self.0
    }
    fn landmarks(&self, image: &GrayImage, b: &BoxF) -> Vec<Point> {
        let dx = image.get_pixel(0, 0)[0] as f32 / 1000.0 * b.w;
        shape(b).into_iter().map(|p| [p[0] + dx, p[1]]).collect()
    }
}

fn sample(v: u8, b: BoxF, name: &str) -> Sample {
    let mut px = vec![30u8; 64 * 64];
    px[0] = v;
    Sample::new(
        ImageSource::Gray {
            width: 64,
            height: 64,
            pixels: px,
        },
        shape(&b),
        name,
    )
}

fn data() -> Vec<Sample> {
    vec![
        sample(0, BoxF::new(10.0, 10.0, 40.0, 30.0), "a"),
        sample(40, BoxF::new(12.0, 8.0, 20.0, 20.0), "b"),
        sample(90, BoxF::new(5.0, 20.0, 50.0, 30.0), "c"),
        sample(200, BoxF::new(20.0, 20.0, 30.0, 30.0), "d"),
    ]
}

#[test]
fn known_noise_gives_known_metrics() {
    let lm = Fake(scheme());
    let r = evaluate(&lm, &data(), &EvalOptions::default()).unwrap();
    assert_eq!(r.n_faces, 4);
    assert_eq!(r.primary, "outer_eye");
    let nme = r.nme_outer.unwrap();
    // NMEs 0, 0.04, 0.09, 0.2
    assert!((nme.mean - 0.0825).abs() < 1e-5, "{nme:?}");
    assert!((nme.median - 0.065).abs() < 1e-5);
    assert!((r.nme_pupil.unwrap().mean - 0.0825).abs() < 1e-5);
    // AUC@0.08 = (1 + 0.5 + 0 + 0)/4, failure@0.08 = 2/4; AUC@0.10 = (1 + .6 + .1)/4
    let t = &r.thresholds;
    assert!((t[0].auc - 0.375).abs() < 1e-5 && (t[0].failure_rate - 0.5).abs() < 1e-6);
    assert!((t[1].auc - 0.425).abs() < 1e-5 && (t[1].failure_rate - 0.25).abs() < 1e-6);
    // Pooled RMSE: dx per face 0, 0.8, 4.5, 6 px on 3 points' x; 12 coordinates in all.
    let sq: f32 = 3.0 * (0.8f32 * 0.8 + 4.5 * 4.5 + 6.0 * 6.0);
    assert!((r.rmse_px.unwrap() - (sq / 24.0).sqrt()).abs() < 1e-4);
    // Every point is off by the same NME.
    for p in &r.per_point_nme {
        assert!((p.unwrap() - 0.0825).abs() < 1e-5);
    }
    assert_eq!(r.worst(2), vec![3, 2]);
    assert!(r.regions.is_empty() && r.yaw.is_empty()); // no groups, no yaw points
    let ced = r.ced(0.1);
    assert_eq!(ced.first().unwrap().1, 0.25);
    assert_eq!(ced.last().unwrap().1, 0.75);
    // JSON round trip of the summary fields
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["n_faces"], 4);
    assert_eq!(v["faces"].as_array().unwrap().len(), 4);
    assert!(r.summary_text().contains("AUC@0.08 0.3750"));
}

#[test]
fn mismatched_points_missing_and_unreadable_faces() {
    let lm = Fake(scheme());
    let mut d = data();
    d[1].image = ImageSource::File("/nonexistent/x.png".into());
    // Face c: nose missing → still evaluated on the two eyes.
    d[2].visible[2] = false;
    d[2].points[2] = [f32::NAN, f32::NAN];
    let r = evaluate(&lm, &d, &EvalOptions::default()).unwrap();
    assert_eq!(r.n_faces, 3);
    assert_eq!(r.skipped.len(), 1);
    assert!(r.skipped[0].reason.contains("nonexistent"));
    // c's box is now the eyes' box (height 0): predictions use that box; NME stays 0.09.
    let c = r.faces.iter().find(|f| f.name == "c").unwrap();
    assert!((c.nme_outer.unwrap() - 0.09).abs() < 1e-5);
    assert_eq!(r.per_point_px.len(), 3);

    let mut bad = data();
    bad[3].points.pop();
    bad[3].visible.pop();
    assert!(matches!(
        evaluate(&lm, &bad, &EvalOptions::default()),
        Err(EvalError::PointCount { data: 2, .. })
    ));
    let none: Vec<Sample> = vec![];
    assert!(matches!(
        evaluate(&lm, &none, &EvalOptions::default()),
        Err(EvalError::NoFaces { .. })
    ));
}

/// A landmarker that declines (returns no points) on faces whose marker pixel is 40.
struct Declines(Scheme);
impl Landmarker for Declines {
    fn scheme(&self) -> &Scheme {
        &self.0
    }
    fn landmarks(&self, image: &GrayImage, b: &BoxF) -> Vec<Point> {
        if image.get_pixel(0, 0)[0] == 40 {
            Vec::new()
        } else {
            shape(b)
        }
    }
}

#[test]
fn declined_faces_are_skipped_and_named() {
    let r = evaluate(&Declines(scheme()), &data(), &EvalOptions::default()).unwrap();
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].name, "b");
    assert_eq!(r.skipped[0].reason, "no face found");
    assert_eq!(r.n_faces, data().len() - 1);
}

#[test]
fn whole_image_box_and_generic_scheme() {
    let lm = Fake(Scheme::generic(3));
    let opts = EvalOptions {
        box_source: BoxSource::WholeImage,
        ..EvalOptions::default()
    };
    let r = evaluate(&lm, &data(), &opts).unwrap();
    assert_eq!(r.primary, "none");
    assert!(r.thresholds.is_empty() && r.nme_outer.is_none());
    assert!(r
        .faces
        .iter()
        .all(|f| f.face_box == BoxF::new(0.0, 0.0, 64.0, 64.0)));
    assert!(r.rmse_px.unwrap() > 1.0);
    assert_eq!("image".parse::<BoxSource>().unwrap(), BoxSource::WholeImage);
    assert!("nope".parse::<BoxSource>().is_err());
}

/// Every number of a report but the timing, as bits.
fn bits(r: &EvalReport) -> Vec<u32> {
    let mut v = vec![];
    for f in &r.faces {
        let b = f.face_box;
        v.extend([b.x, b.y, b.w, b.h].map(f32::to_bits));
        v.extend(f.pred.iter().flatten().map(|x| x.to_bits()));
        v.extend([f.nme_outer, f.nme_pupil, f.rmse_px].map(|x| x.unwrap().to_bits()));
    }
    v.extend(r.per_point_nme.iter().map(|x| x.unwrap().to_bits()));
    v.extend(r.thresholds.iter().map(|t| t.auc.to_bits()));
    v
}

#[test]
fn box_shift_zero_is_the_plain_box_and_shifts_are_seeded() {
    let (lm, d) = (Fake(scheme()), data());
    let plain = evaluate(&lm, &d, &EvalOptions::default()).unwrap();
    let with = |box_shift, seed| {
        let o = EvalOptions {
            box_shift,
            seed,
            ..EvalOptions::default()
        };
        evaluate(&lm, &d, &o).unwrap()
    };
    let zero = with(0.0, 99);
    assert_eq!(bits(&plain), bits(&zero));
    for (f, s) in plain.faces.iter().zip(&d) {
        assert_eq!(f.face_box, s.landmark_box().unwrap());
    }
    assert!(!plain.summary_text().contains("shifted"));
    let (a, b, c) = (with(0.2, 5), with(0.2, 5), with(0.2, 6));
    assert_eq!(bits(&a), bits(&b));
    assert_ne!(bits(&a), bits(&c));
    for ((fa, fc), s) in a.faces.iter().zip(&c.faces).zip(&d) {
        let gt = s.landmark_box().unwrap();
        assert_eq!(fa.face_box, crate::boxes::shift_box(&gt, 0.2, 5, fa.index));
        assert!(fa.face_box != gt && fc.face_box != fa.face_box);
    }
    assert!(a.summary_text().contains("shifted by 0.2 (seed 5)"));
    let v: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
    assert!((v["box_shift"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    for bad in [-0.01, 1.01, f32::NAN] {
        let o = EvalOptions {
            box_shift: bad,
            ..EvalOptions::default()
        };
        let e = evaluate(&lm, &d, &o).unwrap_err();
        assert!(matches!(e, EvalError::BoxShift(_)) && e.to_string().contains("[0, 1]"));
    }
}

#[test]
fn pictures_are_written() {
    let lm = Fake(scheme());
    let d = data();
    let r = evaluate(&lm, &d, &EvalOptions::default()).unwrap();
    let sheet = r.worst_sheet(&d, 3, 64);
    assert_eq!((sheet.width(), sheet.height()), (3 * 66 + 2, 66 + 2));
    let has = |c: [u8; 3]| sheet.pixels().any(|p| p.0 == c);
    assert!(has(GT_COLOR) && has(PRED_COLOR));
    let dir = tempfile::tempdir().unwrap();
    r.write_worst_sheet(&d, 2, &dir.path().join("worst.png"))
        .unwrap();
    plot_ced(&dir.path().join("ced.png"), "CED", &[("fake", &r)], 0.2).unwrap();
    r.write_json(&dir.path().join("r.json")).unwrap();
    assert!(image::open(dir.path().join("ced.png")).is_ok());
    assert!(image::open(dir.path().join("worst.png")).is_ok());
}
