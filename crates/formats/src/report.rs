//! What a data set holds: sample and point counts, missing points, image sizes, identities
//! ([`InspectReport`], `facemark data inspect`).
//!
//! The report is data (serialisable with serde); printing it is the caller's job. It is built in
//! two steps so that a caller can show the cheap part before the slow one:
//! [`InspectReport::count`] reads only the samples, [`InspectReport::scan_images`] then reads
//! every image's header (or decodes it). [`inspect`] does both.

use crate::dataset::{load, Format};
use crate::{image_size, load_gray, Result};
use facemark_core::{ImageSource, Sample, Scheme};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How many "most often missing" points a report lists.
pub const MOST_MISSING: usize = 5;

/// A data set's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InspectReport {
    /// The data set's path, as given.
    pub path: PathBuf,
    /// Its format's name ([`Format::name`]).
    pub format: String,
    /// Number of samples (faces).
    pub samples: usize,
    /// Samples per point count, by increasing point count.
    pub point_counts: Vec<PointCount>,
    /// Missing (not visible) points.
    pub missing: Missing,
    /// Samples per identity; `None` for an empty data set.
    pub identities: Option<IdentityStats>,
    /// Samples with a face box of their own (imglab).
    pub face_boxes: usize,
    /// Image sizes; `None` until [`InspectReport::scan_images`], and for an empty data set.
    pub images: Option<ImageStats>,
    /// Samples with a visible point more than half a pixel outside their image; `None` until
    /// [`InspectReport::scan_images`].
    pub points_outside_image: Option<usize>,
    /// Seconds spent loading the annotations (0 when the caller did not measure).
    pub load_seconds: f64,
}

/// Samples that have `points` points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointCount {
    /// Points per sample.
    pub points: usize,
    /// Samples with that many.
    pub samples: usize,
    /// The landmark scheme of that point count ([`Scheme::for_points`]).
    pub scheme: String,
}

/// Missing points over the data set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// Missing points, all samples together.
    pub points: usize,
    /// All points, all samples together.
    pub of_points: usize,
    /// Samples with at least one missing point.
    pub samples: usize,
    /// The points missing most often, most first (ties by index), at most [`MOST_MISSING`];
    /// indices and names in the scheme of the first sample with a missing point.
    pub most_often: Vec<MissingPoint>,
}

/// One landmark and how often it is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingPoint {
    /// Index in the scheme.
    pub index: usize,
    /// Name in the scheme.
    pub name: String,
    /// Samples where it is missing.
    pub samples: usize,
}

/// Image sizes over the data set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStats {
    /// Images (one per sample).
    pub images: usize,
    /// Distinct image files.
    pub files: usize,
    /// Samples whose image is in memory (Kaggle, cache) rather than a file.
    pub in_memory: usize,
    /// Distinct `width × height` sizes.
    pub distinct_sizes: usize,
    /// Widths, pixels.
    pub width: Spread,
    /// Heights, pixels.
    pub height: Spread,
    /// Whether every image was decoded (else sizes come from headers).
    pub decoded: bool,
}

/// Smallest, median (the upper one for an even count) and largest of some counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    /// Smallest.
    pub min: u32,
    /// Median: element `len / 2` of the sorted values.
    pub median: u32,
    /// Largest.
    pub max: u32,
}

impl Spread {
    /// The spread of `values`; `None` when empty.
    pub fn of(values: impl IntoIterator<Item = u32>) -> Option<Spread> {
        let mut v: Vec<u32> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        Some(Spread {
            min: v[0],
            median: v[v.len() / 2],
            max: v[v.len() - 1],
        })
    }
}

/// Identities ([`Sample::identity`]) and samples per identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityStats {
    /// Distinct identities.
    pub identities: usize,
    /// Samples per identity.
    pub samples_per_identity: Spread,
}

/// Load `path` as `format` and report on it (images' headers read, or every image decoded when
/// `decode`: that finds corrupt files).
pub fn inspect(path: &Path, format: Format, decode: bool) -> Result<InspectReport> {
    let t0 = Instant::now();
    let samples = load(path, format)?;
    let mut report = InspectReport::count(path, format, &samples, t0.elapsed().as_secs_f64());
    report.scan_images(&samples, decode)?;
    Ok(report)
}

