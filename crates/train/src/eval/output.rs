//! The report as text and JSON.

use super::{EvalError, EvalReport};
use crate::breakdown;
use std::path::Path;

impl EvalReport {
    /// Pretty JSON of the whole report (per-face entries included).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// A short human-readable summary (several lines).
    pub fn summary_text(&self) -> String {
        let f = |v: Option<f32>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let shift = if self.box_shift > 0.0 {
            format!(
                " shifted by {} (seed {})",
                self.box_shift, self.box_shift_seed
            )
        } else {
            String::new()
        };
        let mut s = format!(
            "faces {} ({} skipped), scheme {} ({} points), box {}{shift}\n",
            self.n_faces,
            self.skipped.len(),
            self.scheme,
            self.n_points,
            self.box_source
        );
        if let Some(n) = self.nme_outer {
            s += &format!(
                "NME outer-eye  mean {:.4}  median {:.4}\n",
                n.mean, n.median
            );
        }
        if let Some(n) = self.nme_pupil {
            s += &format!(
                "NME inter-pupil mean {:.4}  median {:.4}\n",
                n.mean, n.median
            );
        }
        s += &format!(
            "RMSE {} px, mean point error {} px\n",
            f(self.rmse_px),
            f(self.mean_error_px)
        );
        for t in &self.thresholds {
            s += &format!(
                "AUC@{:.2} {:.4}  failure@{:.2} {:.4}  ({} NME)\n",
                t.threshold, t.auc, t.threshold, t.failure_rate, self.primary
            );
        }
        s += &breakdown::summary_text(&self.primary, &self.regions, &self.yaw);
        s += &format!(
            "{:.1} s, {:.1} faces/s\n",
            self.seconds, self.faces_per_second
        );
        s
    }

    /// Writes [`EvalReport::to_json`] atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        facemark_core::io::write_atomic(path, self.to_json().as_bytes()).map_err(|source| {
            EvalError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}
