//! The trainer's options: dlib's `shape_predictor_trainer` settings, with dlib's names and
//! defaults (the `[ert]` table of a facemark training config).

use serde::{Deserialize, Serialize};

/// Where the feature pixels of each level are drawn from (dlib's `padding_mode_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaddingMode {
    /// The bounding box of the initial (mean) shape, grown by `feature_pool_region_padding` in
    /// units of the face rectangle (dlib's default).
    #[default]
    LandmarkRelative,
    /// That box widened to contain the whole face rectangle (the unit square) first.
    BoundingBoxRelative,
}

/// dlib's `shape_predictor_trainer` options, same names and defaults (dlib 19.24).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Levels of the cascade (dlib: 10), ≥ 1.
    pub cascade_depth: usize,
    /// Depth of each regression tree: `2^depth − 1` splits, `2^depth` leaves (dlib: 4),
    /// 1 to 12.
    pub tree_depth: usize,
    /// Trees per cascade level (dlib: 500), ≥ 1.
    pub num_trees_per_cascade_level: usize,
    /// Shrinkage: each leaf moves its faces by `nu ×` their mean residual (dlib: 0.1), in
    /// (0, 1].
    pub nu: f64,
    /// Copies of each face, each from a different starting shape (dlib: 20), ≥ 1.
    pub oversampling_amount: usize,
    /// Random shift of the copies' starting shapes, uniform in `±` this many face-rectangle
    /// widths (dlib: 0), ≥ 0.
    pub oversampling_translation_jitter: f64,
    /// Feature pixels per level (dlib: 400), ≥ 2.
    pub feature_pool_size: usize,
    /// Prior on split pixel pairs: a pair at distance `d` (face-rectangle units) is kept with
    /// probability `exp(−d / lambda)` (dlib: 0.1), > 0.
    pub lambda: f64,
    /// Random splits tried at each tree node (dlib: 20), ≥ 1.
    pub num_test_splits: usize,
    /// Growth of the feature pixels' region, in face-rectangle units (dlib: 0), > −0.5.
    pub feature_pool_region_padding: f64,
    /// The region's base box (dlib: `landmark_relative`).
    pub padding_mode: PaddingMode,
    /// Seed of every random draw (starting shapes, feature pixels, splits): the same seed,
    /// data and options give the same model whatever the thread count. dlib's seed is a
    /// string; facemark's generator is ChaCha8 (not dlib's), so equal seeds do not give
    /// dlib's trees. Not in a config's `[ert]` table (an error there): `facemark train` sets
    /// it from the config's `seed`.
    #[serde(skip_serializing, deserialize_with = "seed_not_here")]
    pub random_seed: u64,
}

/// `random_seed` in a config: refused, so that it is not silently ignored.
fn seed_not_here<'de, D: serde::Deserializer<'de>>(_: D) -> Result<u64, D::Error> {
    Err(serde::de::Error::custom(
        "the ERT's random seed is the config's `seed`, not an `[ert]` option",
    ))
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            cascade_depth: 10,
            tree_depth: 4,
            num_trees_per_cascade_level: 500,
            nu: 0.1,
            oversampling_amount: 20,
            oversampling_translation_jitter: 0.0,
            feature_pool_size: 400,
            lambda: 0.1,
            num_test_splits: 20,
            feature_pool_region_padding: 0.0,
            padding_mode: PaddingMode::LandmarkRelative,
            random_seed: 0,
        }
    }
}

impl TrainOptions {
    /// Checks every option against dlib's requirements; the error names the option and the
    /// valid range.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |name: &str, range: &str| Err(format!("ert option `{name}` must be {range}"));
        if self.cascade_depth == 0 {
            return bad("cascade_depth", "at least 1");
        }
        if !(1..=12).contains(&self.tree_depth) {
            return bad("tree_depth", "1 to 12");
        }
        if self.num_trees_per_cascade_level == 0 {
            return bad("num_trees_per_cascade_level", "at least 1");
        }
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return bad("nu", "in (0, 1]");
        }
        if self.oversampling_amount == 0 {
            return bad("oversampling_amount", "at least 1");
        }
        if !(self.oversampling_translation_jitter >= 0.0
            && self.oversampling_translation_jitter.is_finite())
        {
            return bad("oversampling_translation_jitter", "a number ≥ 0");
        }
        if self.feature_pool_size < 2 || self.feature_pool_size > u32::MAX as usize {
            return bad("feature_pool_size", "at least 2");
        }
        if !(self.lambda > 0.0 && self.lambda.is_finite()) {
            return bad("lambda", "a number > 0");
        }
        if self.num_test_splits == 0 {
            return bad("num_test_splits", "at least 1");
        }
        if !(self.feature_pool_region_padding > -0.5
            && self.feature_pool_region_padding.is_finite())
        {
            return bad("feature_pool_region_padding", "a number > −0.5");
        }
        Ok(())
    }

    /// Trees in the whole cascade.
    pub fn total_trees(&self) -> usize {
        self.cascade_depth * self.num_trees_per_cascade_level
    }
}
