//! dlib imglab XML: `<dataset><images><image file='…'><box top left width height><part name
//! x y/>…</box></image></images></dataset>`. Many faces per image; each `<box>` becomes one
//! [`Sample`] with its `face_box` kept. Boxes with `ignore='1'` are skipped.
//!
//! Part names: when all are numbers (dlib writes `00`, `01`, …) the point index is the number
//! and absent parts are missing points; otherwise points follow document order. Image paths
//! are relative to the XML's folder. dlib itself stores integer pixel coordinates;
//! [`write_xml`] writes exact decimals unless asked to round (`integer = true`).

use crate::dataset::photo_identity_from_name;
use crate::error::{truncate, write_text};
use crate::{FormatError, Result};
use facemark_core::{BoxF, ImageSource, Point, Sample};
use std::path::{Path, PathBuf};

/// Largest point index accepted from a numeric part name (guards against `name='99999999'`).
pub const MAX_PARTS: usize = 10_000;

/// 1-based line of `node`. Costs a scan of the text: call it only to build an error.
fn line_of(doc: &roxmltree::Document, node: roxmltree::Node) -> usize {
    doc.text_pos_at(node.range().start).row as usize
}

fn attr_f32(
    doc: &roxmltree::Document,
    node: roxmltree::Node,
    name: &str,
    path: &Path,
) -> Result<f32> {
    let v = node.attribute(name).ok_or_else(|| {
        FormatError::parse(
            path,
            line_of(doc, node),
            format!("<{}> lacks attribute `{name}`", node.tag_name().name()),
        )
    })?;
    match v.trim().parse::<f32>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(FormatError::parse(
            path,
            line_of(doc, node),
            format!(
                "`{name}`: expected a finite number, found `{}`",
                truncate(v, 30)
            ),
        )),
    }
}

/// Parse XML text; image paths are resolved against `base_dir`.
pub fn parse_xml(text: &str, path: &Path, base_dir: &Path) -> Result<Vec<Sample>> {
    let doc = roxmltree::Document::parse(text).map_err(|e| {
        let pos = e.pos();
        FormatError::parse(path, pos.row as usize, format!("XML: {e}"))
    })?;
    let mut out = Vec::new();
    for img in doc.descendants().filter(|n| n.has_tag_name("image")) {
        let file = img.attribute("file").ok_or_else(|| {
            FormatError::parse(path, line_of(&doc, img), "<image> lacks attribute `file`")
        })?;
        let img_path: PathBuf = base_dir.join(file);
        let fname = Path::new(file)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for (bi, bx) in img.children().filter(|n| n.has_tag_name("box")).enumerate() {
            if matches!(bx.attribute("ignore"), Some("1") | Some("true")) {
                continue;
            }
            let face_box = BoxF::new(
                attr_f32(&doc, bx, "left", path)?,
                attr_f32(&doc, bx, "top", path)?,
                attr_f32(&doc, bx, "width", path)?,
                attr_f32(&doc, bx, "height", path)?,
            );
            let parts: Vec<_> = bx.children().filter(|n| n.has_tag_name("part")).collect();
            let mut named: Vec<(String, Point, roxmltree::Node)> = Vec::with_capacity(parts.len());
            for part in parts {
                let name = part.attribute("name").unwrap_or("").to_string();
                named.push((
                    name,
                    [
                        attr_f32(&doc, part, "x", path)?,
                        attr_f32(&doc, part, "y", path)?,
                    ],
                    part,
                ));
            }
            let numeric =
                !named.is_empty() && named.iter().all(|(n, _, _)| n.parse::<usize>().is_ok());
            let (points, visible) = if numeric {
                let mut max = 0;
                for (n, _, pl) in &named {
                    let i: usize = n.parse().unwrap_or(usize::MAX);
                    if i >= MAX_PARTS {
                        return Err(FormatError::parse(
                            path,
                            line_of(&doc, *pl),
                            format!("part name {n} exceeds {MAX_PARTS} points"),
                        ));
                    }
                    max = max.max(i + 1);
                }
                let mut pts = vec![[f32::NAN, f32::NAN]; max];
                let mut vis = vec![false; max];
                for (n, p, pl) in &named {
                    let i: usize = n.parse().unwrap_or(0);
                    if vis[i] {
                        return Err(FormatError::parse(
                            path,
                            line_of(&doc, *pl),
                            format!("part {n} given twice"),
                        ));
                    }
                    pts[i] = *p;
                    vis[i] = true;
                }
                (pts, vis)
            } else {
                let n = named.len();
                (
                    named.into_iter().map(|(_, p, _)| p).collect(),
                    vec![true; n],
                )
            };
            let name = if bi == 0 {
                fname.clone()
            } else {
                format!("{fname}#{bi}")
            };
            out.push(Sample {
                image: ImageSource::File(img_path.clone()),
                points,
                visible,
                face_box: Some(face_box),
                identity: photo_identity_from_name(&fname),
                name,
            });
        }
    }
    Ok(out)
}

