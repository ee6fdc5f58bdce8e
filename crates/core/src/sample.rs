//! One annotated face, whatever file format it came from.

use crate::{Affine2, BoxF, Point};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where a sample's pixels live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImageSource {
    /// An image file on disk (decoded on demand).
    File(PathBuf),
    /// Pixels held in memory: 8-bit gray, row-major `width × height` (Kaggle `Image` column).
    Gray {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// `width × height` gray levels, row by row.
        pixels: Vec<u8>,
    },
}

/// One face: its image, its landmarks and what is known about them.
///
/// Invariants: `points.len() == visible.len()`; a point with `visible[i] == false` is *missing*
/// (Kaggle empty cell) and its coordinates are meaningless (stored as NaN), never 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Where the face's image is.
    pub image: ImageSource,
    /// Landmarks `[x, y]` in pixels of `image`.
    pub points: Vec<Point>,
    /// `false` where the annotation is missing.
    pub visible: Vec<bool>,
    /// The face box, when the format gives one (imglab XML) or a detector found one.
    pub face_box: Option<BoxF>,
    /// Who this is, for identity-disjoint splits (YouTube-Faces: file name without `_NN.jpg`).
    pub identity: String,
    /// A short name for messages and outputs (usually the file name).
    pub name: String,
}

impl Sample {
    /// A sample whose points are all present.
    pub fn new(image: ImageSource, points: Vec<Point>, name: impl Into<String>) -> Self {
        let visible = points
            .iter()
            .map(|p| p[0].is_finite() && p[1].is_finite())
            .collect();
        let name = name.into();
        Sample {
            image,
            points,
            visible,
            face_box: None,
            identity: name.clone(),
            name,
        }
    }
    /// The points mapped through `t` (e.g. photo → crop pixels); missing points stay NaN.
    pub fn points_through(&self, t: &Affine2) -> Vec<Point> {
        self.points
            .iter()
            .zip(&self.visible)
            .map(|(p, v)| {
                if *v {
                    t.apply(*p)
                } else {
                    [f32::NAN, f32::NAN]
                }
            })
            .collect()
    }
    /// The landmark box: the tight box around the present points (pixels of the image);
    /// `None` when no point is present. May be degenerate (zero width or height).
    pub fn landmark_box(&self) -> Option<BoxF> {
        let present: Vec<Point> = self
            .points
            .iter()
            .zip(&self.visible)
            .filter(|(_, v)| **v)
            .map(|(p, _)| *p)
            .collect();
        BoxF::around(&present)
    }
    /// Number of present points.
    pub fn present(&self) -> usize {
        self.visible.iter().filter(|v| **v).count()
    }
}
