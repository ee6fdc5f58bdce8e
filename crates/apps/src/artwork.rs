//! Built-in artwork: vector shapes drawn by facemark at run time with tiny-skia.
//!
//! Every piece is drawn in the *face frame* of [`crate::points::MEAN_SHAPE_68`] (eye centres at
//! `(∓1, 0)`, one unit = half the eye distance, y down) and has a list of anchors: landmark
//! references whose mean-face positions are the artwork's anchor points. Placement is the
//! least-squares similarity from those anchor points to the same references on the detected
//! face; the shapes are then rasterised *through* that transform (anti-aliased, sharp at any
//! size, no resampling of a bitmap) into a small premultiplied layer covering only the piece.

use crate::points::{PointRef, MEAN_SHAPE_68};
use facemark_core::{Affine2, Point};
use tiny_skia::{
    Color, FillRule, GradientStop, LineCap, LineJoin, LinearGradient, Paint, Path, PathBuilder,
    Pixmap, RadialGradient, Rect, Shader, SpreadMode, Stroke, Transform,
};

/// The built-in artwork effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Dark wrap-around sunglasses, placed on the two eye centres.
    Sunglasses,
    /// Round wire-rimmed glasses, placed on the two eye centres.
    RoundGlasses,
    /// A top hat on the head, placed from the eyes, brows and nose bridge.
    Hat,
    /// A moustache under the nose, placed from the nose base and the mouth.
    Moustache,
    /// Dog ears on the head and a dog's nose on the nose (two parts, each placed by its own
    /// landmarks).
    Dog,
}

impl Builtin {
    /// Every built-in effect, in the order the CLI lists them.
    pub const ALL: [Builtin; 5] = [
        Builtin::Sunglasses,
        Builtin::RoundGlasses,
        Builtin::Hat,
        Builtin::Moustache,
        Builtin::Dog,
    ];

    /// The CLI name.
    pub fn name(&self) -> &'static str {
        match self {
            Builtin::Sunglasses => "sunglasses",
            Builtin::RoundGlasses => "round-glasses",
            Builtin::Hat => "hat",
            Builtin::Moustache => "moustache",
            Builtin::Dog => "dog",
        }
    }

    /// The pieces this effect is made of (the dog has ears placed on the head and a nose on the
    /// nose, each with its own anchors).
    pub fn parts(&self) -> Vec<Part> {
        match self {
            Builtin::Sunglasses => vec![Part {
                anchors: eye_anchors(),
                bounds: [-2.45, -0.9, 2.45, 0.95],
                draw: draw_sunglasses,
            }],
            Builtin::RoundGlasses => vec![Part {
                anchors: eye_anchors(),
                bounds: [-2.45, -0.85, 2.45, 0.85],
                draw: draw_round_glasses,
            }],
            Builtin::Hat => vec![Part {
                anchors: head_anchors(),
                bounds: [-3.5, -6.1, 3.5, -1.45],
                draw: draw_hat,
            }],
            Builtin::Moustache => vec![Part {
                anchors: [30, 31, 32, 33, 34, 35, 48, 51, 54]
                    .into_iter()
                    .map(PointRef::Index)
                    .collect(),
                bounds: [-1.6, 1.3, 1.6, 2.25],
                draw: draw_moustache,
            }],
            Builtin::Dog => vec![
                Part {
                    anchors: head_anchors(),
                    bounds: [-3.4, -5.2, 3.4, -1.6],
                    draw: draw_dog_ears,
                },
                Part {
                    anchors: {
                        let mut a = eye_anchors();
                        a.extend([27, 28, 29, 30, 31, 32, 33, 34, 35].map(PointRef::Index));
                        a
                    },
                    bounds: [-0.75, 0.45, 0.75, 1.55],
                    draw: draw_dog_nose,
                },
            ],
        }
    }
}

fn eye_anchors() -> Vec<PointRef> {
    vec![
        PointRef::named("right_eye_center"),
        PointRef::named("left_eye_center"),
    ]
}

