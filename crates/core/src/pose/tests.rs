use super::*;
use crate::CropSpec;

const W: u32 = 640;
const H: u32 = 480;

/// The mean face seen through `pose` and the assumed camera of a `W × H` photo.
fn project(pose: &HeadPose) -> Vec<Point> {
    let cam = Camera::for_image(W, H);
    MEAN_FACE_68
        .iter()
        .map(|p| pose.project(&cam, p.map(f64::from)).unwrap())
        .collect()
}

/// Deterministic Gaussian noise (Box–Muller on a 64-bit LCG).
struct Noise(u64);
impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// Worst angle error (degrees) over a grid of yaw, pitch and roll in ±40°, with Gaussian noise
/// of `sigma` pixels on every coordinate; the face's outer eye corners are about 100 px apart.
fn worst_error_on_grid(sigma: f64) -> f32 {
    let cam = Camera::for_image(W, H);
    let mut noise = Noise(7);
    let mut worst = 0.0f32;
    let grid = [-40.0, -25.0, -10.0, 0.0, 15.0, 30.0, 40.0];
    for &yaw in &grid {
        for &pitch in &grid {
            for &roll in &grid {
                let truth = HeadPose::from_angles(yaw, pitch, roll, [30.0, -20.0, 560.0]);
                let pts: Vec<Point> = project(&truth)
                    .iter()
                    .map(|p| {
                        [
                            p[0] + (sigma * noise.gauss()) as f32,
                            p[1] + (sigma * noise.gauss()) as f32,
                        ]
                    })
                    .collect();
                let got = estimate(&pts, &MEAN_FACE_68, &cam).unwrap();
                let e = (got.yaw - yaw)
                    .abs()
                    .max((got.pitch - pitch).abs())
                    .max((got.roll - roll).abs());
                worst = worst.max(e);
            }
        }
    }
    worst
}

#[test]
fn synthetic_projections_give_back_their_angles() {
    let exact = worst_error_on_grid(0.0);
    assert!(exact < 0.01, "noise-free: worst error {exact}°");
    let noisy = worst_error_on_grid(1.0);
    eprintln!("worst angle error on the ±40° grid: {exact:.4}° exact, {noisy:.2}° with 1 px noise");
    assert!(noisy < 2.0, "1 px noise: worst error {noisy}°");
}

#[test]
fn the_translation_and_the_fit_error_come_back_too() {
    let truth = HeadPose::from_angles(20.0, -10.0, 5.0, [30.0, -20.0, 560.0]);
    let got = estimate(&project(&truth), &MEAN_FACE_68, &Camera::for_image(W, H)).unwrap();
    for k in 0..3 {
        assert!((got.translation[k] - truth.translation[k]).abs() < 0.05);
        assert!((got.rotation[k] - truth.rotation[k]).abs() < 1e-4);
    }
    assert!(got.rms_px < 1e-3, "{}", got.rms_px);
}

#[test]
fn signs_read_as_documented() {
    let frontal = project(&HeadPose::from_angles(0.0, 0.0, 0.0, [0.0, 0.0, 560.0]));
    let nose = |p: &[Point]| p[30];
    let mid_jaw = |p: &[Point]| [(p[0][0] + p[16][0]) * 0.5, (p[0][1] + p[16][1]) * 0.5];
    // yaw > 0: the nose moves towards the image's right, past the jaw ends' middle
    let right = project(&HeadPose::from_angles(30.0, 0.0, 0.0, [0.0, 0.0, 560.0]));
    assert!(nose(&right)[0] > mid_jaw(&right)[0] + 10.0);
    assert!((nose(&frontal)[0] - mid_jaw(&frontal)[0]).abs() < 1e-3);
    // pitch > 0: the face looks up, the nose tip rises towards the eyes
    let up = project(&HeadPose::from_angles(0.0, 25.0, 0.0, [0.0, 0.0, 560.0]));
    let eyes_to_nose = |p: &[Point]| p[30][1] - (p[36][1] + p[45][1]) * 0.5;
    assert!(eyes_to_nose(&up) < eyes_to_nose(&frontal) - 5.0);
    // roll > 0: clockwise on screen, as CropSpec::roll reads the eye line
    let s = Scheme::ibug68();
    let tilted = project(&HeadPose::from_angles(0.0, 0.0, 20.0, [0.0, 0.0, 560.0]));
    let r = CropSpec::roll(&tilted, &s).unwrap().to_degrees();
    assert!((r - 20.0).abs() < 0.5, "eye line at {r}°");
}

