//! `facemark calibrate`: measure how a face detector's boxes relate to landmark boxes.
//!
//! Runs the detector on annotated photos, pairs each annotated face with the detection that
//! contains its landmark-box centre (and is of a plausible size), and stores the median
//! relation ([`facemark::BoxCalibration`]) under the detector's name in a JSON map — the file
//! `models/calibration.json` that the build embeds.

use anyhow::{Context, Result};
use facemark::BoxCalibration;
use facemark_core::{BoxF, FaceDetector};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Annotated data (any format `facemark data` reads).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Face detector: `seeta` (built-in SeetaFace), `haar`, `lbp`, or an OpenCV cascade XML
    /// file; default: the built-in one.
    #[arg(long)]
    pub detector: Option<String>,
    /// JSON map to update (detector name → calibration); printed only when absent.
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// Pairs of (detection box, landmark box) for the annotated faces the detector found, and the
/// number of annotated faces looked at.
pub fn detection_pairs(
    det: &dyn FaceDetector,
    samples: &[facemark_core::Sample],
) -> (Vec<(BoxF, BoxF)>, usize) {
    let pairs: Vec<Option<(BoxF, BoxF)>> = samples
        .par_iter()
        .map(|s| {
            let gray = facemark_formats::load_gray(&s.image).ok()?;
            let lb = BoxF::around(&s.points)?;
            let [cx, cy] = lb.center();
            let side = lb.w.max(lb.h);
            det.detect(&gray)
                .into_iter()
                .filter(|d| {
                    let b = d.bbox;
                    cx > b.x
                        && cx < b.x + b.w
                        && cy > b.y
                        && cy < b.y + b.h
                        && b.w > 0.5 * side
                        && b.w < 2.0 * side
                })
                .min_by(|a, b| {
                    let da = (a.bbox.center()[0] - cx).hypot(a.bbox.center()[1] - cy);
                    let db = (b.bbox.center()[0] - cx).hypot(b.bbox.center()[1] - cy);
                    da.total_cmp(&db)
                })
                .map(|d| (d.bbox, lb))
        })
        .collect();
    let n = pairs.len();
    (pairs.into_iter().flatten().collect(), n)
}

pub fn run(args: Args) -> Result<()> {
    let det = match &args.detector {
        Some(n) => facemark_detect::detector_by_name(n)?,
        None => facemark_detect::default_detector()?,
    };
    let mut samples = Vec::new();
    for d in &args.data {
        samples.extend(
            facemark_formats::dataset::load_any(d)
                .with_context(|| format!("loading {}", d.display()))?,
        );
    }
    let (pairs, n) = detection_pairs(det.as_ref(), &samples);
    let cal =
        BoxCalibration::fit(&pairs).context("the detector found none of the annotated faces")?;
    eprintln!(
        "{}: found {}/{} annotated faces ({:.1} %)",
        det.name(),
        pairs.len(),
        n,
        100.0 * pairs.len() as f64 / n.max(1) as f64
    );
    println!("{}", serde_json::to_string_pretty(&cal)?);
    if let Some(path) = &args.write {
        let mut map: BTreeMap<String, BoxCalibration> = match std::fs::read_to_string(path) {
            Ok(s) => serde_json::from_str(&s)
                .with_context(|| format!("{}: not a calibration map", path.display()))?,
            Err(_) => BTreeMap::new(),
        };
        map.insert(det.name(), cal);
        facemark_core::io::write_atomic(path, serde_json::to_string_pretty(&map)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
