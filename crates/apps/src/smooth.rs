//! One Euro filter (Casiez, Roussel & Vogel, CHI 2012): an adaptive low-pass filter whose cutoff
//! rises with speed, so still points stop flickering and moving points do not lag.
//!
//! `cutoff = min_cutoff + beta · |speed|`, each coordinate filtered on its own. Here speed is
//! measured in *face sizes per second* (pixels per second divided by a scale the caller gives,
//! the eye distance for faces), so one set of parameters works for small and large faces.

use facemark_core::Point;

/// One Euro parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneEuroParams {
    /// Cutoff frequency at rest, Hz. Lower: steadier, more lag when slow.
    pub min_cutoff: f32,
    /// Cutoff increase per unit of speed (Hz per scale-unit/s). Higher: less lag when fast.
    pub beta: f32,
    /// Cutoff of the speed estimate's own low-pass, Hz.
    pub d_cutoff: f32,
}

impl Default for OneEuroParams {
    /// The default for a face's pose (see [`Smoothing`]).
    fn default() -> Self {
        OneEuroParams {
            min_cutoff: 1.0,
            beta: 2.0,
            d_cutoff: 1.0,
        }
    }
}

/// Smoothing settings of a tracked face: One Euro parameters for its pose and for its shape
/// (see [`FaceSmoother`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smoothing {
    /// For the head's rigid motion (translation, scale, rotation); default 1 Hz, β 2.
    pub pose: OneEuroParams,
    /// For the shape residuals in the mean-face frame (expressions); default 1 Hz, β 0.
    pub shape: OneEuroParams,
}

impl Default for Smoothing {
    /// Chosen with `examples/tune_smoothing.rs` on `short_hamilton_clip.mp4` (table in
    /// docs/readme/filters.md): pose 1 Hz / β 2, shape 1 Hz / β 0 — about 2.5× less
    /// frame-to-frame jerk for a mean offset under a tenth of the eye distance.
    fn default() -> Self {
        Smoothing {
            pose: OneEuroParams::default(),
            shape: OneEuroParams {
                min_cutoff: 1.0,
                beta: 0.0,
                d_cutoff: 1.0,
            },
        }
    }
}

fn alpha(cutoff: f32, dt: f32) -> f32 {
    let tau = 1.0 / (2.0 * std::f32::consts::PI * cutoff.max(1e-6));
    1.0 / (1.0 + tau / dt)
}

/// One Euro filter of a scalar signal.
#[derive(Debug, Clone)]
pub struct OneEuro {
    /// The filter's settings; changing them takes effect at the next sample.
    pub params: OneEuroParams,
    prev: Option<(f64, f32, f32)>, // (t, x̂, dx̂)
}

impl OneEuro {
    /// A filter that has seen no sample yet.
    pub fn new(params: OneEuroParams) -> Self {
        OneEuro { params, prev: None }
    }

    /// Filter sample `x` taken at time `t` seconds; `scale` (> 0) divides the speed before it
    /// raises the cutoff. The first sample passes through. Non-increasing `t` resets nothing and
    /// treats the step as 1 ms.
    pub fn filter(&mut self, x: f32, t: f64, scale: f32) -> f32 {
        let Some((tp, xp, dxp)) = self.prev else {
            self.prev = Some((t, x, 0.0));
            return x;
        };
        let dt = ((t - tp) as f32).max(1e-3);
        let dx = (x - xp) / dt;
        let dx_hat = dxp + alpha(self.params.d_cutoff, dt) * (dx - dxp);
        let speed = dx_hat.abs() / scale.max(1e-6);
        let cutoff = self.params.min_cutoff + self.params.beta * speed;
        let x_hat = xp + alpha(cutoff, dt) * (x - xp);
        self.prev = Some((t, x_hat, dx_hat));
        x_hat
    }

    /// Forget the history: the next sample passes through unfiltered (a track that restarts).
    pub fn reset(&mut self) {
        self.prev = None;
    }
}

/// One Euro filters for a set of points (x and y of each).
#[derive(Debug, Clone)]
pub struct PointSmoother {
    params: OneEuroParams,
    filters: Vec<[OneEuro; 2]>,
}

