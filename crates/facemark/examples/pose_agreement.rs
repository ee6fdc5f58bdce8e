//! How the head pose of the model's points compares with the pose of the annotated points, and
//! whether a mirrored photo gets the opposite yaw — the real-data figures of docs/pose.md.
//!
//! `cargo run --release -p facemark --example pose_agreement -- DATA [MODEL]`
//!
//! DATA: any annotated 68-point set facemark reads (e.g. the YouTube Faces test CSV); MODEL: a
//! model file (default: the embedded model). Each face is given the box around its annotated
//! points (no detector), once as it is and once mirrored (the photo flipped, the box with it).

use facemark::core::pose::head_pose;
use facemark::core::{BoxF, ImageSource};
use facemark::Pipeline;
use rayon::prelude::*;

fn quantile(v: &mut [f32], q: f32) -> f32 {
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * q).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = args.next().ok_or("usage: pose_agreement DATA [MODEL]")?;
    let model = match args.next() {
        Some(m) => facemark::model::KeypointModel::load(std::path::Path::new(&m))?,
        None => facemark::default_model()?,
    };
    let pipeline = Pipeline::new(facemark::detect::default_detector()?, model)?;
    let samples = facemark::formats::load_any(std::path::Path::new(&data))?;
    let scheme = pipeline.scheme().clone();
    // (pose of annotated points, of predicted points, of predicted points on the mirror)
    let rows: Vec<_> = samples
        .par_iter()
        .filter_map(|s| {
            let ImageSource::File(path) = &s.image else {
                return None;
            };
            let img = facemark::open_image(path).ok()?;
            let gray = facemark::detect::to_gray(&img);
            let (w, h) = gray.dimensions();
            let b = BoxF::around(&s.points)?;
            let truth = head_pose(&s.points, &scheme, w, h)?;
            let pred = pipeline.face_in_box(&gray, &b).pose?;
            let flipped = image::imageops::flip_horizontal(&gray);
            let mb = BoxF::new(w as f32 - b.x - b.w, b.y, b.w, b.h);
            let mirrored = pipeline.face_in_box(&flipped, &mb).pose?;
            Some((truth, pred, mirrored))
        })
        .collect();
    println!("{data}: {} faces", rows.len());
    let mut d: [Vec<f32>; 3] = Default::default();
    for (t, p, _) in &rows {
        d[0].push((p.yaw - t.yaw).abs());
        d[1].push((p.pitch - t.pitch).abs());
        d[2].push((p.roll - t.roll).abs());
    }
    for (name, v) in ["yaw", "pitch", "roll"].iter().zip(d.iter_mut()) {
        println!(
            "  |{name} of predicted points − {name} of annotated points|: median {:.1}°, 90th percentile {:.1}°",
            quantile(v, 0.5),
            quantile(v, 0.9)
        );
    }
    let turned: Vec<_> = rows
        .iter()
        .filter(|(t, _, _)| t.yaw.abs() >= 10.0)
        .collect();
    let same = turned
        .iter()
        .filter(|(t, p, _)| t.yaw.signum() == p.yaw.signum())
        .count();
    println!(
        "  faces with |annotated yaw| ≥ 10°: {}, predicted yaw has its sign on {same}",
        turned.len()
    );
    let mut m: Vec<f32> = rows.iter().map(|(_, p, q)| (p.yaw + q.yaw).abs()).collect();
    let turned_pred: Vec<_> = rows
        .iter()
        .filter(|(_, p, _)| p.yaw.abs() >= 10.0)
        .collect();
    let flips = turned_pred
        .iter()
        .filter(|(_, p, q)| p.yaw.signum() == -q.yaw.signum())
        .count();
    println!(
        "  mirrored photo: |yaw + mirrored yaw| median {:.1}°, 90th percentile {:.1}°; sign flips on {flips} of {} faces with |yaw| ≥ 10°",
        quantile(&mut m, 0.5),
        quantile(&mut m, 0.9),
        turned_pred.len()
    );
    Ok(())
}
