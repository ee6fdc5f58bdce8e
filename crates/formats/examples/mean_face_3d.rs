//! Derive the 3-D mean face of `facemark_core::pose::MEAN_FACE_68` from iBUG 68-point
//! annotations (folders of `.pts` files, e.g. the 300-W HELEN and LFPW training sets) and print
//! it as the Rust table, with how well the rigid shape explains the annotations.
//!
//! `cargo run --release -p facemark-formats --example mean_face_3d -- DIR…`

use facemark_core::pose::{estimate, mean_face_from_shapes, Camera};
use facemark_core::{Point, Scheme};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        return Err("usage: mean_face_3d DIR… (folders of iBUG .pts files)".into());
    }
    let scheme = Scheme::ibug68();
    let mut shapes: Vec<Vec<Point>> = Vec::new();
    for d in &dirs {
        let samples = facemark_formats::pts::read_300w_dir(d)?;
        eprintln!("{}: {} faces", d.display(), samples.len());
        for s in samples {
            // each face and its mirror image: both poses are equally likely
            let w = s.points.iter().map(|p| p[0]).fold(0.0f32, f32::max) + 1.0;
            shapes.push(scheme.flip_points(&s.points, w));
            shapes.push(s.points);
        }
    }
    let face = mean_face_from_shapes(&shapes, &scheme)?;
    println!("pub const MEAN_FACE_68: [[f32; 3]; 68] = [");
    for (i, p) in face.iter().enumerate() {
        println!("    [{:.2}, {:.2}, {:.2}], // {i}", p[0], p[1], p[2]);
    }
    println!("];");
    // how well the rigid face fits the annotations (perspective fit per face, no scale
    // normalisation): RMS reprojection error relative to the outer-eye-corner distance
    let model: Vec<[f32; 3]> = face.iter().map(|p| p.map(|v| v as f32)).collect();
    let mut rel: Vec<f64> = shapes
        .iter()
        .step_by(2)
        .filter_map(|s| {
            let w = s.iter().map(|p| p[0]).fold(0.0f32, f32::max) as u32 + 1;
            let h = s.iter().map(|p| p[1]).fold(0.0f32, f32::max) as u32 + 1;
            let pose = estimate(s, &model, &Camera::for_image(w, h))?;
            let iod = ((s[45][0] - s[36][0]).hypot(s[45][1] - s[36][1])) as f64;
            Some(pose.rms_px as f64 / iod)
        })
        .collect();
    rel.sort_by(f64::total_cmp);
    let q = |f: f64| rel[((rel.len() - 1) as f64 * f) as usize];
    eprintln!(
        "{} faces fitted; RMS reprojection error / outer-eye-corner distance: median {:.3}, 90th percentile {:.3}",
        rel.len(),
        q(0.5),
        q(0.9)
    );
    Ok(())
}
