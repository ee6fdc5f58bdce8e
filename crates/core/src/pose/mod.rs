//! Head pose — yaw, pitch and roll in degrees — from a face's 68 landmarks, by fitting a 3-D
//! mean face (PnP).
//!
//! **Camera.** Nothing is known of the camera that took a photo, so [`Camera::for_image`]
//! assumes a pinhole with focal length `max(width, height)` pixels (about a 53° field of view
//! across the longer side, a phone's or webcam's), the principal point at the image centre and
//! no lens distortion. Halving or doubling that focal length moves the angles by a few degrees
//! (a median 2.7° on the YouTube Faces test frames, docs/pose.md); the translation scales with
//! it.
//!
//! **Frames.** The camera frame is OpenCV's: `x` to the image's right, `y` down, `z` forward
//! (into the scene). The model frame ([`MEAN_FACE_68`]) is the same for a face looking straight
//! into the camera: `X` towards the subject's left (the image's right), `Y` towards the chin, `Z`
//! into the head. A pose maps model to camera: `p_cam = R · p_model + t`.
//!
//! **Angles.** `R = Ry(−yaw) · Rx(−pitch) · Rz(roll)` with `Ra(θ)` the right-handed rotation by
//! `θ` about the camera's axis `a`: first roll about the face's own front axis, then pitch about
//! its left–right axis, then yaw about the vertical, as a head turns on its neck. Signs, as a
//! person reads them off the picture:
//! - **yaw > 0**: the face turns towards the image's right (the subject's own left): the nose
//!   moves right. As `facemark eval`'s yaw proxy.
//! - **pitch > 0**: the face looks up (the nose moves up in the image).
//! - **roll > 0**: the face is tilted clockwise on screen (the eye line's angle, as
//!   [`crate::CropSpec::roll`]).
//!
//! A mirrored photo (horizontal flip, points renumbered by the scheme's mirror) has the same
//! pitch and the opposite yaw and roll: the model is mirror-symmetric and the principal point
//! is on the mirror axis.
//!
//! **Method.** A weak-perspective (scaled orthographic) least-squares fit gives a first pose;
//! Levenberg–Marquardt on the rotation (multiplicative updates, `R ← exp([δ]×) R`) and the
//! translation then minimises the squared reprojection error in pixels over all finite points.
//! The fit is also started from the frontal pose at the same distance, and the better of the two
//! is kept.

pub mod model;

pub use model::{mean_face_from_shapes, DeriveError, EYE_CORNER_MM, MEAN_FACE_68};

use crate::scheme::Scheme;
use crate::Point;
use nalgebra::{Matrix3, Matrix6, Rotation3, Vector3, Vector6};
use serde::Serialize;

/// A pinhole camera without distortion, in pixels: `u = focal · x / z + cx`, `v = focal · y / z + cy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Focal length in pixels (the same in x and y).
    pub focal: f64,
    /// Principal point x, pixels (pixel-edge convention: the image spans `[0, width]`).
    pub cx: f64,
    /// Principal point y, pixels.
    pub cy: f64,
}

impl Camera {
    /// The camera facemark assumes for a photo of `width × height` pixels: focal length
    /// `max(width, height)`, principal point at the centre `(width / 2, height / 2)`.
    pub fn for_image(width: u32, height: u32) -> Camera {
        Camera {
            focal: width.max(height).max(1) as f64,
            cx: width as f64 * 0.5,
            cy: height as f64 * 0.5,
        }
    }

    /// The pixel a camera-frame point lands on; `None` when it is not in front of the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<Point> {
        (p[2] > 1e-9).then(|| {
            [
                (self.focal * p[0] / p[2] + self.cx) as f32,
                (self.focal * p[1] / p[2] + self.cy) as f32,
            ]
        })
    }
}

/// A head's pose: the angles people read, and the rotation and translation that draw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadPose {
    /// Degrees; > 0 when the face turns towards the image's right (the subject's left).
    pub yaw: f32,
    /// Degrees; > 0 when the face looks up.
    pub pitch: f32,
    /// Degrees; > 0 when the face is tilted clockwise on screen.
    pub roll: f32,
    /// The rotation model → camera as a rotation vector (axis × angle in radians; OpenCV's
    /// `rvec`).
    pub rotation: [f32; 3],
    /// The model's origin in the camera frame (OpenCV's `tvec`), in the mean face's units
    /// (about millimetres; the distance is only as right as the assumed focal length).
    pub translation: [f32; 3],
    /// Root-mean-square reprojection error of the fit, pixels (per point, Euclidean).
    pub rms_px: f32,
}