/// Rigid upper-face points (eyes, brows, nose line) for things worn on the head.
fn head_anchors() -> Vec<PointRef> {
    let mut a = eye_anchors();
    a.push(PointRef::named("right_eyebrow_center"));
    a.push(PointRef::named("left_eyebrow_center"));
    a.extend([27, 28, 29, 30].map(PointRef::Index));
    a
}

/// One piece of artwork: anchors, its extent in the face frame, and how to draw it.
pub struct Part {
    /// Landmark references; their positions on the mean face are the artwork's anchor points.
    pub anchors: Vec<PointRef>,
    /// `[x0, y0, x1, y1]` in face-frame units: everything drawn lies inside.
    pub bounds: [f32; 4],
    /// Draw into the pixmap through the face-frame → pixmap transform.
    pub draw: fn(&mut Pixmap, Transform),
}

impl Part {
    /// The artwork's anchor points (face frame).
    pub fn art_points(&self) -> Vec<Point> {
        self.anchors
            .iter()
            .map(|r| {
                r.resolve(&MEAN_SHAPE_68)
                    .expect("built-in anchors are valid")
            })
            .collect()
    }

    /// Face frame → image pixels for a face with 68 `landmarks` (least-squares similarity over
    /// the anchors). `None` when the anchors coincide (degenerate face).
    pub fn placement(&self, landmarks: &[Point]) -> Option<Affine2> {
        let to: Option<Vec<Point>> = self
            .anchors
            .iter()
            .map(|r| r.resolve(landmarks).ok())
            .collect();
        Affine2::similarity(&self.art_points(), &to?)
    }

    /// Rasterise through `art_to_image` into a transparent premultiplied layer covering the
    /// piece's bounds, clipped to a `frame_w × frame_h` frame. Returns the layer and its
    /// top-left position in the frame; `None` when the piece is entirely outside.
    pub fn render(
        &self,
        art_to_image: &Affine2,
        frame_w: u32,
        frame_h: u32,
    ) -> Option<(Pixmap, i32, i32)> {
        let [ix0, iy0, ix1, iy1] =
            crate::composite::footprint(self.bounds, art_to_image, frame_w, frame_h)?;
        let mut pm = Pixmap::new((ix1 - ix0) as u32, (iy1 - iy0) as u32)?;
        let t = Affine2::translate(-(ix0 as f32), -(iy0 as f32)).after(art_to_image);
        (self.draw)(&mut pm, to_skia(&t));
        Some((pm, ix0 as i32, iy0 as i32))
    }
}

/// `Affine2` (x' = a x + b y + tx, y' = c x + d y + ty) as a tiny-skia transform.
pub fn to_skia(t: &Affine2) -> Transform {
    Transform::from_row(t.a, t.c, t.b, t.d, t.tx, t.ty)
}

// ---- drawing helpers -------------------------------------------------------------------------

fn rgba(r: u8, g: u8, b: u8, a: u8) -> Color {
    Color::from_rgba8(r, g, b, a)
}

fn solid(c: Color) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(c);
    p.anti_alias = true;
    p
}

fn shaded(s: Shader<'static>) -> Paint<'static> {
    Paint {
        shader: s,
        anti_alias: true,
        ..Paint::default()
    }
}

fn linear(a: (f32, f32), b: (f32, f32), stops: &[(f32, Color)]) -> Shader<'static> {
    LinearGradient::new(
        tiny_skia::Point::from_xy(a.0, a.1),
        tiny_skia::Point::from_xy(b.0, b.1),
        stops
            .iter()
            .map(|(p, c)| GradientStop::new(*p, *c))
            .collect(),
        SpreadMode::Pad,
        Transform::identity(),
    )
    .unwrap_or(Shader::SolidColor(stops[0].1))
}

