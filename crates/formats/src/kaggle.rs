//! Kaggle Facial Keypoints Detection files: `training.csv` / `test.csv` (bare or inside the
//! `.zip` Kaggle ships), `IdLookupTable.csv`, and the submission file.
//!
//! `training.csv`: 30 columns `left_eye_center_x, left_eye_center_y, …` (pairs `NAME_x,
//! NAME_y`, in [`KAGGLE15_NAMES`] order), then `Image`: 96×96 gray pixels, space-separated,
//! row-major. **Empty cells are missing points**: they become NaN with `visible = false`, never
//! 0. `test.csv`: `ImageId,Image` (samples with no points). Coordinates are pixels of the 96×96
//! image.

use crate::error::{parse_coord, read_text, truncate, write_text};
use crate::{load_gray, FormatError, Result};
use facemark_core::scheme::KAGGLE15_NAMES;
use facemark_core::{ImageSource, Point, Sample};
use std::io::Read;
use std::path::Path;

/// Largest CSV taken from a zip (bytes): guards against zip bombs / absurd size claims.
pub const MAX_CSV_BYTES: u64 = 2 << 30;

/// The Kaggle image side, pixels.
pub const KAGGLE_SIZE: u32 = 96;

/// Read the text of `path`: a `.csv`, or the first `.csv` inside a `.zip`.
pub fn read_csv_text(path: &Path) -> Result<String> {
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip {
        return read_text(path);
    }
    let f = std::fs::File::open(path).map_err(|e| FormatError::io(path, e))?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| FormatError::invalid(path, format!("not a readable zip: {e}")))?;
    let idx = (0..z.len())
        .find(|&i| {
            z.name_for_index(i)
                .is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"))
        })
        .ok_or_else(|| FormatError::invalid(path, "the zip holds no .csv file"))?;
    let entry = z
        .by_index(idx)
        .map_err(|e| FormatError::invalid(path, format!("zip entry {idx}: {e}")))?;
    let inner = entry.name().to_string();
    let mut buf = Vec::with_capacity(entry.size().min(1 << 28) as usize);
    entry
        .take(MAX_CSV_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| FormatError::invalid(path, format!("{inner}: {e}")))?;
    if buf.len() as u64 > MAX_CSV_BYTES {
        return Err(FormatError::invalid(
            path,
            format!("{inner} is larger than {MAX_CSV_BYTES} bytes"),
        ));
    }
    String::from_utf8(buf)
        .map_err(|_| FormatError::invalid(path, format!("{inner} is not UTF-8 text")))
}

/// Parse Kaggle CSV text (training or test layout); `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Sample>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(FormatError::invalid(path, "empty file"));
    };
    let cols: Vec<&str> = header
        .trim_end_matches('\r')
        .split(',')
        .map(str::trim)
        .collect();
    let image_col = cols.iter().position(|c| *c == "Image");
    let id_col = cols.iter().position(|c| *c == "ImageId");
    // Point columns: NAME_x followed by NAME_y.
    let mut point_cols: Vec<(usize, usize)> = Vec::new();
    let mut k = 0;
    while k < cols.len() {
        let c = cols[k];
        if Some(k) == image_col || Some(k) == id_col {
            k += 1;
            continue;
        }
        let Some(stem) = c.strip_suffix("_x") else {
            return Err(FormatError::parse(
                path,
                1,
                format!(
                    "column {}: `{}` is neither NAME_x, Image nor ImageId",
                    k + 1,
                    truncate(c, 40)
                ),
            ));
        };
        if cols.get(k + 1).and_then(|n| n.strip_suffix("_y")) != Some(stem) {
            return Err(FormatError::parse(
                path,
                1,
                format!("column {}: `{c}` must be followed by `{stem}_y`", k + 1),
            ));
        }
        point_cols.push((k, k + 1));
        k += 2;
    }
    if image_col.is_none() && point_cols.is_empty() {
        return Err(FormatError::parse(
            path,
            1,
            "no `Image` column and no point columns",
        ));
    }
    let mut out = Vec::new();
    for (i, raw) in lines {
        let line = i + 1;
        let fields: Vec<&str> = raw.trim_end_matches('\r').split(',').collect();
        if fields.len() != cols.len() {
            return Err(FormatError::parse(
                path,
                line,
                format!("{} fields, expected {}", fields.len(), cols.len()),
            ));
        }
        // a missing point is NaN (both cells empty); `Sample::new` marks it not visible
        let mut points = Vec::with_capacity(point_cols.len());
        for &(cx, cy) in &point_cols {
            let (fx, fy) = (fields[cx].trim(), fields[cy].trim());
            if fx.is_empty() && fy.is_empty() {
                points.push([f32::NAN, f32::NAN]);
                continue;
            }
            let x = parse_coord(fx, path, line, cols[cx])?;
            let y = parse_coord(fy, path, line, cols[cy])?;
            points.push([x, y]);
        }
        let image = match image_col {
            Some(c) => parse_pixels(fields[c], path, line)?,
            None => ImageSource::Gray {
                width: 0,
                height: 0,
                pixels: vec![],
            },
        };
        let name = match id_col {
            Some(c) => {
                let id = fields[c].trim();
                if id.parse::<u64>().is_err() {
                    return Err(FormatError::parse(
                        path,
                        line,
                        format!("ImageId: expected an integer, found `{}`", truncate(id, 40)),
                    ));
                }
                format!("kaggle_{id}")
            }
            None => format!("kaggle_{:05}", out.len() + 1),
        };
        out.push(Sample::new(image, points, name));
    }
    if out.is_empty() {
        return Err(FormatError::invalid(path, "header only, no rows"));
    }
    Ok(out)
}