impl HeadPose {
    /// The pose with these angles (degrees, the module's convention) and translation; `rms_px`
    /// 0. For synthetic tests and drawing.
    pub fn from_angles(yaw: f32, pitch: f32, roll: f32, translation: [f32; 3]) -> HeadPose {
        let r = angles_to_rotation(yaw as f64, pitch as f64, roll as f64);
        let v = r.scaled_axis();
        HeadPose {
            yaw,
            pitch,
            roll,
            rotation: [v.x as f32, v.y as f32, v.z as f32],
            translation,
            rms_px: 0.0,
        }
    }

    /// The rotation matrix model → camera (rows), from [`HeadPose::rotation`].
    pub fn rotation_matrix(&self) -> [[f64; 3]; 3] {
        let m = self.rotation3();
        std::array::from_fn(|r| std::array::from_fn(|c| m[(r, c)]))
    }

    fn rotation3(&self) -> Rotation3<f64> {
        let [a, b, c] = self.rotation.map(f64::from);
        Rotation3::from_scaled_axis(Vector3::new(a, b, c))
    }

    /// A model-frame point in the camera frame: `R · p + t`.
    pub fn to_camera(&self, p: [f64; 3]) -> [f64; 3] {
        let [tx, ty, tz] = self.translation.map(f64::from);
        let q = self.rotation3() * Vector3::new(p[0], p[1], p[2]) + Vector3::new(tx, ty, tz);
        [q.x, q.y, q.z]
    }

    /// Where a model-frame point lands in the photo; `None` behind the camera.
    pub fn project(&self, camera: &Camera, p: [f64; 3]) -> Option<Point> {
        camera.project(self.to_camera(p))
    }

    /// For drawing the head's axes: `[origin, X end, Y end, front end]` in photo pixels, from
    /// the mean face's nose tip (point 30), each axis `length` model units (about mm) long:
    /// `X` towards the subject's left, `Y` towards the chin, and the front axis (`−Z`, the
    /// way the face looks). `None` when a point is behind the camera.
    pub fn axes(&self, camera: &Camera, length: f64) -> Option<[Point; 4]> {
        let o = MEAN_FACE_68[30].map(f64::from);
        let end = |d: [f64; 3]| self.project(camera, [o[0] + d[0], o[1] + d[1], o[2] + d[2]]);
        Some([
            self.project(camera, o)?,
            end([length, 0.0, 0.0])?,
            end([0.0, length, 0.0])?,
            end([0.0, 0.0, -length])?,
        ])
    }
}

/// `,yaw,pitch,roll` (degrees, 2 decimals) to append to a CSV row, `,,,` without a pose: the
/// pose columns of `facemark detect`'s CSV outputs.
pub fn csv_fields(pose: Option<&HeadPose>) -> String {
    match pose {
        Some(p) => format!(",{:.2},{:.2},{:.2}", p.yaw, p.pitch, p.roll),
        None => ",,,".into(),
    }
}

/// `R = Ry(−yaw) · Rx(−pitch) · Rz(roll)` (degrees), the module's convention.
fn angles_to_rotation(yaw: f64, pitch: f64, roll: f64) -> Rotation3<f64> {
    Rotation3::from_axis_angle(&Vector3::y_axis(), -yaw.to_radians())
        * Rotation3::from_axis_angle(&Vector3::x_axis(), -pitch.to_radians())
        * Rotation3::from_axis_angle(&Vector3::z_axis(), roll.to_radians())
}

/// `(yaw, pitch, roll)` in degrees of `R = Ry(a) · Rx(b) · Rz(c)`: with that product's middle
/// row `[cos b sin c, cos b cos c, −sin b]` and last column `[sin a cos b, −sin b, cos a cos b]`.
fn rotation_to_angles(r: &Matrix3<f64>) -> (f64, f64, f64) {
    let b = (-r[(1, 2)]).clamp(-1.0, 1.0).asin();
    let a = r[(0, 2)].atan2(r[(2, 2)]);
    let c = r[(1, 0)].atan2(r[(1, 1)]);
    (-a.to_degrees(), -b.to_degrees(), c.to_degrees())
}

