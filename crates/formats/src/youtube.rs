//! The YouTube-Faces course CSV: a header row (`,0,1,…`), then one row per image:
//! `NAME,x0,y0,x1,y1,…` in pixels of the image `IMAGE_DIR/NAME`.
//!
//! Image folder: by default the sibling folder `X/` of `X_frames_keypoints.csv`
//! (`training_frames_keypoints.csv` → `training/`), else the CSV's own folder.
//! Identity: the file name without its trailing `_NN.jpg` (`Luis_Fonsi_21.jpg` → `Luis_Fonsi`).

use crate::dataset::identity_from_name;
use crate::error::{parse_coord, read_text, truncate, write_text};
use crate::{FormatError, Result};
use facemark_core::{ImageSource, Sample};
use std::path::{Path, PathBuf};

/// The image folder the CSV's names refer to (see the module docs).
pub fn default_image_dir(csv_path: &Path) -> PathBuf {
    let dir = csv_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let stem = csv_path.file_stem().unwrap_or_default().to_string_lossy();
    if let Some(prefix) = stem.strip_suffix("_frames_keypoints") {
        let sib = dir.join(prefix);
        if sib.is_dir() {
            return sib;
        }
    }
    dir
}

/// Parse CSV text. Images are referred to as `image_dir/NAME` (not opened here). Every row
/// must carry the same, even number of coordinates; the header (if any) fixes it.
///
/// Hand-split rather than parsed with the `csv` crate: these files are unquoted numbers, and
/// splitting here names the exact line and column in every error.
pub fn parse_csv(text: &str, path: &Path, image_dir: &Path) -> Result<Vec<Sample>> {
    let mut out: Vec<Sample> = Vec::new();
    let mut expect: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split(',').collect();
        if out.is_empty() && expect.is_none() && is_header(&fields) {
            let n = fields.len() - 1;
            if n == 0 || n & 1 == 1 {
                return Err(FormatError::parse(
                    path,
                    line,
                    format!("header has {n} coordinate columns; expected an even number > 0"),
                ));
            }
            expect = Some(n);
            continue;
        }
        let name = fields[0].trim();
        if name.is_empty() {
            return Err(FormatError::parse(
                path,
                line,
                "empty image name in column 1",
            ));
        }
        let n = fields.len() - 1;
        let want = *expect.get_or_insert(n);
        if n != want || n == 0 || n & 1 == 1 {
            return Err(FormatError::parse(
                path,
                line,
                format!("{n} coordinates, expected {want} ({} points)", want / 2),
            ));
        }
        let mut pts = Vec::with_capacity(n / 2);
        for k in 0..n / 2 {
            let x = parse_coord(
                fields[1 + 2 * k],
                path,
                line,
                &format!("x{k} (column {})", 2 + 2 * k),
            )?;
            let y = parse_coord(
                fields[2 + 2 * k],
                path,
                line,
                &format!("y{k} (column {})", 3 + 2 * k),
            )?;
            pts.push([x, y]);
        }
        let mut s = Sample::new(ImageSource::File(image_dir.join(name)), pts, name);
        s.identity = identity_from_name(name);
        out.push(s);
    }
    if out.is_empty() {
        return Err(FormatError::invalid(path, "no rows (empty file?)"));
    }
    Ok(out)
}

fn is_header(fields: &[&str]) -> bool {
    // The course CSV's header starts with an empty cell; any row whose second cell is not a
    // number is a header too.
    fields[0].trim().is_empty()
        || fields
            .get(1)
            .is_some_and(|f| f.trim().parse::<f32>().is_err())
}

/// Read the CSV; `image_dir` defaults to [`default_image_dir`].
pub fn read_csv(csv_path: &Path, image_dir: Option<&Path>) -> Result<Vec<Sample>> {
    let dir = image_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_image_dir(csv_path));
    parse_csv(&read_text(csv_path)?, csv_path, &dir)
}

/// The CSV text for `samples` (names as given in `Sample::name`).
pub fn format_csv(samples: &[Sample], path: &Path) -> Result<String> {
    let n = crate::dataset::common_point_count(samples, path)?;
    let mut s = String::new();
    for k in 0..2 * n {
        s.push(',');
        s.push_str(&k.to_string());
    }
    s.push('\n');
    for smp in samples {
        if smp.name.contains(',') || smp.name.contains('\n') {
            return Err(FormatError::invalid(
                path,
                format!(
                    "image name `{}` contains a comma or newline",
                    truncate(&smp.name, 40)
                ),
            ));
        }
        if smp.present() != n
            || smp
                .points
                .iter()
                .any(|p| !(p[0].is_finite() && p[1].is_finite()))
        {
            return Err(FormatError::invalid(
                path,
                format!(
                    "sample {} has missing points; this CSV cannot store them",
                    smp.name
                ),
            ));
        }
        s.push_str(&smp.name);
        for p in &smp.points {
            s.push_str(&format!(",{},{}", p[0], p[1]));
        }
        s.push('\n');
    }
    Ok(s)
}

/// Write the CSV atomically (annotations only; images are the caller's business, see
/// [`crate::dataset::save_as`] which also writes them).
pub fn write_csv(path: &Path, samples: &[Sample]) -> Result<()> {
    write_text(path, &format_csv(samples, path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("k.csv")
    }

    #[test]
    fn round_trip() {
        let mut a = Sample::new(
            ImageSource::File("img/Luis_Fonsi_21.jpg".into()),
            vec![[45.0, 98.5], [1.25, 3.0]],
            "Luis_Fonsi_21.jpg",
        );
        a.identity = "Luis_Fonsi".into();
        let text = format_csv(&[a.clone()], p()).unwrap();
        assert!(text.starts_with(",0,1,2,3\n"));
        let back = parse_csv(&text, p(), Path::new("img")).unwrap();
        assert_eq!(back, vec![a]);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let cases = [
            (",0,1,2,3\na.jpg,1,2,3,4\nb.jpg,1,2,3\n", "k.csv:3"),
            (",0,1,2,3\na.jpg,1,2,x,4\n", "expected a number, found `x`"),
            (",0,1,2,3\na.jpg,1,2,nan,4\n", "k.csv:2"),
            ("", "no rows"),
            (",0,1,2\n", "even number"),
            (",0,1\n,1,2\n", "k.csv:2"),
        ];
        for (t, want) in cases {
            let e = parse_csv(t, p(), Path::new(".")).unwrap_err().to_string();
            assert!(e.contains(want), "{t:?}: {e}");
        }
    }

    #[test]
    fn identity_strips_frame_number() {
        let s = parse_csv(
            ",0,1\nJohn_Doe_01.jpg,1,2\nJohn_Doe_40.jpg,1,2\n",
            p(),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(s[0].identity, "John_Doe");
        assert_eq!(s[1].identity, "John_Doe");
    }
}
