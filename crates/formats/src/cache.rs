//! A preprocessed face-crop cache: every sample's face cut out once (square region around its
//! landmark box, [`CropSpec`]), resampled to `size × size` 8-bit gray, stored with its points
//! in crop pixels, in one binary file that loads with a single read.
//!
//! File layout (little-endian):
//! ```text
//! magic "FMCACHE\0" | u32 version (1) | u32 size | u32 n_points | u32 flags (0)
//! u64 count | f32 margin | u32 reserved
//! pixels   count·size·size u8      (row-major crops)
//! points   count·n_points·2 f32    ([x, y] in crop pixels; NaN = missing)
//! visible  count·n_points u8       (0/1)
//! regions  count·4 f32             (x, y, w, h of the crop region in source-image pixels)
//! strings  count × (u32 len, name bytes, u32 len, identity bytes)
//! ```
//! The header is validated against the file length before anything is allocated, so a header
//! claiming billions of faces is an error, not an allocation.

use crate::{load_gray, FormatError, Result};
use facemark_core::geometry::warp_gray;
use facemark_core::{BoxF, CropSpec, ImageSource, Point, Sample};
use image::GrayImage;
use rayon::prelude::*;
use std::path::Path;

const MAGIC: &[u8; 8] = b"FMCACHE\0";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 * 4 + 8 + 4 + 4;
/// Largest crop side accepted in a cache, pixels.
pub const MAX_SIZE: u32 = 4096;
/// Most points per face accepted in a cache.
pub const MAX_POINTS: u32 = 100_000;

/// Face crops at one size, with their points. Index `i` addresses face `i` everywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceCache {
    /// Crop side, pixels.
    pub size: u32,
    /// The [`CropSpec`] margin the crops were cut with.
    pub margin: f32,
    /// Points per face.
    pub n_points: usize,
    /// `len() · size · size` gray pixels.
    pub pixels: Vec<u8>,
    /// `len() · n_points` points in crop pixels (NaN where missing).
    pub points: Vec<Point>,
    /// `len() · n_points` visibility flags.
    pub visible: Vec<bool>,
    /// Crop region of each face in its source image's pixels.
    pub regions: Vec<BoxF>,
    /// Each face's sample name ([`Sample::name`]).
    pub names: Vec<String>,
    /// Each face's identity (the person, for identity-disjoint splits).
    pub identities: Vec<String>,
}

/// Cut one sample's face: the `size × size` gray crop of `spec.region(landmark box)`, the
/// points mapped into crop pixels, and the region in source pixels. Error when the sample has
/// no present point or its image cannot be decoded.
pub fn crop_sample(
    sample: &Sample,
    size: u32,
    spec: &CropSpec,
) -> Result<(GrayImage, Vec<Point>, BoxF)> {
    let lb = sample
        .landmark_box()
        .ok_or_else(|| FormatError::invalid(&sample.name, "no present landmark to crop around"))?;
    let img = load_gray(&sample.image).map_err(|e| match e {
        FormatError::Invalid { msg, .. } => FormatError::invalid(&sample.name, msg),
        e => e,
    })?;
    let t = spec.transform(&lb, size);
    let crop = warp_gray(&img, &t, size, size);
    let pts = sample.points_through(&t);
    Ok((crop, pts, spec.region(&lb)))
}

impl FaceCache {
    /// Number of faces.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Whether the cache holds no face.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// Face `i`'s pixels, `size · size` row-major.
    pub fn pixels(&self, i: usize) -> &[u8] {
        let n = (self.size * self.size) as usize;
        &self.pixels[i * n..(i + 1) * n]
    }
    /// Face `i`'s crop as an image.
    pub fn image(&self, i: usize) -> GrayImage {
        GrayImage::from_raw(self.size, self.size, self.pixels(i).to_vec()).expect("size checked")
    }
    /// Face `i`'s points, crop pixels.
    pub fn points(&self, i: usize) -> &[Point] {
        &self.points[i * self.n_points..(i + 1) * self.n_points]
    }
    /// Face `i`'s visibility flags.
    pub fn visible(&self, i: usize) -> &[bool] {
        &self.visible[i * self.n_points..(i + 1) * self.n_points]
    }
    /// Face `i` as a sample whose image is the crop.
    pub fn sample(&self, i: usize) -> Sample {
        Sample {
            image: ImageSource::Gray {
                width: self.size,
                height: self.size,
                pixels: self.pixels(i).to_vec(),
            },
            points: self.points(i).to_vec(),
            visible: self.visible(i).to_vec(),
            face_box: None,
            identity: self.identities[i].clone(),
            name: self.names[i].clone(),
        }
    }
    /// All faces as samples.
    pub fn to_samples(&self) -> Vec<Sample> {
        (0..self.len()).map(|i| self.sample(i)).collect()
    }