fn radial(c: (f32, f32), r: f32, stops: &[(f32, Color)]) -> Shader<'static> {
    RadialGradient::new(
        tiny_skia::Point::from_xy(c.0, c.1),
        tiny_skia::Point::from_xy(c.0, c.1),
        r,
        stops
            .iter()
            .map(|(p, c)| GradientStop::new(*p, *c))
            .collect(),
        SpreadMode::Pad,
        Transform::identity(),
    )
    .unwrap_or(Shader::SolidColor(stops[0].1))
}

fn build(f: impl FnOnce(&mut PathBuilder)) -> Option<Path> {
    let mut pb = PathBuilder::new();
    f(&mut pb);
    pb.finish()
}

fn fill(pm: &mut Pixmap, path: &Option<Path>, paint: &Paint, ts: Transform) {
    if let Some(p) = path {
        pm.fill_path(p, paint, FillRule::Winding, ts, None);
    }
}

fn stroke(pm: &mut Pixmap, path: &Option<Path>, c: Color, width: f32, ts: Transform) {
    if let Some(p) = path {
        let s = Stroke {
            width,
            line_cap: LineCap::Round,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        pm.stroke_path(p, &solid(c), &s, ts, None);
    }
}

fn oval(cx: f32, cy: f32, rx: f32, ry: f32) -> Option<Path> {
    PathBuilder::from_oval(Rect::from_xywh(cx - rx, cy - ry, 2.0 * rx, 2.0 * ry)?)
}

/// `ts` followed by a mirror about the face's vertical axis (draw the subject's right half
/// through it to get the left half).
fn mirrored(ts: Transform) -> Transform {
    ts.pre_scale(-1.0, 1.0)
}

// ---- the artwork -----------------------------------------------------------------------------

fn draw_sunglasses(pm: &mut Pixmap, ts: Transform) {
    // Wayfarer lens on the image-right side (x > 0), mirrored for the other eye.
    let lens = build(|p| {
        p.move_to(0.2, -0.44);
        p.line_to(1.9, -0.56);
        p.cubic_to(2.02, -0.5, 1.98, 0.05, 1.8, 0.36);
        p.cubic_to(1.58, 0.74, 0.62, 0.78, 0.38, 0.48);
        p.cubic_to(0.2, 0.26, 0.14, -0.2, 0.2, -0.44);
        p.close();
    });
    let glass = shaded(linear(
        (0.0, -0.55),
        (0.0, 0.75),
        &[(0.0, rgba(18, 18, 26, 240)), (1.0, rgba(62, 68, 92, 226))],
    ));
    let shine = build(|p| {
        p.move_to(0.62, -0.34);
        p.line_to(0.86, -0.35);
        p.line_to(0.58, 0.42);
        p.line_to(0.42, 0.36);
        p.close();
    });
    let bar = build(|p| {
        p.move_to(0.16, -0.46);
        p.line_to(1.95, -0.58);
    });
    let temple = build(|p| {
        p.move_to(1.9, -0.52);
        p.line_to(2.35, -0.46);
    });
    let black = rgba(12, 12, 14, 255);
    for t in [ts, mirrored(ts)] {
        fill(pm, &lens, &glass, t);
        fill(pm, &shine, &solid(rgba(255, 255, 255, 46)), t);
        stroke(pm, &lens, black, 0.13, t);
        stroke(pm, &bar, black, 0.2, t);
        stroke(pm, &temple, black, 0.15, t);
    }
    let bridge = build(|p| {
        p.move_to(0.2, -0.36);
        p.quad_to(0.0, -0.5, -0.2, -0.36);
    });
    stroke(pm, &bridge, black, 0.14, ts);
}

fn draw_round_glasses(pm: &mut Pixmap, ts: Transform) {
    let (cx, cy, r) = (1.0, 0.02, 0.66);
    let rim = PathBuilder::from_circle(cx, cy, r);
    let tint = shaded(radial(
        (cx - 0.2, cy - 0.2),
        r * 1.2,
        &[
            (0.0, rgba(200, 225, 255, 20)),
            (1.0, rgba(120, 160, 210, 60)),
        ],
    ));
    let gleam = build(|p| {
        p.move_to(cx - 0.42, cy - 0.3);
        p.quad_to(cx - 0.3, cy - 0.5, cx - 0.02, cy - 0.52);
    });
    let temple = build(|p| {
        p.move_to(cx + r, cy - 0.08);
        p.line_to(2.35, -0.12);
    });
    let frame = rgba(120, 78, 28, 255);
    for t in [ts, mirrored(ts)] {
        fill(pm, &rim, &tint, t);
        stroke(pm, &gleam, rgba(255, 255, 255, 150), 0.06, t);
        stroke(pm, &rim, frame, 0.1, t);
        stroke(pm, &rim, rgba(225, 180, 90, 255), 0.03, t);
        stroke(pm, &temple, frame, 0.09, t);
    }
    let bridge = build(|p| {
        p.move_to(cx - r, -0.1);
        p.quad_to(0.0, -0.42, -(cx - r), -0.1);
    });
    stroke(pm, &bridge, frame, 0.09, ts);
}

fn draw_hat(pm: &mut Pixmap, ts: Transform) {
    // A top hat: brim behind, crown with a red band in front. (Drawn at 1.15 × 1.1 and lowered
    // by 0.35 units after looking at it on HELEN faces: it sat too high and narrow.)
    let ts = ts.pre_translate(0.0, 0.35).pre_scale(1.15, 1.1);
    let brim = oval(0.0, -2.15, 2.8, 0.42);
    fill(
        pm,
        &brim,
        &shaded(linear(
            (0.0, -2.6),
            (0.0, -1.7),
            &[(0.0, rgba(48, 48, 56, 255)), (1.0, rgba(14, 14, 18, 255))],
        )),
        ts,
    );
    let crown = build(|p| {
        p.move_to(-1.8, -2.25);
        p.line_to(-1.95, -5.45);
        p.line_to(1.95, -5.45);
        p.line_to(1.8, -2.25);
        p.quad_to(0.0, -1.95, -1.8, -2.25);
        p.close();
    });
    let felt = shaded(linear(
        (-2.0, 0.0),
        (2.0, 0.0),
        &[
            (0.0, rgba(22, 22, 26, 255)),
            (0.35, rgba(70, 70, 82, 255)),
            (1.0, rgba(16, 16, 20, 255)),
        ],
    ));
    fill(pm, &crown, &felt, ts);
    let band = build(|p| {
        p.move_to(-1.8, -2.25);
        p.line_to(-1.85, -3.0);
        p.quad_to(0.0, -2.72, 1.85, -3.0);
        p.line_to(1.8, -2.25);
        p.quad_to(0.0, -1.95, -1.8, -2.25);
        p.close();
    });
    fill(
        pm,
        &band,
        &shaded(linear(
            (-2.0, 0.0),
            (2.0, 0.0),
            &[
                (0.0, rgba(120, 12, 22, 255)),
                (0.35, rgba(205, 40, 50, 255)),
                (1.0, rgba(110, 10, 20, 255)),
            ],
        )),
        ts,
    );
    let top = oval(0.0, -5.45, 1.95, 0.28);
    fill(pm, &top, &solid(rgba(40, 40, 48, 255)), ts);
    stroke(pm, &crown, rgba(8, 8, 10, 255), 0.05, ts);
}

fn draw_moustache(pm: &mut Pixmap, ts: Transform) {
    let half = build(|p| {
        p.move_to(0.0, 1.56);
        p.cubic_to(0.3, 1.44, 0.72, 1.54, 0.98, 1.76);
        p.cubic_to(1.12, 1.88, 1.3, 1.82, 1.36, 1.6);
        p.cubic_to(1.46, 1.96, 1.08, 2.1, 0.8, 2.0);
        p.cubic_to(0.5, 1.9, 0.2, 1.86, 0.0, 1.8);
        p.close();
    });
    let hair = shaded(linear(
        (0.0, 1.45),
        (0.0, 2.05),
        &[(0.0, rgba(92, 58, 34, 255)), (1.0, rgba(38, 22, 12, 255))],
    ));
    for t in [ts, mirrored(ts)] {
        fill(pm, &half, &hair, t);
        stroke(pm, &half, rgba(30, 16, 8, 255), 0.025, t);
    }
}

fn draw_dog_ears(pm: &mut Pixmap, ts: Transform) {
    let ear = build(|p| {
        p.move_to(0.75, -2.75);
        p.cubic_to(1.2, -4.1, 2.2, -4.95, 2.85, -4.55);
        p.cubic_to(3.25, -3.7, 2.95, -2.6, 2.35, -1.85);
        p.cubic_to(1.85, -2.15, 1.2, -2.5, 0.75, -2.75);
        p.close();
    });
    let inner = build(|p| {
        p.move_to(1.2, -2.75);
        p.cubic_to(1.5, -3.7, 2.2, -4.25, 2.6, -4.05);
        p.cubic_to(2.8, -3.4, 2.6, -2.7, 2.25, -2.25);
        p.cubic_to(1.9, -2.45, 1.5, -2.65, 1.2, -2.75);
        p.close();
    });
    let fur = shaded(linear(
        (0.8, -2.4),
        (2.8, -4.6),
        &[
            (0.0, rgba(120, 76, 40, 255)),
            (1.0, rgba(176, 118, 66, 255)),
        ],
    ));
    for t in [ts, mirrored(ts)] {
        fill(pm, &ear, &fur, t);
        fill(pm, &inner, &solid(rgba(236, 158, 168, 255)), t);
        stroke(pm, &ear, rgba(70, 42, 20, 255), 0.06, t);
    }
}

fn draw_dog_nose(pm: &mut Pixmap, ts: Transform) {
    let nose = build(|p| {
        p.move_to(-0.58, 0.86);
        p.cubic_to(-0.52, 0.5, 0.52, 0.5, 0.58, 0.86);
        p.cubic_to(0.62, 1.16, 0.22, 1.4, 0.0, 1.4);
        p.cubic_to(-0.22, 1.4, -0.62, 1.16, -0.58, 0.86);
        p.close();
    });
    fill(
        pm,
        &nose,
        &shaded(radial(
            (-0.1, 0.75),
            0.75,
            &[(0.0, rgba(78, 74, 78, 255)), (1.0, rgba(8, 8, 10, 255))],
        )),
        ts,
    );
    let gleam = oval(-0.16, 0.76, 0.17, 0.07);
    fill(pm, &gleam, &solid(rgba(255, 255, 255, 150)), ts);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_draws_inside_its_bounds() {
        // Render each piece at 40 px per unit; nothing may be cut by the layer's edge, i.e. the
        // outermost rows/columns (the 1-px safety margin) stay transparent.
        for b in Builtin::ALL {
            for part in b.parts() {
                let t = Affine2::scale(40.0, 40.0).followed_by(&Affine2::translate(400.0, 400.0));
                let (pm, _, _) = part.render(&t, 2000, 2000).unwrap();
                let (w, h) = (pm.width() as usize, pm.height() as usize);
                let a = |x: usize, y: usize| pm.data()[(y * w + x) * 4 + 3];
                let edge_alpha: u32 = (0..w)
                    .map(|x| a(x, 0) as u32 + a(x, h - 1) as u32)
                    .chain((0..h).map(|y| a(0, y) as u32 + a(w - 1, y) as u32))
                    .sum();
                let total: u64 = pm.data().chunks(4).map(|p| p[3] as u64).sum();
                assert_eq!(edge_alpha, 0, "{} drawn outside its bounds", b.name());
                assert!(total > 0, "{} drew nothing", b.name());
            }
        }
    }
}
