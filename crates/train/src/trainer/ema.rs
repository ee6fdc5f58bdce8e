//! Weight averaging ([`TrainConfig::ema_decay`](crate::config::TrainConfig::ema_decay)): an
//! exponential moving average of the weights, updated after every optimiser step. With it on,
//! the average (not the last weights) is what is validated and saved as the model; the
//! checkpoint holds both, so a resumed run continues the same average.

use facemark_nn::Network;

/// An exponential moving average of every parameter and buffer of a network, in
/// [`Network::params`] order.
pub(super) struct Ema {
    pub(super) decay: f32,
    pub(super) values: Vec<Vec<f32>>,
}

impl Ema {
    pub(super) fn new(net: &Network, decay: f32) -> Ema {
        Ema {
            decay,
            values: net.params().iter().map(|p| p.value.clone()).collect(),
        }
    }
    /// Average in `net`'s values after optimiser step `step` (1-based). The decay ramps up as
    /// `(1 + step) / (10 + step)` (TensorFlow's `num_updates`), so the first steps do not keep
    /// the random initial weights in the average for thousands of steps. Until the ramp
    /// reaches `decay` (after `(10·decay − 1) / (1 − decay)` steps: about 4 500 for 0.998)
    /// the average spans roughly the last tenth of the steps so far.
    pub(super) fn update(&mut self, net: &Network, step: u64) {
        let d = self.decay.min((1.0 + step as f32) / (10.0 + step as f32));
        for (avg, p) in self.values.iter_mut().zip(net.params()) {
            for (a, v) in avg.iter_mut().zip(&p.value) {
                *a = d * *a + (1.0 - d) * v;
            }
        }
    }
    /// A copy of `net` holding the averaged values (`net`'s training caches are dropped first,
    /// so as not to copy them).
    pub(super) fn averaged(&self, net: &mut Network) -> Network {
        net.clear_cache();
        let mut out = net.clone();
        for (p, avg) in out.params_mut().into_iter().zip(&self.values) {
            p.value.copy_from_slice(avg);
        }
        out
    }
}