impl PointSmoother {
    /// Every coordinate of every point gets a One Euro filter with `params`; the number of
    /// points is taken from the first call to [`PointSmoother::filter`].
    pub fn new(params: OneEuroParams) -> Self {
        PointSmoother {
            params,
            filters: vec![],
        }
    }

    /// Smooth `points` (pixels) observed at `t` seconds; `scale` in pixels (eye distance).
    /// A change in the number of points restarts the filters.
    pub fn filter(&mut self, points: &[Point], t: f64, scale: f32) -> Vec<Point> {
        if self.filters.len() != points.len() {
            self.filters = (0..points.len())
                .map(|_| [OneEuro::new(self.params), OneEuro::new(self.params)])
                .collect();
        }
        points
            .iter()
            .zip(&mut self.filters)
            .map(|(p, f)| [f[0].filter(p[0], t, scale), f[1].filter(p[1], t, scale)])
            .collect()
    }
}

/// Smoother for 68-point faces that separates the head's rigid motion from the face's shape:
/// each frame's points are fitted with the similarity `T` from the mean face
/// ([`crate::points::MEAN_SHAPE_68`]); the four pose parameters of `T` (translation, and the
/// scaled cosine/sine) and the shape residuals `T⁻¹(p_i) − mean_i` are One Euro filtered
/// separately, then recomposed. The pose filter's speed is the whole head's speed, estimated
/// from all 68 points at once, so noise in single points neither raises the cutoff (as it does
/// in per-point filtering) nor leaks into the placement of overlays; the shape residuals, which
/// change slowly (expressions) and carry most of the landmark noise, get their own parameters.
#[derive(Debug, Clone)]
pub struct FaceSmoother {
    params: OneEuroParams,
    shape_params: OneEuroParams,
    pose: Vec<OneEuro>,
    shape: Vec<[OneEuro; 2]>,
    fallback: PointSmoother,
}

impl FaceSmoother {
    /// `params` for the pose, `shape_params` for the shape residuals.
    pub fn new(params: OneEuroParams, shape_params: OneEuroParams) -> Self {
        let sp = shape_params;
        FaceSmoother {
            params,
            shape_params,
            pose: (0..4).map(|_| OneEuro::new(params)).collect(),
            shape: (0..68)
                .map(|_| [OneEuro::new(sp), OneEuro::new(sp)])
                .collect(),
            fallback: PointSmoother::new(params),
        }
    }

    /// The shape residuals' parameters given to [`FaceSmoother::new`].
    pub fn shape_params(&self) -> OneEuroParams {
        self.shape_params
    }

    /// Smooth a face's points (pixels) observed at `t` seconds. Faces that are not 68-point
    /// (or degenerate) go through per-point One Euro filters, with `scale` as their speed unit.
    pub fn filter(&mut self, points: &[Point], t: f64, scale: f32) -> Vec<Point> {
        use crate::points::MEAN_SHAPE_68 as M;
        let fit = (points.len() == 68)
            .then(|| facemark_core::Affine2::similarity(&M, points))
            .flatten();
        let Some(tr) = fit else {
            return self.fallback.filter(points, t, scale);
        };
        let Some(inv) = tr.inverse() else {
            return self.fallback.filter(points, t, scale);
        };
        // pixels per mean-face unit (half the eye distance)
        let s = (tr.a * tr.a + tr.c * tr.c).sqrt().max(1e-3);
        let iod = 2.0 * s;
        let tx = self.pose[0].filter(tr.tx, t, iod);
        let ty = self.pose[1].filter(tr.ty, t, iod);
        let a = self.pose[2].filter(tr.a, t, s);
        let b = self.pose[3].filter(tr.c, t, s);
        let sm = facemark_core::Affine2 {
            a,
            b: -b,
            c: b,
            d: a,
            tx,
            ty,
        };
        points
            .iter()
            .zip(M.iter())
            .zip(self.shape.iter_mut())
            .map(|((p, m), f)| {
                let q = inv.apply(*p);
                // residual speed in eye distances: one unit is half of it
                let r = [
                    f[0].filter(q[0] - m[0], t, 2.0),
                    f[1].filter(q[1] - m[1], t, 2.0),
                ];
                sm.apply([m[0] + r[0], m[1] + r[1]])
            })
            .collect()
    }