impl InspectReport {
    /// Everything that needs no image: counts, missing points, identities, face boxes.
    /// `load_seconds` is recorded as given.
    pub fn count(path: &Path, format: Format, samples: &[Sample], load_seconds: f64) -> Self {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for s in samples {
            *counts.entry(s.points.len()).or_default() += 1;
        }
        let point_counts = counts
            .into_iter()
            .map(|(points, n)| PointCount {
                points,
                samples: n,
                scheme: Scheme::for_points(points).name.to_string(),
            })
            .collect();
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for s in samples {
            *ids.entry(s.identity.as_str()).or_default() += 1;
        }
        let identities = Spread::of(ids.values().map(|&n| n as u32)).map(|spread| IdentityStats {
            identities: ids.len(),
            samples_per_identity: spread,
        });
        InspectReport {
            path: path.to_path_buf(),
            format: format.name().to_string(),
            samples: samples.len(),
            point_counts,
            missing: missing(samples),
            identities,
            face_boxes: samples.iter().filter(|s| s.face_box.is_some()).count(),
            images: None,
            points_outside_image: None,
            load_seconds,
        }
    }

    /// Read every sample's image size (from its header, or by decoding it when `decode`), in
    /// parallel, and fill [`InspectReport::images`] and [`InspectReport::points_outside_image`].
    /// `samples` must be the ones given to [`InspectReport::count`]. The first unreadable image
    /// is the error.
    pub fn scan_images(&mut self, samples: &[Sample], decode: bool) -> Result<()> {
        let sizes: Vec<(u32, u32)> = samples
            .par_iter()
            .map(|s| -> Result<(u32, u32)> {
                if decode {
                    let g = load_gray(&s.image)?;
                    Ok((g.width(), g.height()))
                } else {
                    image_size(&s.image)
                }
            })
            .collect::<Result<_>>()?;
        let files: HashSet<&PathBuf> = samples
            .iter()
            .filter_map(|s| match &s.image {
                ImageSource::File(p) => Some(p),
                _ => None,
            })
            .collect();
        let on_file = samples
            .iter()
            .filter(|s| matches!(s.image, ImageSource::File(_)))
            .count();
        self.images = match (
            Spread::of(sizes.iter().map(|s| s.0)),
            Spread::of(sizes.iter().map(|s| s.1)),
        ) {
            (Some(width), Some(height)) => Some(ImageStats {
                images: sizes.len(),
                files: files.len(),
                in_memory: samples.len() - on_file,
                distinct_sizes: sizes.iter().collect::<HashSet<_>>().len(),
                width,
                height,
                decoded: decode,
            }),
            _ => None,
        };
        // Point extent relative to the image: a quick check of the coordinate frame.
        let outside = samples
            .iter()
            .zip(&sizes)
            .filter(|(s, (w, h))| {
                s.points.iter().zip(&s.visible).any(|(p, v)| {
                    *v && (p[0] < -0.5
                        || p[1] < -0.5
                        || p[0] > *w as f32 + 0.5
                        || p[1] > *h as f32 + 0.5)
                })
            })
            .count();
        self.points_outside_image = Some(outside);
        Ok(())
    }
}

