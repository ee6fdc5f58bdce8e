//! Tests of the cascade engine: scales, the dense scan, table bounds, grouping.

use super::*;
use facemark_core::limits::MAX_FACE_SIZE;

#[test]
fn scales_follow_opencv() {
    let p = DetectParams {
        scale_factor: 1.1,
        min_neighbors: 3,
        min_size: (30, 30),
        max_size: (0, 0),
    };
    let s = scales_for((24, 24), 100, 80, &p);
    // windows 24·1.1^k ≤ 80 and ≥ 30: k = 3 (31.9) … 12 (75.3)
    assert_eq!(s.len(), 10);
    assert!((s[0] - 1.331).abs() < 1e-4);
    assert!(scales_for((24, 24), 20, 80, &p).is_empty());
}

#[test]
fn dense_first_stage_gives_the_same_windows() {
    let xml = include_str!("../../data/haarcascade_frontalface_default.xml");
    let model = CascadeModel::from_xml_str(xml).unwrap();
    // Smooth blobs plus noise: plenty of windows reach later stages.
    let mut s = 12345u32;
    let img = GrayImage::from_fn(180, 140, |x, y| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let blob = ((x as f32 * 0.11).sin() * (y as f32 * 0.07).cos() * 90.0) as i32;
        image::Luma([(128 + blob + (s % 40) as i32 - 20).clamp(0, 255) as u8])
    });
    let p = DetectParams {
        min_neighbors: 0,
        ..DetectParams::default()
    };
    let a = raw_windows_impl(&model, &img, &p, true).unwrap();
    let b = raw_windows_impl(&model, &img, &p, false).unwrap();
    assert_eq!(a, b);
}

/// A one-feature 12×12 Haar cascade.
fn edge_model() -> CascadeModel {
    CascadeModel::from_xml_str(
        r#"<?xml version="1.0"?>
<opencv_storage><cascade>
  <stageType>BOOST</stageType><featureType>HAAR</featureType>
  <height>12</height><width>12</width>
  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>1</stageNum>
  <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>0.5</stageThreshold>
    <weakClassifiers><_><internalNodes>0 -1 0 0.15</internalNodes>
      <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features><_><rects><_>1 1 10 10 -1.</_><_>6 1 5 10 2.</_></rects></_></features>
</cascade></opencv_storage>"#,
    )
    .unwrap()
}

#[test]
fn offsets_past_32_bits_are_refused_not_cut() {
    let model = edge_model();
    assert!(build_opt(&model, 1000, 0).is_ok());
    // rows 2^29 values apart (an image 2^29 pixels wide): the feature's lower corners
    // are 11 rows down, past 2^32; cut to 32 bits they pointed elsewhere
    let err = build_opt(&model, 1 << 29, 0).err().expect("refused");
    assert!(matches!(err, DetectError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("32 bits"), "{err}");
}

#[test]
fn reads_past_the_tables_are_refused_in_every_build() {
    let model = edge_model();
    // a 20×20 image: tables of 21×21, window origins up to (8, 8)
    let stride = 21;
    let opt = build_opt(&model, stride, 0).unwrap();
    let nofs = [1 + stride, 11 + stride, 1 + 11 * stride, 11 + 11 * stride].map(|v| v as u32);
    let last = 8 * stride + 8;
    assert!(check_reads(&opt, &nofs, last, 21 * 21, 21 * 21).is_ok());
    // the farthest read: the last origin + the lower right corner (11, 11)
    let need = last + 11 + 11 * stride + 1;
    assert!(check_reads(&opt, &nofs, last, need, need).is_ok());
    // tables one value short, or a window origin past the end: refused
    for (last, sum, sq) in [
        (last, need - 1, need),
        (last, need, need - 1),
        (last + 1, need, need),
        (usize::MAX, need, need),
    ] {
        let err = check_reads(&opt, &nofs, last, sum, sq).unwrap_err();
        assert!(matches!(err, DetectError::TooLarge(_)), "{err}");
    }
}

#[test]
fn window_sizes_that_would_wrap_are_refused() {
    let model = edge_model();
    let img = GrayImage::from_fn(64, 48, |x, y| image::Luma([((x * 7 + y * 13) % 251) as u8]));
    for (min, max) in [(3_000_000_000, 0), (0, 3_000_000_000), (u32::MAX, u32::MAX)] {
        let p = DetectParams {
            min_neighbors: 0,
            min_size: (min, min),
            max_size: (max, max),
            ..DetectParams::default()
        };
        let err = p.validate().unwrap_err();
        assert!(err.to_string().contains("larger than any image"), "{err}");
    }
    // within the limit: accepted, and a minimum larger than the image finds nothing
    let p = DetectParams {
        min_neighbors: 0,
        min_size: (MAX_FACE_SIZE, MAX_FACE_SIZE),
        ..DetectParams::default()
    };
    assert!(p.validate().is_ok());
    assert!(detect_multi_scale(&model, &img, &p).unwrap().is_empty());
}

#[test]
fn grouping_needs_neighbours_and_averages() {
    let r = |x, y, w| Rect { x, y, w, h: w };
    let rects = vec![r(10, 10, 20), r(11, 10, 20), r(10, 11, 21), r(100, 100, 20)];
    let g = group_rectangles(&rects, 2, 0.2);
    assert_eq!(g.len(), 1);
    assert_eq!(
        g[0],
        (
            Rect {
                x: 10,
                y: 10,
                w: 20,
                h: 20
            },
            3
        )
    );
    assert_eq!(group_rectangles(&rects, 0, 0.2).len(), 4);
    assert!(group_rectangles(&rects, 3, 0.2).is_empty());
}
