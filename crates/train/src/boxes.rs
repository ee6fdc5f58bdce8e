//! The face box an evaluation gives the landmarker: where it comes from ([`BoxSource`],
//! [`face_box`]) and, to simulate a face detector whose boxes are off, a seeded random shift
//! and scale of it ([`shift_box`]).

use facemark_core::{BoxF, Sample};
use image::GrayImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Where the face box given to the landmarker comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxSource {
    /// `BoxF::around(visible ground-truth points)` (default).
    #[default]
    GroundTruth,
    /// The sample's `face_box` (formats that store one); faces without one are skipped.
    SampleBox,
    /// The whole image (Kaggle 96×96 faces, already cropped).
    WholeImage,
}

impl std::str::FromStr for BoxSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gt" | "ground-truth" | "ground_truth" => Ok(BoxSource::GroundTruth),
            "sample" | "sample-box" | "face-box" => Ok(BoxSource::SampleBox),
            "image" | "whole-image" | "whole_image" => Ok(BoxSource::WholeImage),
            _ => Err(format!("unknown box source `{s}` (gt, sample, image)")),
        }
    }
}

impl std::fmt::Display for BoxSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BoxSource::GroundTruth => "ground_truth",
            BoxSource::SampleBox => "sample_box",
            BoxSource::WholeImage => "whole_image",
        })
    }
}

/// The box [`crate::eval::evaluate`] gives the landmarker for `sample` (pixels) before any
/// [`shift_box`], or why there is none.
pub fn face_box(sample: &Sample, img: &GrayImage, src: BoxSource) -> Result<BoxF, String> {
    match src {
        BoxSource::GroundTruth => sample
            .landmark_box()
            .filter(|b| b.w > 0.0 || b.h > 0.0)
            .ok_or_else(|| "no two distinct visible points".to_string()),
        BoxSource::SampleBox => sample.face_box.ok_or_else(|| "no face box".to_string()),
        BoxSource::WholeImage => Ok(BoxF::new(0.0, 0.0, img.width() as f32, img.height() as f32)),
    }
}

/// `f` if it is a valid box shift (a number in `[0, 1]`), else the reason, for the CLI and the
/// library alike.
pub fn check_box_shift(f: f32) -> Result<f32, String> {
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err(format!(
            "box shift {f} is outside [0, 1] (a fraction of the face box's side)"
        ))
    }
}

/// Parses and checks a `--box-shift` value ([`check_box_shift`]).
pub fn parse_box_shift(s: &str) -> Result<f32, String> {
    let f: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    check_box_shift(f)
}

/// `b` moved and scaled as an off detector box: its centre moves by `f × side` (side = the
/// box's longer side) in a direction drawn uniformly in `[0, 2π)`, and its width and height
/// are multiplied by one factor drawn uniformly in `[1 − f/2, 1 + f/2]` (about the moved
/// centre). The draws come from a ChaCha8 generator seeded with `seed`, on stream `index` (the
/// face's index in the evaluated samples): the same face gets the same box on every run,
/// whatever the thread count or the other faces. `f = 0` returns `b` itself, bit for bit.
/// `f` is assumed checked ([`check_box_shift`]).
pub fn shift_box(b: &BoxF, f: f32, seed: u64, index: usize) -> BoxF {
    if f == 0.0 {
        return *b;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    let angle = rng.gen_range(0.0..std::f32::consts::TAU);
    let scale = 1.0 + f * (rng.gen::<f32>() - 0.5);
    let d = f * b.w.max(b.h);
    let [cx, cy] = b.center();
    let (cx, cy) = (cx + d * angle.cos(), cy + d * angle.sin());
    let (w, h) = (b.w * scale, b.h * scale);
    BoxF::new(cx - w * 0.5, cy - h * 0.5, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_by_the_fraction_and_scales_within_range() {
        let b = BoxF::new(10.0, 20.0, 100.0, 80.0);
        assert_eq!(shift_box(&b, 0.0, 7, 3), b);
        let mut quadrants = [0usize; 4];
        for i in 0..400 {
            let s = shift_box(&b, 0.2, 7, i);
            let (c, c0) = (s.center(), b.center());
            let (dx, dy) = (c[0] - c0[0], c[1] - c0[1]);
            // the centre moved by exactly 0.2 × the longer side (100 px)
            assert!(
                ((dx * dx + dy * dy).sqrt() - 20.0).abs() < 1e-3,
                "{dx} {dy}"
            );
            let k = s.w / b.w;
            assert!(
                (0.9..=1.1).contains(&k) && (s.h / b.h - k).abs() < 1e-5,
                "{k}"
            );
            quadrants[usize::from(dx < 0.0) * 2 + usize::from(dy < 0.0)] += 1;
            // deterministic per (seed, index)
            assert_eq!(s, shift_box(&b, 0.2, 7, i));
        }
        assert!(
            quadrants.iter().all(|&n| n > 60),
            "angles not uniform: {quadrants:?}"
        );
        assert_ne!(shift_box(&b, 0.2, 7, 0), shift_box(&b, 0.2, 8, 0));
        assert_ne!(shift_box(&b, 0.2, 7, 0), shift_box(&b, 0.2, 7, 1));
    }

    #[test]
    fn box_shift_values_are_checked() {
        assert_eq!(parse_box_shift("0.1"), Ok(0.1));
        assert_eq!(parse_box_shift("0"), Ok(0.0));
        assert_eq!(parse_box_shift("1"), Ok(1.0));
        for bad in ["-0.1", "1.5", "NaN", "inf", "x"] {
            let e = parse_box_shift(bad).unwrap_err();
            assert!(e.contains("[0, 1]") || e.contains("not a number"), "{e}");
        }
        assert!(check_box_shift(f32::NAN).is_err());
    }
}
