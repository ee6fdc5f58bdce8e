//! Mapping a face detector's box to the *landmark box* the landmark model was trained on.
//!
//! Detectors frame faces their own way (a Haar box is square, from brows to chin; SeetaFace's
//! is tighter), while the model crops around the tight box of the 68 landmarks
//! ([`facemark_core::CropSpec`]). A [`BoxCalibration`] is the median relation between the two,
//! measured on annotated photos by `facemark calibrate`, and kept per detector.

use facemark_core::BoxF;
use serde::{Deserialize, Serialize};

/// Landmark box from a detector box `d`: centre `d.centre + (dx·d.w, dy·d.h)`, size
/// `(sw·d.w, sh·d.h)`. All factors are unitless (fractions of the detector box).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxCalibration {
    /// Horizontal shift of the centre, as a fraction of the detector box's width.
    pub dx: f32,
    /// Vertical shift of the centre, as a fraction of the detector box's height.
    pub dy: f32,
    /// Landmark box width over detector box width.
    pub sw: f32,
    /// Landmark box height over detector box height.
    pub sh: f32,
    /// How many detector/annotation pairs the medians came from (0: not measured).
    #[serde(default)]
    pub pairs: usize,
}

impl Default for BoxCalibration {
    /// Identity: the detector box is taken as the landmark box.
    fn default() -> Self {
        BoxCalibration {
            dx: 0.0,
            dy: 0.0,
            sw: 1.0,
            sh: 1.0,
            pairs: 0,
        }
    }
}

impl BoxCalibration {
    /// The landmark box for detector box `d` (see the type's formula).
    pub fn apply(&self, d: &BoxF) -> BoxF {
        let [cx, cy] = d.center();
        let (w, h) = (d.w * self.sw, d.h * self.sh);
        let (cx, cy) = (cx + self.dx * d.w, cy + self.dy * d.h);
        BoxF::new(cx - w * 0.5, cy - h * 0.5, w, h)
    }

    /// The median relation over `(detector box, landmark box)` pairs. `None` when empty.
    pub fn fit(pairs: &[(BoxF, BoxF)]) -> Option<BoxCalibration> {
        if pairs.is_empty() {
            return None;
        }
        let median = |mut v: Vec<f32>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let col = |f: &dyn Fn(&BoxF, &BoxF) -> f32| {
            pairs.iter().map(|(d, l)| f(d, l)).collect::<Vec<_>>()
        };
        Some(BoxCalibration {
            dx: median(col(&|d, l| (l.center()[0] - d.center()[0]) / d.w)),
            dy: median(col(&|d, l| (l.center()[1] - d.center()[1]) / d.h)),
            sw: median(col(&|d, l| l.w / d.w)),
            sh: median(col(&|d, l| l.h / d.h)),
            pairs: pairs.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_consistent_relation() {
        let truth = BoxCalibration {
            dx: 0.05,
            dy: 0.1,
            sw: 0.9,
            sh: 1.1,
            pairs: 0,
        };
        let pairs: Vec<_> = (0..9)
            .map(|i| {
                let d = BoxF::new(10.0 * i as f32, 5.0, 50.0 + i as f32, 50.0 + i as f32);
                (d, truth.apply(&d))
            })
            .collect();
        let fit = BoxCalibration::fit(&pairs).unwrap();
        assert!((fit.dx - 0.05).abs() < 1e-4 && (fit.dy - 0.1).abs() < 1e-4);
        assert!((fit.sw - 0.9).abs() < 1e-4 && (fit.sh - 1.1).abs() < 1e-4);
        assert_eq!(fit.pairs, 9);
    }
}
