//! Landmark schemes as data: point count, names, groups, mirror permutation, NME normaliser.
//!
//! (The formats helper completes the concrete schemes: 68 iBUG/300-W, 15 Kaggle, 194 HELEN, 5.)

use serde::{Deserialize, Serialize};

/// A named group of points (e.g. "jaw", "left_eye"), by 0-based index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub indices: Vec<usize>,
}

/// A landmark scheme. Indices are 0-based.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheme {
    /// Short id used in files and on the CLI: "ibug68", "kaggle15", "helen194", "five", "n<N>".
    pub name: String,
    /// One name per point.
    pub point_names: Vec<String>,
    pub groups: Vec<Group>,
    /// `mirror[i]` = the index point `i` becomes after a horizontal flip. An involution.
    pub mirror: Vec<usize>,
    /// The two points whose distance normalises NME (68: outer eye corners 36, 45).
    pub norm_pair: Option<(usize, usize)>,
}

impl Scheme {
    pub fn len(&self) -> usize {
        self.point_names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.point_names.is_empty()
    }
    /// A scheme with `n` anonymous points and no known symmetry (mirror = identity).
    pub fn generic(n: usize) -> Scheme {
        Scheme {
            name: format!("n{n}"),
            point_names: (0..n).map(|i| format!("p{i}")).collect(),
            groups: vec![],
            mirror: (0..n).collect(),
            norm_pair: None,
        }
    }
}
