//! Head pose (`facemark_core::pose`) on the real annotated faces in ../shared/data (skipped,
//! with a printed reason, when they are absent). With `--nocapture` the tests print what
//! docs/pose.md reports.

use facemark_core::pose::{
    estimate, head_pose, mean_face_from_shapes, Camera, HeadPose, MEAN_FACE_68,
};
use facemark_core::testdata::shared_data;
use facemark_core::{ImageSource, Point, Sample, Scheme};
use facemark_formats::load_any;
use std::path::Path;

/// Each face's points and its photo's size.
fn faces(path: &Path) -> Vec<(Vec<Point>, u32, u32)> {
    load_any(path)
        .unwrap()
        .into_iter()
        .map(|s: Sample| {
            let (w, h) = match &s.image {
                ImageSource::File(p) => image::image_dimensions(p).unwrap(),
                ImageSource::Gray { width, height, .. } => (*width, *height),
            };
            (s.points, w, h)
        })
        .collect()
}

/// `facemark eval`'s yaw proxy (the nose tip between the jaw ends, `asin`), degrees: an
/// independent, cruder reading of the same turn.
fn yaw_proxy(p: &[Point]) -> f32 {
    let (a, b, c) = (p[0], p[16], p[30]);
    let (ux, uy) = (b[0] - a[0], b[1] - a[1]);
    let len = ux.hypot(uy);
    let mid = [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5];
    let along = ((c[0] - mid[0]) * ux + (c[1] - mid[1]) * uy) / len;
    (along / (len * 0.5)).clamp(-1.0, 1.0).asin().to_degrees()
}

fn quantile(v: &mut [f32], q: f32) -> f32 {
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * q).round() as usize]
}

#[test]
fn mirrored_photos_flip_yaw_and_roll_and_keep_pitch() {
    let Some(d) = shared_data() else { return };
    let s = Scheme::ibug68();
    let mut worst = 0.0f32;
    let mut n = 0;
    for (pts, w, h) in faces(&d.join("300w-helen-train")) {
        let a = head_pose(&pts, &s, w, h).unwrap();
        let b = head_pose(&s.flip_points(&pts, w as f32), &s, w, h).unwrap();
        let e = (a.yaw + b.yaw)
            .abs()
            .max((a.roll + b.roll).abs())
            .max((a.pitch - b.pitch).abs());
        worst = worst.max(e);
        n += 1;
    }
    eprintln!("HELEN: {n} faces and their mirror images: worst |yaw + yaw'|, |roll + roll'|, |pitch − pitch'| = {worst:.4}°");
    assert!(worst < 0.05, "{worst}");
}

