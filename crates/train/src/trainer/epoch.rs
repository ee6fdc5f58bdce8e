//! The epoch loop. Each epoch: shuffle, then batches of augmented crops through Adam steps
//! (with the weight average updated after each), then validation, the model file when the
//! epoch is the best so far, early stopping, and the checkpoint, `metrics.csv` and curves.
//!
//! Every random draw comes from a ChaCha8 stream of `(seed, epoch, position)` ([`mix`]): one
//! per epoch for the shuffle and then dropout, one per sample for its augmentation. So a
//! batch does not depend on the thread count, and a resumed epoch draws what it would have.

use super::checkpoint::save_checkpoint;
use super::data::{coord_mask, RunData};
use super::observer::{StepInfo, TrainObserver};
use super::validate::validate;
use super::LOG_TARGET;
use super::{output, EpochRecord, RunOptions, TrainError, TrainState};
use super::{CHECKPOINT_FILE, MODEL_FILE};
use crate::config::TrainConfig;
use facemark_core::Scheme;
use facemark_model::{KeypointModel, ModelMeta};
use facemark_nn::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::time::Instant;

/// Train epochs `epochs_done + 1 ..= cfg.epochs` of `state` (fewer after an early stop or
/// with [`RunOptions::stop_after`]), saving the best model with `meta`. Returns the distance
/// the validation NME was normalised by (`"none"` without a validation set; empty when no
/// epoch ran or no face could be scored).
pub(super) fn run_epochs(
    cfg: &TrainConfig,
    opts: &RunOptions,
    run: &RunData,
    state: &mut TrainState,
    meta: &mut ModelMeta,
    observer: &mut dyn TrainObserver,
) -> Result<String, TrainError> {
    let n_train = run.train.images.len();
    let bs = cfg.batch_size;
    // a last batch of a single face is skipped
    let steps_per_epoch = n_train / bs + usize::from(n_train % bs >= 2);
    let mut nme_norm = String::new();
    let first_epoch = state.progress.epochs_done;
    for epoch in first_epoch..cfg.epochs {
        if state.progress.stopped_early || opts.stop_after.is_some_and(|n| epoch >= first_epoch + n)
        {
            break;
        }
        observer.epoch_start(epoch + 1, cfg.epochs, steps_per_epoch);
        let trained = train_epoch(cfg, run, state, epoch, steps_per_epoch, observer)?;
        let norm = finish_epoch(cfg, run, state, meta, epoch, &trained, observer)?;
        if !norm.is_empty() {
            nme_norm = norm;
        }
    }
    Ok(nme_norm)
}

/// What an epoch's steps leave for its record.
struct Trained {
    /// The last step's learning rate.
    lr: f32,
    /// Mean batch loss.
    train_loss: f32,
    train_secs: f32,
    /// Faces trained on.
    seen: usize,
}

/// The optimiser steps of `epoch` (0-based).
fn train_epoch(
    cfg: &TrainConfig,
    run: &RunData,
    state: &mut TrainState,
    epoch: usize,
    steps_per_epoch: usize,
    observer: &mut dyn TrainObserver,
) -> Result<Trained, TrainError> {
    let bs = cfg.batch_size;
    let total_steps = steps_per_epoch * cfg.epochs;
    let size = run.arch.input_size as usize;
    let loss_kind = cfg.loss_kind();
    // the epoch's stream: the shuffle, then dropout step by step
    let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, epoch as u64, 1));
    let mut order: Vec<usize> = (0..run.train.images.len()).collect();
    order.shuffle(&mut rng);
    let t0 = Instant::now();
    let (mut loss_sum, mut loss_n, mut seen) = (0.0f64, 0usize, 0usize);
    let mut lr = cfg.lr;
    for (b, chunk) in order.chunks(bs).enumerate() {
        if chunk.len() < 2 {
            continue;
        }
        let step = epoch * steps_per_epoch + b;
        lr = cfg.lr_at(step, total_steps, epoch);
        let n = chunk.len();
        let net = &mut state.net;
        net.zero_grad();
        let (y, t, m) = match &run.features {
            // the fixed prefix's output, cached (`super::features`)
            Some(f) => {
                let (x, t, m) = f.batch(chunk, 2 * run.scheme.len());
                (net.forward_train_from(f.start, x, &mut rng), t, m)
            }
            None => {
                let (x, t, m) = batch(cfg, run, epoch, b, chunk);
                let x = Tensor::new(vec![n, 1, size, size], x);
                (net.forward_train(x, &mut rng), t, m)
            }
        };
        let weights = cfg.nme_weighted.then(|| nme_weights(&t, &m, &run.scheme));
        let (loss, g) = run
            .arch
            .loss(loss_kind, &y.data, &y.shape, &t, &m, weights.as_deref());
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                epoch: epoch + 1,
                loss,
            });
        }
        net.backward(Tensor::new(y.shape.clone(), g), false);
        let mut params = net.params_mut();
        state.adam.step(&mut params, lr);
        if let Some(ema) = state.ema.as_mut() {
            ema.update(net, state.adam.t);
        }
        loss_sum += loss as f64;
        loss_n += 1;
        seen += n;
        let secs = t0.elapsed().as_secs_f32().max(1e-6);
        observer.step(&StepInfo {
            epoch: epoch + 1,
            step: loss_n,
            steps: steps_per_epoch,
            loss,
            mean_loss: loss_sum / loss_n as f64,
            samples_per_s: seen as f32 / secs,
            lr,
        });
    }
    Ok(Trained {
        lr,
        train_loss: (loss_sum / loss_n.max(1) as f64) as f32,
        train_secs: t0.elapsed().as_secs_f32(),
        seen,
    })
}

