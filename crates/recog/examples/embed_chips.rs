//! facemark's side of `bench/dlib/embed_agree.sh`: dlib's face-recognition ResNet in
//! facemark's engine on aligned chips, and facemark's chips.
//!
//! `embed_chips net MODEL.dat|MODEL.pt|MODEL.h5 CHIP.png…` (`.pt`, `.h5`: FaceNet, as
//! `bench/facenet/agree.sh` runs it): one line per chip, `path v0 v1 …`, then on stderr
//! the mean milliseconds per chip (one chip per forward pass, after one warm-up pass;
//! threads: `RAYON_NUM_THREADS`).
//!
//! `embed_chips cut POINTS.txt OUTDIR`: for each line `IMAGE x0 y0 …` (68 or 5 points in
//! dlib's convention, pixel centres at whole numbers, as `embed_agree cut` reads them) writes
//! `OUTDIR/<line, 3 digits>.png`, the chip `facemark_recog::face_chip` cuts.
//!
//! `embed_chips decode SCALE IMAGE… OUTDIR`: writes each image as
//! `OUTDIR/<index, 3 digits>.png`, decoded as facemark decodes it (so that dlib reads the same
//! pixels) and resized by the whole factor `SCALE` (bilinear), to make large faces.
//!
//! `cargo run --release -p facemark-recog --example embed_chips -- net MODEL.dat CHIP.png…`

use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn net(model: &str, chips: &[String]) -> Res<()> {
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

fn cut(points: &str, outdir: &str) -> Res<()> {
    let text = std::fs::read_to_string(points).map_err(|e| format!("{points}: {e}"))?;
    for (n, line) in text.lines().enumerate() {
        let mut it = line.split_whitespace();
        let path = it.next().ok_or(format!("{points}:{}: empty line", n + 1))?;
        let v: Vec<f32> = it
            .map(|s| s.parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{points}:{}: {e}", n + 1))?;
        // dlib's whole-pixel convention → facemark's (centres at +0.5)
        let pts: Vec<[f32; 2]> = v
            .chunks_exact(2)
            .map(|p| [p[0] + 0.5, p[1] + 0.5])
            .collect();
        let img = facemark_core::photo::open_image(path)
            .map_err(|e| format!("{path}: {e}"))?
            .to_rgb8();
        let chip = facemark_recog::face_chip(&img, &pts)?;
        chip.save(format!("{outdir}/{n:03}.png"))?;
    }
    Ok(())
}

fn decode(scale: &str, images: &[String], outdir: &str) -> Res<()> {
    let k: u32 = scale.parse().map_err(|e| format!("scale {scale}: {e}"))?;
    for (n, path) in images.iter().enumerate() {
        let img = facemark_core::photo::open_image(path).map_err(|e| format!("{path}: {e}"))?;
        let img = img.to_rgb8();
        let (w, h) = (img.width() * k.max(1), img.height() * k.max(1));
        let img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
        img.save(format!("{outdir}/{n:03}.png"))?;
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, model, chips @ ..] if mode == "net" => net(model, chips),
        [mode, points, outdir] if mode == "cut" => cut(points, outdir),
        [mode, scale, images @ .., outdir] if mode == "decode" => decode(scale, images, outdir),
        _ => Err("usage: embed_chips net MODEL.dat CHIP.png… | cut POINTS.txt OUTDIR | decode SCALE IMAGE… OUTDIR".into()),
    }
}
