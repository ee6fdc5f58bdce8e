//! The Kaggle Facial Keypoints workflow after training: predict `test.csv`, write the
//! submission through `IdLookupTable.csv`, and (for held-out data with known answers) score a
//! submission with Kaggle's metric.
//!
//! Kaggle test faces are 96×96 gray images that are already the face, but a [`Landmarker`]
//! wants the face's *landmark box* (the tight box of its points, see `CropSpec`), which for the
//! 15 Kaggle points is much smaller than the image (kaggle-style-15: about 57×54 px at
//! (20, 13)). [`PredictOptions`] chooses the first box — the whole image, or a fixed box such
//! as the mean landmark box of the training file ([`mean_landmark_box`]) — and how many times
//! to re-predict from the box around the previous prediction (`refine`). Predictions are in
//! the scheme's order, which must be Kaggle's 15 points ([`KAGGLE15_NAMES`]).

use crate::eval::load_gray;
use crate::metrics::SquaredError;
use facemark_core::scheme::KAGGLE15_NAMES;
use facemark_core::{BoxF, Landmarker, Point, Sample};
use facemark_formats::kaggle::{self as kf, LookupRow};
use facemark_formats::FormatError;
use image::GrayImage;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Errors predicting Kaggle's test set and writing or scoring a submission.
#[derive(Debug, thiserror::Error)]
pub enum KaggleError {
    /// The landmarker's scheme is not Kaggle's 15 points in Kaggle's order, so its points
    /// cannot be written to the submission's columns.
    #[error("the model's scheme `{scheme}` is not Kaggle's 15 points in Kaggle order (expected point names {expected})")]
    Scheme {
        /// The landmarker's scheme name.
        scheme: String,
        /// Kaggle's point names in order, for the message.
        expected: String,
    },
    /// A sample to predict did not come from `test.csv` (its name carries no ImageId).
    #[error("{name}: not a Kaggle test row (expected a name `kaggle_<ImageId>` from test.csv's ImageId column)")]
    NoImageId {
        /// The sample's name.
        name: String,
    },
    /// A test image could not be decoded.
    #[error("{name}: {reason}")]
    Image {
        /// The sample's name.
        name: String,
        /// The decoder's message.
        reason: String,
    },
    /// An ImageId is implausibly large for the test set (bounded so that a corrupt id cannot
    /// demand a huge allocation).
    #[error("ImageId {id} is out of range (at most {max} for {n} test faces)")]
    IdRange {
        /// The offending ImageId.
        id: u64,
        /// The largest accepted (10 × test faces + 100 000).
        max: u64,
        /// Test faces read.
        n: usize,
    },
    /// Two test rows share an ImageId.
    #[error("ImageId {id} appears twice in the test set")]
    DuplicateId {
        /// The repeated ImageId.
        id: u64,
    },
    /// An option out of its range (`facemark_core::limits`).
    #[error("{0}")]
    Options(String),
    /// Reading `test.csv`, `IdLookupTable.csv` or the training file failed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A line of a submission file to score is not `RowId,Location`.
    #[error("{path}: line {line}: {msg}")]
    Submission {
        /// The submission file.
        path: PathBuf,
        /// The line, counted from 1.
        line: usize,
        /// What was expected.
        msg: String,
    },
    /// Writing the submission failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file or folder being written.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// The ImageId of a sample read from `test.csv` (named `kaggle_<ImageId>` by the reader).
pub fn image_id(sample: &Sample) -> Option<u64> {
    sample.name.strip_prefix("kaggle_")?.parse().ok()
}

/// Checks that `lm` predicts Kaggle's 15 points in Kaggle's order.
pub fn check_scheme(lm: &dyn Landmarker) -> Result<(), KaggleError> {
    let s = lm.scheme();
    if s.len() != KAGGLE15_NAMES.len()
        || s.point_names
            .iter()
            .zip(KAGGLE15_NAMES)
            .any(|(a, b)| a != b)
    {
        return Err(KaggleError::Scheme {
            scheme: s.name.clone(),
            expected: "left_eye_center … mouth_center_bottom_lip".into(),
        });
    }
    Ok(())
}

/// The first face box for a test image.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum TestBox {
    /// The whole image.
    #[default]
    WholeImage,
    /// The same box (pixels) for every image, e.g. [`mean_landmark_box`] of the training data.
    Fixed(BoxF),
}

