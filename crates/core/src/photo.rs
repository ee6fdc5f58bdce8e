//! Reading photos, the one way every part of facemark does it (`detect`, `faces`, `filter`,
//! folder scans, the image beside an annotation, data-set loading):
//!
//! - [`IMAGE_EXTENSIONS`]: the file types facemark reads — JPEG, PNG, WebP, BMP, TIFF, PNM
//!   (`.ppm`, `.pgm`, `.pbm`, `.pnm`) and GIF (its first frame);
//! - decoding by content, not by extension (a PNG named `.jpg` still reads; every listed type
//!   has magic bytes);
//! - the EXIF orientation honoured: a phone photo stored sideways with an orientation tag comes
//!   out as a person sees it, so landmark points are in the coordinates of the upright picture;
//! - the `image` crate's default memory limit (512 MiB per decode), so a header claiming a
//!   gigantic size is an error, not an allocation.

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, ImageResult, Limits};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek};
use std::path::Path;

/// Extensions (lower case, no dot) of the image files facemark reads; folder scans and the
/// search for the image beside an annotation use this list, any case accepted.
pub const IMAGE_EXTENSIONS: [&str; 12] = [
    "jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "ppm", "pgm", "pbm", "pnm", "gif",
];

/// Does `path` end in one of [`IMAGE_EXTENSIONS`] (any case)?
pub fn is_image_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Decode the photo at `path` (format from its content), upright: its EXIF orientation, if any,
/// applied. The error does not name the file; callers add it.
pub fn open_image(path: impl AsRef<Path>) -> ImageResult<DynamicImage> {
    decode_image(BufReader::new(File::open(path)?))
}

/// What went wrong reading a photo, in words for the message that names its file: a file
/// whose content is none of the types facemark reads (a text file named `.jpg`) says so and
/// lists them; a file that cannot be opened says why; any other error is the decoder's own,
/// after "cannot decode image". Every reader of photos words its errors
/// with this, so `detect`, `faces`, `filter` and data-set loading say the same.
pub fn describe_error(error: &image::ImageError) -> String {
    use image::error::{ImageFormatHint, UnsupportedErrorKind};
    match error {
        image::ImageError::Unsupported(u)
            if matches!(
                u.kind(),
                UnsupportedErrorKind::Format(ImageFormatHint::Unknown)
            ) =>
        {
            "not an image: its content is none of the types facemark reads (JPEG, PNG, WebP, \
             BMP, TIFF, PPM/PGM, GIF)"
                .to_string()
        }
        image::ImageError::IoError(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            e.to_string()
        }
        e => format!("cannot decode image: {e}"),
    }
}

/// [`open_image`] for a photo held by any reader (an opened file, bytes in memory).
pub fn decode_image<R: BufRead + Seek>(reader: R) -> ImageResult<DynamicImage> {
    decode(ImageReader::new(reader).with_guessed_format()?)
}

/// `(width, height)` of the photo `reader` holds as [`decode_image`] returns it (sides swapped
/// for a 90° orientation tag), from the header only.
pub fn image_dimensions<R: BufRead + Seek>(reader: R) -> ImageResult<(u32, u32)> {
    let mut decoder = ImageReader::new(reader)
        .with_guessed_format()?
        .into_decoder()?;
    let (w, h) = decoder.dimensions();
    Ok(if swaps_sides(orientation(&mut decoder)) {
        (h, w)
    } else {
        (w, h)
    })
}

