//! Cost of placing built-in artwork on one face: vector shapes rasterised through the face's
//! transform (what facemark does) vs. a sprite rasterised once and warped bilinearly
//! (`facemark_core::geometry::warp_rgba` on premultiplied pixels), both composited the same way.
//!
//! `cargo run --release -p facemark-apps --example render_speed`

use facemark_apps::artwork::Builtin;
use facemark_apps::composite::{over, LayerRef};
use facemark_core::Affine2;
use std::time::Instant;

fn main() {
    let mut frame = image::RgbImage::from_pixel(640, 360, image::Rgb([120, 110, 100]));
    let n = 300;
    println!("effect          eye distance   vector µs/face   sprite µs/face");
    for b in [Builtin::Sunglasses, Builtin::Hat, Builtin::Dog] {
        for iod in [30.0f32, 60.0, 120.0] {
            let s = iod / 2.0;
            let place = |i: usize| {
                Affine2::rotate(0.2 * ((i % 7) as f32 - 3.0) / 3.0)
                    .followed_by(&Affine2::scale(s, s))
                    .followed_by(&Affine2::translate(320.0 + (i % 5) as f32, 220.0))
            };
            let t0 = Instant::now();
            for i in 0..n {
                for part in b.parts() {
                    if let Some((pm, x, y)) = part.render(&place(i), 640, 360) {
                        let l = LayerRef {
                            data: pm.data(),
                            width: pm.width(),
                            height: pm.height(),
                            x,
                            y,
                        };
                        over(&mut frame, &l, true);
                    }
                }
            }
            let vector = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
            // sprites: each part rasterised once at 64 px per unit, then warped per face
            let sprite_scale = 64.0f32;
            let sprites: Vec<_> = b
                .parts()
                .into_iter()
                .map(|part| {
                    let [x0, y0, ..] = part.bounds;
                    let art_to_sprite = Affine2::translate(-x0, -y0)
                        .followed_by(&Affine2::scale(sprite_scale, sprite_scale));
                    let w = ((part.bounds[2] - x0) * sprite_scale) as u32;
                    let h = ((part.bounds[3] - y0) * sprite_scale) as u32;
                    let (pm, _, _) = part.render(&art_to_sprite, w, h).unwrap();
                    let img =
                        image::RgbaImage::from_raw(pm.width(), pm.height(), pm.data().to_vec())
                            .unwrap();
                    (img, art_to_sprite.inverse().unwrap())
                })
                .collect();
            let t0 = Instant::now();
            for i in 0..n {
                for (img, sprite_to_art) in &sprites {
                    let t = sprite_to_art.followed_by(&place(i));
                    let c = [
                        [0.0, 0.0],
                        [img.width() as f32, 0.0],
                        [0.0, img.height() as f32],
                        [img.width() as f32, img.height() as f32],
                    ]
                    .map(|p| t.apply(p));
                    let x0 = c
                        .iter()
                        .map(|p| p[0])
                        .fold(f32::MAX, f32::min)
                        .floor()
                        .max(0.0);
                    let y0 = c
                        .iter()
                        .map(|p| p[1])
                        .fold(f32::MAX, f32::min)
                        .floor()
                        .max(0.0);
                    let x1 = c
                        .iter()
                        .map(|p| p[0])
                        .fold(f32::MIN, f32::max)
                        .ceil()
                        .min(640.0);
                    let y1 = c
                        .iter()
                        .map(|p| p[1])
                        .fold(f32::MIN, f32::max)
                        .ceil()
                        .min(360.0);
                    if x1 <= x0 || y1 <= y0 {
                        continue;
                    }
                    let layer = facemark_core::geometry::warp_rgba(
                        img,
                        &t.followed_by(&Affine2::translate(-x0, -y0)),
                        (x1 - x0) as u32,
                        (y1 - y0) as u32,
                    );
                    let l = LayerRef {
                        data: layer.as_raw(),
                        width: layer.width(),
                        height: layer.height(),
                        x: x0 as i32,
                        y: y0 as i32,
                    };
                    over(&mut frame, &l, true);
                }
            }
            let sprite = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
            println!(
                "{:<15} {:>8.0} px   {:>12.1}   {:>12.1}",
                b.name(),
                iod,
                vector,
                sprite
            );
        }
    }
}
