//! The Adam optimiser (optionally with decoupled weight decay, as AdamW).

use crate::tensor::Param;
use serde::{Deserialize, Serialize};

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Base learning rate (default 1e-3), kept with the state; [`Adam::step`] takes each step's
    /// rate from the caller's schedule.
    pub lr: f32,
    /// Decay of the gradient's running mean, in [0, 1) (default 0.9).
    pub beta1: f32,
    /// Decay of the squared gradient's running mean, in [0, 1) (default 0.999).
    pub beta2: f32,
    /// Added to the root of the second moment before dividing (default 1e-8).
    pub eps: f32,
    /// Decoupled weight decay (AdamW); 0 = plain Adam.
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Adam state: first and second moments per parameter, by parameter name.
#[derive(Debug, Clone)]
pub struct Adam {
    /// The hyper-parameters.
    pub config: AdamConfig,
    /// Steps taken so far.
    pub t: u64,
    /// `(name, m, v)` per optimised parameter.
    pub state: Vec<(String, Vec<f32>, Vec<f32>)>,
}

impl Adam {
    /// An optimiser that has taken no step (moments are created per parameter on first use).
    pub fn new(config: AdamConfig) -> Adam {
        Adam {
            config,
            t: 0,
            state: Vec::new(),
        }
    }
    /// One update with learning rate `lr` (the schedule's current value) over the trainable,
    /// non-frozen parameters, from their accumulated gradients.
    pub fn step(&mut self, params: &mut [&mut Param], lr: f32) {
        self.t += 1;
        let c = self.config;
        let bc1 = 1.0 - c.beta1.powi(self.t as i32);
        let bc2 = 1.0 - c.beta2.powi(self.t as i32);
        for p in params.iter_mut() {
            if !p.trainable || p.frozen {
                continue;
            }
            let idx = match self.state.iter().position(|s| s.0 == p.name) {
                Some(i) => i,
                None => {
                    let n = p.value.len();
                    self.state
                        .push((p.name.clone(), vec![0.0; n], vec![0.0; n]));
                    self.state.len() - 1
                }
            };
            let (_, m, v) = &mut self.state[idx];
            if m.len() != p.value.len() {
                *m = vec![0.0; p.value.len()];
                *v = vec![0.0; p.value.len()];
            }
            let step = lr / bc1;
            let wd = lr * c.weight_decay;
            for i in 0..p.value.len() {
                let g = p.grad[i];
                m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g;
                v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g * g;
                let denom = (v[i] / bc2).sqrt() + c.eps;
                p.value[i] -= step * m[i] / denom + wd * p.value[i];
            }
        }
    }
}
