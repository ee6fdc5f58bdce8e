//! Tune the One Euro smoothing on a real clip: track once without smoothing, then replay the
//! raw landmarks through a grid of (min_cutoff, beta) and print flicker, jerk and lag (all
//! normalised by the eye distance; see `facemark_apps::stats`).
//!
//! `cargo run --release -p facemark-apps --example tune_smoothing -- MODEL.safetensors VIDEO`
//!
//! The detector is the built-in one with the box calibration given by `--calib dx,dy,sw,sh`
//! (default: the SeetaFace values of models/calibration.json at the time of writing), as the
//! `facemark` crate's pipeline applies it.

use facemark_apps::smooth::{FaceSmoother, OneEuroParams, PointSmoother};
use facemark_apps::stats::FlickerMeter;
use facemark_apps::track::{TrackedFace, Tracker, TrackerOptions};
use facemark_apps::video::FrameReader;
use facemark_core::{BoxF, Detection, FaceDetector};
use image::GrayImage;
use std::collections::HashMap;

struct Calibrated(Box<dyn FaceDetector>, [f32; 4]);
impl FaceDetector for Calibrated {
    fn detect(&self, g: &GrayImage) -> Vec<Detection> {
        let [dx, dy, sw, sh] = self.1;
        self.0
            .detect(g)
            .into_iter()
            .map(|d| {
                let [cx, cy] = d.bbox.center();
                let (w, h) = (d.bbox.w * sw, d.bbox.h * sh);
                let (cx, cy) = (cx + dx * d.bbox.w, cy + dy * d.bbox.h);
                Detection {
                    bbox: BoxF::new(cx - w * 0.5, cy - h * 0.5, w, h),
                    score: d.score,
                }
            })
            .collect()
    }
    fn name(&self) -> String {
        "calibrated".into()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: tune_smoothing MODEL VIDEO [dx,dy,sw,sh]".into());
    }
    let model = facemark_model::KeypointModel::load(std::path::Path::new(&args[0]))?;
    let calib: Vec<f32> = args
        .get(2)
        .map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_else(|| vec![0.00625, 0.15931372, 0.9285714, 0.8947368]);
    let det = Calibrated(
        facemark_detect::default_detector()?,
        [calib[0], calib[1], calib[2], calib[3]],
    );
    let mut reader = FrameReader::open(std::path::Path::new(&args[1]))?;
    let fps = reader.info.fps();
    let mut tracker = Tracker::new(
        &det,
        &model,
        TrackerOptions {
            smooth: None,
            ..TrackerOptions::default()
        },
    );
    let mut frames: Vec<Vec<TrackedFace>> = vec![];
    let mut n = 0u64;
    while let Some(f) = reader.next_frame()? {
        let g = facemark_detect::rgb_to_gray(&f);
        frames.push(tracker.update(&g, n as f64 / fps));
        n += 1;
    }
    println!("{n} frames, counters {:?}", tracker.counters);
    let mut per: std::collections::BTreeMap<u64, (u64, f64, f32, [f32; 2])> = Default::default();
    for (i, faces) in frames.iter().enumerate() {
        for f in faces {
            let e = per.entry(f.id).or_insert((0, 0.0, 0.0, [i as f32, 0.0]));
            let r = facemark_apps::points::shape_residual(&f.raw);
            e.0 += 1;
            e.1 += r as f64;
            e.2 = e.2.max(r);
            e.3[1] = i as f32;
        }
    }
    for (id, (n, s, mx, fr)) in per {
        println!(
            "track {id}: {n} frames ({}..{}), shape residual mean {:.3} max {:.3}",
            fr[0],
            fr[1],
            s / n as f64,
            mx
        );
    }
    // The motion floor: flicker of a zero-phase (centred, non-causal) 7-frame moving average of
    // each track's raw points, an estimate of the real motion that no causal filter can remove
    // without lag.
    {
        let k = 3usize;
        let mut meter = FlickerMeter::new();
        for i in 0..frames.len() {
            let out: Vec<TrackedFace> = frames[i]
                .iter()
                .map(|f| {
                    let mut acc = vec![[0.0f32; 2]; f.raw.len()];
                    let mut n = 0.0f32;
                    for fr in frames[i.saturating_sub(k)..(i + k + 1).min(frames.len())].iter() {
                        if let Some(g) = fr.iter().find(|g| g.id == f.id) {
                            for (a, p) in acc.iter_mut().zip(&g.raw) {
                                a[0] += p[0];
                                a[1] += p[1];
                            }
                            n += 1.0;
                        }
                    }
                    TrackedFace {
                        points: acc.iter().map(|a| [a[0] / n, a[1] / n]).collect(),
                        ..f.clone()
                    }
                })
                .collect();
            meter.add_frame(&out);
        }
        let r = meter.report();
        println!(
            "motion floor (centred 7-frame mean, non-causal): flicker {:.4}, jerk {:.4}",
            r.flicker_smoothed, r.jerk_smoothed
        );
    }
    println!("mode   shape_mc min_cutoff  beta   flicker(raw→smoothed)  jerk(raw→smoothed)   lag");
    let mut grid = vec![];
    for &mc in &[0.5f32, 1.0, 2.0] {
        for &beta in &[0.5f32, 1.0, 2.0, 4.0, 8.0] {
            grid.push((None, mc, beta));
            for smc in [(0.3f32, 0.0f32), (1.0, 0.0), (0.3, 0.5), (1.0, 1.0)] {
                grid.push((Some(smc), mc, beta));
            }
        }
    }
    {
        for (shape, mc, beta) in grid {
            let p = OneEuroParams {
                min_cutoff: mc,
                beta,
                d_cutoff: 1.0,
            };
            enum S {
                P(PointSmoother),
                F(FaceSmoother),
            }
            let mut sm: HashMap<u64, S> = HashMap::new();
            let mut meter = FlickerMeter::new();
            for (i, faces) in frames.iter().enumerate() {
                let t = i as f64 / fps;
                let out: Vec<TrackedFace> = faces
                    .iter()
                    .map(|f| {
                        let s = sm.entry(f.id).or_insert_with(|| match shape {
                            None => S::P(PointSmoother::new(p)),
                            Some((smc, sb)) => S::F(FaceSmoother::new(
                                p,
                                OneEuroParams {
                                    min_cutoff: smc,
                                    beta: sb,
                                    d_cutoff: 1.0,
                                },
                            )),
                        });
                        let iod = facemark_apps::points::eye_distance(&f.raw).max(1.0);
                        let points = match s {
                            S::P(s) => s.filter(&f.raw, t, iod),
                            S::F(s) => s.filter(&f.raw, t, iod),
                        };
                        TrackedFace {
                            points,
                            ..f.clone()
                        }
                    })
                    .collect();
                meter.add_frame(&out);
            }
            let r = meter.report();
            println!(
                "{:<6} {:>8} {mc:>9.1} {beta:>5.1}   {:.4} → {:.4} ({:.2}×)   {:.4} → {:.4} ({:.2}×)   {:.4}",
                if shape.is_some() { "face" } else { "points" },
                shape.map_or("-".to_string(), |v| format!("{:.1}/{:.1}", v.0, v.1)),
                r.flicker_raw,
                r.flicker_smoothed,
                r.flicker_raw / r.flicker_smoothed,
                r.jerk_raw,
                r.jerk_smoothed,
                r.jerk_raw / r.jerk_smoothed,
                r.lag
            );
        }
    }
    Ok(())
}