/// How test faces are predicted.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PredictOptions {
    /// The box of the first prediction (default: the whole 96×96 image).
    pub start: TestBox,
    /// Extra passes, each predicting again from `BoxF::around(previous prediction)`.
    pub refine: usize,
}

/// The mean over faces of the tight box of each face's visible points (pixels); `None` when
/// no face has two distinct visible points. For Kaggle data (all images 96×96) this is the
/// typical landmark box of a test image.
pub fn mean_landmark_box(samples: &[Sample]) -> Option<BoxF> {
    let (mut acc, mut n) = ([0.0f64; 4], 0usize);
    for s in samples {
        if let Some(b) = s.landmark_box().filter(|b| b.w > 0.0 && b.h > 0.0) {
            for (a, v) in acc.iter_mut().zip([b.x, b.y, b.w, b.h]) {
                *a += v as f64;
            }
            n += 1;
        }
    }
    (n > 0).then(|| {
        let m = acc.map(|a| (a / n as f64) as f32);
        BoxF::new(m[0], m[1], m[2], m[3])
    })
}

/// Predicts one face: from the start box, then `refine` times from the box around the last
/// prediction (kept when that box is degenerate).
pub fn predict_face(lm: &dyn Landmarker, img: &GrayImage, opts: &PredictOptions) -> Vec<Point> {
    let mut bx = match opts.start {
        TestBox::WholeImage => BoxF::new(0.0, 0.0, img.width() as f32, img.height() as f32),
        TestBox::Fixed(b) => b,
    };
    let mut pred = lm.landmarks(img, &bx);
    for _ in 0..opts.refine {
        match BoxF::around(&pred).filter(|b| b.w > 1.0 && b.h > 1.0 && b.w.is_finite()) {
            Some(b) => bx = b,
            None => break,
        }
        pred = lm.landmarks(img, &bx);
    }
    pred
}

/// Predicts every test face (in parallel). Returns the points indexed by `ImageId − 1`
/// (pixels of the test image); ImageIds absent from `test` get an empty list.
pub fn predict_test(
    lm: &dyn Landmarker,
    test: &[Sample],
    opts: &PredictOptions,
) -> Result<Vec<Vec<Point>>, KaggleError> {
    check_scheme(lm)?;
    facemark_core::limits::check_refine(opts.refine).map_err(KaggleError::Options)?;
    let ids: Vec<u64> = test
        .iter()
        .map(|s| {
            image_id(s)
                .filter(|id| *id >= 1)
                .ok_or_else(|| KaggleError::NoImageId {
                    name: s.name.clone(),
                })
        })
        .collect::<Result<_, _>>()?;
    let preds: Vec<Vec<Point>> = test
        .par_iter()
        .map(|s| {
            let img = load_gray(&s.image).map_err(|reason| KaggleError::Image {
                name: s.name.clone(),
                reason,
            })?;
            Ok(predict_face(lm, &img, opts))
        })
        .collect::<Result<_, KaggleError>>()?;
    // ImageIds index the output: bound them so that a corrupt id cannot demand a huge vector.
    let max = 10 * test.len() as u64 + 100_000;
    if let Some(&id) = ids.iter().find(|&&id| id > max) {
        return Err(KaggleError::IdRange {
            id,
            max,
            n: test.len(),
        });
    }
    let n = ids.iter().copied().max().unwrap_or(0) as usize;
    let mut out: Vec<Vec<Point>> = vec![vec![]; n];
    for (id, p) in ids.into_iter().zip(preds) {
        let slot = &mut out[id as usize - 1];
        if !slot.is_empty() {
            return Err(KaggleError::DuplicateId { id });
        }
        *slot = p;
    }
    Ok(out)
}

