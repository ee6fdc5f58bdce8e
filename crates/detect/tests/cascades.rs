//! Loading every OpenCV cascade, synthetic detections, error paths, and a real-photo sanity check.

use facemark_core::{BoxF, FaceDetector};
use facemark_detect::{Cascade, DetectError, DetectParams, FeatureType, Seeta};
use image::{GrayImage, Luma};
use std::path::Path;

const SYSTEM_DIRS: [&str; 2] = [
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv4/lbpcascades",
];

#[test]
fn every_system_cascade_loads_or_is_unsupported() {
    let mut seen = 0;
    for dir in SYSTEM_DIRS {
        let Ok(rd) = std::fs::read_dir(dir) else {
            eprintln!("skipping {dir}: not present (apt-get install opencv-data)");
            continue;
        };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "xml"))
        {
            seen += 1;
            match Cascade::from_xml_file(f) {
                Ok(c) => {
                    let m = c.model();
                    let (w, h) = m.window_size();
                    assert!(w > 0 && h > 0 && m.stage_count() > 0, "{}", f.display());
                    let lbp = f.to_string_lossy().contains("lbpcascade");
                    assert_eq!(m.feature_type() == FeatureType::Lbp, lbp, "{}", f.display());
                    // Runs without panicking on a small noise image.
                    let img = noise(w * 3, h * 3, 7);
                    let _ = c.detect_multi_scale(&img, &DetectParams::default());
                    eprintln!("{}: {w}x{h}, {} stages", f.display(), m.stage_count());
                }
                Err(DetectError::Unsupported(msg)) => {
                    eprintln!("{}: unsupported: {msg}", f.display())
                }
                Err(e) => panic!("{}: {e}", f.display()),
            }
        }
    }
    if seen == 0 {
        eprintln!("skipping: no OpenCV cascades on this machine");
    }
}

fn noise(w: u32, h: u32, seed: u32) -> GrayImage {
    let mut s = seed.wrapping_mul(2654435761).max(1);
    GrayImage::from_fn(w, h, |_, _| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        Luma([(s & 0xff) as u8])
    })
}

/// A one-stage Haar cascade on a 12×12 window: left half dark, right half bright.
fn edge_cascade_new() -> String {
    r#"<?xml version="1.0"?>
<opencv_storage>
<cascade>
  <stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>12</height>
  <width>12</width>
  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>1</stageNum>
  <stages>
    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>0.5</stageThreshold>
      <weakClassifiers>
        <_>
          <internalNodes>0 -1 0 0.15</internalNodes>
          <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features>
    <_>
      <rects>
        <_>1 1 10 10 -1.</_>
        <_>6 1 5 10 2.</_></rects></_></features>
</cascade>
</opencv_storage>
"#
    .to_string()
}

/// The same classifier in OpenCV 1.x's old format.
fn edge_cascade_old() -> String {
    r#"<?xml version="1.0"?>
<opencv_storage>
<edge type_id="opencv-haar-classifier">
  <size>12 12</size>
  <stages>
    <_>
      <trees>
        <_>
          <_>
            <feature>
              <rects>
                <_>1 1 10 10 -1.</_>
                <_>6 1 5 10 2.</_></rects>
              <tilted>0</tilted></feature>
            <threshold>0.15</threshold>
            <left_val>-1.</left_val>
            <right_val>1.</right_val></_></_></trees>
      <stage_threshold>0.5</stage_threshold>
      <parent>-1</parent>
      <next>-1</next></_></stages>
</edge>
</opencv_storage>
"#
    .to_string()
}

/// Dark background with mild texture, and a 40×40 square whose right half is bright.
fn edge_scene() -> GrayImage {
    GrayImage::from_fn(160, 120, |x, y| {
        let base = 40 + ((x * 7 + y * 3) % 11) as u8;
        if (60..100).contains(&x) && (40..80).contains(&y) {
            if x >= 80 {
                Luma([220])
            } else {
                Luma([base])
            }
        } else {
            Luma([base])
        }
    })
}

