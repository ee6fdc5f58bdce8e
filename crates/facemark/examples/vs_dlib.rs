//! Accuracy benchmark: facemark's pipeline against dlib's 68-point shape predictor on the same
//! faces, with one NME definition (`facemark_train::metrics`, outer eye corners 36–45).
//!
//! `bench/dlib/compare.sh` runs dlib (bench/dlib/dlib_landmarks.cpp) and then this program:
//!
//! ```text
//! vs_dlib --data D [--data D2 …] [--split val --val-fraction 0.15 --seed 1] [--fold K/N]
//!         [--only DIR] --dlib dlib.csv [--model M]
//! ```
//! - `--data`/`--split`/`--val-fraction`/`--seed`/`--fold`: the same data list, identity split
//!   and cross-validation fold as the training run, so `--split val` is exactly its validation
//!   faces and `--split test --fold K/N` its held-out fold
//!   (`facemark_formats::select_split`);
//! - `--only DIR`: keep faces whose image lies under DIR (e.g. the YouTube part of the split);
//! - `--dlib`: dlib's predictions, CSV `image_file_name,detected,x0,y0,…`.
//!
//! Prints, per method: faces found, and mean NME on (a) the faces each found, (b) the faces
//! both found.

use facemark_core::{BoxF, Landmarker, Point, Sample};
use facemark_train::metrics;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;

fn file_name(s: &Sample) -> String {
    match &s.image {
        facemark_core::ImageSource::File(p) => p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        _ => s.name.clone(),
    }
}