/// What [`write_submission`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmissionSummary {
    /// Test faces predicted.
    pub test_faces: usize,
    /// Submission rows written (one per `IdLookupTable.csv` row).
    pub rows: usize,
}

/// Reads `test.csv` and `IdLookupTable.csv` (bare or zipped), predicts, and writes the
/// submission `RowId,Location` (values clipped to `[0, 96]`) atomically to `out`.
pub fn write_submission(
    lm: &dyn Landmarker,
    test_csv: &Path,
    lookup_csv: &Path,
    out: &Path,
    opts: &PredictOptions,
) -> Result<SubmissionSummary, KaggleError> {
    check_scheme(lm)?;
    let test = kf::read(test_csv)?;
    let lookup = kf::read_id_lookup(lookup_csv)?;
    let preds = predict_test(lm, &test, opts)?;
    kf::write_submission(&lookup, &preds, out)?;
    Ok(SubmissionSummary {
        test_faces: test.len(),
        rows: lookup.len(),
    })
}

/// Parses a submission `RowId,Location` into `(row id, value)` pairs.
pub fn parse_submission(text: &str, path: &Path) -> Result<Vec<(u64, f32)>, KaggleError> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_end_matches('\r').trim();
        if l.is_empty() || (i == 0 && l.starts_with("RowId")) {
            continue;
        }
        let err = |msg: String| KaggleError::Submission {
            path: path.to_path_buf(),
            line: i + 1,
            msg,
        };
        let (a, b) = l
            .split_once(',')
            .ok_or_else(|| err("expected `RowId,Location`".into()))?;
        let id = a
            .trim()
            .parse()
            .map_err(|_| err(format!("RowId `{a}` is not an integer")))?;
        let v: f32 = b
            .trim()
            .parse()
            .map_err(|_| err(format!("Location `{b}` is not a number")))?;
        out.push((id, v));
    }
    Ok(out)
}

/// Kaggle's score of a submission against known answers: RMSE in pixels over every
/// submission row whose true coordinate is present. `truth[image_id − 1]` is that test face's
/// annotated sample (Kaggle order); rows without a known answer are not counted. Returns the
/// pooled squared error (`.rmse()` is the score).
pub fn score_submission(
    submission: &[(u64, f32)],
    lookup: &[LookupRow],
    truth: &[Sample],
) -> SquaredError {
    let by_row: std::collections::HashMap<u64, &LookupRow> =
        lookup.iter().map(|r| (r.row_id, r)).collect();
    let mut s = SquaredError::default();
    for &(row, v) in submission {
        let Some(r) = by_row.get(&row) else { continue };
        let Some((pi, c)) = kf::feature_index(&r.feature) else {
            continue;
        };
        let Some(t) = (r.image_id as usize)
            .checked_sub(1)
            .and_then(|i| truth.get(i))
        else {
            continue;
        };
        if t.visible.get(pi).copied().unwrap_or(false) {
            let d = (v - t.points[pi][c]) as f64;
            s.sum += d * d;
            s.count += 1;
        }
    }
    s
}