#[test]
fn synthetic_edge_is_found_where_it_is() {
    let c = Cascade::from_xml_str(&edge_cascade_new()).unwrap();
    let p = DetectParams {
        scale_factor: 1.1,
        min_neighbors: 3,
        min_size: (30, 30),
        max_size: (50, 50),
    };
    let dets = c.detect_multi_scale(&edge_scene(), &p);
    assert!(!dets.is_empty(), "the edge square must be detected");
    let truth = BoxF::new(60.0, 40.0, 40.0, 40.0);
    let best = dets.iter().map(|d| d.bbox.iou(&truth)).fold(0.0, f32::max);
    assert!(best > 0.5, "best IoU {best}: {dets:?}");
    // Nothing on a flat image (variance check) or a mirrored edge.
    let flat = GrayImage::from_pixel(160, 120, Luma([90]));
    assert!(c.detect_multi_scale(&flat, &p).is_empty());
    let mut mirrored = edge_scene();
    image::imageops::flip_horizontal_in_place(&mut mirrored);
    assert!(c
        .detect_multi_scale(&mirrored, &p)
        .iter()
        .all(|d| d.bbox.iou(&truth) < 0.3));
}

#[test]
fn old_format_gives_the_same_windows_as_new_format() {
    let a = Cascade::from_xml_str(&edge_cascade_new()).unwrap();
    let b = Cascade::from_xml_str(&edge_cascade_old()).unwrap();
    let p = DetectParams {
        min_neighbors: 0,
        ..DetectParams::default()
    };
    let img = edge_scene();
    let ra = a.raw_windows(&img, &p).unwrap();
    assert!(!ra.is_empty());
    assert_eq!(ra, b.raw_windows(&img, &p).unwrap());
}

#[test]
fn lbp_cascade_parses_and_runs() {
    // One stump on the LBP code of a 3×3 grid of 4×4 cells; left leaf for codes with bit 0x10
    // (right-middle cell brighter than centre).
    let xml = r#"<opencv_storage><cascade>
  <stageType>BOOST</stageType><featureType>LBP</featureType>
  <height>12</height><width>12</width>
  <featureParams><maxCatCount>256</maxCatCount></featureParams>
  <stages><_><stageThreshold>0.</stageThreshold><weakClassifiers><_>
    <internalNodes>0 -1 0 0 0 0 0 -1 -1 -1 -1</internalNodes>
    <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features><_><rect>0 0 4 4</rect></_></features>
</cascade></opencv_storage>"#;
    let c = Cascade::from_xml_str(xml).unwrap();
    assert_eq!(c.model().feature_type(), FeatureType::Lbp);
    let p = DetectParams {
        min_neighbors: 0,
        ..DetectParams::default()
    };
    // subset words 4..8 set: codes 128..255 go left (-1): the stage fails where the top-left
    // cell is at least as bright as the centre, so a flat image gives nothing…
    let flat = GrayImage::from_pixel(40, 40, Luma([100]));
    assert!(c.raw_windows(&flat, &p).unwrap().is_empty());
    // …and a dark top-left corner in a bright image passes where it is inside the grid's
    // top-left cell.
    let img = GrayImage::from_fn(40, 40, |x, y| {
        Luma(if x < 4 && y < 4 { [0] } else { [200] })
    });
    let r = c.raw_windows(&img, &p).unwrap();
    assert!(r.iter().any(|w| w.x == 0 && w.y == 0), "{r:?}");
}

/// The 1-based line of the first `needle` in `text`.
fn line_of(text: &str, needle: &str) -> u32 {
    let at = text.find(needle).unwrap();
    1 + text[..at].matches('\n').count() as u32
}

