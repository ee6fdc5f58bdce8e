//! facemark's side of `bench/dlib/sp_agree.sh`: facemark's shape predictor against dlib's own
//! (bench/dlib/sp_agree.cpp, driven through a pipe) on every face of the given data sets, on
//! the same gray pixels and the same whole-pixel rectangles: points rounded as dlib rounds
//! must be equal; any that differ are listed. Also ms per face of both, one thread, the
//! fastest of `--reps` calls per face, same faces, same run.
//!
//! ```text
//! sp_agree --harness target/bench-sp/sp_agree --model A.dat [--model B.dat …]
//!          --data DATASET [--data …] [--rect-model 68.dat] [--reps 3] [--limit N]
//! ```
//! The rectangle of a face: its ground-truth landmark box turned into the face rectangle of
//! `--rect-model` (default: the first model; `ShapePredictor::rect_for_landmark_box`), each side
//! rounded to a whole pixel as dlib's rectangles are; every model gets the same rectangle.
//!
//! `--written-dir DIR`: dlib loads the `.dat` files facemark writes (`ShapePredictor::save` of
//! each model, into DIR) instead of the originals, so agreement also shows that dlib reads
//! facemark's files (they are also compared with the originals byte for byte).

use facemark_ert::{dlib_round, DlibRect, Scratch, ShapePredictor};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

