//! The one colour → gray conversion of facemark: training crops, evaluation, detection,
//! filters and video all see the same gray pixels, so a model never meets at run time pixels
//! it was not trained on (the `image` crate's `to_luma8` uses Rec. 709 weights; they differed
//! from BT.601 by 1.5 gray levels on average, 9 at most, on a colour photo).

use image::{GrayImage, RgbImage};

/// RGB → gray exactly as OpenCV's `cvtColor(…, COLOR_RGB2GRAY)` for 8-bit images (BT.601
/// luma, `(4899 R + 9617 G + 1868 B + 8192) >> 14`), which is also JPEG's own luma, so
/// detections and landmarks match OpenCV on colour photos. (dlib's `assign_pixel` instead
/// averages, `(R + G + B) / 3`: on the same gray image facemark's dlib predictors give dlib's
/// points exactly, but from a colour photo dlib's gray can differ by a few levels.)
pub fn rgb_to_gray(img: &RgbImage) -> GrayImage {
    let raw = img.as_raw();
    let mut out = Vec::with_capacity(raw.len() / 3);
    for p in raw.chunks_exact(3) {
        let v = (4899 * p[0] as u32 + 9617 * p[1] as u32 + 1868 * p[2] as u32 + (1 << 13)) >> 14;
        out.push(v as u8);
    }
    GrayImage::from_raw(img.width(), img.height(), out).expect("size matches")
}

/// Any decoded image → gray by [`rgb_to_gray`] (8-bit gray images are kept as they are; alpha
/// is dropped, other depths go through 8-bit RGB).
pub fn to_gray(img: &image::DynamicImage) -> GrayImage {
    match img {
        image::DynamicImage::ImageLuma8(g) => g.clone(),
        other => rgb_to_gray(&other.to_rgb8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bt601_weights_and_gray_kept() {
        let rgb = RgbImage::from_raw(3, 1, vec![255, 0, 0, 0, 255, 0, 10, 20, 250]).unwrap();
        let g = rgb_to_gray(&rgb);
        // 0.299·255 = 76.2, 0.587·255 = 149.7, 0.299·10 + 0.587·20 + 0.114·250 = 43.2
        assert_eq!(g.as_raw(), &vec![76, 150, 43]);
        let gray = GrayImage::from_raw(2, 1, vec![3, 200]).unwrap();
        assert_eq!(
            to_gray(&image::DynamicImage::ImageLuma8(gray.clone())),
            gray
        );
    }
}