/// Read an imglab XML file.
pub fn read_xml(path: &Path) -> Result<Vec<Sample>> {
    let text = crate::error::read_text(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_xml(&text, path, base)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

fn num(v: f32, integer: bool) -> String {
    if integer {
        format!("{}", v.round() as i64)
    } else {
        format!("{v}")
    }
}

/// XML text. Samples sharing an image file become boxes of one `<image>`, in first-seen order.
/// Image paths are written relative to `base_dir` when they lie under it. A sample without a
/// face box gets the box of its points. Only `File` images can be written.
pub fn format_xml(
    samples: &[Sample],
    path: &Path,
    base_dir: &Path,
    integer: bool,
) -> Result<String> {
    let mut order: Vec<PathBuf> = Vec::new();
    let mut groups: std::collections::HashMap<PathBuf, Vec<&Sample>> = Default::default();
    for s in samples {
        let ImageSource::File(p) = &s.image else {
            return Err(FormatError::invalid(
                path,
                format!(
                    "sample {} holds its pixels in memory; imglab XML needs image files",
                    s.name
                ),
            ));
        };
        if !groups.contains_key(p) {
            order.push(p.clone());
        }
        groups.entry(p.clone()).or_default().push(s);
    }
    let mut x = String::from("<?xml version='1.0' encoding='ISO-8859-1'?>\n<?xml-stylesheet type='text/xsl' href='image_metadata_stylesheet.xsl'?>\n<dataset>\n<name>facemark</name>\n<images>\n");
    for p in order {
        let rel = p.strip_prefix(base_dir).unwrap_or(&p);
        x.push_str(&format!(
            "  <image file='{}'>\n",
            esc(&rel.to_string_lossy())
        ));
        for s in &groups[&p] {
            let b = s
                .face_box
                .or_else(|| BoxF::around(&s.points))
                .ok_or_else(|| {
                    FormatError::invalid(
                        path,
                        format!("sample {} has no box and no points", s.name),
                    )
                })?;
            x.push_str(&format!(
                "    <box top='{}' left='{}' width='{}' height='{}'>\n",
                num(b.y, integer),
                num(b.x, integer),
                num(b.w, integer),
                num(b.h, integer)
            ));
            for (i, (pt, v)) in s.points.iter().zip(&s.visible).enumerate() {
                if *v && pt[0].is_finite() && pt[1].is_finite() {
                    x.push_str(&format!(
                        "      <part name='{i:02}' x='{}' y='{}'/>\n",
                        num(pt[0], integer),
                        num(pt[1], integer)
                    ));
                }
            }
            x.push_str("    </box>\n");
        }
        x.push_str("  </image>\n");
    }
    x.push_str("</images>\n</dataset>\n");
    Ok(x)
}

/// Write imglab XML atomically; image paths relative to the XML's folder where possible.
pub fn write_xml(path: &Path, samples: &[Sample], integer: bool) -> Result<()> {
    let base = path.parent().unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(base).unwrap_or(base.to_path_buf());
    write_text(path, &format_xml(samples, path, &base, integer)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_many_faces_per_image_with_boxes() {
        let base = Path::new("/data");
        let mk = |file: &str, bx: BoxF, pts: Vec<Point>| {
            let mut s = Sample::new(ImageSource::File(base.join(file)), pts, file);
            s.face_box = Some(bx);
            s
        };
        let mut a = mk(
            "a.jpg",
            BoxF::new(1.5, 2.0, 30.0, 40.0),
            vec![[3.25, 4.0], [5.0, 6.0], [7.0, 8.0]],
        );
        a.points[1] = [f32::NAN, f32::NAN];
        a.visible[1] = false;
        let b = mk(
            "a.jpg",
            BoxF::new(50.0, 2.0, 30.0, 40.0),
            vec![[60.0, 10.0], [61.0, 11.0], [62.0, 12.0]],
        );
        let c = mk(
            "sub/c&d.png",
            BoxF::new(0.0, 0.0, 5.0, 5.0),
            vec![[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]],
        );
        let xml = format_xml(
            &[a.clone(), b.clone(), c.clone()],
            Path::new("x.xml"),
            base,
            false,
        )
        .unwrap();
        assert_eq!(xml.matches("<image ").count(), 2);
        let back = parse_xml(&xml, Path::new("x.xml"), base).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].face_box, a.face_box);
        assert_eq!(back[0].visible, a.visible);
        assert_eq!(back[0].points[2], a.points[2]);
        assert_eq!(back[1].points, b.points);
        assert_eq!(back[1].name, "a.jpg#1");
        assert_eq!(back[2].image, c.image);
    }

    #[test]
    fn bad_input_names_line() {
        let p = Path::new("f.xml");
        for (t, want) in [
            ("", "f.xml:1"),
            ("<dataset><images><image file='a.jpg'>\n<box top='1' left='x' width='2' height='2'/></image></images></dataset>", "f.xml:2"),
            ("<dataset><images><image>\n</image></images></dataset>", "file"),
            ("<dataset><images><image file='a'><box top='1' left='1' width='2' height='2'>\n<part name='99999999' x='1' y='1'/></box></image></images></dataset>", "f.xml:2"),
            ("<dataset><images><image file='a'><box top='1' left='1' width='2' height='2'><part name='0' x='NaN' y='1'/></box></image></images></dataset>", "finite"),
            ("<dataset><images><image file='a'", "XML"),
        ] {
            let e = parse_xml(t, p, Path::new(".")).unwrap_err().to_string();
            assert!(e.contains(want), "{t:?}: {e}");
        }
    }
}
