//! Alpha compositing of premultiplied RGBA layers onto RGB frames.
//!
//! Layers are 8-bit **premultiplied** RGBA (tiny-skia's pixmap layout), placed at an integer
//! offset in the frame (pixels, may be negative or reach past the border: the part outside the
//! frame is clipped). Blending is Porter–Duff *source over*:
//! `out = src + dst · (1 − α)` on premultiplied values. With `gamma = true` the blend happens in
//! linear light (sRGB decoded through a table, blended, encoded back), which keeps anti-aliased
//! edges and semi-transparent lenses from looking too dark.

use image::RgbImage;
use std::sync::OnceLock;

struct Tables {
    /// sRGB byte → linear [0, 1].
    to_linear: [f32; 256],
    /// linear [0, 1] quantised to 4096 steps → sRGB byte.
    to_srgb: Vec<u8>,
}

const SRGB_STEPS: usize = 4096;

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut to_linear = [0.0f32; 256];
        for (i, v) in to_linear.iter_mut().enumerate() {
            *v = srgb_to_linear(i as f32 / 255.0);
        }
        let to_srgb = (0..=SRGB_STEPS)
            .map(|i| {
                (linear_to_srgb(i as f32 / SRGB_STEPS as f32) * 255.0)
                    .round()
                    .clamp(0.0, 255.0) as u8
            })
            .collect();
        Tables { to_linear, to_srgb }
    })
}

/// sRGB transfer function, decode: `[0, 1]` → `[0, 1]` linear.
pub fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// sRGB transfer function, encode: `[0, 1]` linear → `[0, 1]`.
pub fn linear_to_srgb(v: f32) -> f32 {
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// A premultiplied RGBA layer of `width × height` pixels whose top-left pixel sits at frame
/// pixel `(x, y)`.
pub struct LayerRef<'a> {
    /// The pixels, row-major RGBA8 with premultiplied colour; length `width * height * 4`.
    pub data: &'a [u8],
    /// The layer's width in pixels.
    pub width: u32,
    /// The layer's height in pixels.
    pub height: u32,
    /// The frame column of the layer's left edge (may be negative or past the frame: clipped).
    pub x: i32,
    /// The frame row of the layer's top edge (may be negative or past the frame: clipped).
    pub y: i32,
}

/// Composite `layer` over `dst` (source over), clipped to `dst`. `gamma`: blend in linear light.
/// Pixels with premultiplied channels above alpha (invalid premultiplication) are clamped.
pub fn over(dst: &mut RgbImage, layer: &LayerRef, gamma: bool) {
    assert_eq!(
        layer.data.len(),
        layer.width as usize * layer.height as usize * 4,
        "layer buffer size"
    );
    let (dw, dh) = (dst.width() as i64, dst.height() as i64);
    let x0 = (layer.x as i64).max(0);
    let y0 = (layer.y as i64).max(0);
    let x1 = (layer.x as i64 + layer.width as i64).min(dw);
    let y1 = (layer.y as i64 + layer.height as i64).min(dh);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let t = tables();
    let lw = layer.width as usize;
    let dwu = dw as usize;
    let buf: &mut [u8] = dst.as_mut();
    for y in y0..y1 {
        let ly = (y - layer.y as i64) as usize;
        let lrow = &layer.data[ly * lw * 4..(ly + 1) * lw * 4];
        let drow = &mut buf[y as usize * dwu * 3..(y as usize + 1) * dwu * 3];
        for x in x0..x1 {
            let lx = (x - layer.x as i64) as usize;
            let s = &lrow[lx * 4..lx * 4 + 4];
            let a = s[3];
            if a == 0 {
                continue;
            }
            let d = &mut drow[x as usize * 3..x as usize * 3 + 3];
            if a == 255 {
                d.copy_from_slice(&s[..3]);
                continue;
            }
            let af = a as f32 / 255.0;
            if gamma {
                for k in 0..3 {
                    // straight sRGB colour of the source, then linear premultiplied
                    let straight = ((s[k].min(a) as u32 * 255 + a as u32 / 2) / a as u32) as usize;
                    let lin = t.to_linear[straight] * af + t.to_linear[d[k] as usize] * (1.0 - af);
                    d[k] = t.to_srgb[(lin * SRGB_STEPS as f32 + 0.5) as usize];
                }
            } else {
                let inv = 255 - a as u32;
                for k in 0..3 {
                    let v = s[k].min(a) as u32 * 255 + d[k] as u32 * inv;
                    d[k] = ((v + 127) / 255) as u8;
                }
            }
        }
    }
}

