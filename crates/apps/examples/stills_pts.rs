//! Apply every built-in effect to a photo with ground-truth `.pts` landmarks (iBUG 68) and write
//! one PNG per effect: `cargo run -p facemark-apps --example stills_pts -- IMG PTS OUT_DIR`.
//! For looking at the artwork without a landmark model.

use facemark_apps::{Filter, EFFECT_NAMES};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: stills_pts IMG PTS OUT_DIR [OVERLAY.png]".into());
    }
    let img = facemark_core::photo::open_image(&args[0])?.to_rgb8();
    let pts = facemark_formats::pts::read_pts(std::path::Path::new(&args[1]))?;
    let out = PathBuf::from(&args[2]);
    std::fs::create_dir_all(&out)?;
    let mut filters: Vec<(String, Filter)> = EFFECT_NAMES
        .iter()
        .map(|n| (n.to_string(), Filter::by_name(n).unwrap()))
        .collect();
    if let Some(ov) = args.get(3) {
        filters.push(("overlay".into(), Filter::overlay(ov.as_ref(), None)?));
    }
    for (name, f) in filters {
        let mut im = img.clone();
        f.apply(&mut im, std::slice::from_ref(&pts))?;
        let p = out.join(format!("{name}.png"));
        facemark_core::io::save_image_atomic(&image::DynamicImage::ImageRgb8(im), &p)?;
        println!("{}", p.display());
    }
    Ok(())
}