fn parse_pixels(s: &str, path: &Path, line: usize) -> Result<ImageSource> {
    let mut pixels = Vec::with_capacity(KAGGLE_SIZE as usize * KAGGLE_SIZE as usize);
    for (k, t) in s.split_ascii_whitespace().enumerate() {
        let v: u8 = t.parse().map_err(|_| {
            FormatError::parse(
                path,
                line,
                format!(
                    "Image pixel {k}: expected an integer 0–255, found `{}`",
                    truncate(t, 20)
                ),
            )
        })?;
        pixels.push(v);
    }
    let side = (pixels.len() as f64).sqrt().round() as u32;
    if pixels.is_empty() || (side as usize * side as usize) != pixels.len() {
        return Err(FormatError::parse(
            path,
            line,
            format!(
                "Image has {} pixels, not a square image (Kaggle: 96×96 = 9216)",
                pixels.len()
            ),
        ));
    }
    Ok(ImageSource::Gray {
        width: side,
        height: side,
        pixels,
    })
}

/// Read `training.csv` / `test.csv`, bare or from the Kaggle `.zip`.
pub fn read(path: &Path) -> Result<Vec<Sample>> {
    parse(&read_csv_text(path)?, path)
}

/// Column stems for `n` points: the Kaggle names for 15, `p0, p1, …` otherwise.
fn stems(n: usize) -> Vec<String> {
    if n == KAGGLE15_NAMES.len() {
        KAGGLE15_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..n).map(|i| format!("p{i}")).collect()
    }
}

/// `training.csv` text. Images must be square (Kaggle: 96×96); file images are decoded to
/// gray. Missing points are written as empty cells.
pub fn format_training_csv(samples: &[Sample], path: &Path) -> Result<String> {
    let n = crate::dataset::common_point_count(samples, path)?;
    let mut s = String::new();
    for st in stems(n) {
        s.push_str(&format!("{st}_x,{st}_y,"));
    }
    s.push_str("Image\n");
    for smp in samples {
        let img = load_gray(&smp.image)?;
        if img.width() != img.height() || img.width() == 0 {
            return Err(FormatError::invalid(
                path,
                format!(
                    "sample {}: image is {}×{}; Kaggle images are square (crop first)",
                    smp.name,
                    img.width(),
                    img.height()
                ),
            ));
        }
        for (p, v) in smp.points.iter().zip(&smp.visible) {
            if *v && p[0].is_finite() && p[1].is_finite() {
                s.push_str(&format!("{},{},", p[0], p[1]));
            } else {
                s.push_str(",,");
            }
        }
        let mut first = true;
        for px in img.as_raw() {
            if !first {
                s.push(' ');
            }
            first = false;
            s.push_str(&px.to_string());
        }
        s.push('\n');
    }
    Ok(s)
}