    /// The pose parameters given to [`FaceSmoother::new`].
    pub fn params(&self) -> OneEuroParams {
        self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1] (xorshift), so the test needs no RNG crate.
    fn noise(n: usize) -> Vec<f32> {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn var(v: &[f32]) -> f32 {
        let m = v.iter().sum::<f32>() / v.len() as f32;
        v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32
    }

    #[test]
    fn reduces_variance_of_noisy_constant() {
        let mut f = OneEuro::new(OneEuroParams::default());
        let raw: Vec<f32> = noise(300).iter().map(|n| 100.0 + 2.0 * n).collect();
        let out: Vec<f32> = raw
            .iter()
            .enumerate()
            .map(|(i, x)| f.filter(*x, i as f64 / 30.0, 50.0))
            .collect();
        let (vr, vo) = (var(&raw[30..]), var(&out[30..]));
        assert!(vo < vr / 4.0, "variance {vr} → {vo}");
        let mean = out[30..].iter().sum::<f32>() / 270.0;
        assert!((mean - 100.0).abs() < 0.5, "unbiased: {mean}");
    }

    #[test]
    fn follows_a_step() {
        let mut f = OneEuro::new(OneEuroParams::default());
        let mut last = 0.0;
        for i in 0..60 {
            let x = if i < 30 { 0.0 } else { 50.0 };
            last = f.filter(x, i as f64 / 30.0, 50.0);
            if i == 36 {
                // 0.2 s after a one-face-size jump it has covered most of the way
                assert!(last > 40.0, "after 6 frames: {last}");
            }
        }
        assert!(
            (last - 50.0).abs() < 0.5,
            "settles on the new value: {last}"
        );
    }

    #[test]
    fn face_smoother_steadies_a_noisy_still_face_and_follows_a_moving_one() {
        use crate::points::{eye_distance, MEAN_SHAPE_68};
        let n = noise(68 * 2 * 120);
        let face = |i: usize, dx: f32| -> Vec<Point> {
            MEAN_SHAPE_68
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let o = (i * 68 + k) * 2;
                    [
                        200.0 + dx + 20.0 * p[0] + 1.5 * n[o],
                        150.0 + 20.0 * p[1] + 1.5 * n[o + 1],
                    ]
                })
                .collect()
        };
        let p = OneEuroParams::default();
        let mut fs = FaceSmoother::new(p, p);
        let mut raw_move = 0.0;
        let mut sm_move = 0.0;
        let mut prev: Option<(Vec<Point>, Vec<Point>)> = None;
        for i in 0..120 {
            let f = face(i, 0.0);
            let out = fs.filter(&f, i as f64 / 30.0, eye_distance(&f));
            if let Some((pr, ps)) = &prev {
                if i > 30 {
                    for k in 0..68 {
                        raw_move +=
                            ((f[k][0] - pr[k][0]).powi(2) + (f[k][1] - pr[k][1]).powi(2)).sqrt();
                        sm_move += ((out[k][0] - ps[k][0]).powi(2)
                            + (out[k][1] - ps[k][1]).powi(2))
                        .sqrt();
                    }
                }
            }
            prev = Some((f, out));
        }
        assert!(
            sm_move < raw_move / 3.0,
            "still face: {raw_move} → {sm_move}"
        );
        // a face sliding 4 px per frame: after a second the smoothed face trails by less than
        // one frame's movement
        let mut fs = FaceSmoother::new(p, p);
        let mut last = (vec![], vec![]);
        for i in 0..30 {
            let f = face(i, 4.0 * i as f32);
            last = (fs.filter(&f, i as f64 / 30.0, eye_distance(&f)), f);
        }
        let lag = last.0[30][0] - (200.0 + 4.0 * 29.0 + 20.0 * MEAN_SHAPE_68[30][0]);
        assert!(lag.abs() < 4.0, "lag {lag}");
    }

    #[test]
    fn higher_beta_lags_less_on_a_ramp() {
        let lag = |beta: f32| {
            let mut f = OneEuro::new(OneEuroParams {
                beta,
                ..OneEuroParams::default()
            });
            let mut l = 0.0;
            for i in 0..60 {
                let x = 3.0 * i as f32;
                l = x - f.filter(x, i as f64 / 30.0, 50.0);
            }
            l
        };
        assert!(lag(5.0) < lag(0.0) / 2.0, "{} vs {}", lag(5.0), lag(0.0));
    }
}