#[test]
fn a_mirrored_face_has_opposite_yaw_and_roll_and_the_same_pitch() {
    let s = Scheme::ibug68();
    let cam = Camera::for_image(W, H);
    for (yaw, pitch, roll) in [(25.0, 10.0, -8.0), (-35.0, -15.0, 12.0), (5.0, 30.0, 30.0)] {
        let truth = HeadPose::from_angles(yaw, pitch, roll, [-40.0, 15.0, 600.0]);
        let pts = project(&truth);
        let a = estimate(&pts, &MEAN_FACE_68, &cam).unwrap();
        let b = estimate(&s.flip_points(&pts, W as f32), &MEAN_FACE_68, &cam).unwrap();
        assert!((a.yaw + b.yaw).abs() < 0.01, "{a:?} {b:?}");
        assert!((a.roll + b.roll).abs() < 0.01, "{a:?} {b:?}");
        assert!((a.pitch - b.pitch).abs() < 0.01, "{a:?} {b:?}");
    }
}

#[test]
fn the_mean_face_is_symmetric_and_in_the_documented_frame() {
    let s = Scheme::ibug68();
    for (i, p) in MEAN_FACE_68.iter().enumerate() {
        let m = MEAN_FACE_68[s.mirror[i]];
        assert!((p[0] + m[0]).abs() < 0.011 && (p[1] - m[1]).abs() < 0.011);
        assert!((p[2] - m[2]).abs() < 0.011);
    }
    let f = &MEAN_FACE_68;
    assert!(f[45][0] > f[36][0], "X towards the subject's left");
    assert!(f[8][1] > f[27][1], "Y towards the chin");
    assert!(
        f[30][2] < f[0][2] && f[30][2] < f[8][2],
        "the nose nearest the camera"
    );
    let eye = ((f[45][0] - f[36][0]) as f64).hypot((f[45][2] - f[36][2]) as f64);
    assert!((eye - EYE_CORNER_MM).abs() < 0.02);
}

#[test]
fn factorisation_recovers_a_rigid_face_from_its_views() {
    // the mean face seen in many poses by weak-perspective and perspective cameras
    let s = Scheme::ibug68();
    let mut noise = Noise(3);
    let mut shapes = Vec::new();
    for k in 0..300 {
        let yaw = (noise.uniform() * 2.0 - 1.0) * 60.0;
        let pitch = (noise.uniform() * 2.0 - 1.0) * 30.0;
        let roll = (noise.uniform() * 2.0 - 1.0) * 30.0;
        let z = if k % 2 == 0 { 3000.0 } else { 800.0 };
        let pose = HeadPose::from_angles(yaw as f32, pitch as f32, roll as f32, [0.0, 0.0, z]);
        shapes.push(project(&pose));
    }
    let face = mean_face_from_shapes(&shapes, &s).unwrap();
    let worst = face
        .iter()
        .zip(&MEAN_FACE_68)
        .map(|(a, b)| {
            (0..3)
                .map(|k| (a[k] - b[k] as f64).abs())
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max);
    assert!(worst < 1.5, "worst coordinate off by {worst} mm");
    // a flat set of views (no pose variety) is refused or at least not a 3-D face
    assert_eq!(
        mean_face_from_shapes(&shapes[..2], &s),
        Err(DeriveError::TooFewFaces(2))
    );
}

#[test]
fn bad_input_gives_none_not_a_panic() {
    let cam = Camera::for_image(W, H);
    let pts = project(&HeadPose::from_angles(10.0, 0.0, 0.0, [0.0, 0.0, 560.0]));
    // a few missing points are left out
    let mut holes = pts.clone();
    for p in holes.iter_mut().step_by(3) {
        *p = [f32::NAN, f32::NAN];
    }
    let got = estimate(&holes, &MEAN_FACE_68, &cam).unwrap();
    assert!((got.yaw - 10.0).abs() < 0.01);
    // too few, wrong length, all at one pixel, another scheme
    let mut few = vec![[f32::NAN; 2]; 68];
    few[..5].copy_from_slice(&pts[..5]);
    assert!(estimate(&few, &MEAN_FACE_68, &cam).is_none());
    assert!(estimate(&pts[..60], &MEAN_FACE_68, &cam).is_none());
    assert!(estimate(&[[5.0, 5.0]; 68], &MEAN_FACE_68, &cam).is_none());
    assert!(head_pose(&pts, &Scheme::generic(68), W, H).is_none());
    assert!(head_pose(&pts, &Scheme::ibug68(), W, H).is_some());
    let z = Camera::for_image(0, 0);
    let _ = estimate(&pts, &MEAN_FACE_68, &z); // no panic on a degenerate camera
}

#[test]
fn axes_start_at_the_nose_and_the_front_axis_points_the_way_the_face_looks() {
    let cam = Camera::for_image(W, H);
    let pose = HeadPose::from_angles(30.0, 0.0, 0.0, [0.0, 0.0, 560.0]);
    let [o, x, y, front] = pose.axes(&cam, 50.0).unwrap();
    assert!((o[0] - project(&pose)[30][0]).abs() < 1e-3);
    assert!(front[0] > o[0] + 5.0, "front axis to the image's right");
    assert!(x[0] > o[0] && y[1] > o[1]);
}