struct Stats {
    faces: usize,
    points: usize,
    differing: usize,
    fm_ns: f64,
    dlib_ns: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut models, mut data) = (Vec::<PathBuf>::new(), Vec::<PathBuf>::new());
    let (mut harness, mut rect_model) = (None::<PathBuf>, None::<PathBuf>);
    let mut written_dir = None::<PathBuf>;
    let (mut reps, mut limit) = (3u32, usize::MAX);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--model" => models.push(v()?.into()),
            "--data" => data.push(v()?.into()),
            "--harness" => harness = Some(v()?.into()),
            "--rect-model" => rect_model = Some(v()?.into()),
            "--written-dir" => written_dir = Some(v()?.into()),
            "--reps" => reps = v()?.parse()?,
            "--limit" => limit = v()?.parse()?,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let harness = harness.ok_or("--harness PATH is required")?;
    if models.is_empty() || data.is_empty() {
        return Err("give --model and --data".into());
    }
    let sps: Vec<ShapePredictor> = models
        .iter()
        .map(|m| ShapePredictor::load(m))
        .collect::<Result<_, _>>()?;
    let rect_sp = match &rect_model {
        Some(p) => ShapePredictor::load(p)?,
        None => sps[0].clone(),
    };
    let mut for_dlib = models.clone();
    if let Some(dir) = &written_dir {
        std::fs::create_dir_all(dir)?;
        for (i, (sp, m)) in sps.iter().zip(&models).enumerate() {
            let p = dir.join(format!(
                "{i}-{}",
                m.file_name().unwrap_or_default().to_string_lossy()
            ));
            sp.save(&p)?;
            let same = std::fs::read(&p)? == std::fs::read(m)?;
            println!(
                "dlib loads {} (written by facemark; {} the original)",
                p.display(),
                if same {
                    "byte for byte"
                } else {
                    "NOT byte for byte"
                }
            );
            for_dlib[i] = p;
        }
    }
    let mut child = Command::new(&harness)
        .args(&for_dlib)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", harness.display()))?;
    let mut to = std::io::BufWriter::new(child.stdin.take().unwrap());
    let mut from = BufReader::new(child.stdout.take().unwrap());
    let mut scratch = Scratch::default();
    let mut out: Vec<[f64; 2]> = Vec::new();
    let mut line = String::new();
    let mut total: Vec<Stats> = models
        .iter()
        .map(|_| Stats {
            faces: 0,
            points: 0,
            differing: 0,
            fm_ns: 0.0,
            dlib_ns: 0.0,
        })
        .collect();
    for d in &data {
        let samples = facemark_formats::load_any(d)?;
        let mut stats: Vec<Stats> = models
            .iter()
            .map(|_| Stats {
                faces: 0,
                points: 0,
                differing: 0,
                fm_ns: 0.0,
                dlib_ns: 0.0,
            })
            .collect();
        for s in samples.iter().take(limit) {
            let Some(lb) = s.landmark_box() else { continue };
            let gray = facemark_formats::load_gray(&s.image)?;
            let r = rect_sp.rect_for_landmark_box(&lb);
            let (l, t, rr, b) = (
                dlib_round(r.left),
                dlib_round(r.top),
                dlib_round(r.right),
                dlib_round(r.bottom),
            );
            let rect = DlibRect::new(l as f64, t as f64, rr as f64, b as f64);
            to.write_all(b"I")?;
            to.write_all(&gray.width().to_le_bytes())?;
            to.write_all(&gray.height().to_le_bytes())?;
            to.write_all(gray.as_raw())?;
            for (mi, sp) in sps.iter().enumerate() {
                to.write_all(b"P")?;
                to.write_all(&(mi as u32).to_le_bytes())?;
                for v in [l, t, rr, b] {
                    to.write_all(&v.to_le_bytes())?;
                }
                to.write_all(&reps.to_le_bytes())?;
                to.flush()?;
                // facemark, timed the same way while dlib works on its copy
                let mut best = f64::INFINITY;
                for _ in 0..reps.max(1) {
                    let t0 = Instant::now();
                    let shape = sp.predict_normalized(&gray, &rect, &mut scratch);
                    out.clear();
                    out.extend(
                        shape
                            .chunks_exact(2)
                            .map(|p| rect.unnormalize([p[0], p[1]])),
                    );
                    best = best.min(t0.elapsed().as_nanos() as f64);
                }
                line.clear();
                from.read_line(&mut line)?;
                let mut it = line.split_whitespace();
                let dlib_ns: f64 = it.next().ok_or("dlib harness answered nothing")?.parse()?;
                let theirs: Vec<i64> = it.map(|v| v.parse()).collect::<Result<_, _>>()?;
                if theirs.len() != 2 * out.len() {
                    return Err(format!(
                        "dlib placed {} values, facemark {}",
                        theirs.len(),
                        2 * out.len()
                    )
                    .into());
                }
                let st = &mut stats[mi];
                st.faces += 1;
                st.points += out.len();
                st.fm_ns += best;
                st.dlib_ns += dlib_ns;
                for (k, p) in out.iter().enumerate() {
                    let ours = [dlib_round(p[0]), dlib_round(p[1])];
                    if ours != [theirs[2 * k], theirs[2 * k + 1]] {
                        st.differing += 1;
                        if st.differing <= 10 {
                            println!(
                                "  DIFFERS {} {}: point {k}: facemark {:?} ({:.6}, {:.6}), dlib ({}, {}), rect ({l}, {t}, {rr}, {b})",
                                models[mi].file_name().unwrap_or_default().to_string_lossy(),
                                s.name,
                                ours,
                                p[0],
                                p[1],
                                theirs[2 * k],
                                theirs[2 * k + 1]
                            );
                        }
                    }
                }
            }
        }
        for (mi, st) in stats.iter().enumerate() {
            report(&d.display().to_string(), &models[mi], st);
            let t = &mut total[mi];
            t.faces += st.faces;
            t.points += st.points;
            t.differing += st.differing;
            t.fm_ns += st.fm_ns;
            t.dlib_ns += st.dlib_ns;
        }
    }
    to.write_all(b"Q")?;
    to.flush()?;
    drop(to);
    child.wait()?;
    for (mi, st) in total.iter().enumerate() {
        report("ALL", &models[mi], st);
    }
    if total.iter().any(|t| t.differing > 0) {
        return Err("some points differ from dlib's".into());
    }
    Ok(())
}

fn report(what: &str, model: &std::path::Path, st: &Stats) {
    let f = st.faces.max(1) as f64;
    println!(
        "{what} | {} | faces {} | points {} | differing {} | ms/face facemark {:.4} dlib {:.4} | facemark {:.2}x faster",
        model.file_name().unwrap_or_default().to_string_lossy(),
        st.faces,
        st.points,
        st.differing,
        st.fm_ns / f / 1e6,
        st.dlib_ns / f / 1e6,
        st.dlib_ns / st.fm_ns.max(1.0)
    );
}
