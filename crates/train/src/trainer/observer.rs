//! Progress reports: the trainer tells a [`TrainObserver`] where it is, and draws nothing
//! itself (the `facemark train` command draws its progress bar from these calls).
//!
//! Why a trait and not `tracing` events: a progress display needs typed figures (step counts,
//! the running loss) delivered to one place, per run and in order, whatever the log level.
//! `tracing` events are global, filtered by level, carry their figures as formatted fields,
//! and a bar drawn from them needs a subscriber layer that knows the event names; a library
//! user or a Python binding that wants a callback would have to install one. The trainer's
//! log lines stay `tracing` events (`info!` per epoch), for logs; the observer is for
//! displays. The hooks run on the training thread between steps: a slow observer slows
//! training, so they should only record or draw.

use super::EpochRecord;

/// Where a run is, reported after every optimiser step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    /// 1-based epoch.
    pub epoch: usize,
    /// Steps done in this epoch, 1 ..= `steps`.
    pub step: usize,
    /// Steps per epoch.
    pub steps: usize,
    /// This step's batch loss.
    pub loss: f32,
    /// Mean batch loss over this epoch's steps so far.
    pub mean_loss: f64,
    /// Training samples per second in this epoch so far (without validation).
    pub samples_per_s: f32,
    /// This step's learning rate.
    pub lr: f32,
}

/// Follows a training run: every method has a no-op default, so an observer implements only
/// what it shows. `()` is the observer that shows nothing ([`train`](super::train) uses it).
///
/// Calls per epoch: [`epoch_start`](Self::epoch_start), [`step`](Self::step) after each
/// optimiser step, then [`epoch_end`](Self::epoch_end) once validation is done and before the
/// epoch's files are written. A resumed run starts at its next epoch; an error ends the calls
/// where it happened. `Send`: the run happens on its own rayon pool.
pub trait TrainObserver: Send {
    /// Epoch `epoch` (1-based) of `total_epochs` begins, with `steps` optimiser steps.
    fn epoch_start(&mut self, epoch: usize, total_epochs: usize, steps: usize) {
        let _ = (epoch, total_epochs, steps);
    }
    /// An optimiser step is done.
    fn step(&mut self, info: &StepInfo) {
        let _ = info;
    }
    /// The epoch is trained and validated: its row of `metrics.csv` (see
    /// [`EpochRecord::summary`] for the line the trainer logs).
    fn epoch_end(&mut self, record: &EpochRecord, total_epochs: usize) {
        let _ = (record, total_epochs);
    }
}

/// Shows nothing.
impl TrainObserver for () {}
