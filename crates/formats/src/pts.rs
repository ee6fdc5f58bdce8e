//! iBUG `.pts` landmark files and 300-W folders (`NAME.jpg|png|ppm|…` + `NAME.pts`).
//!
//! ```text
//! version: 1
//! n_points:  68
//! {
//! 99.968 159.707
//! …
//! }
//! ```
//! Coordinates are pixels of the image, x before y. Note: the 300-W files are commonly taken to
//! use 1-based (Matlab) pixel coordinates; facemark reads and writes them unchanged.
//! Headerless files (just `x y` lines) are read as well.

use crate::dataset::photo_identity_from_name;
use crate::error::{parse_coord, read_text, truncate, write_text};
use crate::image_io::{dir_and_stem, find_image, image_names};
use crate::{FormatError, Result};
use facemark_core::{ImageSource, Point, Sample};
use std::path::Path;

/// Parse the text of a `.pts` file; `path` only names the file in errors.
pub fn parse_pts(text: &str, path: &Path) -> Result<Vec<Point>> {
    let mut declared: Option<usize> = None;
    let mut in_braces = false;
    let mut closed = false;
    let mut saw_header = false;
    let mut points = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if closed {
            return Err(FormatError::parse(
                path,
                line,
                format!("text after the closing brace: `{}`", truncate(l, 40)),
            ));
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("version:") {
            saw_header = true;
            if !points.is_empty() || in_braces {
                return Err(FormatError::parse(
                    path,
                    line,
                    "`version:` must come before the points",
                ));
            }
            parse_coord(v, path, line, "version")?;
            continue;
        }
        if let Some(v) = lower.strip_prefix("n_points:") {
            saw_header = true;
            if !points.is_empty() || in_braces {
                return Err(FormatError::parse(
                    path,
                    line,
                    "`n_points:` must come before the points",
                ));
            }
            let n = v.trim().parse::<usize>().map_err(|_| {
                FormatError::parse(
                    path,
                    line,
                    format!(
                        "n_points: expected a count, found `{}`",
                        truncate(v.trim(), 40)
                    ),
                )
            })?;
            declared = Some(n);
            continue;
        }
        if l == "{" {
            if in_braces || !points.is_empty() {
                return Err(FormatError::parse(path, line, "unexpected `{`"));
            }
            in_braces = true;
            continue;
        }
        if l == "}" {
            if !in_braces {
                return Err(FormatError::parse(path, line, "`}` without `{`"));
            }
            in_braces = false;
            closed = true;
            continue;
        }
        if saw_header && !in_braces {
            return Err(FormatError::parse(
                path,
                line,
                format!(
                    "expected `{{` before the points, found `{}`",
                    truncate(l, 40)
                ),
            ));
        }
        let mut it = l.split_whitespace();
        let (Some(x), Some(y), None) = (it.next(), it.next(), it.next()) else {
            return Err(FormatError::parse(
                path,
                line,
                format!("expected two numbers `x y`, found `{}`", truncate(l, 60)),
            ));
        };
        let x = parse_coord(x, path, line, "x")?;
        let y = parse_coord(y, path, line, "y")?;
        if let Some(n) = declared {
            if points.len() >= n {
                return Err(FormatError::parse(
                    path,
                    line,
                    format!("more points than n_points: {n}"),
                ));
            }
        }
        points.push([x, y]);
    }
    if in_braces {
        return Err(FormatError::invalid(path, "missing closing `}`"));
    }
    if saw_header && !closed {
        return Err(FormatError::invalid(
            path,
            "header without a `{ … }` point block",
        ));
    }
    if let Some(n) = declared {
        if points.len() != n {
            return Err(FormatError::invalid(
                path,
                format!("n_points: {n} but {} points given", points.len()),
            ));
        }
    }
    if points.is_empty() {
        return Err(FormatError::invalid(path, "no points (empty file?)"));
    }
    Ok(points)
}

/// Read a `.pts` file (with or without header).
pub fn read_pts(path: &Path) -> Result<Vec<Point>> {
    parse_pts(&read_text(path)?, path)
}

/// The text of a `.pts` file. `header`: the iBUG `version`/`n_points`/braces header, else bare
/// `x y` lines. Coordinates are written in the shortest form that reads back to the same f32.
pub fn format_pts(points: &[Point], header: bool) -> String {
    let mut s = String::with_capacity(points.len() * 20 + 40);
    if header {
        s.push_str(&format!("version: 1\nn_points: {}\n{{\n", points.len()));
    }
    for p in points {
        s.push_str(&format!("{} {}\n", p[0], p[1]));
    }
    if header {
        s.push_str("}\n");
    }
    s
}