/// Whether faces of `scheme` get a pose: there is a 3-D model for its points (iBUG 68 only).
pub fn has_model(scheme: &Scheme) -> bool {
    scheme.name == "ibug68" && scheme.len() == 68
}

/// The head pose of a face with the iBUG 68 points `points` (photo pixels) in a photo of
/// `width × height`, with [`Camera::for_image`] and [`MEAN_FACE_68`]. `None` for other schemes
/// (no 3-D model), or when the fit fails ([`estimate`]).
pub fn head_pose(points: &[Point], scheme: &Scheme, width: u32, height: u32) -> Option<HeadPose> {
    if !has_model(scheme) || points.len() != 68 {
        return None;
    }
    estimate(points, &MEAN_FACE_68, &Camera::for_image(width, height))
}

/// The pose that best projects `model` (3-D points, model frame) onto `points` (pixels, the
/// same order) through `camera`, by least squares on the reprojection error (see the module
/// doc for the method).
///
/// Points with a non-finite coordinate are left out. `None` when fewer than 6 points remain,
/// the lengths differ, or no pose puts the model in front of the camera.
pub fn estimate(points: &[Point], model: &[[f32; 3]], camera: &Camera) -> Option<HeadPose> {
    if points.len() != model.len() || camera.focal <= 0.0 || !camera.focal.is_finite() {
        return None;
    }
    let obs: Vec<(Vector3<f64>, [f64; 2])> = points
        .iter()
        .zip(model)
        .filter(|(p, _)| p[0].is_finite() && p[1].is_finite())
        .map(|(p, m)| {
            (
                Vector3::new(m[0] as f64, m[1] as f64, m[2] as f64),
                [
                    (p[0] as f64 - camera.cx) / camera.focal,
                    (p[1] as f64 - camera.cy) / camera.focal,
                ],
            )
        })
        .collect();
    if obs.len() < 6 {
        return None;
    }
    let weak = weak_perspective(&obs)?;
    let frontal = (Rotation3::identity(), frontal_translation(&obs, weak.1.z));
    let best = [weak, frontal]
        .into_iter()
        .filter_map(|init| refine(&obs, init))
        .min_by(|a, b| a.2.total_cmp(&b.2))?;
    let (r, t, cost) = best;
    let (yaw, pitch, roll) = rotation_to_angles(r.matrix());
    let v = r.scaled_axis();
    Some(HeadPose {
        yaw: yaw as f32,
        pitch: pitch as f32,
        roll: roll as f32,
        rotation: [v.x as f32, v.y as f32, v.z as f32],
        translation: [t.x as f32, t.y as f32, t.z as f32],
        rms_px: ((cost / obs.len() as f64).sqrt() * camera.focal) as f32,
    })
}

/// First pose from the scaled orthographic camera: the affine map `A` (2×3) from the centred
/// model to the centred normalised image points by least squares; its rows, made orthonormal,
/// are the rotation's first two rows, their mean length `1 / depth`.
fn weak_perspective(obs: &[(Vector3<f64>, [f64; 2])]) -> Option<(Rotation3<f64>, Vector3<f64>)> {
    let n = obs.len() as f64;
    let xm = obs.iter().map(|o| o.0).sum::<Vector3<f64>>() / n;
    let um = obs
        .iter()
        .fold([0.0; 2], |a, o| [a[0] + o.1[0] / n, a[1] + o.1[1] / n]);
    let mut xtx = Matrix3::zeros();
    let mut xtu = nalgebra::Matrix3x2::zeros();
    for (x, u) in obs {
        let d = x - xm;
        xtx += d * d.transpose();
        xtu += d * nalgebra::RowVector2::new(u[0] - um[0], u[1] - um[1]);
    }
    let a = xtx.try_inverse()? * xtu; // 3×2: columns are A's rows
    let (r1, r2) = (a.column(0).into_owned(), a.column(1).into_owned());
    let s = (r1.norm() + r2.norm()) * 0.5;
    if s <= 1e-12 || !s.is_finite() {
        return None;
    }
    let r3 = r1.cross(&r2);
    let m = Matrix3::from_rows(&[
        r1.transpose(),
        r2.transpose(),
        r3.normalize().transpose() * s,
    ]);
    let svd = (m / s).svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut rot = u * vt;
    if rot.determinant() < 0.0 {
        rot = u * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, -1.0)) * vt;
    }
    let rot = Rotation3::from_matrix_unchecked(rot);
    let depth = 1.0 / s;
    let c = rot * xm;
    Some((
        rot,
        Vector3::new(um[0] * depth - c.x, um[1] * depth - c.y, depth - c.z),
    ))
}

