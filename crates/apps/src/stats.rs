//! Jitter measurement on tracked landmarks.
//!
//! *Normalised mean flicker*: for every track present in two consecutive frames, the mean over
//! its points of `|p_t − p_{t−1}|`, divided by the eye distance at `t`; averaged over all such
//! pairs. It counts real motion too, so it is also given for the second difference
//! (*jerk*: `|p_t − 2 p_{t−1} + p_{t−2}|` / eye distance), which smooth motion barely affects and
//! frame-to-frame jitter dominates. Raw and smoothed points are measured in the same run (tracking
//! uses raw points either way, so the raw figures are those of a run without smoothing).
//! *Lag*: mean `|smoothed − raw|` / eye distance.

use crate::points::eye_distance;
use crate::track::TrackedFace;
use facemark_core::Point;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Default)]
struct Acc {
    sum: f64,
    n: u64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
    }
    fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum / self.n as f64
        }
    }
}

/// Per track: the last two (raw, smoothed) point sets, oldest first.
type History = HashMap<u64, Vec<(Vec<Point>, Vec<Point>)>>;

/// Accumulates flicker over a run; feed every frame's faces in order
/// ([`FlickerMeter::add_frame`]), then read [`FlickerMeter::report`].
#[derive(Default)]
pub struct FlickerMeter {
    /// per track id: last two (raw, smoothed) point sets
    history: History,
    flicker_raw: Acc,
    flicker_smooth: Acc,
    jerk_raw: Acc,
    jerk_smooth: Acc,
    lag: Acc,
    face_frames: u64,
    frames: u64,
}

/// The measured figures (all normalised by the eye distance; NaN when nothing was measured).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FlickerReport {
    /// Frames given to the meter.
    pub frames: u64,
    /// Faces summed over frames.
    pub face_frames: u64,
    /// Consecutive-frame pairs of one track that were measured.
    pub pairs: u64,
    /// Mean `|p_t − p_{t−1}|` of the detector's raw points, in eye distances.
    pub flicker_raw: f64,
    /// The same of the smoothed points (what is drawn).
    pub flicker_smoothed: f64,
    /// Mean second difference `|p_t − 2 p_{t−1} + p_{t−2}|` of the raw points, in eye distances.
    pub jerk_raw: f64,
    /// The same of the smoothed points.
    pub jerk_smoothed: f64,
    /// Mean `|smoothed − raw|`, in eye distances: what the smoothing costs in lag.
    pub lag: f64,
}

fn mean_dist(a: &[Point], b: &[Point]) -> f64 {
    let s: f64 = a
        .iter()
        .zip(b)
        .map(|(p, q)| (((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)) as f64).sqrt())
        .sum();
    s / a.len().max(1) as f64
}

fn mean_second_diff(a: &[Point], b: &[Point], c: &[Point]) -> f64 {
    let s: f64 = a
        .iter()
        .zip(b)
        .zip(c)
        .map(|((p, q), r)| {
            let dx = p[0] - 2.0 * q[0] + r[0];
            let dy = p[1] - 2.0 * q[1] + r[1];
            ((dx * dx + dy * dy) as f64).sqrt()
        })
        .sum();
    s / a.len().max(1) as f64
}

impl FlickerMeter {
    /// A meter that has seen no frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one frame's faces (68-point faces only; others are counted but not measured).
    pub fn add_frame(&mut self, faces: &[TrackedFace]) {
        self.frames += 1;
        let mut next = History::new();
        for f in faces {
            self.face_frames += 1;
            if f.raw.len() != 68 {
                continue;
            }
            let iod = eye_distance(&f.raw) as f64;
            if iod.is_nan() || iod <= 1.0 {
                continue;
            }
            self.lag.add(mean_dist(&f.points, &f.raw) / iod);
            let mut h = self.history.remove(&f.id).unwrap_or_default();
            if let Some((r1, s1)) = h.last() {
                self.flicker_raw.add(mean_dist(&f.raw, r1) / iod);
                self.flicker_smooth.add(mean_dist(&f.points, s1) / iod);
                if h.len() >= 2 {
                    let (r2, s2) = &h[h.len() - 2];
                    self.jerk_raw.add(mean_second_diff(&f.raw, r1, r2) / iod);
                    self.jerk_smooth
                        .add(mean_second_diff(&f.points, s1, s2) / iod);
                }
            }
            h.push((f.raw.clone(), f.points.clone()));
            if h.len() > 2 {
                h.remove(0);
            }
            next.insert(f.id, h);
        }
        // tracks absent this frame lose their history (a gap breaks the pair)
        self.history = next;
    }

    /// The figures so far (NaN for a figure with nothing measured).
    pub fn report(&self) -> FlickerReport {
        FlickerReport {
            frames: self.frames,
            face_frames: self.face_frames,
            pairs: self.flicker_raw.n,
            flicker_raw: self.flicker_raw.mean(),
            flicker_smoothed: self.flicker_smooth.mean(),
            jerk_raw: self.jerk_raw.mean(),
            jerk_smoothed: self.jerk_smooth.mean(),
            lag: self.lag.mean(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::MEAN_SHAPE_68;
    use facemark_core::BoxF;

    fn tf(id: u64, dx: f32, jitter: f32) -> TrackedFace {
        let raw: Vec<Point> = MEAN_SHAPE_68
            .iter()
            .map(|p| [100.0 + dx + p[0] * 10.0 + jitter, 100.0 + p[1] * 10.0])
            .collect();
        TrackedFace {
            id,
            points: raw.clone(),
            bbox: BoxF::around(&raw).unwrap(),
            raw,
            age: 1,
        }
    }

    #[test]
    fn flicker_is_movement_over_eye_distance() {
        let mut m = FlickerMeter::new();
        // eye distance 20 px; moves 2 px per frame → 0.1; constant speed → jerk 0
        for i in 0..5 {
            m.add_frame(&[tf(1, 2.0 * i as f32, 0.0)]);
        }
        let r = m.report();
        assert_eq!(r.pairs, 4);
        assert!((r.flicker_raw - 0.1).abs() < 1e-4, "{r:?}");
        assert!(r.jerk_raw.abs() < 1e-4);
        // alternating ±1 px jitter: flicker 2/20, jerk 4/20
        let mut m = FlickerMeter::new();
        for i in 0..5 {
            m.add_frame(&[tf(7, 0.0, if i % 2 == 0 { 1.0 } else { -1.0 })]);
        }
        let r = m.report();
        assert!(
            (r.flicker_raw - 0.1).abs() < 1e-4 && (r.jerk_raw - 0.2).abs() < 1e-4,
            "{r:?}"
        );
    }
}