/// Straight (non-premultiplied) RGBA → premultiplied, in place, rounding to nearest.
pub fn premultiply(data: &mut [u8]) {
    for p in data.chunks_exact_mut(4) {
        let a = p[3] as u32;
        for c in &mut p[..3] {
            *c = ((*c as u32 * a + 127) / 255) as u8;
        }
    }
}

/// The frame pixels a layer must cover: the rectangle `[x0, y0, x1, y1]` (layer-source units)
/// mapped through `to_image`, bounded, grown by one pixel for bilinear/anti-aliased edges, and
/// clipped to a `frame_w × frame_h` frame. Returns `[ix0, iy0, ix1, iy1]` (pixels, end
/// exclusive); `None` when the map is not finite or the footprint misses the frame.
pub fn footprint(
    rect: [f32; 4],
    to_image: &facemark_core::Affine2,
    frame_w: u32,
    frame_h: u32,
) -> Option<[i64; 4]> {
    let [x0, y0, x1, y1] = rect;
    let corners = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]].map(|p| to_image.apply(p));
    if corners
        .iter()
        .any(|c| !c[0].is_finite() || !c[1].is_finite())
    {
        return None;
    }
    let b = facemark_core::BoxF::around(&corners)?;
    let ix0 = (b.x.floor() as i64 - 1).max(0);
    let iy0 = (b.y.floor() as i64 - 1).max(0);
    let ix1 = ((b.x + b.w).ceil() as i64 + 1).min(frame_w as i64);
    let iy1 = ((b.y + b.h).ceil() as i64 + 1).min(frame_h as i64);
    (ix1 > ix0 && iy1 > iy0).then_some([ix0, iy0, ix1, iy1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(px: [u8; 4], w: u32, h: u32) -> Vec<u8> {
        px.iter()
            .copied()
            .cycle()
            .take((w * h * 4) as usize)
            .collect()
    }

    #[test]
    fn opaque_replaces_transparent_keeps() {
        let mut img = RgbImage::from_pixel(4, 4, image::Rgb([10, 20, 30]));
        let data = layer([200, 100, 50, 255], 2, 2);
        over(
            &mut img,
            &LayerRef {
                data: &data,
                width: 2,
                height: 2,
                x: 1,
                y: 1,
            },
            true,
        );
        assert_eq!(img.get_pixel(1, 1).0, [200, 100, 50]);
        assert_eq!(img.get_pixel(0, 0).0, [10, 20, 30]);
        let clear = layer([0, 0, 0, 0], 4, 4);
        let before = img.clone();
        over(
            &mut img,
            &LayerRef {
                data: &clear,
                width: 4,
                height: 4,
                x: 0,
                y: 0,
            },
            false,
        );
        assert_eq!(img, before);
    }

    #[test]
    fn half_white_over_black_plain_and_linear() {
        // premultiplied 50 % white = (128, 128, 128, 128)
        let data = layer([128, 128, 128, 128], 1, 1);
        let mut plain = RgbImage::new(1, 1);
        let l = LayerRef {
            data: &data,
            width: 1,
            height: 1,
            x: 0,
            y: 0,
        };
        over(&mut plain, &l, false);
        assert_eq!(plain.get_pixel(0, 0).0, [128; 3]);
        let mut lin = RgbImage::new(1, 1);
        over(&mut lin, &l, true);
        // 50.2 % linear light is sRGB 188
        let v = lin.get_pixel(0, 0).0[0];
        assert!((187..=189).contains(&v), "{v}");
    }

    #[test]
    fn layers_are_clipped_at_every_border() {
        let data = layer([255, 0, 0, 255], 5, 5);
        for (x, y) in [(-3, -3), (2, -4), (-4, 2), (3, 3), (-10, 0), (0, 40)] {
            let mut img = RgbImage::new(5, 5);
            over(
                &mut img,
                &LayerRef {
                    data: &data,
                    width: 5,
                    height: 5,
                    x,
                    y,
                },
                true,
            );
            for (i, j, p) in img.enumerate_pixels() {
                let inside =
                    (i as i32) >= x && (i as i32) < x + 5 && (j as i32) >= y && (j as i32) < y + 5;
                assert_eq!(p.0[0] == 255, inside, "offset ({x},{y}) pixel ({i},{j})");
            }
        }
    }

    #[test]
    fn premultiply_rounds() {
        let mut d = [255, 128, 0, 128, 10, 10, 10, 0];
        premultiply(&mut d);
        assert_eq!(d, [128, 64, 0, 128, 0, 0, 0, 0]);
    }
}
