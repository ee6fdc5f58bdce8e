//! HELEN annotation `.txt` files: the first line is the image name (without extension), then
//! one `x , y` line per point (194 in HELEN), pixels of the image.
//!
//! HELEN ships annotations (`annotation/1.txt` …) apart from the images; the image is looked
//! up as `IMAGE_DIR/NAME.jpg|png|…` (any of [`facemark_core::photo::IMAGE_EXTENSIONS`]), where
//! `IMAGE_DIR` is given, or else the annotation's own folder or its sibling `images/`.

use crate::dataset::photo_identity_from_name;
use crate::error::{parse_coord, read_text, truncate, write_text};
use crate::image_io::{find_image, image_names};
use crate::{FormatError, Result};
use facemark_core::{ImageSource, Point, Sample};
use std::path::{Path, PathBuf};

/// Parse annotation text into `(image name, points)`.
pub fn parse_txt(text: &str, path: &Path) -> Result<(String, Vec<Point>)> {
    let mut name: Option<String> = None;
    let mut pts = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if name.is_none() {
            if l.contains(',') {
                return Err(FormatError::parse(
                    path,
                    line,
                    "the first line must be the image name, found a point",
                ));
            }
            name = Some(l.to_string());
            continue;
        }
        let mut it = l.split(',');
        let (Some(x), Some(y), None) = (it.next(), it.next(), it.next()) else {
            return Err(FormatError::parse(
                path,
                line,
                format!("expected `x , y`, found `{}`", truncate(l, 60)),
            ));
        };
        pts.push([
            parse_coord(x, path, line, "x")?,
            parse_coord(y, path, line, "y")?,
        ]);
    }
    let name = name.ok_or_else(|| FormatError::invalid(path, "empty file"))?;
    if pts.is_empty() {
        return Err(FormatError::invalid(path, "no points after the image name"));
    }
    Ok((name, pts))
}

/// Annotation text for `name` and `points`. Missing points cannot be stored: error.
pub fn format_txt(name: &str, points: &[Point], path: &Path) -> Result<String> {
    if name.trim().is_empty() || name.contains(',') || name.contains('\n') {
        return Err(FormatError::invalid(
            path,
            format!("image name `{}` cannot be written", truncate(name, 40)),
        ));
    }
    let mut s = format!("{}\n", name.trim());
    for (i, p) in points.iter().enumerate() {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return Err(FormatError::invalid(
                path,
                format!("point {i} is missing; HELEN .txt cannot store missing points"),
            ));
        }
        s.push_str(&format!("{} , {}\n", p[0], p[1]));
    }
    Ok(s)
}

/// Write one annotation file atomically.
pub fn write_txt(path: &Path, name: &str, points: &[Point]) -> Result<()> {
    write_text(path, &format_txt(name, points, path)?)
}

fn image_dirs(txt: &Path, image_dir: Option<&Path>) -> Vec<PathBuf> {
    if let Some(d) = image_dir {
        return vec![d.to_path_buf()];
    }
    let dir = txt.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut v = vec![dir.clone()];
    if let Some(up) = dir.parent() {
        v.push(up.join("images"));
    }
    v
}

/// Read one annotation and locate its image (see the module docs).
pub fn read_txt(path: &Path, image_dir: Option<&Path>) -> Result<Sample> {
    let (name, pts) = parse_txt(&read_text(path)?, path)?;
    let dirs = image_dirs(path, image_dir);
    let img = dirs
        .iter()
        .find_map(|d| find_image(d, &name))
        .ok_or_else(|| {
            FormatError::invalid(
                path,
                format!(
                    "image `{}` not found in {}",
                    image_names(&name),
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let file = img
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut s = Sample::new(ImageSource::File(img), pts, file);
    s.identity = photo_identity_from_name(&name);
    Ok(s)
}

/// Read every `.txt` in `dir` (sorted by file name), images as in [`read_txt`].
pub fn read_dir(dir: &Path, image_dir: Option<&Path>) -> Result<Vec<Sample>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| FormatError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(FormatError::invalid(dir, "no .txt annotation files"));
    }
    files.iter().map(|f| read_txt(f, image_dir)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = Path::new("1.txt");
        let pts = vec![[100.25, 200.5], [1.0, 2.0]];
        let t = format_txt("100032540_1", &pts, p).unwrap();
        assert_eq!(t.lines().next(), Some("100032540_1"));
        assert_eq!(parse_txt(&t, p).unwrap(), ("100032540_1".to_string(), pts));
    }

    #[test]
    fn bad_input() {
        let p = Path::new("1.txt");
        for (t, want) in [
            ("", "empty"),
            ("img\n", "no points"),
            ("img\n1 , 2\n3 ; 4\n", "1.txt:3"),
            ("img\n1 , nan\n", "1.txt:2"),
            ("1 , 2\n", "first line"),
            ("img\n1 , 2 , 3\n", "1.txt:2"),
        ] {
            let e = parse_txt(t, p).unwrap_err().to_string();
            assert!(e.contains(want), "{t:?}: {e}");
        }
    }

    #[test]
    fn finds_image_in_sibling_images_folder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("annotation")).unwrap();
        std::fs::create_dir_all(d.path().join("images")).unwrap();
        image::GrayImage::new(4, 4)
            .save(d.path().join("images/abc_1.jpg"))
            .unwrap();
        let txt = d.path().join("annotation/1.txt");
        write_txt(&txt, "abc_1", &[[1.0, 1.0]]).unwrap();
        let s = read_dir(&d.path().join("annotation"), None).unwrap();
        assert_eq!(s[0].name, "abc_1.jpg");
        assert_eq!(s[0].identity, "abc");
        write_txt(&txt, "nope", &[[1.0, 1.0]]).unwrap();
        assert!(read_txt(&txt, None)
            .unwrap_err()
            .to_string()
            .contains("not found"));
    }
}