fn decode<R: BufRead + Seek>(reader: ImageReader<R>) -> ImageResult<DynamicImage> {
    let mut decoder = reader.into_decoder()?;
    Limits::default().reserve(decoder.total_bytes())?;
    let orientation = orientation(&mut decoder);
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// The decoder's orientation; an unreadable EXIF block counts as none (the pixels are still
/// there, as every viewer that ignores the block shows them).
fn orientation(decoder: &mut impl ImageDecoder) -> Orientation {
    decoder.orientation().unwrap_or(Orientation::NoTransforms)
}

fn swaps_sides(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::jpeg_with_exif_orientation;
    use image::{ImageFormat, Rgb, RgbImage};

    /// A picture whose orientation can be read back: red in the top-left corner, the rest
    /// dark, wider than tall.
    fn marker(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            if x < w / 4 && y < h / 4 {
                Rgb([250, 10, 10])
            } else {
                Rgb([20, 20, 20])
            }
        })
    }

    fn read(b: &[u8]) -> ImageResult<DynamicImage> {
        decode_image(std::io::Cursor::new(b))
    }

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        img.write_to(&mut buf, format).unwrap();
        buf.into_inner()
    }

    fn is_red(img: &RgbImage, x: u32, y: u32) -> bool {
        let p = img.get_pixel(x, y).0;
        p[0] > 150 && p[1] < 100 && p[2] < 100
    }

    /// Every listed type but JPEG/PNG, encoded by the image crate and decoded back by content.
    #[test]
    fn every_new_format_decodes() {
        let rgb = marker(32, 24);
        let gray = DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb.clone()).to_luma8());
        let rgba = DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).to_rgba8());
        let rgb = DynamicImage::ImageRgb8(rgb);
        for (format, img) in [
            (ImageFormat::WebP, &rgb),
            (ImageFormat::Bmp, &rgb),
            (ImageFormat::Tiff, &rgb),
            (ImageFormat::Pnm, &rgb),
            (ImageFormat::Pnm, &gray),
            (ImageFormat::Gif, &rgba),
        ] {
            let bytes = encode(img, format);
            let back = read(&bytes)
                .unwrap_or_else(|e| panic!("{format:?}: {e}"))
                .to_luma8();
            assert_eq!(back.dimensions(), (32, 24), "{format:?}");
            // the marked corner (red, or its gray) stands out from the dark rest
            let (corner, rest) = (back.get_pixel(1, 1)[0], back.get_pixel(30, 22)[0]);
            assert!(corner > rest + 40, "{format:?}: {corner} vs {rest}");
        }
    }

    #[test]
    fn exif_orientation_6_turns_the_picture_upright() {
        // stored 40×20 sideways; tag 6 = rotate 90° clockwise to display
        let jpeg = encode(&DynamicImage::ImageRgb8(marker(40, 20)), ImageFormat::Jpeg);
        let plain = read(&jpeg).unwrap().to_rgb8();
        assert_eq!(plain.dimensions(), (40, 20));
        assert!(is_red(&plain, 2, 2));
        let tagged = jpeg_with_exif_orientation(&jpeg, 6);
        let up = read(&tagged).unwrap().to_rgb8();
        assert_eq!(up.dimensions(), (20, 40));
        // the stored top-left corner is now top-right
        assert!(
            is_red(&up, 18, 2) && !is_red(&up, 1, 2),
            "not rotated clockwise"
        );
        // 3 (180°) keeps the size, 1 changes nothing
        let half = read(&jpeg_with_exif_orientation(&jpeg, 3))
            .unwrap()
            .to_rgb8();
        assert_eq!(half.dimensions(), (40, 20));
        assert!(is_red(&half, 38, 18) && !is_red(&half, 2, 2));
        let same = read(&jpeg_with_exif_orientation(&jpeg, 1)).unwrap();
        assert_eq!(same.to_rgb8(), plain);
    }

    #[test]
    fn dimensions_are_those_of_the_upright_picture() {
        let dir = std::env::temp_dir().join(format!("facemark-photo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jpeg = encode(&DynamicImage::ImageRgb8(marker(40, 20)), ImageFormat::Jpeg);
        let p = dir.join("side.jpg");
        std::fs::write(&p, jpeg_with_exif_orientation(&jpeg, 6)).unwrap();
        let dims = image_dimensions(BufReader::new(File::open(&p).unwrap()));
        let img = open_image(&p);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(dims.unwrap(), (20, 40));
        assert_eq!(img.unwrap().to_rgb8().dimensions(), (20, 40));
    }

    /// Damaged files of every type are errors, never panics: truncated encodings, the magic
    /// bytes followed by garbage, and a header claiming a gigantic picture.
    #[test]
    fn corrupt_files_are_errors() {
        let rgb = DynamicImage::ImageRgb8(marker(32, 24));
        let rgba = DynamicImage::ImageRgba8(rgb.to_rgba8());
        for (format, img) in [
            (ImageFormat::WebP, &rgb),
            (ImageFormat::Bmp, &rgb),
            (ImageFormat::Tiff, &rgb),
            (ImageFormat::Pnm, &rgb),
            (ImageFormat::Gif, &rgba),
            (ImageFormat::Jpeg, &rgb),
            (ImageFormat::Png, &rgb),
        ] {
            let bytes = encode(img, format);
            for cut in [8, 16, 30, bytes.len() / 2, bytes.len() - 3] {
                let _ = read(&bytes[..cut]); // must not panic
            }
            assert!(
                read(&bytes[..bytes.len() / 3]).is_err(),
                "{format:?} cut to a third decoded"
            );
        }
        for junk in [
            &b"RIFF\x10\0\0\0WEBPVP8 garbage"[..],
            b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0garbage",
            b"II*\0\x08\0\0\0\xff\xff",
            b"MM\0*\0\0\0\x08\0\x01",
            b"P6\n999999 999999\n255\n\x01\x02",
            b"P5\n4 4\n255\nab",
            b"GIF89a\x10\0\x10\0\xf7\0\0",
            b"",
        ] {
            assert!(read(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn a_file_that_is_no_image_says_so() {
        let e = read(b"hello, not a photo\n").unwrap_err();
        assert!(describe_error(&e).starts_with("not an image"), "{e}");
        let e = read(b"\x89PNG\r\n\x1a\n broken").unwrap_err();
        assert!(describe_error(&e).starts_with("cannot decode image"), "{e}");
    }

    #[test]
    fn extensions_any_case() {
        for p in ["a.ppm", "a.PGM", "b/c.WebP", "x.tif", "y.GIF", "z.jpeg"] {
            assert!(is_image_path(Path::new(p)), "{p}");
        }
        for p in ["a.pts", "a", "a.mp4", "a.txt"] {
            assert!(!is_image_path(Path::new(p)), "{p}");
        }
    }
}