/// Write a `.pts` file atomically. Missing (non-finite) points cannot be represented: error.
pub fn write_pts(path: &Path, points: &[Point], header: bool) -> Result<()> {
    if let Some(i) = points
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(FormatError::invalid(
            path,
            format!("point {i} is missing; .pts cannot store missing points"),
        ));
    }
    write_text(path, &format_pts(points, header))
}

/// Read a 300-W style folder: every `NAME.pts` with its image `NAME.jpg|png|ppm|…` beside it, sorted
/// by name. All files must have the same number of points. Identity: the name without a
/// trailing `_N` (300-W numbers several faces of one photo `_1`, `_2`).
pub fn read_300w_dir(dir: &Path) -> Result<Vec<Sample>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| FormatError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pts")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(FormatError::invalid(dir, "no .pts files in this folder"));
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let points = read_pts(&f)?;
        if let Some(first) = out.first() {
            let first: &Sample = first;
            if first.points.len() != points.len() {
                return Err(FormatError::invalid(
                    &f,
                    format!(
                        "{} points, but {} has {}",
                        points.len(),
                        first.name,
                        first.points.len()
                    ),
                ));
            }
        }
        out.push(sample_beside(&f, points)?);
    }
    Ok(out)
}

/// The sample of the `.pts` file `path` with its `points`: the image of the same stem beside
/// it (any of [`facemark_core::photo::IMAGE_EXTENSIONS`]: `.jpg`, `.png`, `.ppm`, …), named
/// after the image, identity from that name.
pub fn sample_beside(path: &Path, points: Vec<Point>) -> Result<Sample> {
    let (dir, stem) = dir_and_stem(path);
    let img = find_image(dir, &stem).ok_or_else(|| {
        FormatError::invalid(path, format!("no image {} beside it", image_names(&stem)))
    })?;
    let name = img
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut s = Sample::new(ImageSource::File(img), points, name.clone());
    s.identity = photo_identity_from_name(&name);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.pts")
    }

    #[test]
    fn round_trip_with_and_without_header() {
        let pts = vec![[1.5, 2.25], [99.968, 159.707], [0.1, 1e-3]];
        for header in [true, false] {
            let back = parse_pts(&format_pts(&pts, header), p()).unwrap();
            assert_eq!(back, pts, "header {header}");
        }
    }

    #[test]
    fn reads_the_ibug_layout() {
        let t = "version: 1\nn_points:  2\n{\n1 2\n3.5 4\n}\n";
        assert_eq!(parse_pts(t, p()).unwrap(), vec![[1.0, 2.0], [3.5, 4.0]]);
    }

    #[test]
    fn bad_input_names_the_line() {
        let cases = [
            (
                "version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n",
                "n_points: 3 but 2",
            ),
            ("version: 1\nn_points: 68\n{\n1 2\n3 x\n}\n", "t.pts:5"),
            ("1 2\n3\n", "t.pts:2"),
            ("1 2\nnan 4\n", "not a finite"),
            ("", "no points"),
            (
                "version: 1\nn_points: 2000000000\n{\n1 2\n}\n",
                "n_points: 2000000000 but 1",
            ),
            ("version: 1\nn_points: 1\n{\n1 2\n3 4\n}\n", "t.pts:5"),
            ("version: 1\nn_points: 1\n{\n1 2\n", "closing"),
            ("version: 1\nn_points: 99999999999999999999999\n", "t.pts:2"),
        ];
        for (text, want) in cases {
            let e = parse_pts(text, p()).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn folder_of_pairs() {
        let dir = tempfile::tempdir().unwrap();
        image::GrayImage::new(8, 8)
            .save(dir.path().join("a_1.png"))
            .unwrap();
        image::GrayImage::new(8, 8)
            .save(dir.path().join("a_2.png"))
            .unwrap();
        write_pts(&dir.path().join("a_1.pts"), &[[1.0, 2.0]], true).unwrap();
        write_pts(&dir.path().join("a_2.pts"), &[[3.0, 4.0]], false).unwrap();
        let s = read_300w_dir(dir.path()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].points, vec![[3.0, 4.0]]);
        assert_eq!(s[0].identity, s[1].identity);
        // 67 points where the others have 68-like mismatch.
        write_pts(&dir.path().join("a_3.pts"), &[[3.0, 4.0], [5.0, 6.0]], true).unwrap();
        image::GrayImage::new(8, 8)
            .save(dir.path().join("a_3.png"))
            .unwrap();
        let e = read_300w_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("a_3.pts") && e.contains("2 points"), "{e}");
        // Missing image.
        std::fs::remove_file(dir.path().join("a_3.png")).unwrap();
        write_pts(&dir.path().join("a_3.pts"), &[[3.0, 4.0]], true).unwrap();
        assert!(read_300w_dir(dir.path())
            .unwrap_err()
            .to_string()
            .contains("no image"));
    }
}