    /// Crop every sample (in parallel) at `size × size` with `spec`. All samples must have
    /// the same number of points. The first failing sample's error is returned.
    pub fn build(samples: &[Sample], size: u32, spec: CropSpec) -> Result<FaceCache> {
        if size == 0 || size > MAX_SIZE {
            return Err(FormatError::invalid(
                "<cache>",
                format!("crop size {size} outside 1..={MAX_SIZE}"),
            ));
        }
        let n_points = samples.first().map(|s| s.points.len()).unwrap_or(0);
        if let Some(s) = samples
            .iter()
            .find(|s| s.points.len() != n_points || s.visible.len() != n_points)
        {
            return Err(FormatError::invalid(
                &s.name,
                format!("{} points, the first sample has {n_points}", s.points.len()),
            ));
        }
        let crops: Vec<(GrayImage, Vec<Point>, BoxF)> = samples
            .par_iter()
            .map(|s| crop_sample(s, size, &spec))
            .collect::<Result<_>>()?;
        let mut c = FaceCache {
            size,
            margin: spec.margin,
            n_points,
            pixels: Vec::with_capacity(samples.len() * (size * size) as usize),
            points: Vec::with_capacity(samples.len() * n_points),
            visible: Vec::with_capacity(samples.len() * n_points),
            regions: Vec::with_capacity(samples.len()),
            names: Vec::with_capacity(samples.len()),
            identities: Vec::with_capacity(samples.len()),
        };
        for (s, (img, pts, region)) in samples.iter().zip(crops) {
            c.pixels.extend_from_slice(img.as_raw());
            c.points.extend(pts);
            c.visible.extend_from_slice(&s.visible);
            c.regions.push(region);
            c.names.push(s.name.clone());
            c.identities.push(s.identity.clone());
        }
        Ok(c)
    }

