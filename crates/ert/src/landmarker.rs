//! Faces given as facemark *landmark boxes* (the tight box around a face's points, what
//! facemark's calibrations, tracking and evaluation hand a [`Landmarker`]) to the dlib
//! rectangle the predictor was trained on, and back.
//!
//! The conversion uses the predictor's own mean shape: its initial shape's bounding box in the
//! unit square, `[u0, u1] × [v0, v1]`, is where a face's points land, on average, inside the
//! face rectangle. So the rectangle for a landmark box `(x, y, w, h)` is the one in which that
//! mean box fills the landmark box exactly: `right − left = w / (u1 − u0)` and `left = x − 0.5
//! − (right − left)·u0` (the 0.5: dlib puts pixel centres at whole numbers, facemark at +0.5),
//! likewise in y. A rectangle from dlib's own face detector (or given with `--box`) goes to the
//! predictor as it is, with no conversion.
//!
//! A *refinement cascade* (trained with starting shapes from another landmarker,
//! `facemark train --arch ert --init MODEL`) works on other terms: its rectangle is the box
//! around the points it starts from ([`rect_of_box`]), and it starts from those points
//! ([`ShapePredictor::refine_points`], [`Refined`]).

use crate::model::ShapePredictor;
use crate::predict::{DlibRect, Scratch};
use facemark_core::{BoxF, Landmarker, Point, Scheme};
use image::GrayImage;

impl ShapePredictor {
    /// The initial shape's bounding box in the unit square of the face rectangle,
    /// `[u0, v0, u1, v1]`.
    pub fn mean_box(&self) -> [f64; 4] {
        self.mean_box
    }

    fn mean_extent(&self) -> (f64, f64) {
        let [u0, v0, u1, v1] = self.mean_box;
        // A model whose points all share an x (or a y) has no extent there: take the unit
        // square's.
        let ex = if u1 - u0 > 1e-6 { u1 - u0 } else { 1.0 };
        let ey = if v1 - v0 > 1e-6 { v1 - v0 } else { 1.0 };
        (ex, ey)
    }

    /// The face rectangle (dlib's convention) in which the mean shape's box is the landmark
    /// box `b` (facemark's convention, pixels).
    pub fn rect_for_landmark_box(&self, b: &BoxF) -> DlibRect {
        let [u0, v0, _, _] = self.mean_box;
        let (ex, ey) = self.mean_extent();
        let sx = b.w as f64 / ex;
        let sy = b.h as f64 / ey;
        let left = b.x as f64 - 0.5 - sx * u0;
        let top = b.y as f64 - 0.5 - sy * v0;
        DlibRect::new(left, top, left + sx, top + sy)
    }

    /// The landmark box (facemark's convention) of the mean shape placed in the rectangle `r`:
    /// the inverse of [`ShapePredictor::rect_for_landmark_box`].
    pub fn landmark_box_for_rect(&self, r: &DlibRect) -> BoxF {
        let [u0, v0, _, _] = self.mean_box;
        let (ex, ey) = self.mean_extent();
        let sx = r.right - r.left;
        let sy = r.bottom - r.top;
        BoxF::new(
            (r.left + sx * u0 + 0.5) as f32,
            (r.top + sy * v0 + 0.5) as f32,
            (sx * ex) as f32,
            (sy * ey) as f32,
        )
    }

    /// The points for the face in the rectangle `r`, in facemark's convention (dlib's
    /// coordinates + 0.5), reusing `scratch`.
    pub fn points_in_rect(
        &self,
        image: &GrayImage,
        r: &DlibRect,
        scratch: &mut Scratch,
    ) -> Vec<Point> {
        to_points(r, self.predict_normalized(image, r, scratch))
    }
}

/// A shape in the unit square of `r` as points in facemark's convention (dlib's image
/// coordinates + 0.5).
fn to_points(r: &DlibRect, shape: &[f32]) -> Vec<Point> {
    shape
        .chunks_exact(2)
        .map(|p| {
            let q = r.unnormalize([p[0], p[1]]);
            [(q[0] + 0.5) as f32, (q[1] + 0.5) as f32]
        })
        .collect()
}

