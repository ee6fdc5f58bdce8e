//! Round trip through the `ffmpeg` programs on a tiny generated clip (skipped, with a printed
//! reason, when FFmpeg is not installed).

use facemark_apps::track::TrackerOptions;
use facemark_apps::video::{self, LandmarkFormat};
use facemark_apps::Filter;
use facemark_core::{BoxF, Detection, FaceDetector, Landmarker, Point, Scheme};
use image::GrayImage;
use std::path::Path;
use std::process::Command;

/// A detector that sees one face at a fixed place, and a landmarker that puts the mean face in
/// whatever box it is given.
struct Fixed(Scheme);
impl FaceDetector for Fixed {
    fn detect(&self, _: &GrayImage) -> Vec<Detection> {
        vec![Detection {
            bbox: BoxF::new(16.0, 10.0, 30.0, 30.0),
            score: 1.0,
        }]
    }
    fn name(&self) -> String {
        "fixed".into()
    }
}
impl Landmarker for Fixed {
    fn scheme(&self) -> &Scheme {
        &self.0
    }
    fn landmarks(&self, _: &GrayImage, b: &BoxF) -> Vec<Point> {
        let m = &facemark_apps::points::MEAN_SHAPE_68;
        let mb = BoxF::around(m).unwrap();
        m.iter()
            .map(|p| {
                [
                    b.x + (p[0] - mb.x) / mb.w * b.w,
                    b.y + (p[1] - mb.y) / mb.h * b.h,
                ]
            })
            .collect()
    }
}

fn make_clip(path: &Path) {
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=1"])
        .args([
            "-frames:v",
            "10",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(path)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success());
}

#[test]
fn filter_video_keeps_frames_size_rate_and_audio() {
    if !video::ffmpeg_available() {
        eprintln!("skipping: ffmpeg/ffprobe not on PATH (apt-get install ffmpeg)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    make_clip(&input);
    let info = video::probe(&input).unwrap();
    assert_eq!((info.width, info.height), (64, 48));

    let output = dir.path().join("out.mp4");
    let fx = Fixed(Scheme::generic(68));
    let filter = Filter::by_name("sunglasses").unwrap();
    let mut seen = 0;
    let stats = video::filter_video(
        &input,
        &output,
        &filter,
        &fx,
        &fx,
        &TrackerOptions::default(),
        None,
        &mut |p| seen = p.frame,
    )
    .unwrap();
    assert_eq!(stats.frames, 10);
    assert_eq!(seen, 10);
    let out = video::probe(&output).unwrap();
    assert_eq!((out.width, out.height), (64, 48));
    assert_eq!(out.fps(), info.fps());
    assert!(out.has_audio, "audio copied");
    let mut r = video::FrameReader::open(&output).unwrap();
    let mut n = 0;
    while let Some(f) = r.next_frame().unwrap() {
        assert_eq!(f.dimensions(), (64, 48));
        n += 1;
    }
    assert_eq!(n, 10);
    // only the output file remains: the temporary file was renamed
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn landmarks_per_frame_as_csv_and_json_lines() {
    if !video::ffmpeg_available() {
        eprintln!("skipping: ffmpeg/ffprobe not on PATH (apt-get install ffmpeg)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    make_clip(&input);
    let fx = Fixed(Scheme::generic(68));
    let csv = dir.path().join("lm.csv");
    video::write_landmarks(
        &input,
        &csv,
        LandmarkFormat::from_path(&csv),
        &fx,
        &fx,
        &TrackerOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // header + one face in frames 1..=9 (a new face shows once a second detection confirms it)
    assert_eq!(lines.len(), 10);
    assert!(lines[1].starts_with("1,"), "{}", lines[1]);
    assert_eq!(lines[1].split(',').count(), 7 + 136);
    let jl = dir.path().join("lm.jsonl");
    video::write_landmarks(
        &input,
        &jl,
        LandmarkFormat::JsonLines,
        &fx,
        &fx,
        &TrackerOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let text = std::fs::read_to_string(&jl).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(text.lines().count(), 10);
    assert_eq!(
        first["faces"].as_array().unwrap().len(),
        0,
        "frame 0: tentative"
    );
    let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["faces"][0]["points"].as_array().unwrap().len(), 68);
    assert!(
        second["faces"][0].get("pose").is_none(),
        "no 3-D model for a generic scheme"
    );

    // iBUG 68 points: a head pose per face, as JSON and as three more CSV columns
    let fx = Fixed(Scheme::ibug68());
    for out in [&csv, &jl] {
        video::write_landmarks(
            &input,
            out,
            LandmarkFormat::from_path(out),
            &fx,
            &fx,
            &TrackerOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with(",x67,y67,yaw,pitch,roll"),
        "{}",
        lines[0]
    );
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(row.len(), 7 + 136 + 3);
    let yaw: f32 = row[7 + 136].parse().unwrap();
    assert!(yaw.abs() < 10.0, "the mean face looks ahead: yaw {yaw}");
    let text = std::fs::read_to_string(&jl).unwrap();
    let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let pose = &second["faces"][0]["pose"];
    assert!(
        (pose["yaw"].as_f64().unwrap() - yaw as f64).abs() < 0.01,
        "{pose}"
    );
    assert!(pose["pitch"].is_number() && pose["roll"].is_number());
}

#[test]
fn missing_input_is_a_clear_error() {
    if !video::ffmpeg_available() {
        eprintln!("skipping: ffmpeg/ffprobe not on PATH (apt-get install ffmpeg)");
        return;
    }
    let e = video::probe(Path::new("/nonexistent/clip.mp4"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("clip.mp4"), "{e}");
}

/// A phone video stored sideways with a display rotation (the tag phones write) is read upright:
/// `probe` reports the displayed size and the rotation, and every frame comes at that size.
#[test]
fn display_rotation_is_applied() {
    if !video::ffmpeg_available() {
        eprintln!("skipping display_rotation_is_applied: ffmpeg/ffprobe not on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (plain, rotated) = (dir.path().join("plain.mp4"), dir.path().join("rotated.mp4"));
    make_clip(&plain);
    // the classic way to tag a rotation: stream copy with the `rotate` metadata, which FFmpeg's
    // MP4 muxer writes as the display matrix
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&plain)
        .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(&rotated)
        .status()
        .expect("ffmpeg runs");
    assert!(st.success());
    let info = video::probe(&plain).unwrap();
    assert_eq!((info.width, info.height, info.rotation), (64, 48, 0));
    let info = video::probe(&rotated).unwrap();
    assert_eq!(
        (info.width, info.height),
        (48, 64),
        "displayed size: {info:?}"
    );
    assert!(info.rotation == 90 || info.rotation == 270, "{info:?}");
    let mut reader = video::FrameReader::open(&rotated).unwrap();
    let mut n = 0;
    while let Some(frame) = reader.next_frame().unwrap() {
        assert_eq!(frame.dimensions(), (48, 64));
        n += 1;
    }
    assert_eq!(n, 10);
}