    /// The file's bytes (layout in the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(
            HEADER + self.pixels.len() + self.points.len() * 9 + self.len() * 40,
        );
        b.extend_from_slice(MAGIC);
        for v in [VERSION, self.size, self.n_points as u32, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&(self.len() as u64).to_le_bytes());
        b.extend_from_slice(&self.margin.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&self.pixels);
        for p in &self.points {
            b.extend_from_slice(&p[0].to_le_bytes());
            b.extend_from_slice(&p[1].to_le_bytes());
        }
        b.extend(self.visible.iter().map(|&v| v as u8));
        for r in &self.regions {
            for v in [r.x, r.y, r.w, r.h] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        for (n, id) in self.names.iter().zip(&self.identities) {
            for s in [n, id] {
                b.extend_from_slice(&(s.len() as u32).to_le_bytes());
                b.extend_from_slice(s.as_bytes());
            }
        }
        b
    }

    /// Write the cache atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        facemark_core::io::write_atomic(path, &self.to_bytes())
            .map_err(|e| FormatError::io(path, e))
    }

    /// Read a cache file (one read, then validated parsing).
    pub fn load(path: &Path) -> Result<FaceCache> {
        let bytes = std::fs::read(path).map_err(|e| FormatError::io(path, e))?;
        FaceCache::from_bytes(&bytes, path)
    }

    /// Parse cache bytes; `path` names the file in errors. Never panics, never allocates more
    /// than the input's size suggests.
    pub fn from_bytes(b: &[u8], path: &Path) -> Result<FaceCache> {
        let bad = |msg: String| FormatError::invalid(path, msg);
        if b.len() < HEADER || &b[..8] != MAGIC {
            return Err(bad("not a facemark cache (bad magic or too short)".into()));
        }
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let version = u32_at(8);
        if version != VERSION {
            return Err(bad(format!(
                "cache version {version}, this build reads {VERSION}"
            )));
        }
        let size = u32_at(12);
        let n_points = u32_at(16);
        let count = u64::from_le_bytes(b[24..32].try_into().expect("8 bytes"));
        let margin = f32::from_le_bytes(b[32..36].try_into().expect("4 bytes"));
        if size == 0 || size > MAX_SIZE {
            return Err(bad(format!(
                "header: crop size {size} outside 1..={MAX_SIZE}"
            )));
        }
        if n_points > MAX_POINTS {
            return Err(bad(format!(
                "header: {n_points} points per face (max {MAX_POINTS})"
            )));
        }
        // Fixed-size part per face, then at least 8 string-length bytes per face.
        let per_face = (size as u64 * size as u64) + n_points as u64 * 9 + 16 + 8;
        let need = count
            .checked_mul(per_face)
            .and_then(|v| v.checked_add(HEADER as u64));
        match need {
            Some(n) if n <= b.len() as u64 => {}
            _ => {
                return Err(bad(format!(
                    "header claims {count} faces of {size}×{size} with {n_points} points, but the file has only {} bytes",
                    b.len()
                )))
            }
        }
        let count = count as usize;
        let np = n_points as usize;
        let mut o = HEADER;
        let npx = count * (size * size) as usize;
        let pixels = b[o..o + npx].to_vec();
        o += npx;
        let f = |k: usize| f32::from_le_bytes([b[k], b[k + 1], b[k + 2], b[k + 3]]);
        let mut points = Vec::with_capacity(count * np);
        for k in 0..count * np {
            points.push([f(o + 8 * k), f(o + 8 * k + 4)]);
        }
        o += count * np * 8;
        let mut visible = Vec::with_capacity(count * np);
        for &v in &b[o..o + count * np] {
            match v {
                0 => visible.push(false),
                1 => visible.push(true),
                v => return Err(bad(format!("visibility byte {v} at offset {o}"))),
            }
        }
        o += count * np;
        let mut regions = Vec::with_capacity(count);
        for k in 0..count {
            let q = o + 16 * k;
            regions.push(BoxF::new(f(q), f(q + 4), f(q + 8), f(q + 12)));
        }
        o += count * 16;
        let mut names = Vec::with_capacity(count);
        let mut identities = Vec::with_capacity(count);
        for i in 0..count {
            for out in [&mut names, &mut identities] {
                if o + 4 > b.len() {
                    return Err(bad(format!("truncated in the strings of face {i}")));
                }
                let len = u32_at(o) as usize;
                o += 4;
                if len > b.len() - o {
                    return Err(bad(format!(
                        "face {i}: string length {len} runs past the end of the file"
                    )));
                }
                let s = std::str::from_utf8(&b[o..o + len])
                    .map_err(|_| bad(format!("face {i}: name is not UTF-8")))?;
                out.push(s.to_string());
                o += len;
            }
        }
        if o != b.len() {
            return Err(bad(format!(
                "{} trailing bytes after the last face",
                b.len() - o
            )));
        }
        Ok(FaceCache {
            size,
            margin,
            n_points: np,
            pixels,
            points,
            visible,
            regions,
            names,
            identities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: usize) -> Sample {
        // A 40×30 gradient image with a bright dot at one landmark.
        let mut px = vec![0u8; 40 * 30];
        for (k, v) in px.iter_mut().enumerate() {
            *v = (k % 40) as u8 * 3;
        }
        px[15 * 40 + 20] = 255;
        let mut s = Sample::new(
            ImageSource::Gray {
                width: 40,
                height: 30,
                pixels: px,
            },
            vec![
                [10.0, 8.0],
                [20.5, 15.5],
                [30.0, 22.0],
                [f32::NAN, f32::NAN],
            ],
            format!("face_{i}.jpg"),
        );
        s.identity = format!("id{}", i % 2);
        s
    }

    #[test]
    fn build_save_load_round_trip() {
        let samples: Vec<Sample> = (0..3).map(sample).collect();
        let c = FaceCache::build(&samples, 32, CropSpec::with_margin(0.1)).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c.visible(0), &[true, true, true, false]);
        assert!(c.points(0)[3][0].is_nan());
        // The bright landmark pixel follows its point into the crop.
        let p = c.points(1)[1];
        let img = c.image(1);
        assert!(img.get_pixel(p[0] as u32, p[1] as u32)[0] > 100, "{p:?}");
        // Points stay inside the crop.
        for q in &c.points(0)[..3] {
            assert!(q[0] > 0.0 && q[0] < 32.0 && q[1] > 0.0 && q[1] < 32.0);
        }
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.fmc");
        c.save(&f).unwrap();
        let back = FaceCache::load(&f).unwrap();
        assert_eq!(back.pixels, c.pixels);
        assert_eq!(back.names, c.names);
        assert_eq!(back.identities, c.identities);
        assert_eq!(back.regions, c.regions);
        assert_eq!(back.visible, c.visible);
        assert_eq!(back.points[..3], c.points[..3]);
        assert_eq!(back.sample(2).identity, "id0");
    }

    #[test]
    fn hostile_headers_are_errors() {
        let c = FaceCache::build(&[sample(0)], 8, CropSpec::default()).unwrap();
        let good = c.to_bytes();
        let p = Path::new("x.fmc");
        assert!(FaceCache::from_bytes(&good, p).is_ok());
        // A 2-billion-face claim.
        let mut b = good.clone();
        b[24..32].copy_from_slice(&2_000_000_000u64.to_le_bytes());
        let e = FaceCache::from_bytes(&b, p).unwrap_err().to_string();
        assert!(e.contains("x.fmc") && e.contains("2000000000"), "{e}");
        let mut b = good.clone();
        b[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(FaceCache::from_bytes(&b, p).is_err());
        // Truncations at every length give errors, not panics.
        for n in 0..good.len() {
            assert!(FaceCache::from_bytes(&good[..n], p).is_err(), "length {n}");
        }
        let mut b = good.clone();
        b[0] = b'X';
        assert!(FaceCache::from_bytes(&b, p).is_err());
        assert!(FaceCache::from_bytes(&[], p).is_err());
    }

    #[test]
    fn sample_without_points_is_an_error() {
        let mut s = sample(0);
        s.visible = vec![false; 4];
        let e = FaceCache::build(&[s], 8, CropSpec::default()).unwrap_err();
        assert!(e.to_string().contains("face_0.jpg"));
    }
}