/// Write `training.csv` atomically (see [`format_training_csv`]).
pub fn write_training_csv(path: &Path, samples: &[Sample]) -> Result<()> {
    write_text(path, &format_training_csv(samples, path)?)
}

/// One row of `IdLookupTable.csv`: which coordinate of which test image a submission row is.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupRow {
    /// The submission's `RowId`.
    pub row_id: u64,
    /// 1-based, as in `test.csv`'s `ImageId`.
    pub image_id: u64,
    /// e.g. `left_eye_center_x`.
    pub feature: String,
}

/// Parse `IdLookupTable.csv` text (`RowId,ImageId,FeatureName,Location`).
pub fn parse_id_lookup(text: &str, path: &Path) -> Result<Vec<LookupRow>> {
    let mut out = Vec::new();
    let mut seen_header = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if !seen_header {
            seen_header = true;
            if f.first() == Some(&"RowId") {
                continue;
            }
        }
        if f.len() < 3 {
            return Err(FormatError::parse(
                path,
                line,
                format!(
                    "{} fields, expected RowId,ImageId,FeatureName[,Location]",
                    f.len()
                ),
            ));
        }
        let int = |s: &str, what: &str| {
            s.parse::<u64>().map_err(|_| {
                FormatError::parse(
                    path,
                    line,
                    format!("{what}: expected an integer, found `{}`", truncate(s, 30)),
                )
            })
        };
        let row_id = int(f[0], "RowId")?;
        let image_id = int(f[1], "ImageId")?;
        if feature_index(f[2]).is_none() {
            return Err(FormatError::parse(
                path,
                line,
                format!(
                    "FeatureName `{}` is not a Kaggle keypoint column",
                    truncate(f[2], 40)
                ),
            ));
        }
        out.push(LookupRow {
            row_id,
            image_id,
            feature: f[2].to_string(),
        });
    }
    if out.is_empty() {
        return Err(FormatError::invalid(path, "no rows"));
    }
    Ok(out)
}

/// Read `IdLookupTable.csv`, bare or from a `.zip`.
pub fn read_id_lookup(path: &Path) -> Result<Vec<LookupRow>> {
    parse_id_lookup(&read_csv_text(path)?, path)
}

/// `(point index, 0 for x / 1 for y)` of a Kaggle feature name.
pub fn feature_index(name: &str) -> Option<(usize, usize)> {
    let (stem, c) = if let Some(s) = name.strip_suffix("_x") {
        (s, 0)
    } else {
        (name.strip_suffix("_y")?, 1)
    };
    KAGGLE15_NAMES
        .iter()
        .position(|n| *n == stem)
        .map(|i| (i, c))
}

/// Submission text `RowId,Location`: for each lookup row, the predicted coordinate, clipped to
/// `[0, 96]`. `predictions[image_id - 1]` holds the 15 points (Kaggle order, pixels of the
/// 96×96 image) of test image `image_id`.
pub fn format_submission(
    lookup: &[LookupRow],
    predictions: &[Vec<Point>],
    path: &Path,
) -> Result<String> {
    let mut s = String::from("RowId,Location\n");
    for r in lookup {
        let pts = (r.image_id as usize)
            .checked_sub(1)
            .and_then(|i| predictions.get(i))
            .ok_or_else(|| {
                FormatError::invalid(
                    path,
                    format!(
                        "RowId {}: no prediction for ImageId {}",
                        r.row_id, r.image_id
                    ),
                )
            })?;
        let (pi, c) = feature_index(&r.feature).ok_or_else(|| {
            FormatError::invalid(
                path,
                format!("RowId {}: unknown feature {}", r.row_id, r.feature),
            )
        })?;
        let v = pts
            .get(pi)
            .map(|p| p[c])
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                FormatError::invalid(
                    path,
                    format!(
                        "RowId {}: ImageId {} has no finite {}",
                        r.row_id, r.image_id, r.feature
                    ),
                )
            })?;
        s.push_str(&format!(
            "{},{}\n",
            r.row_id,
            v.clamp(0.0, KAGGLE_SIZE as f32)
        ));
    }
    Ok(s)
}

