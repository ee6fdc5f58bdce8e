//! End-to-end checks of `facemark detect` through the real binary.

use facemark_core::{CropSpec, Scheme};
use facemark_model::{ArchConfig, KeypointModel, ModelMeta};
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_facemark"))
}

/// An untrained (randomly initialised) 68-point mobile model: enough to exercise the plumbing.
fn tiny_model(dir: &Path) -> std::path::PathBuf {
    tiny_model_as(dir, "tiny.safetensors", CropSpec::default())
}

/// As [`tiny_model`], with the crop policy `crop` (`align`: a refiner), saved as `dir/name`.
fn tiny_model_as(dir: &Path, name: &str, crop: CropSpec) -> std::path::PathBuf {
    let arch = ArchConfig::mobile(68);
    let net = arch.build(7).unwrap();
    let model = KeypointModel::new(ModelMeta::new(arch, Scheme::ibug68(), crop), net);
    let p = dir.join(name);
    model.save(&p).unwrap();
    p
}

#[test]
fn refiner_runs_behind_a_model_and_is_refused_in_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let aligned = CropSpec {
        align: true,
        ..CropSpec::default()
    };
    let refiner = tiny_model_as(dir.path(), "refiner.safetensors", aligned);
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let run = |extra: &[&std::ffi::OsStr]| {
        bin()
            .args([
                "detect",
                "--box",
                "30,20,60,60",
                "--format",
                "json",
                "--json",
                "--out",
            ])
            .arg(dir.path().join("out"))
            .args(extra)
            .arg(&img)
            .output()
            .unwrap()
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let o = run(&[
        os("--model"),
        model.as_os_str(),
        os("--refiner"),
        refiner.as_os_str(),
        os("--refine"),
        os("1"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[0]["faces"][0]["points"].as_array().unwrap().len(), 68);
    // a refiner as the model, a box model as the refiner, a refiner on a video: clear errors,
    // exit 1
    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, b"not read").unwrap();
    for (args, expect) in [
        (vec![os("--model"), refiner.as_os_str()], "is a refiner"),
        (
            vec![os("--refiner"), model.as_os_str()],
            "not on crops aligned",
        ),
        (
            vec![
                os("--model"),
                model.as_os_str(),
                os("--refiner"),
                refiner.as_os_str(),
                clip.as_os_str(),
            ],
            "is for photos",
        ),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(expect), "{err}");
    }
}

fn gradient_image(path: &Path) {
    let img = image::GrayImage::from_fn(120, 100, |x, y| image::Luma([((x * 2 + y) % 256) as u8]));
    img.save(path).unwrap();
}