/// The checks made after parsing (window, node links, features inside the window) name the
/// line of the part at fault, in both formats, not "line 0".
#[test]
fn checks_after_parsing_name_the_line() {
    let line = |e: DetectError| match e {
        DetectError::Format { line, msg } => (line, msg),
        e => panic!("{e}"),
    };
    let new = edge_cascade_new();
    // the second rectangle leaves the window: the feature's line
    let (l, m) = line(
        Cascade::from_xml_str(&new.replace("<_>6 1 5 10 2.</_>", "<_>9 1 5 10 2.</_>"))
            .unwrap_err(),
    );
    assert!(m.contains("leaves the 12x12 window"), "{m}");
    assert_eq!(l, line_of(&new, "<features>") + 1, "{m}");
    // a node using a feature that does not exist: the weak classifier's line
    let (l, m) =
        line(Cascade::from_xml_str(&new.replace("0 -1 0 0.15", "0 -1 3 0.15")).unwrap_err());
    assert!(m.contains("uses feature 3"), "{m}");
    assert_eq!(l, line_of(&new, "<internalNodes>") - 1, "{m}");
    // an unusable window: the <width> line
    let (l, m) = line(Cascade::from_xml_str(&new.replace("<width>12", "<width>2")).unwrap_err());
    assert!(m.contains("window size"), "{m}");
    assert_eq!(l, line_of(&new, "<width>"), "{m}");
    let old = edge_cascade_old();
    let (l, m) =
        line(Cascade::from_xml_str(&old.replace("<size>12 12", "<size>2 12")).unwrap_err());
    assert!(m.contains("window size"), "{m}");
    assert_eq!(l, line_of(&old, "<size>"), "{m}");
    let (l, m) = line(
        Cascade::from_xml_str(&old.replace("<_>6 1 5 10 2.</_>", "<_>9 1 5 10 2.</_>"))
            .unwrap_err(),
    );
    assert!(m.contains("leaves the 12x12 window"), "{m}");
    assert_eq!(l, line_of(&old, "<feature>"), "{m}");
    // and in a file, the file and line as `cascade XML, line N`
    let p = std::env::temp_dir().join(format!("facemark-bad-{}.xml", std::process::id()));
    std::fs::write(&p, new.replace("<width>12", "<width>2")).unwrap();
    let e = Cascade::from_xml_file(&p).unwrap_err().to_string();
    std::fs::remove_file(&p).unwrap();
    let want = format!(".xml: cascade XML, line {}:", line_of(&new, "<width>"));
    assert!(e.contains(&want), "{e}");
}

#[test]
fn errors_are_clear() {
    let e = Cascade::from_xml_str("<opencv_storage><cascade>").unwrap_err();
    assert!(matches!(e, DetectError::Format { .. }), "{e}");
    let hog = edge_cascade_new().replace("<featureType>HAAR", "<featureType>HOG");
    assert!(matches!(
        Cascade::from_xml_str(&hog).unwrap_err(),
        DetectError::Unsupported(_)
    ));
    let bad_rect = edge_cascade_new().replace("<_>6 1 5 10 2.</_>", "<_>9 1 5 10 2.</_>");
    let e = Cascade::from_xml_str(&bad_rect).unwrap_err();
    assert!(e.to_string().contains("leaves the 12x12 window"), "{e}");
    let bad_feature = edge_cascade_new().replace("0 -1 0 0.15", "0 -1 3 0.15");
    assert!(Cascade::from_xml_str(&bad_feature).is_err());
    let tree = edge_cascade_old().replace("<next>-1</next>", "<next>4</next>");
    assert!(matches!(
        Cascade::from_xml_str(&tree).unwrap_err(),
        DetectError::Unsupported(_)
    ));
    let e = Cascade::from_xml_file(Path::new("/nonexistent/x.xml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.xml"), "{e}");

    let c = Cascade::from_xml_str(&edge_cascade_new()).unwrap();
    let p = DetectParams {
        scale_factor: 1.0,
        ..DetectParams::default()
    };
    assert!(matches!(
        c.try_detect_multi_scale(&edge_scene(), &p),
        Err(DetectError::Params(_))
    ));
    assert!(c.detect_multi_scale(&edge_scene(), &p).is_empty());
}

/// SeetaFace's minimum face size is honoured (rustface alone ignores it): the photo's face
/// (landmark box ≈ 200 px, in a 400 px photo) is found with minimums from 20 to 140 px, in the
/// same place, and not when the minimum is twice its size.
#[test]
fn seeta_min_face_size_is_honoured() {
    let Some((img, truth)) = real_photo() else {
        return;
    };
    let Ok(s) = Seeta::embedded() else { return };
    let with_min = |m: u32| {
        let p = facemark_detect::SeetaParams {
            min_face_size: m,
            ..Default::default()
        };
        s.clone().with_params(p).detect(&img)
    };
    let side = truth.w.max(truth.h);
    for m in [20, 40, 80, (side * 0.7) as u32] {
        let d = with_min(m);
        let best = d.iter().map(|d| d.bbox.iou(&truth)).fold(0.0, f32::max);
        assert!(best > 0.4, "min {m}: best IoU {best} with {truth:?}: {d:?}");
        assert!(
            d.iter().all(|d| d.bbox.w >= m as f32 * 0.9),
            "min {m}: {d:?}"
        );
    }
    assert!(
        with_min((side * 2.0) as u32).is_empty(),
        "min face above the face's size"
    );
    // a minimum that shrinks the image below the window: no faces, no panic
    assert!(with_min(10 * img.width().max(img.height())).is_empty());
}

