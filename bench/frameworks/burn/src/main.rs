//! The seed-001 net in burn 0.22 on its pure-Rust CPU backend `flex` (default features: SIMD +
//! rayon; the same `gemm` 0.18 crate facemark uses): a training step (Adam lr 1e-3, betas
//! 0.9/0.999, eps 1e-8 as PyTorch, no weight decay; MSE; batch 16, 224×224×1) and one-face
//! inference, median ms. Prints one JSON line, like the candle binary one level up.
//! Standalone crate, not in the facemark workspace: `bash bench/frameworks/run.sh`.
//!
//! burn picks train/eval behaviour (dropout, batch statistics) from the device: the step runs
//! on `Device::flex().autodiff()`, inference on a copy of the model moved to the plain
//! `Device::flex()` with `Module::valid` (dropout off, batch norm on running statistics).

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    conv::Conv2d, conv::Conv2dConfig, BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear,
    LinearConfig,
};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

#[derive(Module, Debug)]
struct Seed001 {
    conv1: Conv2d,
    drop1: Dropout,
    conv2: Conv2d,
    bn2: BatchNorm,
    drop2: Dropout,
    conv3: Conv2d,
    drop3: Dropout,
    pool: MaxPool2d,
    fc1: Linear,
    bn_fc1: BatchNorm,
    head: Linear,
}

impl Seed001 {
    fn new(device: &Device) -> Self {
        Seed001 {
            conv1: Conv2dConfig::new([1, 32], [5, 5]).init(device),
            drop1: DropoutConfig::new(0.1).init(),
            conv2: Conv2dConfig::new([32, 64], [3, 3]).init(device),
            bn2: BatchNormConfig::new(64).init(device),
            drop2: DropoutConfig::new(0.2).init(),
            conv3: Conv2dConfig::new([64, 128], [3, 3]).init(device),
            drop3: DropoutConfig::new(0.3).init(),
            pool: MaxPool2dConfig::new([3, 3]).init(),
            fc1: LinearConfig::new(128 * 7 * 7, 512).init(device),
            bn_fc1: BatchNormConfig::new(512).init(device),
            head: LinearConfig::new(512, 136).init(device),
        }
    }

    /// `x`: [batch, 1, 224, 224] → [batch, 136].
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .drop1
            .forward(self.pool.forward(relu(self.conv1.forward(x))));
        let x = relu(self.bn2.forward(self.conv2.forward(x)));
        let x = self.drop2.forward(self.pool.forward(x));
        let x = self
            .drop3
            .forward(self.pool.forward(relu(self.conv3.forward(x))));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = relu(self.bn_fc1.forward(self.fc1.forward(x)));
        self.head.forward(x)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let plain = Device::flex();
    let dev = plain.clone().autodiff();
    dev.seed(1);
    let mut net = Seed001::new(&dev);
    let mut opt = AdamConfig::new().with_epsilon(1e-8).init();
    let x = Tensor::<4>::random([16, 1, 224, 224], Distribution::Uniform(-1.0, 1.0), &dev);
    let y = Tensor::<2>::random([16, 136], Distribution::Uniform(-1.0, 1.0), &dev);
    let mse = MseLoss::new();
    let mut step = |net: Seed001| -> (Seed001, f32) {
        let loss = mse.forward(net.forward(x.clone()), y.clone(), Reduction::Mean);
        let value = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let net = opt.step(1e-3, net, grads);
        dev.sync().expect("flex device sync");
        (net, value)
    };
    let (n, first_loss) = step(net);
    net = n;
    let mut t = Vec::new();
    let mut last_loss = first_loss;
    for _ in 0..reps {
        let t0 = Instant::now();
        let (n, l) = step(net);
        t.push(t0.elapsed().as_secs_f64() * 1e3);
        net = n;
        last_loss = l;
    }
    assert!(
        last_loss.is_finite(),
        "burn training diverged: loss {last_loss}"
    );
    let step_ms = median(t);

    let eval = net.valid().to_device(&plain);
    let face = Tensor::<4>::random([1, 1, 224, 224], Distribution::Uniform(-1.0, 1.0), &plain);
    let infer = |face: Tensor<4>| -> Vec<f32> {
        eval.forward(face)
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 output")
    };
    for _ in 0..3 {
        assert_eq!(infer(face.clone()).len(), 136);
    }
    let mut t = Vec::new();
    for _ in 0..reps * 10 {
        let t0 = Instant::now();
        std::hint::black_box(infer(face.clone()));
        t.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{{\"framework\":\"burn 0.22.1 flex\",\"step_ms\":{step_ms},\"infer_ms\":{},\"loss_first\":{first_loss},\"loss_last\":{last_loss}}}",
        median(t)
    );
}
