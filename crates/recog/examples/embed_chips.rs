//! Descriptors of aligned chips (PNG, 150 × 150) with dlib's face-recognition ResNet in
//! facemark's engine, for `bench/dlib/embed_agree.sh`: one line per chip, `path v0 v1 …`,
//! then on stderr the mean milliseconds per chip (one chip per forward pass, after one
//! warm-up pass; threads: `RAYON_NUM_THREADS`).
//!
//! `cargo run --release -p facemark-recog --example embed_chips -- MODEL.dat CHIP.png…`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, chips) = args
        .split_first()
        .ok_or("usage: embed_chips MODEL.dat CHIP.png…")?;
    let rec = facemark_recog::FaceRecognizer::load(model.as_ref())?;
    let images = chips
        .iter()
        .map(|p| Ok(image::open(p).map_err(|e| format!("{p}: {e}"))?.to_rgb8()))
        .collect::<Result<Vec<_>, String>>()?;
    if let Some(first) = images.first() {
        rec.embed_chips(std::slice::from_ref(first))?; // warm-up
    }
    let t = Instant::now();
    let mut out = Vec::with_capacity(images.len());
    for img in &images {
        out.push(rec.embed_chips(std::slice::from_ref(img))?.remove(0));
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / images.len().max(1) as f64;
    for (p, d) in chips.iter().zip(&out) {
        let v: Vec<String> = d.iter().map(|x| format!("{x:.9e}")).collect();
        println!("{p} {}", v.join(" "));
    }
    eprintln!("facemark: {ms:.2} ms per chip ({} chips)", images.len());
    Ok(())
}