#[test]
fn tiny_and_empty_images_give_no_faces() {
    let c = Cascade::from_xml_str(&edge_cascade_new()).unwrap();
    for (w, h) in [(0, 0), (1, 1), (11, 40), (40, 11), (12, 12)] {
        let img = GrayImage::new(w, h);
        assert!(c.detect(&img).is_empty());
    }
    if let Ok(s) = Seeta::embedded() {
        for (w, h) in [(0, 0), (5, 5), (30, 200), (64, 64)] {
            assert!(s.detect(&GrayImage::new(w, h)).is_empty());
        }
    }
}

#[test]
fn embedded_frontal_is_always_built_in() {
    // Vendored in crates/detect/data/: no system package needed.
    assert!(Cascade::has_embedded_frontal());
    let c = Cascade::embedded_frontal().unwrap();
    assert_eq!(c.model().window_size(), (24, 24));
}

/// One real 300-W photo (gray) and the square around its annotated landmarks; `None` (with
/// the reason printed) when the shared data is absent.
fn real_photo() -> Option<(GrayImage, BoxF)> {
    let data = facemark_core::testdata::shared_data()?;
    let dir = data.join("300w-helen-train");
    let (jpg, pts) = (dir.join("100032540_1.jpg"), dir.join("100032540_1.pts"));
    if !jpg.is_file() || !pts.is_file() {
        eprintln!("skipping: {} not found", jpg.display());
        return None;
    }
    let text = std::fs::read_to_string(&pts).unwrap();
    let points: Vec<[f32; 2]> = text
        .lines()
        .filter_map(|l| {
            let v: Vec<f32> = l
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            (v.len() == 2).then(|| [v[0], v[1]])
        })
        .collect();
    assert_eq!(points.len(), 68);
    let truth = BoxF::around(&points).unwrap().square(1.0);
    Some((facemark_detect::to_gray(&image::open(&jpg).unwrap()), truth))
}

/// One real 300-W photo: both detectors find the annotated face.
#[test]
fn real_photo_face_is_found() {
    let Some((img, truth)) = real_photo() else {
        return;
    };
    let mut dets: Vec<(String, Vec<facemark_core::Detection>)> = vec![];
    if let Ok(c) = Cascade::embedded_frontal() {
        dets.push((
            "haar".into(),
            c.with_params(facemark_detect::FACE_PARAMS).detect(&img),
        ));
    }
    if let Ok(s) = Seeta::embedded() {
        dets.push(("seeta".into(), s.detect(&img)));
    }
    for (name, d) in dets {
        let best = d.iter().map(|d| d.bbox.iou(&truth)).fold(0.0, f32::max);
        assert!(best > 0.4, "{name}: best IoU {best} with {truth:?}: {d:?}");
    }
}

#[test]
fn detectors_by_name() {
    use facemark_detect::{default_detector, detector_by_name};
    assert!(matches!(
        detector_by_name("nope"),
        Err(DetectError::UnknownDetector(_))
    ));
    assert!(matches!(
        detector_by_name("/nonexistent/cascade.xml"),
        Err(DetectError::Io { .. })
    ));
    match default_detector() {
        Ok(d) => assert_eq!(d.name(), "seetaface"),
        Err(e) => assert!(e.to_string().contains("FACEMARK_SEETA_MODEL"), "{e}"),
    }
    if Cascade::has_embedded_frontal() {
        let d = detector_by_name("haar").unwrap();
        assert_eq!(d.name(), "haar:haarcascade_frontalface_default");
    }
    let dir = std::env::temp_dir().join(format!("fm-detect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("edge.xml");
    std::fs::write(&f, edge_cascade_new()).unwrap();
    let d = detector_by_name(f.to_str().unwrap()).unwrap();
    assert_eq!(d.name(), "haar:edge");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tiny_windows_and_tiny_scale_steps_are_refused() {
    let small = edge_cascade_new()
        .replace("<height>12</height>", "<height>2</height>")
        .replace("<width>12</width>", "<width>2</width>");
    assert!(Cascade::from_xml_str(&small).is_err());
    let c = Cascade::from_xml_str(&edge_cascade_new()).unwrap();
    let p = DetectParams {
        scale_factor: 1.000_000_1,
        ..DetectParams::default()
    };
    assert!(c.try_detect_multi_scale(&edge_scene(), &p).is_err());
}