/// Kaggle-format test files made from annotated 96×96 faces (e.g. a held-out split of a
/// `training.csv`), so the whole workflow can be run and scored where Kaggle's own test set is
/// not available: `test.csv` (`ImageId,Image`, ImageId = position + 1), `IdLookupTable.csv`
/// asking for every present coordinate, and `truth.csv` (the faces in `training.csv` layout, in
/// ImageId order). Returns the three file paths inside `dir`.
pub fn write_test_set(samples: &[Sample], dir: &Path) -> Result<[PathBuf; 3], KaggleError> {
    std::fs::create_dir_all(dir).map_err(|source| KaggleError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut test = String::from("ImageId,Image\n");
    let mut lookup = String::from("RowId,ImageId,FeatureName,Location\n");
    let mut row = 0u64;
    for (k, s) in samples.iter().enumerate() {
        let img = load_gray(&s.image).map_err(|reason| KaggleError::Image {
            name: s.name.clone(),
            reason,
        })?;
        let px: Vec<String> = img.as_raw().iter().map(|v| v.to_string()).collect();
        test += &format!("{},{}\n", k + 1, px.join(" "));
        for (i, name) in KAGGLE15_NAMES.iter().enumerate() {
            if s.visible.get(i).copied().unwrap_or(false) {
                for axis in ["x", "y"] {
                    row += 1;
                    lookup += &format!("{row},{},{name}_{axis},\n", k + 1);
                }
            }
        }
    }
    let paths = [
        dir.join("test.csv"),
        dir.join("IdLookupTable.csv"),
        dir.join("truth.csv"),
    ];
    let io = |p: &Path, e| KaggleError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    facemark_core::io::write_atomic(&paths[0], test.as_bytes()).map_err(|e| io(&paths[0], e))?;
    facemark_core::io::write_atomic(&paths[1], lookup.as_bytes()).map_err(|e| io(&paths[1], e))?;
    kf::write_training_csv(&paths[2], samples)?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use facemark_core::{ImageSource, Scheme};

    /// Predicts point i at (10 + i, pixel(0,0)) — offset known per face.
    struct Fake(Scheme);
    impl Landmarker for Fake {
        fn scheme(&self) -> &Scheme {
            &self.0
        }
        fn landmarks(&self, img: &GrayImage, b: &BoxF) -> Vec<Point> {
            assert_eq!(*b, BoxF::new(0.0, 0.0, 96.0, 96.0), "whole-image box");
            let y = img.get_pixel(0, 0)[0] as f32;
            (0..15).map(|i| [10.0 + i as f32, y]).collect()
        }
    }

    fn face(v: u8, truth_y: f32) -> Sample {
        let mut px = vec![50u8; 96 * 96];
        px[0] = v;
        Sample::new(
            ImageSource::Gray {
                width: 96,
                height: 96,
                pixels: px,
            },
            (0..15).map(|i| [10.0 + i as f32, truth_y]).collect(),
            "f",
        )
    }

    #[test]
    fn end_to_end_submission_and_score() {
        let dir = tempfile::tempdir().unwrap();
        // Truth y = 40 for both; predictions y = 40 (exact) and 43 (3 px off), and one face
        // predicted at y = 200 to check clipping to 96.
        let mut faces = vec![face(40, 40.0), face(43, 40.0), face(200, 40.0)];
        faces[1].visible[3] = false;
        faces[1].points[3] = [f32::NAN, f32::NAN];
        let [test, lookup, truth] = write_test_set(&faces, dir.path()).unwrap();
        let lm = Fake(Scheme::kaggle15());
        let out = dir.path().join("submission.csv");
        let sum = write_submission(&lm, &test, &lookup, &out, &PredictOptions::default()).unwrap();
        assert_eq!(sum.test_faces, 3);
        assert_eq!(sum.rows, 30 + 28 + 30);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("RowId,Location\n"));
        let sub = parse_submission(&text, &out).unwrap();
        assert_eq!(sub.len(), 88);
        // Row 2 = face 1, left_eye_center_y = 40.
        assert_eq!(sub[1], (2, 40.0));
        // Face 3's y values are clipped to 96.
        assert!(sub.iter().all(|(_, v)| (0.0..=96.0).contains(v)));
        let truth = kf::read(&truth).unwrap();
        let lk = kf::read_id_lookup(&lookup).unwrap();
        let s = score_submission(&sub, &lk, &truth);
        // errors: face 2 y off by 3 (14 points), face 3 y off by 56 (15 points); x exact.
        assert_eq!(s.count, 88);
        let expect = ((14.0 * 9.0 + 15.0 * 56.0 * 56.0) / 88.0f64).sqrt() as f32;
        assert!((s.rmse().unwrap() - expect).abs() < 1e-3);
    }

    #[test]
    fn wrong_scheme_and_bad_names_are_errors() {
        let o = PredictOptions::default();
        let lm = Fake(Scheme::generic(15));
        assert!(matches!(
            predict_test(&lm, &[], &o),
            Err(KaggleError::Scheme { .. })
        ));
        let lm = Fake(Scheme::kaggle15());
        let mut f = face(1, 1.0);
        f.name = "x".into();
        assert!(matches!(
            predict_test(&lm, &[f.clone()], &o),
            Err(KaggleError::NoImageId { .. })
        ));
        f.name = "kaggle_2".into();
        let p = predict_test(&lm, &[f.clone()], &o).unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0].is_empty() && p[1].len() == 15);
        assert!(matches!(
            predict_test(&lm, &[f.clone(), f], &o),
            Err(KaggleError::DuplicateId { id: 2 })
        ));
        assert!(parse_submission("RowId,Location\n1,abc\n", Path::new("s.csv")).is_err());
        let mut huge = face(1, 1.0);
        huge.name = "kaggle_18446744073709551615".into();
        assert!(matches!(
            predict_test(&lm, &[huge], &o),
            Err(KaggleError::IdRange { .. })
        ));
    }

    /// Predicts the landmark-box corners shrunk towards the box centre by 20%, so that a
    /// refinement pass from the previous prediction's box shrinks them again.
    struct Shrink(Scheme);
    impl Landmarker for Shrink {
        fn scheme(&self) -> &Scheme {
            &self.0
        }
        fn landmarks(&self, _: &GrayImage, b: &BoxF) -> Vec<Point> {
            let [cx, cy] = b.center();
            let (hw, hh) = (b.w * 0.4, b.h * 0.4);
            let mut p = vec![[cx, cy]; 15];
            p[0] = [cx - hw, cy - hh];
            p[1] = [cx + hw, cy + hh];
            p
        }
    }

    #[test]
    fn start_box_and_refinement() {
        let img = GrayImage::new(96, 96);
        let lm = Shrink(Scheme::kaggle15());
        let whole = predict_face(&lm, &img, &PredictOptions::default());
        assert_eq!(whole[0], [48.0 - 38.4, 48.0 - 38.4]);
        let twice = PredictOptions {
            start: TestBox::WholeImage,
            refine: 1,
        };
        let p = predict_face(&lm, &img, &twice);
        assert!((p[0][0] - (48.0 - 0.8 * 38.4)).abs() < 1e-4);
        let fixed = PredictOptions {
            start: TestBox::Fixed(BoxF::new(10.0, 20.0, 40.0, 30.0)),
            refine: 0,
        };
        assert_eq!(
            predict_face(&lm, &img, &fixed)[1],
            [30.0 + 16.0, 35.0 + 12.0]
        );
        // mean landmark box: two faces, one with a missing point that would widen its box
        let mut a = face(0, 10.0);
        a.points[5] = [90.0, 90.0];
        a.visible[5] = false;
        let mut b = face(0, 30.0);
        b.points[0] = [0.0, 0.0];
        let m = mean_landmark_box(&[a.clone(), b]).unwrap();
        // a: x 10..24 (w 14), y 10 only (h 0, skipped); b: x 0..24, y 0..30
        assert_eq!(m, BoxF::new(0.0, 0.0, 24.0, 30.0));
        assert_eq!(mean_landmark_box(&[a]), None);
    }

    #[test]
    fn refinement_passes_beyond_the_limit_are_refused() {
        let lm = Shrink(Scheme::kaggle15());
        let opts = PredictOptions {
            start: TestBox::WholeImage,
            refine: 1_000_000,
        };
        let err = predict_test(&lm, &[], &opts).unwrap_err();
        assert!(matches!(err, KaggleError::Options(_)), "{err}");
    }
}