/// The translation that puts the frontal model's centroid on the image points' centroid at
/// `depth`.
fn frontal_translation(obs: &[(Vector3<f64>, [f64; 2])], depth: f64) -> Vector3<f64> {
    let n = obs.len() as f64;
    let xm = obs.iter().map(|o| o.0).sum::<Vector3<f64>>() / n;
    let um = obs
        .iter()
        .fold([0.0; 2], |a, o| [a[0] + o.1[0] / n, a[1] + o.1[1] / n]);
    Vector3::new(um[0] * depth - xm.x, um[1] * depth - xm.y, depth - xm.z)
}

/// Sum of squared normalised reprojection errors; `None` when a point is not in front.
fn cost(obs: &[(Vector3<f64>, [f64; 2])], r: &Rotation3<f64>, t: &Vector3<f64>) -> Option<f64> {
    let mut s = 0.0;
    for (x, u) in obs {
        let p = r * x + t;
        if p.z <= 1e-9 {
            return None;
        }
        s += (p.x / p.z - u[0]).powi(2) + (p.y / p.z - u[1]).powi(2);
    }
    Some(s)
}

/// Levenberg–Marquardt from `init`; the pose and its cost.
fn refine(
    obs: &[(Vector3<f64>, [f64; 2])],
    init: (Rotation3<f64>, Vector3<f64>),
) -> Option<(Rotation3<f64>, Vector3<f64>, f64)> {
    let (mut r, mut t) = init;
    let mut c = cost(obs, &r, &t)?;
    let mut lambda = 1e-3;
    for _ in 0..100 {
        let mut jtj = Matrix6::zeros();
        let mut jtr = Vector6::zeros();
        for (x, u) in obs {
            let rx = r * x;
            let p = rx + t;
            let iz = 1.0 / p.z;
            let res = [p.x * iz - u[0], p.y * iz - u[1]];
            // d(u, v)/dp, and dp/d(δ, t) = [−[Rx]× | I]
            let dp = [[iz, 0.0, -p.x * iz * iz], [0.0, iz, -p.y * iz * iz]];
            let skew = -rx.cross_matrix();
            for (k, d) in dp.iter().enumerate() {
                let dv = Vector3::new(d[0], d[1], d[2]);
                let jr = skew.transpose() * dv;
                let j = Vector6::new(jr.x, jr.y, jr.z, dv.x, dv.y, dv.z);
                jtj += j * j.transpose();
                jtr += j * res[k];
            }
        }
        let mut improved = false;
        while lambda < 1e10 {
            let mut a = jtj;
            for i in 0..6 {
                a[(i, i)] += lambda * (1.0 + jtj[(i, i)]);
            }
            let Some(step) = a.cholesky().map(|ch| ch.solve(&(-jtr))) else {
                lambda *= 10.0;
                continue;
            };
            let rn = Rotation3::new(Vector3::new(step[0], step[1], step[2])) * r;
            let tn = t + Vector3::new(step[3], step[4], step[5]);
            match cost(obs, &rn, &tn) {
                Some(cn) if cn < c => {
                    let small = c - cn <= 1e-12 * c.max(1e-300) || step.norm() < 1e-12;
                    r = rn;
                    t = tn;
                    c = cn;
                    lambda = (lambda * 0.1).max(1e-12);
                    improved = !small;
                    break;
                }
                _ => lambda *= 10.0,
            }
        }
        if !improved {
            break;
        }
    }
    Some((r, t, c))
}

#[cfg(test)]
mod tests;