/// Write the submission atomically (see [`format_submission`]).
pub fn write_submission(
    lookup: &[LookupRow],
    predictions: &[Vec<Point>],
    path: &Path,
) -> Result<()> {
    write_text(path, &format_submission(lookup, predictions, path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("training.csv")
    }

    fn sample(points: Vec<Point>) -> Sample {
        let mut s = Sample::new(
            ImageSource::Gray {
                width: 2,
                height: 2,
                pixels: vec![0, 7, 128, 255],
            },
            points,
            "kaggle_00001",
        );
        s.identity = s.name.clone();
        s
    }

    #[test]
    fn round_trip_keeps_missing_as_missing() {
        let mut pts: Vec<Point> = (0..15).map(|i| [i as f32 + 0.5, 90.0 - i as f32]).collect();
        pts[3] = [f32::NAN, f32::NAN];
        let s = sample(pts);
        assert!(!s.visible[3]);
        let text = format_training_csv(std::slice::from_ref(&s), p()).unwrap();
        assert!(text.starts_with("left_eye_center_x,left_eye_center_y,"));
        assert!(text.contains(",,,"), "missing cells are empty: {text}");
        let back = parse(&text, p()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].visible, s.visible);
        assert_eq!(back[0].image, s.image);
        for i in 0..15 {
            if i != 3 {
                assert_eq!(back[0].points[i], s.points[i]);
            }
        }
        assert!(back[0].points[3][0].is_nan());
    }

    #[test]
    fn reads_from_zip() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("training.zip");
        let text = format_training_csv(&[sample(vec![[1.0, 2.0]; 15])], p()).unwrap();
        {
            let f = std::fs::File::create(&zp).unwrap();
            let mut z = zip::ZipWriter::new(f);
            z.start_file("training.csv", zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut z, text.as_bytes()).unwrap();
            z.finish().unwrap();
        }
        let s = read(&zp).unwrap();
        assert_eq!(s[0].points[14], [1.0, 2.0]);
        // A zip that is not a zip.
        let bad = dir.path().join("bad.zip");
        std::fs::write(&bad, b"PK\x03\x04garbage").unwrap();
        assert!(read(&bad).unwrap_err().to_string().contains("bad.zip"));
    }

    #[test]
    fn bad_input() {
        let cases = [
            ("", "empty"),
            ("a_x,a_y,Image\n1,2,0 0 0\n", "training.csv:2"),
            ("a_x,a_y,Image\n1,2\n", "2 fields, expected 3"),
            ("a_x,a_y,Image\n1,zz,0\n", "a_y: expected a number"),
            ("a_x,a_y,Image\n1,2,0 300 0 0\n", "pixel 1"),
            ("a_x,b_y,Image\n", "must be followed"),
            ("a_x,a_y,Image\n", "no rows"),
            ("a_x,a_y,Image\nnan,2,0\n", "not a finite"),
        ];
        for (t, want) in cases {
            let e = parse(t, p()).unwrap_err().to_string();
            assert!(e.contains(want), "{t:?}: {e}");
        }
    }

    #[test]
    fn test_csv_layout() {
        let s = parse("ImageId,Image\n1,0 1 2 3\n2,4 5 6 7\n", p()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].name, "kaggle_2");
        assert!(s[1].points.is_empty());
    }

    #[test]
    fn submission_clips_and_follows_lookup() {
        let lookup = parse_id_lookup(
            "RowId,ImageId,FeatureName,Location\n1,1,left_eye_center_x,\n2,1,nose_tip_y,\n3,2,mouth_center_bottom_lip_x,\n",
            Path::new("IdLookupTable.csv"),
        )
        .unwrap();
        let mut a = vec![[50.0, 50.0]; 15];
        a[0] = [-3.0, 1.0];
        a[10] = [10.0, 100.0];
        let b = vec![[12.5, 7.0]; 15];
        let text = format_submission(&lookup, &[a, b], p()).unwrap();
        assert_eq!(text, "RowId,Location\n1,0\n2,96\n3,12.5\n");
        assert!(format_submission(&lookup, &[], p()).is_err());
        assert!(parse_id_lookup("RowId,ImageId,FeatureName\n1,1,ear_x\n", p()).is_err());
    }
}
