//! Converting a data set from one format to another (`facemark data convert`): 68 iBUG points
//! to the 15 Kaggle points, Kaggle's 96×96 gray crops, and face-crop caches.

use crate::cache::{crop_sample, FaceCache};
use crate::dataset::{load, save_as, Format};
use crate::{FormatError, Result};
use facemark_core::scheme::ibug68_to_kaggle15;
use facemark_core::{CropSpec, ImageSource, Sample};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Side of a Kaggle image, pixels.
pub const KAGGLE_SIDE: u32 = 96;

/// How to convert.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvertOptions {
    /// Map 68 iBUG points to the 15 Kaggle points ([`to_kaggle15`]).
    pub to_15: bool,
    /// Side of the gray crops of a [`Format::Cache`] output, pixels; required for it.
    pub cache_size: Option<u32>,
    /// Crop margin around the landmark box, as a fraction of its longer side, for a cache and
    /// for Kaggle output of images other than 96×96 gray; in `0..=10`.
    pub margin: f32,
}

impl Default for ConvertOptions {
    /// No point mapping, no cache, margin 0.12.
    fn default() -> Self {
        ConvertOptions {
            to_15: false,
            cache_size: None,
            margin: 0.12,
        }
    }
}

/// What a conversion wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvertReport {
    /// Input format's name.
    pub from: String,
    /// Output format's name.
    pub to: String,
    /// The output path.
    pub output: PathBuf,
    /// Samples written (faces, for a cache).
    pub samples: usize,
    /// Points per sample (of the first sample; 0 when there is none).
    pub points: usize,
    /// Side of the cache's crops, for a cache output.
    pub cache_size: Option<u32>,
    /// Whether faces were cropped to 96×96 gray for the Kaggle layout.
    pub cropped_for_kaggle: bool,
    /// Margin used for crops.
    pub margin: f32,
    /// Seconds spent building and writing a cache (0 for other outputs).
    pub cache_seconds: f64,
}

/// Read `input` as `from` and write it to `output` as `to`. A [`Format::Cache`] output needs
/// `options.cache_size`; a Kaggle output crops faces to 96×96 gray unless every image already
/// is one.
pub fn convert(
    input: &Path,
    from: Format,
    output: &Path,
    to: Format,
    options: &ConvertOptions,
) -> Result<ConvertReport> {
    let margin = options.margin;
    if !(0.0..=10.0).contains(&margin) {
        return Err(FormatError::Options(format!(
            "margin {margin} outside 0..10"
        )));
    }
    if to == Format::Cache && options.cache_size.is_none() {
        return Err(FormatError::Options(
            "a cache output needs a crop size".into(),
        ));
    }
    let mut samples = load(input, from)?;
    if options.to_15 {
        samples = to_kaggle15(samples)?;
    }
    let spec = CropSpec::with_margin(margin);
    let mut report = ConvertReport {
        from: from.name().to_string(),
        to: to.name().to_string(),
        output: output.to_path_buf(),
        samples: samples.len(),
        points: samples.first().map(|s| s.points.len()).unwrap_or(0),
        cache_size: None,
        cropped_for_kaggle: false,
        margin,
        cache_seconds: 0.0,
    };
    match to {
        Format::Cache => {
            let size = options.cache_size.unwrap_or_default();
            let t0 = Instant::now();
            let c = FaceCache::build(&samples, size, spec)?;
            c.save(output)?;
            report.samples = c.len();
            report.points = c.n_points;
            report.cache_size = Some(size);
            report.cache_seconds = t0.elapsed().as_secs_f64();
            return Ok(report);
        }
        Format::Kaggle if needs_kaggle_crop(&samples) => {
            samples = crop_for_kaggle(&samples, &spec)?;
            report.cropped_for_kaggle = true;
        }
        _ => {}
    }
    save_as(output, to, &samples)?;
    Ok(report)
}

/// Whether some sample's image is not a 96×96 gray image in memory (as Kaggle's are).
pub fn needs_kaggle_crop(samples: &[Sample]) -> bool {
    samples.iter().any(|s| match &s.image {
        ImageSource::Gray { width, height, .. } => *width != KAGGLE_SIDE || *height != KAGGLE_SIDE,
        ImageSource::File(_) => true,
    })
}

/// Each sample cropped around its landmarks to a 96×96 gray image in memory, points moved
/// with it.
pub fn crop_for_kaggle(samples: &[Sample], spec: &CropSpec) -> Result<Vec<Sample>> {
    samples
        .par_iter()
        .map(|s| -> Result<Sample> {
            let (img, pts, _) = crop_sample(s, KAGGLE_SIDE, spec)?;
            let mut c = s.clone();
            c.image = ImageSource::Gray {
                width: KAGGLE_SIDE,
                height: KAGGLE_SIDE,
                pixels: img.into_raw(),
            };
            c.points = pts;
            Ok(c)
        })
        .collect()
}

