//! The trivial landmark baseline: the scheme's mean shape placed in the face box.

use facemark_core::{BoxF, Landmarker, Point};
use image::GrayImage;

/// The trivial baseline every model must beat: the scheme's mean shape
/// ([`facemark_core::Scheme::mean_shape`]) placed in the given landmark box (its own tight box
/// centred on the box's centre and scaled to the box's longer side).
#[derive(Debug, Clone)]
pub struct MeanShape {
    scheme: facemark_core::Scheme,
    /// Mean shape with its tight box centred on 0 and longer side 1.
    shape: Vec<Point>,
}

impl MeanShape {
    /// `None` when the scheme has no known mean shape.
    pub fn new(scheme: facemark_core::Scheme) -> Option<MeanShape> {
        let m = scheme.mean_shape()?;
        let b = BoxF::around(&m)?;
        let side = b.w.max(b.h);
        if side <= 0.0 || m.len() != scheme.len() {
            return None;
        }
        let [cx, cy] = b.center();
        let shape = m
            .iter()
            .map(|p| [(p[0] - cx) / side, (p[1] - cy) / side])
            .collect();
        Some(MeanShape { scheme, shape })
    }
}

impl Landmarker for MeanShape {
    fn scheme(&self) -> &facemark_core::Scheme {
        &self.scheme
    }
    fn landmarks(&self, _image: &GrayImage, face_box: &BoxF) -> Vec<Point> {
        let [cx, cy] = face_box.center();
        let s = face_box.w.max(face_box.h);
        self.shape
            .iter()
            .map(|p| [cx + p[0] * s, cy + p[1] * s])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{evaluate, EvalOptions};
    use facemark_core::{Sample, Scheme};

    #[test]
    fn mean_shape_fills_the_box() {
        let m = MeanShape::new(Scheme::ibug68()).unwrap();
        let b = BoxF::new(10.0, 20.0, 100.0, 80.0);
        let p = m.landmarks(&GrayImage::new(1, 1), &b);
        let got = BoxF::around(&p).unwrap();
        assert!((got.center()[0] - 60.0).abs() < 1e-3 && (got.center()[1] - 60.0).abs() < 1e-3);
        assert!((got.w.max(got.h) - 100.0).abs() < 1e-3);
        assert!(MeanShape::new(Scheme::generic(3)).is_none());
    }

    /// The mean-shape baseline on real 300-W HELEN faces: its NME is a floor for "learned
    /// something" (printed; run with --nocapture).
    #[test]
    fn mean_shape_baseline_on_real_faces() {
        let Some(root) = facemark_core::testdata::shared_data() else {
            return;
        };
        let dir = root.join("300w-helen-train");
        let samples = facemark_formats::load_any(&dir).unwrap();
        let samples: Vec<Sample> = samples.into_iter().take(200).collect();
        let lm = MeanShape::new(Scheme::ibug68()).unwrap();
        let r = evaluate(&lm, &samples, &EvalOptions::default()).unwrap();
        println!("mean shape on 200 300-W HELEN faces:\n{}", r.summary_text());
        let nme = r.nme_outer.unwrap().mean;
        assert!(nme > 0.02 && nme < 0.3, "mean-shape NME {nme}");
        assert_eq!(r.n_faces, 200);
    }
}