#[test]
fn detect_with_a_given_box_writes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let out = dir.path().join("out");
    let o = bin()
        .args([
            "detect",
            "--box",
            "30,20,60,60",
            "--format",
            "png,json,pts,csv",
            "--numbers",
            "--json",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let faces = json[0]["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0]["points"].as_array().unwrap().len(), 68);
    assert_eq!(json[0]["scheme"], "ibug68");
    for f in [
        "face.landmarks.png",
        "face.landmarks.json",
        "face_0.pts",
        "face.landmarks.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let pts = facemark_formats::pts::read_pts(&out.join("face_0.pts")).unwrap();
    assert_eq!(pts.len(), 68);
    // nothing half-written left behind
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(".tmp")));
}

#[test]
fn corrupt_image_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let img = dir.path().join("broken.jpg");
    std::fs::write(&img, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    let o = bin()
        .args(["detect", "--whole", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(dir.path())
        .arg(&img)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("broken.jpg"),
        "error should name the file: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_box_and_missing_file_are_rejected() {
    let o = bin()
        .args(["detect", "--box", "1,2,3", "x.png"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("X,Y,W,H"));
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let o = bin()
        .args(["detect", "--model"])
        .arg(&model)
        .arg("/nonexistent/photo.jpg")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/photo.jpg"));
}

#[test]
fn truncated_model_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let bytes = std::fs::read(&model).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let o = bin()
        .args(["detect", "--whole", "--model"])
        .arg(&cut)
        .arg(&img)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cut.safetensors"), "{err}");
}

/// The embedded default model on real photos: faces found and points inside their boxes.
#[test]
fn default_pipeline_on_real_photos() {
    let Some(data) = facemark_core::testdata::shared_data() else {
        return;
    };
    if facemark::default_model().is_err() {
        eprintln!("skipping: this build has no embedded default model");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["detect", "--format", "json", "--json", "--out"])
        .arg(dir.path())
        .arg(data.join("scenes/obama_and_biden.jpg"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let faces = json[0]["faces"].as_array().unwrap();
    assert!(
        faces.len() >= 2,
        "two people in the photo, found {}",
        faces.len()
    );
    for f in faces {
        let b = &f["landmark_box"];
        let (x, y, w, h) = (
            b["x"].as_f64().unwrap(),
            b["y"].as_f64().unwrap(),
            b["w"].as_f64().unwrap(),
            b["h"].as_f64().unwrap(),
        );
        let inside = f["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                let (px, py) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
                px > x - 0.3 * w && px < x + 1.3 * w && py > y - 0.3 * h && py < y + 1.3 * h
            })
            .count();
        assert_eq!(inside, 68, "points should lie on the face");
    }
}

/// A video input gives one JSON line per frame.
#[test]
fn detect_on_video_writes_json_lines() {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let video = dir.path().join("clip.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10",
            "-frames:v",
            "6",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&video)
        .status()
        .unwrap();
    assert!(made.success());
    let out = dir.path().join("out");
    let o = bin()
        .args(["detect", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&video)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("clip.landmarks.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[5]["frame"], 5);
}

/// `--min-face` is for the face detector: refused below SeetaFace's floor of 20 px and with
/// `--box`/`--whole` (no detector runs), accepted otherwise.
#[test]
fn min_face_is_checked_and_only_with_a_detector() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let out = dir.path().join("out");
    for bad in [
        vec!["--min-face", "10"],
        vec!["--min-face", "80", "--whole"],
        vec!["--min-face", "80", "--box", "30,20,60,60"],
    ] {
        let o = bin().arg("detect").args(&bad).arg(&img).output().unwrap();
        assert!(!o.status.success(), "{bad:?} was accepted");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--min-face"));
    }
    let o = bin()
        .args(["detect", "--min-face", "80", "--format", "json", "--out"])
        .arg(&out)
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `gradient_image` content saved as `path` in the type its extension names (GIF as RGBA).
fn gradient_as(path: &Path) {
    let g = image::GrayImage::from_fn(120, 100, |x, y| image::Luma([((x * 2 + y) % 256) as u8]));
    let img = if path.extension().is_some_and(|e| e == "gif") {
        image::DynamicImage::ImageRgba8(image::DynamicImage::ImageLuma8(g).to_rgba8())
    } else {
        image::DynamicImage::ImageLuma8(g)
    };
    img.save(path).unwrap();
}

/// A 120×100 JPEG stored sideways, as phones do: EXIF orientation 6 (turn 90° clockwise to
/// view), so it is 100×120 upright.
fn sideways_jpeg(path: &Path) {
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_fn(120, 100, |x, y| image::Rgb([(x * 2) as u8, y as u8, 40]))
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let tagged = facemark_core::testdata::jpeg_with_exif_orientation(jpeg.get_ref(), 6);
    std::fs::write(path, tagged).unwrap();
}

/// The `--format json` file `detect` wrote for the photo `stem` in `out`.
fn landmarks_json(out: &Path, stem: &str) -> serde_json::Value {
    let p = out.join(format!("{stem}.landmarks.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every image type facemark reads, in a folder scan and by name: `detect --box` decodes each
/// (WebP, BMP, TIFF, PPM, PGM, GIF beside a PNG) and places 68 points.
#[test]
fn detect_reads_every_image_type() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let names = [
        "a.png", "b.webp", "c.bmp", "d.tiff", "e.tif", "f.ppm", "g.pgm", "h.gif", "i.WEBP",
    ];
    for n in names {
        gradient_as(&photos.join(n));
    }
    std::fs::write(photos.join("notes.txt"), "not a photo").unwrap();
    let out = dir.path().join("out");
    let o = bin()
        .args([
            "detect",
            "--box",
            "30,20,60,60",
            "--format",
            "json",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&photos)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for n in names {
        let r = landmarks_json(&out, &n[..1]);
        assert!(r["image"].as_str().unwrap().ends_with(n), "{r}");
        assert_eq!(
            (r["width"].as_u64(), r["height"].as_u64()),
            (Some(120), Some(100)),
            "{n}"
        );
        assert_eq!(r["faces"][0]["points"].as_array().unwrap().len(), 68, "{n}");
    }
    // the folder scan took the photos only
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), names.len());
    // one file named on the command line
    let one = dir.path().join("one");
    let o = bin()
        .args([
            "detect",
            "--box",
            "30,20,60,60",
            "--format",
            "json",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&one)
        .arg(photos.join("f.ppm"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(landmarks_json(&one, "f")["width"], 120);
}

/// A phone photo stored sideways with EXIF orientation 6 is read upright (100×120) by
/// `detect`, `faces` and `filter`: sizes and output pictures are those a person sees.
#[test]
fn exif_orientation_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let img = dir.path().join("phone.jpg");
    sideways_jpeg(&img);
    let out = dir.path().join("out");
    let o = bin()
        .args([
            "detect",
            "--box",
            "20,30,60,60",
            "--format",
            "json,png",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&out)
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = landmarks_json(&out, "phone");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(100), Some(120))
    );
    let size = |p: &Path| image::image_dimensions(p).unwrap();
    assert_eq!(size(&out.join("phone.landmarks.png")), (100, 120));
    let faces_png = dir.path().join("faces.png");
    let o = bin()
        .arg("faces")
        .arg(&img)
        .arg("--out")
        .arg(&faces_png)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(size(&faces_png), (100, 120));
    let pts = dir.path().join("p.pts");
    facemark_formats::pts::write_pts(&pts, &face_points(), true).unwrap();
    let filtered = dir.path().join("filtered.png");
    let o = bin()
        .args(["filter", "--effect", "blur", "--points"])
        .arg(&pts)
        .arg(&img)
        .arg(&filtered)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(size(&filtered), (100, 120));
}

/// 68 points spread over the middle of a 120×100 picture.
fn face_points() -> Vec<[f32; 2]> {
    (0..68)
        .map(|i| [30.0 + (i % 10) as f32 * 6.0, 25.0 + (i / 10) as f32 * 8.0])
        .collect()
}

/// A damaged file of each new type: exit 1, the file named, no panic — in `detect`, `faces`
/// and `filter`.
#[test]
fn corrupt_file_of_each_new_type_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let junk: [(&str, &[u8]); 6] = [
        ("bad.webp", b"RIFF\x10\0\0\0WEBPVP8 garbage garbage"),
        ("bad.bmp", b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0garbage"),
        ("bad.tiff", b"II*\0\x08\0\0\0\xff\xff garbage"),
        ("bad.ppm", b"P6\n120 100\n255\n\x01\x02\x03"),
        ("bad.pgm", b"P5\nwide high\n255\n"),
        ("bad.gif", b"GIF89a\x10\0\x10\0\xf7\0\0garbage"),
    ];
    for (name, bytes) in junk {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = dir.path().join("out.png");
        for args in [
            vec![
                "detect",
                "--box",
                "1,1,5,5",
                "--model",
                model.to_str().unwrap(),
            ],
            vec!["faces"],
            vec![
                "filter",
                "--effect",
                "blur",
                "--model",
                model.to_str().unwrap(),
            ],
        ] {
            let mut cmd = bin();
            cmd.args(&args).arg(&p);
            if args[0] == "filter" {
                cmd.arg(&out);
            } else {
                cmd.arg("--out").arg(&out);
            }
            let o = cmd.output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{args:?} {name}: accepted");
            assert!(
                err.contains(name),
                "{args:?}: error should name the file: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

/// `faces` and `filter` read the new types too (`filter --points`: no detector involved).
#[test]
fn faces_and_filter_read_new_types() {
    let dir = tempfile::tempdir().unwrap();
    let size = |p: &Path| image::image_dimensions(p).unwrap();
    let webp = dir.path().join("p.webp");
    gradient_as(&webp);
    let faces_png = dir.path().join("faces.png");
    let o = bin()
        .arg("faces")
        .arg(&webp)
        .arg("--out")
        .arg(&faces_png)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(size(&faces_png), (120, 100));
    let bmp = dir.path().join("p.bmp");
    gradient_as(&bmp);
    let pts = dir.path().join("p.pts");
    facemark_formats::pts::write_pts(&pts, &face_points(), true).unwrap();
    let out = dir.path().join("out.png");
    let o = bin()
        .args(["filter", "--effect", "blur", "--points"])
        .arg(&pts)
        .arg(&bmp)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(size(&out), (120, 100));
}

/// `--pose`: the JSON and CSV carry each face's head pose (with or without the flag), and the
/// flag draws its axes on the PNG.
#[test]
fn detect_pose_writes_pose_fields_and_draws_axes() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let run = |out: &Path, pose: bool| {
        let mut c = bin();
        c.args(["detect", "--box", "30,20,60,60", "--format", "png,json,csv"])
            .arg("--model")
            .arg(&model)
            .arg("--out")
            .arg(out)
            .arg(&img);
        if pose {
            c.arg("--pose");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (with, without) = (dir.path().join("with"), dir.path().join("without"));
    run(&with, true);
    run(&without, false);
    let json = landmarks_json(&with, "face");
    let pose = &json["faces"][0]["pose"];
    for k in ["yaw", "pitch", "roll", "rms_px"] {
        assert!(pose[k].is_number(), "{k} missing: {pose}");
    }
    assert_eq!(pose["rotation"].as_array().unwrap().len(), 3);
    assert_eq!(pose["translation"].as_array().unwrap().len(), 3);
    assert_eq!(landmarks_json(&without, "face")["faces"][0]["pose"], *pose);
    let csv = std::fs::read_to_string(with.join("face.landmarks.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("face,point,x,y,yaw,pitch,roll"));
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let yaw: f64 = row[4].parse().unwrap();
    assert!((yaw - pose["yaw"].as_f64().unwrap()).abs() < 0.01);
    // the axes are drawn only with --pose
    let a = image::open(with.join("face.landmarks.png"))
        .unwrap()
        .to_rgb8();
    let b = image::open(without.join("face.landmarks.png"))
        .unwrap()
        .to_rgb8();
    let changed = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
    assert!(changed >= 5, "{changed} pixels differ");
}

/// On a real photo with the embedded model: each face gets a pose whose yaw reads as a person
/// sees it — in obamas4.jpg the man (left) turns towards the image's right, the woman (right)
/// towards its left.
#[test]
fn default_pipeline_poses_on_a_real_photo() {
    let Some(data) = facemark_core::testdata::shared_data() else {
        return;
    };
    if facemark::default_model().is_err() {
        eprintln!("skipping: this build has no embedded default model");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "detect", "--pose", "--format", "png,json", "--json", "--out",
        ])
        .arg(dir.path())
        .arg(data.join("scenes/obamas4.jpg"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut faces: Vec<(f64, f64)> = json[0]["faces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let x = f["landmark_box"]["x"].as_f64().unwrap();
            (x, f["pose"]["yaw"].as_f64().unwrap())
        })
        .collect();
    faces.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(faces.len(), 2);
    assert!(faces[0].1 > 5.0 && faces[0].1 < 40.0, "{faces:?}");
    assert!(faces[1].1 < -5.0 && faces[1].1 > -40.0, "{faces:?}");
}

/// A hand-made refinement cascade of 68 points (one level, two one-split trees, small
/// non-zero leaves), saved as a dlib `.dat`.
fn tiny_cascade(path: &Path) {
    use facemark::ert::{Level, ShapePredictor, Split, Tree};
    let tree = |t: f32, s: f32| Tree {
        splits: vec![Split {
            idx1: 0,
            idx2: 3,
            thresh: t,
        }],
        leaf_values: (0..4 * 68)
            .map(|i| s * (0.004 + 0.0001 * i as f32))
            .collect(),
    };
    let level = Level::new(
        vec![0, 8, 30, 45],
        vec![[0.05, 0.0], [0.0, 0.07], [-0.1, 0.02], [0.03, -0.04]],
        &[tree(3.5, 1.0), tree(-12.25, -0.5)],
    );
    let initial: Vec<f32> = (0..68)
        .flat_map(|i| {
            [
                0.1 + 0.8 * (i % 17) as f32 / 16.0,
                0.1 + 0.2 * (i / 17) as f32,
            ]
        })
        .collect();
    ShapePredictor::new(initial, vec![level])
        .unwrap()
        .save(path)
        .unwrap();
}

/// `model convert --cascade` puts a refinement cascade into the model file: `detect` then runs
/// it after the network (`--no-cascade`: the network alone), `model info` names it, and
/// `--no-cascade` takes it out again. The embedded default model carries its own.
#[test]
fn a_model_file_carries_its_refinement_cascade() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("face.png");
    gradient_image(&img);
    let points = |extra: &[&std::ffi::OsStr]| -> Vec<[f64; 2]> {
        let o = bin()
            .args([
                "detect",
                "--box",
                "30,20,60,60",
                "--format",
                "json",
                "--json",
                "--out",
            ])
            .arg(dir.path().join("out"))
            .args(extra)
            .arg(&img)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        json[0]["faces"][0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()])
            .collect()
    };
    let moved = |a: &[[f64; 2]], b: &[[f64; 2]]| -> Vec<f64> {
        a.iter()
            .zip(b)
            .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
            .collect()
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    // the default model's cascade corrects its points (a few pixels on a 60-pixel box)
    let (with, without) = (points(&[]), points(&[&os("--no-cascade")]));
    assert_eq!((with.len(), without.len()), (68, 68));
    let d = moved(&with, &without);
    assert!(
        d.iter().any(|&d| d > 0.0) && d.iter().all(|&d| d < 15.0),
        "{d:?}"
    );

    let model = tiny_model(dir.path());
    let dat = dir.path().join("tiny.dat");
    tiny_cascade(&dat);
    let both = dir.path().join("both.safetensors");
    let o = bin()
        .args(["model", "convert", "--storage", "f32", "--cascade"])
        .args([&dat, &model, &both])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info = bin().args(["model", "info"]).arg(&both).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("cascade:       1 levels × 2 trees"), "{info}");
    let plain = points(&[&os("--model"), model.as_os_str()]);
    let carried = points(&[&os("--model"), both.as_os_str()]);
    let given = points(&[
        &os("--refiner"),
        dat.as_os_str(),
        &os("--model"),
        model.as_os_str(),
    ]);
    let alone = points(&[&os("--no-cascade"), &os("--model"), both.as_os_str()]);
    assert!(moved(&plain, &carried).iter().any(|&d| d > 0.0));
    assert_eq!(carried, given, "the carried cascade is the .dat's");
    assert_eq!(alone, plain);
    // its leaves stored at a rank: said by `model info`, nearly the same points (the tiny
    // cascade's leaves are of rank 2: 8-bit coefficients are all that changes)
    let ranked = dir.path().join("ranked.safetensors");
    let o = bin()
        .args([
            "model",
            "convert",
            "--storage",
            "f32",
            "--cascade-rank",
            "4",
        ])
        .args([&both, &ranked])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info = bin().args(["model", "info"]).arg(&ranked).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("leaves stored at rank 4"), "{info}");
    let d = moved(&points(&[&os("--model"), ranked.as_os_str()]), &carried);
    assert!(d.iter().all(|&d| d < 0.05), "{d:?}");
    let o = bin()
        .args(["model", "convert", "--cascade-rank", "136"])
        .args([&both, &dir.path().join("no.safetensors")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--cascade-rank 136: expected 0 to 135"),
        "{err}"
    );
    assert!(!dir.path().join("no.safetensors").exists());
    // taken out again: the network's file, byte for byte
    let back = dir.path().join("back.safetensors");
    let o = bin()
        .args(["model", "convert", "--storage", "f32", "--no-cascade"])
        .args([&both, &back])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&model).unwrap()
    );
    // a cascade of another point count is refused, naming the flag; nothing is written
    let five = dir.path().join("five.dat");
    let sp = facemark::ert::ShapePredictor::new(
        vec![0.3, 0.4, 0.6, 0.4, 0.5, 0.5, 0.4, 0.7, 0.6, 0.7],
        vec![],
    )
    .unwrap();
    sp.save(&five).unwrap();
    let bad = dir.path().join("bad.safetensors");
    let o = bin()
        .args(["model", "convert", "--cascade"])
        .args([&five, &model, &bad])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--cascade") && err.contains("5 points"),
        "{err}"
    );
    assert!(!bad.exists());
}