/// On faces none of the mean face was derived from (YouTube Faces test frames): frontal faces
/// (by the cruder proxy) get a small yaw, and the yaw's sign agrees with the proxy's on clearly
/// turned faces.
#[test]
fn youtube_test_faces_frontal_ones_have_small_yaw_and_turned_ones_the_proxys_sign() {
    let Some(d) = shared_data() else { return };
    let s = Scheme::ibug68();
    let data = faces(&d.join("youtube-faces-68/test_frames_keypoints.csv"));
    let poses: Vec<(HeadPose, f32, f32)> = data
        .iter()
        .map(|(p, w, h)| {
            let pose = head_pose(p, &s, *w, *h).unwrap();
            let iod = (p[45][0] - p[36][0]).hypot(p[45][1] - p[36][1]);
            (pose, yaw_proxy(p), pose.rms_px / iod)
        })
        .collect();
    let mut frontal: Vec<f32> = poses
        .iter()
        .filter(|(_, proxy, _)| proxy.abs() < 5.0)
        .map(|(p, _, _)| p.yaw.abs())
        .collect();
    let n_frontal = frontal.len();
    let frontal_median = quantile(&mut frontal, 0.5);
    let frontal_90 = quantile(&mut frontal, 0.9);
    let turned: Vec<&(HeadPose, f32, f32)> = poses
        .iter()
        .filter(|(_, proxy, _)| proxy.abs() >= 15.0)
        .collect();
    let agree = turned
        .iter()
        .filter(|(p, proxy, _)| p.yaw.signum() == proxy.signum())
        .count();
    let mut yaw: Vec<f32> = poses.iter().map(|(p, _, _)| p.yaw).collect();
    let mut pitch: Vec<f32> = poses.iter().map(|(p, _, _)| p.pitch).collect();
    let mut roll: Vec<f32> = poses.iter().map(|(p, _, _)| p.roll).collect();
    let mut rel: Vec<f32> = poses.iter().map(|(_, _, r)| *r).collect();
    eprintln!("YouTube test: {} faces", poses.len());
    for (name, v) in [
        ("yaw", &mut yaw),
        ("pitch", &mut pitch),
        ("roll", &mut roll),
    ] {
        eprintln!(
            "  {name}: 5th percentile {:.1}°, median {:.1}°, 95th percentile {:.1}°",
            quantile(v, 0.05),
            quantile(v, 0.5),
            quantile(v, 0.95)
        );
    }
    eprintln!(
        "  {n_frontal} faces with |proxy| < 5°: |yaw| median {frontal_median:.1}°, 90th percentile {frontal_90:.1}°"
    );
    eprintln!(
        "  {} faces with |proxy| ≥ 15°: yaw sign agrees on {agree} ({:.1} %)",
        turned.len(),
        100.0 * agree as f32 / turned.len().max(1) as f32
    );
    eprintln!(
        "  fit RMS error / outer-eye-corner distance: median {:.3}, 95th percentile {:.3}",
        quantile(&mut rel, 0.5),
        quantile(&mut rel, 0.95)
    );
    // the assumed focal length halved and doubled: how much the angles move
    let mut moved: Vec<f32> = Vec::new();
    for ((p, w, h), (pose, _, _)) in data.iter().zip(&poses) {
        for k in [0.5, 2.0] {
            let mut cam = Camera::for_image(*w, *h);
            cam.focal *= k;
            let q = estimate(p, &MEAN_FACE_68, &cam).unwrap();
            moved.push(
                (q.yaw - pose.yaw)
                    .abs()
                    .max((q.pitch - pose.pitch).abs())
                    .max((q.roll - pose.roll).abs()),
            );
        }
    }
    // a deeper face (Z × 1.2): how much the yaw shrinks — the angles' magnitude rests on the
    // mean face's depth, which no ground truth here checks
    let deeper: Vec<[f32; 3]> = MEAN_FACE_68
        .iter()
        .map(|p| [p[0], p[1], p[2] * 1.2])
        .collect();
    let mut ratio: Vec<f32> = data
        .iter()
        .zip(&poses)
        .filter(|(_, (pose, _, _))| pose.yaw.abs() >= 10.0)
        .map(|((p, w, h), (pose, _, _))| {
            let q = estimate(p, &deeper, &Camera::for_image(*w, *h)).unwrap();
            q.yaw / pose.yaw
        })
        .collect();
    eprintln!(
        "  the mean face 1.2× deeper: yaw of faces with |yaw| ≥ 10° scaled by a median {:.2}",
        quantile(&mut ratio, 0.5)
    );
    let (moved_median, moved_95) = (quantile(&mut moved, 0.5), quantile(&mut moved, 0.95));
    eprintln!(
        "  focal length ×0.5 or ×2: largest angle change median {moved_median:.2}°, 95th percentile {moved_95:.2}°"
    );
    assert!(moved_median < 4.0);
    assert!(n_frontal > 50);
    assert!(frontal_median < 5.0 && frontal_90 < 10.0);
    assert!(turned.len() > 20 && agree as f32 >= 0.95 * turned.len() as f32);
}

/// The committed table is what its documented derivation gives (rounded to 0.01).
#[test]
fn the_mean_face_table_is_its_derivation_from_helen_and_lfpw() {
    let Some(d) = shared_data() else { return };
    let s = Scheme::ibug68();
    let mut shapes = Vec::new();
    for dir in ["300w-helen-train", "300w-lfpw-train"] {
        for (p, _, _) in faces(&d.join(dir)) {
            let w = p.iter().map(|q| q[0]).fold(0.0f32, f32::max) + 1.0;
            shapes.push(s.flip_points(&p, w));
            shapes.push(p);
        }
    }
    let face = mean_face_from_shapes(&shapes, &s).unwrap();
    for (a, b) in face.iter().zip(&MEAN_FACE_68) {
        for k in 0..3 {
            assert!((a[k] - b[k] as f64).abs() < 0.011, "{a:?} vs {b:?}");
        }
    }
}
