//! Decoding a sample's pixels.

use crate::{FormatError, Result};
use facemark_core::{photo, ImageSource};
use image::{GrayImage, RgbImage};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The photo at `path`, upright, as [`facemark_core::photo`] reads every photo: by content,
/// EXIF orientation applied, the image crate's memory limit.
fn decode(path: &Path) -> Result<image::DynamicImage> {
    photo::decode_image(open(path)?).map_err(|e| image_error(path, e))
}

fn open(path: &Path) -> Result<BufReader<File>> {
    Ok(BufReader::new(
        File::open(path).map_err(|e| FormatError::io(path, e))?,
    ))
}

fn image_error(path: &Path, error: image::ImageError) -> FormatError {
    FormatError::Image {
        path: path.to_path_buf(),
        error,
    }
}

fn gray_from_memory(width: u32, height: u32, pixels: &[u8]) -> Result<GrayImage> {
    GrayImage::from_raw(width, height, pixels.to_vec()).ok_or_else(|| {
        FormatError::invalid(
            "<memory>",
            format!(
                "{} pixels held for a {width}×{height} gray image",
                pixels.len()
            ),
        )
    })
}

/// The sample image as 8-bit gray (files are decoded by content, not extension; colour is
/// converted by [`facemark_core::gray::to_gray`], the conversion detection and every other
/// stage use).
pub fn load_gray(src: &ImageSource) -> Result<GrayImage> {
    match src {
        ImageSource::File(p) => Ok(facemark_core::gray::to_gray(&decode(p)?)),
        ImageSource::Gray {
            width,
            height,
            pixels,
        } => gray_from_memory(*width, *height, pixels),
    }
}

/// The sample image as 8-bit RGB (gray sources are replicated into the three channels).
pub fn load_rgb(src: &ImageSource) -> Result<RgbImage> {
    match src {
        ImageSource::File(p) => Ok(decode(p)?.into_rgb8()),
        ImageSource::Gray {
            width,
            height,
            pixels,
        } => Ok(
            image::DynamicImage::ImageLuma8(gray_from_memory(*width, *height, pixels)?).into_rgb8(),
        ),
    }
}

/// `(width, height)` in pixels of the upright picture (sides swapped for a 90° EXIF
/// orientation), from the file header only (no full decode).
pub fn image_size(src: &ImageSource) -> Result<(u32, u32)> {
    match src {
        ImageSource::File(p) => photo::image_dimensions(open(p)?).map_err(|e| image_error(p, e)),
        ImageSource::Gray { width, height, .. } => Ok((*width, *height)),
    }
}

/// The folder of an annotation file (`.` for a bare name) and its file stem: where its image
/// and companion files go, and their base name.
pub(crate) fn dir_and_stem(path: &Path) -> (&Path, String) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    (dir, stem)
}

/// The image file next to an annotation: `dir/stem.EXT` for the first of
/// [`photo::IMAGE_EXTENSIONS`] (lower or upper case) that exists, if any.
pub(crate) fn find_image(dir: &Path, stem: &str) -> Option<PathBuf> {
    photo::IMAGE_EXTENSIONS
        .iter()
        .flat_map(|e| [e.to_string(), e.to_ascii_uppercase()])
        .map(|e| dir.join(format!("{stem}.{e}")))
        .find(|p| p.is_file())
}

/// `stem.{jpg,jpeg,png,…}`: the names [`find_image`] looks for, for error messages.
pub(crate) fn image_names(stem: &str) -> String {
    format!("{stem}.{{{}}}", photo::IMAGE_EXTENSIONS.join(","))
}

#[cfg(test)]
mod tests {

    /// The training path (`load_gray`, which the face cache and `eval` use) sees the same gray
    /// pixels as detection and `facemark detect` (`facemark_core::gray::to_gray`), not the
    /// `image` crate's Rec. 709 luma.
    #[test]
    fn colour_photos_load_as_the_inference_gray() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c.png");
        let rgb = image::RgbImage::from_fn(16, 8, |x, y| {
            image::Rgb([(x * 16) as u8, (y * 30) as u8, (200 - x * 9) as u8])
        });
        rgb.save(&path).unwrap();
        let loaded = load_gray(&ImageSource::File(path)).unwrap();
        let dynamic = image::DynamicImage::ImageRgb8(rgb);
        assert_eq!(loaded, facemark_core::gray::to_gray(&dynamic));
        assert_ne!(
            loaded,
            dynamic.to_luma8(),
            "the fixture tells the two apart"
        );
    }

    use super::*;

    #[test]
    fn corrupt_image_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jpg");
        std::fs::write(&p, b"\xff\xd8\xff\xe0 definitely not a jpeg").unwrap();
        let e = load_gray(&ImageSource::File(p.clone())).unwrap_err();
        assert!(e.to_string().contains("bad.jpg"), "{e}");
        let e = load_rgb(&ImageSource::File(dir.path().join("missing.png"))).unwrap_err();
        assert!(e.to_string().contains("missing.png"), "{e}");
    }

    #[test]
    fn gray_memory_source_is_checked() {
        let ok = ImageSource::Gray {
            width: 2,
            height: 2,
            pixels: vec![0, 1, 2, 3],
        };
        assert_eq!(load_gray(&ok).unwrap().get_pixel(1, 1)[0], 3);
        assert_eq!(load_rgb(&ok).unwrap().get_pixel(1, 0).0, [1, 1, 1]);
        let bad = ImageSource::Gray {
            width: 3,
            height: 2,
            pixels: vec![0; 4],
        };
        assert!(load_gray(&bad).is_err());
    }
}