/// A landmark box (facemark's convention: pixel centres at +0.5) as the dlib rectangle with the
/// same extent: `(x − 0.5, y − 0.5, x + w − 0.5, y + h − 0.5)`. The rectangle a face's points
/// are normalised into when a cascade is trained on landmark boxes (`facemark train --arch
/// ert`), and that of a refinement cascade's starting points.
pub fn rect_of_box(b: &BoxF) -> DlibRect {
    let (x, y) = (b.x as f64 - 0.5, b.y as f64 - 0.5);
    DlibRect::new(x, y, x + b.w as f64, y + b.h as f64)
}

/// The landmark box with the same extent as `r`: the inverse of [`rect_of_box`].
pub fn box_of_rect(r: &DlibRect) -> BoxF {
    BoxF::new(
        (r.left + 0.5) as f32,
        (r.top + 0.5) as f32,
        (r.right - r.left) as f32,
        (r.bottom - r.top) as f32,
    )
}

impl ShapePredictor {
    /// Runs the cascade from `points` (facemark's convention, pixels) in the rectangle of the
    /// box around them ([`rect_of_box`]): the refinement a cascade trained from another
    /// landmarker's points performs. Returns the refined points (same convention), or
    /// `points` unchanged when their box is degenerate (under a pixel wide or high) or their
    /// count is not the predictor's.
    pub fn refine_points(
        &self,
        image: &GrayImage,
        points: &[Point],
        scratch: &mut Scratch,
    ) -> Vec<Point> {
        let Some(b) = BoxF::around(points).filter(|b| b.w >= 1.0 && b.h >= 1.0) else {
            return points.to_vec();
        };
        if points.len() != self.num_parts() {
            return points.to_vec();
        }
        let r = rect_of_box(&b);
        let start: Vec<f32> = points
            .iter()
            .flat_map(|p| r.normalize([p[0] as f64 - 0.5, p[1] as f64 - 0.5]))
            .collect();
        to_points(&r, self.predict_normalized_from(image, &r, &start, scratch))
    }
}

/// `points` (pixels of `image`) refined by `cascade` when there is one
/// ([`ShapePredictor::refine_points`]), unchanged without: the last stage of a model that may
/// carry a refinement cascade.
pub fn refine_if(
    cascade: Option<&ShapePredictor>,
    image: &GrayImage,
    points: Vec<Point>,
) -> Vec<Point> {
    match cascade {
        Some(c) => c.refine_points(image, &points, &mut Scratch::default()),
        None => points,
    }
}

/// A landmarker followed by a refinement cascade: `refiner` run from `first`'s points
/// ([`ShapePredictor::refine_points`]). For evaluating and running a cascade trained with
/// `facemark train --arch ert --init MODEL` on that model's points.
pub struct Refined<'a, L: Landmarker + ?Sized> {
    /// The landmarker whose points the cascade starts from.
    pub first: &'a L,
    /// The refinement cascade (the same point count as `first`).
    pub refiner: &'a ShapePredictor,
}

impl<L: Landmarker + ?Sized> Landmarker for Refined<'_, L> {
    fn scheme(&self) -> &Scheme {
        self.first.scheme()
    }
    fn landmarks(&self, image: &GrayImage, face_box: &BoxF) -> Vec<Point> {
        let points = self.first.landmarks(image, face_box);
        self.refiner
            .refine_points(image, &points, &mut Scratch::default())
    }
}

/// Runs the predictor on the rectangle [`ShapePredictor::rect_for_landmark_box`] gives for the
/// landmark box; points in facemark's convention (pixel centres at +0.5).
impl Landmarker for ShapePredictor {
    fn scheme(&self) -> &Scheme {
        &self.scheme
    }
    fn landmarks(&self, image: &GrayImage, face_box: &BoxF) -> Vec<Point> {
        let r = self.rect_for_landmark_box(face_box);
        self.points_in_rect(image, &r, &mut Scratch::default())
    }
}