/// Batch `b` of `epoch`: the faces `chunk` (indices into the training crops) augmented, as
/// network inputs `[n, 1, size, size]`, normalised targets `[n, 2N]` and their per-coordinate
/// mask. Face `j` of the batch draws its augmentation from its own stream.
fn batch(
    cfg: &TrainConfig,
    run: &RunData,
    epoch: usize,
    b: usize,
    chunk: &[usize],
) -> (Vec<f32>, Vec<f32>, Vec<bool>) {
    let bs = cfg.batch_size;
    let data = &run.train;
    let rows: Vec<(Vec<f32>, Vec<f32>, Vec<bool>)> = chunk
        .par_iter()
        .enumerate()
        .map(|(j, &i)| {
            let mut r =
                ChaCha8Rng::seed_from_u64(mix(cfg.seed, epoch as u64, (b * bs + j) as u64 + 2));
            run.aug.make(
                &data.images[i],
                &data.points[i],
                &data.visible[i],
                &mut r,
                true,
            )
        })
        .collect();
    let n = rows.len();
    let px = (run.arch.input_size * run.arch.input_size) as usize;
    let k = 2 * run.scheme.len();
    let mut x = Vec::with_capacity(n * px);
    let mut t = Vec::with_capacity(n * k);
    let mut m = Vec::with_capacity(n * k);
    for (xi, ti, mi) in rows {
        x.extend(xi);
        t.extend(ti);
        m.extend(coord_mask(&mi));
    }
    (x, t, m)
}

/// After `epoch`'s steps: validate (the weight average, with one: it is what is saved), report
/// and log the epoch, save the model if the epoch is the best so far or count it against the
/// patience, then write the checkpoint, `metrics.csv` and the curves. Returns the NME's
/// normalisation.
fn finish_epoch(
    cfg: &TrainConfig,
    run: &RunData,
    state: &mut TrainState,
    meta: &mut ModelMeta,
    epoch: usize,
    trained: &Trained,
    observer: &mut dyn TrainObserver,
) -> Result<String, TrainError> {
    let out = &cfg.out;
    // with averaging, the average is what is validated and saved
    let averaged = state.ema.as_ref().map(|e| e.averaged(&mut state.net));
    let scored = averaged.as_ref().unwrap_or(&state.net);
    let size = run.arch.input_size;
    let (val_loss, val_nme, norm) = validate(
        scored,
        &run.arch,
        &run.val,
        cfg,
        &run.scheme,
        size,
        run.features.as_ref(),
    );
    let rec = EpochRecord {
        epoch: epoch + 1,
        lr: trained.lr,
        train_loss: trained.train_loss,
        val_loss,
        val_nme,
        train_secs: trained.train_secs,
        samples_per_s: trained.seen as f32 / trained.train_secs.max(1e-6),
    };
    observer.epoch_end(&rec, cfg.epochs);
    tracing::info!(target: LOG_TARGET, "{}", rec.summary(cfg.epochs));
    let progress = &mut state.progress;
    progress.history.push(rec.clone());
    // the score that picks the best model: validation NME, or training loss without one
    let score = if val_nme.is_finite() {
        val_nme
    } else {
        rec.train_loss
    };
    progress.epochs_done = epoch + 1;
    progress.adam_t = state.adam.t;
    if score < progress.best_val_nme {
        progress.best_val_nme = score;
        progress.best_epoch = epoch + 1;
        progress.bad_epochs = 0;
        meta.epochs = epoch + 1;
        meta.metrics.clear();
        meta.metrics.insert("val_nme".into(), val_nme as f64);
        meta.metrics.insert("val_loss".into(), val_loss as f64);
        meta.metrics
            .insert("train_loss".into(), rec.train_loss as f64);
        let model = KeypointModel::new(meta.clone(), scored.clone());
        model.save(&out.join(MODEL_FILE))?;
    } else {
        progress.bad_epochs += 1;
        if cfg.patience > 0 && progress.bad_epochs >= cfg.patience {
            progress.stopped_early = true;
            tracing::info!(
                target: LOG_TARGET,
                "early stop: no better validation NME for {} epochs",
                cfg.patience
            );
        }
    }
    save_checkpoint(
        &out.join(CHECKPOINT_FILE),
        &state.net,
        &state.adam,
        state.ema.as_ref(),
        progress,
    )?;
    output::write_csv(&out.join("metrics.csv"), &progress.history)?;
    output::plot(out, &progress.history);
    Ok(norm)
}

