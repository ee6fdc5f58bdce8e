//! Small data sets made in tests.

use crate::dataset::{save_as, Format};
use facemark_core::{ImageSource, Sample, Scheme};
use std::path::Path;

/// A tiny 68-point data set written as a 300-W folder `dir/w300`: two 64×64 images of two
/// people. Returns the samples as made.
pub(crate) fn fixture(dir: &Path) -> Vec<Sample> {
    let mean = Scheme::ibug68().mean_shape().unwrap();
    let mut out = vec![];
    for k in 0..2 {
        let img = image::RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 4) as u8, (k * 100) as u8])
        });
        let p = dir.join(format!("person{k}_1.png"));
        img.save(&p).unwrap();
        let pts = mean
            .iter()
            .map(|q| [32.0 + q[0] * 40.0 + k as f32 * 0.123, 32.0 + q[1] * 40.0])
            .collect();
        out.push(Sample::new(
            ImageSource::File(p),
            pts,
            format!("person{k}_1.png"),
        ));
    }
    save_as(&dir.join("w300"), Format::Pts300w, &out).unwrap();
    out
}

/// Same samples, points within 1e-3 pixels.
pub(crate) fn close(a: &[Sample], b: &[Sample]) {
    assert_eq!(a.len(), b.len());
    for (s, t) in a.iter().zip(b) {
        assert_eq!(s.points.len(), t.points.len());
        for (p, q) in s.points.iter().zip(&t.points) {
            assert!(
                (p[0] - q[0]).abs() < 1e-3 && (p[1] - q[1]).abs() < 1e-3,
                "{p:?} vs {q:?}"
            );
        }
    }
}
