//! Face filters: built-in vector artwork, user PNG overlays and privacy effects, applied to
//! every face of an RGB image given its 68 iBUG landmarks (pixels, `[x, y]`).
//!
//! ```no_run
//! use facemark_apps::filters::Filter;
//! # let mut img = image::RgbImage::new(8, 8); let faces: Vec<Vec<[f32; 2]>> = vec![];
//! let filter = Filter::by_name("sunglasses").unwrap();
//! filter.apply(&mut img, &faces).unwrap();
//! ```

use crate::artwork::Builtin;
use crate::composite::{over, LayerRef};
use crate::error::FilterError;
use crate::overlay::Overlay;
use crate::points::IBUG68;
use crate::privacy::{self, Privacy};
use facemark_core::Point;
use image::RgbImage;
use std::path::Path;

/// Names accepted by [`Filter::by_name`].
pub const EFFECT_NAMES: [&str; 7] = [
    "sunglasses",
    "round-glasses",
    "hat",
    "moustache",
    "dog",
    "blur",
    "pixelate",
];

/// What a filter draws.
pub enum Effect {
    /// Vector artwork drawn at the face's scale and angle ([`crate::artwork`]).
    Builtin(Builtin),
    /// Blur or pixelate the face's region ([`crate::privacy`]).
    Privacy(Privacy),
    /// A user PNG placed by its anchors ([`crate::overlay`]); boxed, it holds a pyramid of images.
    Overlay(Box<Overlay>),
}

/// A ready-to-apply filter.
pub struct Filter {
    /// What is drawn on each face.
    pub effect: Effect,
    /// Blend in linear light (default `true`); see [`crate::composite`].
    pub gamma: bool,
}

impl Filter {
    /// A filter with the default blending (linear light).
    pub fn new(effect: Effect) -> Filter {
        Filter {
            effect,
            gamma: true,
        }
    }

    /// A built-in effect by its CLI name ([`EFFECT_NAMES`]).
    pub fn by_name(name: &str) -> Result<Filter, FilterError> {
        let effect = match name {
            "blur" => Effect::Privacy(Privacy::Blur),
            "pixelate" => Effect::Privacy(Privacy::Pixelate),
            _ => Effect::Builtin(
                Builtin::ALL
                    .into_iter()
                    .find(|b| b.name() == name)
                    .ok_or_else(|| FilterError::UnknownEffect {
                        name: name.to_string(),
                        known: EFFECT_NAMES.join(", "),
                    })?,
            ),
        };
        Ok(Filter::new(effect))
    }

    /// A user overlay PNG with an anchor file (or lens detection for glasses when `None`).
    pub fn overlay(png: &Path, anchors: Option<&Path>) -> Result<Filter, FilterError> {
        Ok(Filter::new(Effect::Overlay(Box::new(Overlay::load(
            png, anchors,
        )?))))
    }

    /// Apply to every face. Each face is 68 landmarks; faces whose points are not all finite are
    /// skipped; a face with another point count is an error.
    pub fn apply(&self, img: &mut RgbImage, faces: &[Vec<Point>]) -> Result<(), FilterError> {
        for f in faces {
            if f.len() != IBUG68 {
                return Err(FilterError::WrongScheme { got: f.len() });
            }
        }
        for f in faces {
            if f.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
                continue;
            }
            self.apply_one(img, f)?;
        }
        Ok(())
    }

    fn apply_one(&self, img: &mut RgbImage, pts: &[Point]) -> Result<(), FilterError> {
        let (w, h) = (img.width(), img.height());
        match &self.effect {
            Effect::Privacy(p) => privacy::apply(img, pts, *p),
            Effect::Overlay(o) => o.apply(img, pts, self.gamma)?,
            Effect::Builtin(b) => {
                for part in b.parts() {
                    let Some(t) = part.placement(pts) else {
                        continue;
                    };
                    if let Some((pm, x, y)) = part.render(&t, w, h) {
                        over(
                            img,
                            &LayerRef {
                                data: pm.data(),
                                width: pm.width(),
                                height: pm.height(),
                                x,
                                y,
                            },
                            self.gamma,
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::{eye_centers, MEAN_SHAPE_68};
    use facemark_core::Affine2;

    fn face(t: &Affine2) -> Vec<Point> {
        MEAN_SHAPE_68.iter().map(|p| t.apply(*p)).collect()
    }

    #[test]
    fn sunglasses_cover_both_eyes_of_a_tilted_face_and_not_the_mouth() {
        let t = Affine2::scale(20.0, 20.0)
            .followed_by(&Affine2::rotate(0.5))
            .followed_by(&Affine2::translate(100.0, 90.0));
        let pts = face(&t);
        let mut img = RgbImage::from_pixel(200, 200, image::Rgb([230, 230, 230]));
        Filter::by_name("sunglasses")
            .unwrap()
            .apply(&mut img, std::slice::from_ref(&pts))
            .unwrap();
        let (r, l) = eye_centers(&pts);
        for e in [r, l] {
            let p = img.get_pixel(e[0] as u32, e[1] as u32).0;
            assert!(p[0] < 100, "lens dark at eye {e:?}: {p:?}");
        }
        let m = pts[57];
        assert_eq!(img.get_pixel(m[0] as u32, m[1] as u32).0, [230; 3]);
    }

    #[test]
    fn every_effect_on_every_face_and_at_borders() {
        let faces: Vec<Vec<Point>> = [(30.0, 80.0, 0.0), (150.0, 120.0, -0.3), (195.0, 70.0, 0.2)]
            .iter()
            .map(|&(x, y, a)| {
                face(
                    &Affine2::scale(12.0, 12.0)
                        .followed_by(&Affine2::rotate(a))
                        .followed_by(&Affine2::translate(x, y)),
                )
            })
            .collect();
        for name in EFFECT_NAMES {
            let base = RgbImage::from_fn(200, 160, |x, y| {
                image::Rgb([(x % 200) as u8, (y % 160) as u8, 128])
            });
            let f = Filter::by_name(name).unwrap();
            for (i, pts) in faces.iter().enumerate() {
                let mut one = base.clone();
                f.apply(&mut one, std::slice::from_ref(pts)).unwrap();
                assert!(one != base, "{name} changed nothing on face {i}");
            }
        }
        assert!(Filter::by_name("monocle").is_err());
        let mut img = RgbImage::new(10, 10);
        let e = Filter::by_name("hat")
            .unwrap()
            .apply(&mut img, &[vec![[0.0, 0.0]; 15]]);
        assert!(matches!(e, Err(FilterError::WrongScheme { got: 15 })));
    }

    #[test]
    fn hat_sits_above_the_brows() {
        let pts = face(&Affine2::scale(15.0, 15.0).followed_by(&Affine2::translate(100.0, 120.0)));
        let mut img = RgbImage::from_pixel(200, 200, image::Rgb([255, 255, 255]));
        Filter::by_name("hat")
            .unwrap()
            .apply(&mut img, std::slice::from_ref(&pts))
            .unwrap();
        let brow_y = pts[19][1].min(pts[24][1]);
        let mut changed_rows =
            (0..200).filter(|&y| (0..200).any(|x| img.get_pixel(x, y).0 != [255; 3]));
        let lowest = changed_rows.next_back().unwrap();
        assert!(
            (lowest as f32) < brow_y,
            "hat reaches row {lowest}, brows at {brow_y}"
        );
    }
}