fn missing(samples: &[Sample]) -> Missing {
    let points = samples.iter().map(|s| s.points.len() - s.present()).sum();
    let of_points = samples.iter().map(|s| s.points.len()).sum();
    let with_missing = samples
        .iter()
        .filter(|s| s.present() < s.points.len())
        .count();
    let mut most_often = vec![];
    if let Some(first) = samples.iter().find(|s| s.present() < s.points.len()) {
        let scheme = Scheme::for_points(first.points.len());
        let mut per_point = vec![0usize; first.points.len()];
        for s in samples {
            for (i, v) in s.visible.iter().enumerate() {
                if !v && i < per_point.len() {
                    per_point[i] += 1;
                }
            }
        }
        let mut v: Vec<(usize, usize)> = per_point.into_iter().enumerate().collect();
        v.sort_by_key(|(i, n)| (std::cmp::Reverse(*n), *i));
        most_often = v
            .into_iter()
            .take(MOST_MISSING)
            .filter(|(_, n)| *n > 0)
            .map(|(i, n)| MissingPoint {
                index: i,
                name: scheme.point_names[i].to_string(),
                samples: n,
            })
            .collect();
    }
    Missing {
        points,
        of_points,
        samples: with_missing,
        most_often,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::save_as;

    /// Three 15-point samples in memory, written as a Kaggle CSV: two of one identity, one of
    /// another; sample 0 misses points 2 and 4, sample 1 misses point 4, one point of sample 2
    /// lies outside its 96×96 image.
    fn synthetic(dir: &Path) -> PathBuf {
        let mut samples = vec![];
        for k in 0..3 {
            let pixels = (0..96 * 96).map(|i| (i % 251) as u8).collect();
            let mut pts: Vec<[f32; 2]> = (0..15)
                .map(|i| [20.0 + 4.0 * i as f32, 30.0 + k as f32])
                .collect();
            if k == 2 {
                pts[7] = [97.5, 40.0];
            }
            let mut s = Sample::new(
                ImageSource::Gray {
                    width: 96,
                    height: 96,
                    pixels,
                },
                pts,
                format!("s{k}"),
            );
            let missing: &[usize] = match k {
                0 => &[2, 4],
                1 => &[4],
                _ => &[],
            };
            for &i in missing {
                s.visible[i] = false;
                s.points[i] = [f32::NAN, f32::NAN];
            }
            samples.push(s);
        }
        let p = dir.join("training.csv");
        save_as(&p, Format::Kaggle, &samples).unwrap();
        p
    }

    #[test]
    fn report_of_a_synthetic_set() {
        let d = tempfile::tempdir().unwrap();
        let p = synthetic(d.path());
        let r = inspect(&p, Format::Kaggle, true).unwrap();
        assert_eq!(r.format, "kaggle");
        assert_eq!(r.samples, 3);
        assert_eq!(
            r.point_counts,
            vec![PointCount {
                points: 15,
                samples: 3,
                scheme: "kaggle15".into()
            }]
        );
        assert_eq!(r.missing.points, 3);
        assert_eq!(r.missing.of_points, 45);
        assert_eq!(r.missing.samples, 2);
        let scheme = Scheme::for_points(15);
        assert_eq!(
            r.missing.most_often,
            vec![
                MissingPoint {
                    index: 4,
                    name: scheme.point_names[4].to_string(),
                    samples: 2
                },
                MissingPoint {
                    index: 2,
                    name: scheme.point_names[2].to_string(),
                    samples: 1
                },
            ]
        );
        let im = r.images.as_ref().unwrap();
        assert_eq!((im.images, im.files, im.in_memory), (3, 0, 3));
        assert_eq!(im.distinct_sizes, 1);
        let s96 = Spread {
            min: 96,
            median: 96,
            max: 96,
        };
        assert_eq!((im.width, im.height, im.decoded), (s96, s96, true));
        assert_eq!(r.points_outside_image, Some(1));
        assert_eq!(r.face_boxes, 0);
        // Kaggle rows are their own identities.
        let ids = r.identities.unwrap();
        assert_eq!(ids.identities, 3);
        // Serialisable, and back.
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"points_outside_image\":1"), "{json}");
        assert_eq!(serde_json::from_str::<InspectReport>(&json).unwrap(), r);
    }

    #[test]
    fn count_needs_no_images_and_identities_are_counted() {
        let mk = |id: &str, n: usize| {
            let mut s = Sample::new(
                ImageSource::File("/nonexistent.png".into()),
                vec![[1.0, 1.0]; n],
                id.to_string(),
            );
            s.identity = id.to_string();
            s
        };
        let samples = vec![
            mk("a", 68),
            mk("a", 68),
            mk("a", 68),
            mk("b", 68),
            mk("c", 5),
        ];
        let mut r = InspectReport::count(Path::new("x"), Format::Pts300w, &samples, 0.5);
        assert_eq!(r.samples, 5);
        assert_eq!(r.point_counts.len(), 2);
        assert_eq!(
            (r.point_counts[0].points, r.point_counts[0].samples),
            (5, 1)
        );
        assert_eq!(
            (r.point_counts[1].points, r.point_counts[1].samples),
            (68, 4)
        );
        assert_eq!(r.point_counts[1].scheme, "ibug68");
        assert_eq!(r.missing.samples, 0);
        assert!(r.missing.most_often.is_empty());
        let ids = r.identities.unwrap();
        assert_eq!(ids.identities, 3);
        assert_eq!(
            ids.samples_per_identity,
            Spread {
                min: 1,
                median: 1,
                max: 3
            }
        );
        assert_eq!((r.images.clone(), r.points_outside_image), (None, None));
        // The missing image is the error, named.
        let e = r.scan_images(&samples, false).unwrap_err().to_string();
        assert!(e.contains("nonexistent.png"), "{e}");
    }

    #[test]
    fn empty_set() {
        let mut r = InspectReport::count(Path::new("e"), Format::Imglab, &[], 0.0);
        r.scan_images(&[], true).unwrap();
        assert_eq!(r.samples, 0);
        assert!(r.point_counts.is_empty() && r.identities.is_none() && r.images.is_none());
        assert_eq!(r.points_outside_image, Some(0));
    }
}