fn nme(pred: &[Point], s: &Sample, scheme: &facemark_core::Scheme) -> Option<f32> {
    let d = metrics::outer_eye_distance(&s.points, &s.visible, scheme)?;
    metrics::nme(pred, &s.points, &s.visible, d).ok().flatten()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut data = Vec::new();
    let (mut split, mut val_fraction, mut seed) = ("all".to_string(), 0.15f32, 1u64);
    let (mut only, mut dlib, mut model) = (None::<PathBuf>, None::<PathBuf>, None::<PathBuf>);
    let mut list_out = None::<PathBuf>;
    let mut fold = None::<facemark_formats::Fold>;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--data" => data.push(PathBuf::from(v()?)),
            "--split" => split = v()?,
            "--val-fraction" => val_fraction = v()?.parse()?,
            "--seed" => seed = v()?.parse()?,
            "--fold" => fold = Some(v()?.parse()?),
            "--only" => only = Some(PathBuf::from(v()?)),
            "--dlib" => dlib = Some(PathBuf::from(v()?)),
            "--model" => model = Some(PathBuf::from(v()?)),
            "--list-out" => list_out = Some(PathBuf::from(v()?)),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    // Loaded exactly as `facemark train` and `facemark eval` load them (faces without any
    // point dropped before the split), so that a split names the same faces in all three.
    let cfg = facemark_train::config::TrainConfig {
        data: data.clone(),
        ..Default::default()
    };
    let (mut samples, _) = facemark_train::trainer::load_data(&cfg)?;
    let idx = facemark_formats::select_split(&samples, &split, fold, val_fraction, seed)?;
    samples = idx.into_iter().map(|i| samples[i].clone()).collect();
    if let Some(dir) = &only {
        let dir = std::fs::canonicalize(dir)?;
        samples.retain(|s| match &s.image {
            facemark_core::ImageSource::File(p) => {
                std::fs::canonicalize(p).is_ok_and(|p| p.starts_with(&dir))
            }
            _ => false,
        });
    }
    if let Some(path) = &list_out {
        // The faces for the dlib program: `IMAGE x y w h` (ground-truth landmark box).
        let mut text = String::new();
        for s in &samples {
            if let (facemark_core::ImageSource::File(p), Some(b)) =
                (&s.image, BoxF::around(&s.points))
            {
                text += &format!(
                    "{} {} {} {} {}\n",
                    std::fs::canonicalize(p)?.display(),
                    b.x,
                    b.y,
                    b.w,
                    b.h
                );
            }
        }
        facemark_core::io::write_atomic(path, text.as_bytes())?;
        eprintln!("wrote {} faces to {}", samples.len(), path.display());
        return Ok(());
    }
    // FACEMARK_PRECISION: auto (default), f32 or int8
    let precision: facemark_model::Precision = std::env::var("FACEMARK_PRECISION")
        .unwrap_or_else(|_| "auto".into())
        .parse()?;
    // FACEMARK_REFINER: a refiner file (`crop_align` model) for the refinement passes, or a
    // refinement cascade (`.dat`) run once after the model instead of the model's own; unset
    // or `none`: passes re-run the model. FACEMARK_NO_CASCADE=1: the network alone, without
    // the cascade the model carries
    let refiner_file = std::env::var("FACEMARK_REFINER")
        .ok()
        .filter(|p| !p.is_empty() && p != "none");
    let is_cascade = refiner_file.as_deref().is_some_and(|p| p.ends_with(".dat"));
    let (refiner, cascade) = match refiner_file.as_deref() {
        None => (None, None),
        Some(p) if is_cascade => (
            None,
            Some(facemark::ert::ShapePredictor::load(std::path::Path::new(
                p,
            ))?),
        ),
        Some(p) => (
            Some(
                facemark_model::KeypointModel::load(std::path::Path::new(p))?
                    .with_precision(precision),
            ),
            None,
        ),
    };
    let model = match &model {
        Some(p) => facemark_model::KeypointModel::load(p)?,
        None => facemark::default_model()?,
    }
    .with_precision(precision);
    let refine: usize = std::env::var("FACEMARK_REFINE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let flip = std::env::var("FACEMARK_FLIP").is_ok_and(|v| v != "0");
    let refiner_name = if is_cascade {
        "refinement cascade after the model"
    } else if refiner.is_some() {
        "refiner"
    } else {
        "model again"
    };
    let no_cascade = std::env::var("FACEMARK_NO_CASCADE").is_ok_and(|v| v != "0");
    let mut detector = facemark::Pipeline::new(facemark_detect::default_detector()?, model)?
        .with_refiner(refiner)?
        .with_refine(refine)
        .with_flip(flip);
    if cascade.is_some() || no_cascade {
        detector = detector.with_cascade(cascade)?;
    }
    println!(
        "refinement passes {refine} ({refiner_name}), refinement cascade {}, test-time flip {flip}, {}",
        if detector.cascade().is_some() { "on" } else { "off" },
        precision.arithmetic()
    );
    let scheme = detector.scheme().clone();

    // facemark end to end: detector → calibrated box → model (+ refinement); the detection
    // closest to the annotated face is used. And with the ground-truth landmark box (oracle).
    let ours: Vec<(Option<f32>, Option<f32>)> = samples
        .par_iter()
        .map(|s| {
            let Ok(gray) = facemark_formats::load_gray(&s.image) else {
                return (None, None);
            };
            let gt = BoxF::around(&s.points).unwrap_or_default();
            let oracle = nme(&detector.landmarks(&gray, &gt), s, &scheme);
            let best = detector.detect_matching(&gray, &gt, 0.3);
            (best.and_then(|f| nme(&f.points, s, &scheme)), oracle)
        })
        .collect();

    let mut dlib_pred: HashMap<String, Vec<Point>> = HashMap::new();
    if let Some(p) = &dlib {
        for (i, line) in std::fs::read_to_string(p)?.lines().enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() == 2 + 2 * scheme.len() && f[1] == "1" {
                let v: Vec<f32> = f[2..]
                    .iter()
                    .map(|x| x.parse())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{}:{}: {e}", p.display(), i + 1))?;
                dlib_pred.insert(
                    f[0].to_string(),
                    v.chunks(2).map(|c| [c[0], c[1]]).collect(),
                );
            }
        }
    }
    let theirs: Vec<Option<f32>> = samples
        .iter()
        .map(|s| {
            dlib_pred
                .get(&file_name(s))
                .and_then(|p| nme(p, s, &scheme))
        })
        .collect();

    // Speed on one thread: landmarks alone (ground-truth box; the best of 3 rounds, as
    // dlib_landmarks times its shape predictor) and detection + landmarks per photo (one
    // round), images decoded beforehand.
    let images: Vec<_> = samples
        .iter()
        .take(300)
        .filter_map(|s| {
            Some((
                facemark_formats::load_gray(&s.image).ok()?,
                BoxF::around(&s.points)?,
            ))
        })
        .collect();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    // ms per face of one round of `f` over the faces
    let ms_per_face = |f: &dyn Fn(&image::GrayImage, &BoxF)| {
        let t0 = std::time::Instant::now();
        for (g, b) in &images {
            f(g, b);
        }
        t0.elapsed().as_secs_f64() * 1e3 / images.len().max(1) as f64
    };
    let (lm_ms, e2e_ms) = one.install(|| {
        let lm = (0..3)
            .map(|_| {
                ms_per_face(&|g, b| {
                    std::hint::black_box(detector.face_in_box(g, b));
                })
            })
            .fold(f64::INFINITY, f64::min);
        let e2e = ms_per_face(&|g, _| {
            std::hint::black_box(detector.detect_gray(g));
        });
        (lm, e2e)
    });
    // int8 against f32 on the same faces, same thread, alternating rounds (this machine's speed
    // drifts between runs): crop + network + points back, best round of each
    let (q8, f32m) = (
        detector
            .model()
            .expect("vs_dlib runs a facemark model")
            .clone()
            .with_precision(facemark_model::Precision::Int8),
        detector
            .model()
            .expect("vs_dlib runs a facemark model")
            .clone()
            .with_precision(facemark_model::Precision::F32),
    );
    let (t8, t32) = one.install(|| {
        let time = |m: &facemark_model::KeypointModel| {
            ms_per_face(&|g, b| {
                std::hint::black_box(m.landmarks(g, b));
            })
        };
        let (mut a, mut b) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..3 {
            a = a.min(time(&q8));
            b = b.min(time(&f32m));
        }
        (a, b)
    });
    println!(
        "one model pass per face, 1 thread, best of 3 alternating rounds: int8 {t8:.3} ms, f32 {t32:.3} ms (f32 / int8 = {:.2}; int8 kernel: {})",
        t32 / t8,
        facemark_nn::quant::kernel_name()
    );
    let t0 = std::time::Instant::now();
    images.par_iter().for_each(|(g, b)| {
        std::hint::black_box(detector.face_in_box(g, b));
    });
    let lm_all = t0.elapsed().as_secs_f64() * 1e3 / images.len().max(1) as f64;
    println!(
        "speed over {} faces: landmarks {lm_ms:.3} ms/face on 1 thread (best of 3 rounds), {lm_all:.3} ms/face on {} threads; detection + landmarks {e2e_ms:.2} ms/photo on 1 thread",
        images.len(),
        rayon::current_num_threads()
    );

    let n = samples.len();
    let report = |name: &str, v: &[Option<f32>]| {
        let found: Vec<f32> = v.iter().flatten().copied().collect();
        let both: Vec<f32> = v
            .iter()
            .zip(&ours)
            .zip(&theirs)
            .filter_map(|((x, o), t)| o.0.and(*t).and(*x))
            .collect();
        println!(
            "{name:<28} found {:>5}/{n} ({:>5.1} %)  NME {:>6.2} % on its faces, {:>6.2} % on the {} both detectors found",
            found.len(),
            100.0 * found.len() as f32 / n.max(1) as f32,
            100.0 * metrics::mean(&found).unwrap_or(f32::NAN),
            100.0 * metrics::mean(&both).unwrap_or(f32::NAN),
            both.len()
        );
    };
    println!(
        "{} faces ({}{})",
        n,
        data.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" + "),
        if split == "all" {
            String::new()
        } else {
            format!(
                ", split {split}{}",
                fold.map(|f| format!(" of fold {f}")).unwrap_or_default()
            )
        }
    );
    report(
        "facemark (its detector)",
        &ours.iter().map(|o| o.0).collect::<Vec<_>>(),
    );
    report(
        "facemark (ground-truth box)",
        &ours.iter().map(|o| o.1).collect::<Vec<_>>(),
    );
    if dlib.is_some() {
        report("dlib (its detector)", &theirs);
    }
    Ok(())
}