/// 68 iBUG points → the 15 Kaggle points (eye centres = mean of the six eye points; "left" =
/// the subject's left); a point made from a missing one is missing. Every sample must have 68
/// points.
pub fn to_kaggle15(samples: Vec<Sample>) -> Result<Vec<Sample>> {
    samples
        .into_iter()
        .map(|mut s| {
            if s.points.len() != 68 {
                return Err(FormatError::Sample {
                    msg: format!(
                        "68 → 15 points needs 68 iBUG points, this sample has {}",
                        s.points.len()
                    ),
                    name: s.name,
                });
            }
            let pts: Vec<_> = s
                .points
                .iter()
                .zip(&s.visible)
                .map(|(p, v)| if *v { *p } else { [f32::NAN, f32::NAN] })
                .collect();
            s.points = ibug68_to_kaggle15(&pts);
            s.visible = s
                .points
                .iter()
                .map(|p| p[0].is_finite() && p[1].is_finite())
                .collect();
            Ok(s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::load_any;
    use crate::testutil::{close, fixture};

    #[test]
    fn convert_round_trips_every_format() {
        let d = tempfile::tempdir().unwrap();
        let orig = fixture(d.path());
        let src = d.path().join("w300");
        let opts = ConvertOptions::default();
        for (out, to) in [
            ("a_frames_keypoints.csv", Format::YoutubeCsv),
            ("b.xml", Format::Imglab),
            ("c_dir", Format::Pts300w),
            ("h_dir", Format::HelenDir),
        ] {
            let o = d.path().join(out);
            let r = convert(&src, Format::Pts300w, &o, to, &opts).unwrap();
            assert_eq!((r.samples, r.points, r.to.as_str()), (2, 68, to.name()));
            let back = load(&o, to).unwrap();
            close(&orig, &back);
            // And back again into 300-W.
            let again = d.path().join(format!("{out}_again"));
            convert(&o, to, &again, Format::Pts300w, &opts).unwrap();
            close(&orig, &load_any(&again).unwrap());
        }
        // Kaggle: 68 → 15, cropped to 96×96; reading it back keeps coordinates.
        let k = d.path().join("k.zip");
        let to15 = ConvertOptions {
            to_15: true,
            ..opts
        };
        let r = convert(&src, Format::Pts300w, &k, Format::Kaggle, &to15).unwrap();
        assert!(r.cropped_for_kaggle);
        let ks = load_any(&k).unwrap();
        assert_eq!(ks[0].points.len(), 15);
        let k2 = d.path().join("k2.zip");
        let r = convert(&k, Format::Kaggle, &k2, Format::Kaggle, &opts).unwrap();
        assert!(!r.cropped_for_kaggle, "already 96×96 gray");
        close(&ks, &load_any(&k2).unwrap());
        // Cache.
        let c = d.path().join("c.fmc");
        let cache = ConvertOptions {
            cache_size: Some(32),
            margin: 0.1,
            ..opts
        };
        let r = convert(&src, Format::Pts300w, &c, Format::Cache, &cache).unwrap();
        assert_eq!((r.samples, r.cache_size), (2, Some(32)));
        assert_eq!(FaceCache::load(&c).unwrap().len(), 2);
    }

    #[test]
    fn bad_options_and_samples_are_errors() {
        let d = tempfile::tempdir().unwrap();
        fixture(d.path());
        let src = d.path().join("w300");
        let o = d.path().join("o.fmc");
        let bad_margin = ConvertOptions {
            margin: 11.0,
            ..Default::default()
        };
        let e = convert(&src, Format::Pts300w, &o, Format::Imglab, &bad_margin).unwrap_err();
        assert!(e.to_string().contains("margin 11"), "{e}");
        let e = convert(
            &src,
            Format::Pts300w,
            &o,
            Format::Cache,
            &Default::default(),
        );
        assert!(e.unwrap_err().to_string().contains("crop size"));
        // --to-15 on non-68 data.
        let y = d.path().join("y.csv");
        std::fs::write(&y, ",0,1,2,3\na.jpg,1,2,3,4\n").unwrap();
        let to15 = ConvertOptions {
            to_15: true,
            ..Default::default()
        };
        let e = convert(&y, Format::YoutubeCsv, &o, Format::Kaggle, &to15).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.jpg: 68 → 15 points needs 68 iBUG points, this sample has 2"
        );
    }
}
