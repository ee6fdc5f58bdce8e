//! Validation after every epoch: loss and NME of the network on the validation set's
//! inference crops.

use super::data::ValSet;
use super::features::Features;
use crate::config::TrainConfig;
use crate::metrics;
use facemark_core::Scheme;
use facemark_model::ArchConfig;
use facemark_nn::{masked_loss, Network, Tensor};

/// Validation loss and NME (mean over faces) of `net` on `val`, and the distance the NME is
/// normalised by (see [`TrainSummary::nme_norm`](super::TrainSummary::nme_norm); `"none"`
/// without a validation set, empty when no face could be scored). With `features`, the
/// validation faces' cached features go through the layers after the fixed prefix.
pub(super) fn validate(
    net: &Network,
    arch: &ArchConfig,
    val: &ValSet,
    cfg: &TrainConfig,
    scheme: &Scheme,
    size: u32,
    features: Option<&Features>,
) -> (f32, f32, String) {
    if val.n == 0 {
        return (f32::NAN, f32::NAN, "none".into());
    }
    let s = size as usize;
    let (inputs, shape, from) = match features {
        Some(f) => (&f.val[..], f.shape.clone(), f.start),
        None => (&val.inputs[..], vec![1, s, s], 0),
    };
    let px: usize = shape.iter().product();
    let k = 2 * scheme.len();
    let mut preds = Vec::with_capacity(val.n * k);
    for start in (0..val.n).step_by(64) {
        let end = (start + 64).min(val.n);
        let mut sh = vec![end - start];
        sh.extend(&shape);
        let x = Tensor::new(sh, inputs[start * px..end * px].to_vec());
        let y = net.forward_from(from, &x);
        preds.extend(arch.decode(&y.data, &y.shape));
    }
    // the coordinate loss for every head, so validation losses compare across heads
    let (loss, _) = masked_loss(cfg.loss_kind(), &preds, &val.targets, &val.masks);
    // NME in input pixels (the crop is a similarity, so NME equals the photo-frame NME)
    let box_side = size as f32 / (1.0 + 2.0 * cfg.crop_margin);
    let mut sum = 0.0f64;
    let mut count = 0usize;
    let mut norm_used = String::new();
    for i in 0..val.n {
        let p = facemark_core::crop::denormalise_points(&preds[i * k..(i + 1) * k], size);
        let g = facemark_core::crop::denormalise_points(&val.targets[i * k..(i + 1) * k], size);
        let m: Vec<bool> = val.masks[i * k..(i + 1) * k]
            .iter()
            .step_by(2)
            .copied()
            .collect();
        let Ok(fe) = metrics::face_errors(&p, &g, &m, scheme) else {
            continue;
        };
        let (v, name) = match (fe.nme_outer, fe.nme_pupil, fe.mean_px) {
            (Some(v), _, _) => (v, "outer-eye"),
            (None, Some(v), _) => (v, "inter-pupil"),
            (None, None, Some(m)) => (m / box_side, "box"),
            _ => continue,
        };
        if norm_used.is_empty() {
            norm_used = name.to_string();
        }
        sum += v as f64;
        count += 1;
    }
    let nme = if count > 0 {
        (sum / count as f64) as f32
    } else {
        f32::NAN
    };
    (loss, nme, norm_used)
}