/// A 64-bit seed from three numbers (SplitMix64's finaliser over a mix of them).
fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ c.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per-face loss weights for [`TrainConfig::nme_weighted`]: `1 / d` for each face of
/// `targets` (normalised crop coordinates, `[n, 2N]`, x before y; `mask` per coordinate) with
/// `d` its outer-eye-corner distance in those units (floored at 0.1, a tenth of the crop's
/// half-side, so a face with nearly coincident corners cannot take over the batch), scaled so
/// the faces that have the distance average 1; faces without it weigh 1.
fn nme_weights(targets: &[f32], mask: &[bool], scheme: &Scheme) -> Vec<f32> {
    let k = 2 * scheme.len();
    let inv: Vec<Option<f32>> = targets
        .chunks(k)
        .zip(mask.chunks(k))
        .map(|(t, m)| {
            let (a, b) = scheme.norm_pair?;
            if !(m[2 * a] && m[2 * a + 1] && m[2 * b] && m[2 * b + 1]) {
                return None;
            }
            let d = (t[2 * a] - t[2 * b]).hypot(t[2 * a + 1] - t[2 * b + 1]);
            Some(1.0 / d.max(0.1))
        })
        .collect();
    let have: Vec<f32> = inv.iter().flatten().copied().collect();
    let mean = have.iter().sum::<f32>() / have.len().max(1) as f32;
    inv.iter().map(|v| v.map_or(1.0, |v| v / mean)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nme_weights_follow_the_inverse_eye_distance() {
        let scheme = Scheme::ibug68();
        let (a, b) = scheme.norm_pair.unwrap();
        let k = 2 * scheme.len();
        // three faces: eye corners 0.5 apart, 0.25 apart, and one corner missing
        let mut t = vec![0.0f32; 3 * k];
        let mut m = vec![true; 3 * k];
        for (f, d) in [(0, 0.5f32), (1, 0.25), (2, 0.4)] {
            t[f * k + 2 * a] = -d / 2.0;
            t[f * k + 2 * b] = d / 2.0;
        }
        m[2 * k + 2 * b + 1] = false;
        let w = nme_weights(&t, &m, &scheme);
        // 1/0.5 = 2 and 1/0.25 = 4, scaled to mean 1 over the two faces that have both
        assert!((w[0] - 2.0 / 3.0).abs() < 1e-6, "{w:?}");
        assert!((w[1] - 4.0 / 3.0).abs() < 1e-6, "{w:?}");
        assert_eq!(w[2], 1.0);
        // nearly coincident corners are floored at 0.1: no face takes over the batch
        t[k + 2 * a] = -0.001;
        t[k + 2 * b] = 0.001;
        let w = nme_weights(&t, &m, &scheme);
        assert!((w[1] / w[0] - 5.0).abs() < 1e-4, "{w:?}");
        // a scheme without eye corners weighs every face 1
        let g = Scheme::generic(68);
        assert_eq!(nme_weights(&t, &m, &g), vec![1.0; 3]);
    }
}
