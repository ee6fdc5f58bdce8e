//! The seed-001 net in candle 0.11 (CPU): a training step (AdamW with weight decay 0 = Adam,
//! MSE, batch 16, 224×224×1) and one-face inference, median ms. Prints one JSON line.
//! Standalone crate, not in the facemark workspace: `bash bench/frameworks/run.sh`.

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{
    batch_norm, conv2d, linear, AdamW, BatchNorm, Conv2d, Linear, Module, ModuleT, Optimizer,
    ParamsAdamW, VarBuilder, VarMap,
};
use std::time::Instant;

struct Seed001 {
    conv1: Conv2d,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    fc1: Linear,
    bn_fc1: BatchNorm,
    head: Linear,
}

impl Seed001 {
    fn new(vb: VarBuilder) -> Result<Self> {
        let c = Default::default();
        Ok(Seed001 {
            conv1: conv2d(1, 32, 5, c, vb.pp("conv1"))?,
            conv2: conv2d(32, 64, 3, c, vb.pp("conv2"))?,
            bn2: batch_norm(64, 1e-5, vb.pp("bn2"))?,
            conv3: conv2d(64, 128, 3, c, vb.pp("conv3"))?,
            fc1: linear(128 * 7 * 7, 512, vb.pp("fc1"))?,
            bn_fc1: batch_norm(512, 1e-5, vb.pp("bn_fc1"))?,
            head: linear(512, 136, vb.pp("head"))?,
        })
    }
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let drop = |x: Tensor, p: f32| -> Result<Tensor> {
            if train {
                candle_nn::ops::dropout(&x, p)
            } else {
                Ok(x)
            }
        };
        let x = drop(self.conv1.forward(x)?.relu()?.max_pool2d(3)?, 0.1)?;
        let x = self.bn2.forward_t(&self.conv2.forward(&x)?, train)?;
        let x = drop(x.relu()?.max_pool2d(3)?, 0.2)?;
        let x = drop(self.conv3.forward(&x)?.relu()?.max_pool2d(3)?, 0.3)?;
        let x = x.flatten_from(1)?;
        let x = self.bn_fc1.forward_t(&self.fc1.forward(&x)?, train)?.relu()?;
        self.head.forward(&x)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let reps: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let dev = Device::Cpu;
    let vm = VarMap::new();
    let net = Seed001::new(VarBuilder::from_varmap(&vm, DType::F32, &dev))?;
    let mut opt = AdamW::new(
        vm.all_vars(),
        ParamsAdamW {
            lr: 1e-3,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let x = Tensor::rand(-1f32, 1f32, (16, 1, 224, 224), &dev)?;
    let y = Tensor::rand(-1f32, 1f32, (16, 136), &dev)?;
    let mut step = || -> Result<()> {
        let loss = candle_nn::loss::mse(&net.forward_t(&x, true)?, &y)?;
        opt.backward_step(&loss)
    };
    step()?;
    let mut t = Vec::new();
    for _ in 0..reps {
        let t0 = Instant::now();
        step()?;
        t.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let step_ms = median(t);
    let face = Tensor::rand(-1f32, 1f32, (1, 1, 224, 224), &dev)?;
    for _ in 0..3 {
        net.forward_t(&face, false)?;
    }
    let mut t = Vec::new();
    for _ in 0..reps * 10 {
        let t0 = Instant::now();
        std::hint::black_box(net.forward_t(&face, false)?);
        t.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{{\"framework\":\"candle 0.11\",\"step_ms\":{step_ms},\"infer_ms\":{}}}",
        median(t)
    );
    Ok(())
}
