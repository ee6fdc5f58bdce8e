//! Data-set images of every type facemark reads (JPEG, PNG, WebP, BMP, TIFF, PNM, GIF), found
//! beside their annotations and decoded upright (EXIF orientation applied); damaged files are
//! errors naming the file. Fixtures are a few KB, made here in temporary folders.

use facemark_core::testdata::jpeg_with_exif_orientation;
use facemark_core::ImageSource;
use facemark_formats::{image_size, load_any, load_gray, load_rgb, pts};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use std::path::Path;

/// 40×30, red in the top-left corner, dark elsewhere.
fn marker() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(40, 30, |x, y| {
        if x < 10 && y < 8 {
            Rgb([250, 10, 10])
        } else {
            Rgb([20, 20, 20])
        }
    }))
}

/// Save `img` as `path`, the format from the extension (GIF wants RGBA, PGM gray).
fn save(img: &DynamicImage, path: &Path) {
    let ext = path.extension().unwrap().to_string_lossy().to_lowercase();
    let img = match ext.as_str() {
        "gif" => DynamicImage::ImageRgba8(img.to_rgba8()),
        "pgm" => DynamicImage::ImageLuma8(img.to_luma8()),
        _ => img.clone(),
    };
    let format = ImageFormat::from_extension(&ext).unwrap();
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, format).unwrap();
    std::fs::write(path, buf.into_inner()).unwrap();
}

fn file(s: &facemark_core::Sample) -> &Path {
    match &s.image {
        ImageSource::File(p) => p,
        _ => panic!("file image expected"),
    }
}

/// The 300-W layout with a `.ppm` (as several public sets ship): `NAME.pts` + `NAME.ppm`, as
/// one file and as a folder.
#[test]
fn pts_next_to_a_ppm_loads() {
    let dir = tempfile::tempdir().unwrap();
    save(&marker(), &dir.path().join("face_01.ppm"));
    let pts_path = dir.path().join("face_01.pts");
    pts::write_pts(&pts_path, &[[5.0, 4.0], [30.0, 20.0]], true).unwrap();
    let one = load_any(&pts_path).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].name, "face_01.ppm");
    assert_eq!(one[0].points, vec![[5.0, 4.0], [30.0, 20.0]]);
    let folder = load_any(dir.path()).unwrap();
    assert_eq!(folder.len(), 1);
    assert_eq!(file(&folder[0]), dir.path().join("face_01.ppm"));
    let rgb = load_rgb(&folder[0].image).unwrap();
    assert_eq!(rgb.dimensions(), (40, 30));
    assert_eq!(rgb.get_pixel(2, 2).0, [250, 10, 10]);
    assert_eq!(image_size(&folder[0].image).unwrap(), (40, 30));
}

/// Each type beside a `.pts` (lower and upper case extensions) is found and decodes.
#[test]
fn every_image_type_is_found_beside_its_annotation() {
    let dir = tempfile::tempdir().unwrap();
    for ext in [
        "jpg", "png", "webp", "bmp", "tif", "tiff", "ppm", "pgm", "gif", "WEBP", "PGM", "TIF",
    ] {
        let stem = format!("img_{ext}");
        let img = dir.path().join(format!("{stem}.{ext}"));
        save(&marker(), &img);
        let pts_path = dir.path().join(format!("{stem}.pts"));
        pts::write_pts(&pts_path, &[[1.0, 2.0]], true).unwrap();
        let s = load_any(&pts_path).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(file(&s[0]), img, "{ext}");
        let gray = load_gray(&s[0].image).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(gray.dimensions(), (40, 30), "{ext}");
        let (corner, rest) = (gray.get_pixel(2, 2)[0], gray.get_pixel(35, 25)[0]);
        assert!(corner > rest + 40, "{ext}: {corner} vs {rest}");
        assert_eq!(image_size(&s[0].image).unwrap(), (40, 30), "{ext}");
    }
    // the whole folder reads as one 300-W set of 12 faces
    assert_eq!(load_any(dir.path()).unwrap().len(), 12);
    // no image at all: the message lists what was looked for
    pts::write_pts(&dir.path().join("alone.pts"), &[[1.0, 2.0]], true).unwrap();
    let e = load_any(&dir.path().join("alone.pts"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no image alone.{jpg,") && e.contains("ppm"),
        "{e}"
    );
}

/// A phone photo stored sideways with EXIF orientation 6 (rotate 90° clockwise) loads upright:
/// the sides swap and the stored top-left corner is at the top right.
#[test]
fn exif_orientation_is_applied_to_data_set_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    marker().write_to(&mut jpeg, ImageFormat::Jpeg).unwrap();
    let img = dir.path().join("phone.jpg");
    std::fs::write(&img, jpeg_with_exif_orientation(jpeg.get_ref(), 6)).unwrap();
    pts::write_pts(&dir.path().join("phone.pts"), &[[1.0, 2.0]], true).unwrap();
    let s = load_any(&dir.path().join("phone.pts")).unwrap();
    let rgb = load_rgb(&s[0].image).unwrap();
    assert_eq!(rgb.dimensions(), (30, 40));
    let red = |x, y| {
        let p: [u8; 3] = rgb.get_pixel(x, y).0;
        p[0] > 150 && p[1] < 100
    };
    assert!(red(27, 2) && !red(2, 2), "not turned clockwise");
    assert_eq!(load_gray(&s[0].image).unwrap().dimensions(), (30, 40));
    assert_eq!(image_size(&s[0].image).unwrap(), (30, 40));
}

/// A damaged file of each type (garbage after the right magic bytes, and a valid file cut
/// short) is an error that names the file; nothing panics.
#[test]
fn corrupt_images_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk: [(&str, &[u8]); 7] = [
        ("bad.webp", b"RIFF\x10\0\0\0WEBPVP8 garbage garbage"),
        ("bad.bmp", b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0garbage"),
        ("bad.tiff", b"II*\0\x08\0\0\0\xff\xff garbage"),
        ("bad.ppm", b"P6\n40 30\n255\n\x01\x02\x03"),
        ("bad.pgm", b"P5\nforty thirty\n255\n"),
        ("bad.gif", b"GIF89a\x10\0\x10\0\xf7\0\0garbage"),
        ("notes.tif", b"just some text, no picture"),
    ];
    for (name, bytes) in junk {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = load_gray(&ImageSource::File(p)).unwrap_err().to_string();
        // a text file says "not an image" (the CLI tests check that wording through
        // `data`/`eval`/`train`); damaged files "cannot decode image"
        assert!(
            e.contains(name) && (e.contains("cannot decode") || e.contains("not an image")),
            "{e}"
        );
    }
    for ext in ["webp", "bmp", "tiff", "ppm", "pgm", "gif"] {
        let whole = dir.path().join(format!("whole.{ext}"));
        save(&marker(), &whole);
        let bytes = std::fs::read(&whole).unwrap();
        let cut = dir.path().join(format!("cut.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        let e = load_rgb(&ImageSource::File(cut)).unwrap_err().to_string();
        assert!(e.contains(&format!("cut.{ext}")), "{e}");
        let e = image_size(&ImageSource::File(dir.path().join(format!("gone.{ext}"))))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("gone.{ext}")), "{e}");
    }
}
