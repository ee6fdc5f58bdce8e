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
    /// Tuned on `short_hamilton_clip.mp4` (see docs/readme/filters.md).
    fn default() -> Self {
        OneEuroParams {
            min_cutoff: 1.0,
            beta: 2.0,
            d_cutoff: 1.0,
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
    pub params: OneEuroParams,
    prev: Option<(f64, f32, f32)>, // (t, x̂, dx̂)
}

impl OneEuro {
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
