//! Per-layer inference time of a model file (one face, one thread, fused network):
//! `cargo run --release -p facemark-model --example layer_times -- MODEL.safetensors [REPS] [--int8]`
//! (`--int8`: pointwise and dense layers fed by a ReLU in int8, `facemark_nn::quant`).
//! Where the forward pass spends its time, to aim speed work; not a benchmark against a peer.
//! The last line, `predict`, is the time per face as facemark runs the model (network and the
//! head's read-out); with `--int8`, a PIP model's line `pip head` times its head as `predict`
//! runs it (sparsely: `facemark_nn::quant::QuantPipHead`), where the per-layer line of the head
//! times the whole 1×1 convolution.

use facemark_model::{KeypointModel, Precision};
use facemark_nn::layers::Layer;
use facemark_nn::Tensor;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let int8 = std::env::args().any(|a| a == "--int8");
    let mut args = std::env::args().skip(1).filter(|a| a != "--int8");
    let path = args
        .next()
        .ok_or("usage: layer_times MODEL.safetensors [REPS]")?;
    let reps: usize = args
        .next()
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(2000)
        .max(1);
    let model = KeypointModel::load(Path::new(&path))?;
    let net = model.net.fused();
    let quant = facemark_nn::QuantNetwork::from_fused(&net);
    let s = model.meta.arch.input_size as usize;
    let x = Tensor::new(
        vec![1, 1, s, s],
        (0..s * s).map(|i| ((i % 97) as f32) / 48.5 - 1.0).collect(),
    );
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| {
        let mut times = vec![Vec::with_capacity(reps); net.layers.len()];
        for rep in 0..reps + 50 {
            let mut t = x.clone();
            for (i, l) in net.layers.iter().enumerate() {
                let t0 = Instant::now();
                t = if int8 {
                    quant.forward_layer(i, &t)
                } else {
                    l.forward(&t)
                };
                if rep >= 50 {
                    times[i].push(t0.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
        let mut total = 0.0;
        for (l, mut ts) in net.layers.iter().zip(times) {
            ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let med = ts[ts.len() / 2];
            total += med;
            println!("{:>10} {:8.1} µs", label(l), med);
        }
        println!("{:>10} {:8.1} µs (sum of medians)", "total", total);
        // the whole pass as the library runs it (no per-layer clocks; the int8 engine reuses
        // its per-layer outputs between calls)
        let mut whole: Vec<f64> = (0..reps + 50)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(if int8 { quant.forward(&x) } else { net.forward(&x) });
                t0.elapsed().as_secs_f64() * 1e6
            })
            .skip(50)
            .collect();
        whole.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{:>10} {:8.1} µs (median of whole passes)", "forward", whole[whole.len() / 2]);
        // a PIP head in int8 as facemark runs it: score maps on every cell, offsets at the
        // arg-max cells only (`QuantPipHead`), on the features the rest of the net gives
        if let (true, Ok(Some(layout))) = (int8, model.meta.arch.pip_layout()) {
            let mut body = facemark_nn::QuantNetwork::from_fused(&net);
            if let Some(head) = body.split_pip_head(layout) {
                let features = body.forward(&x);
                let mut ts: Vec<f64> = (0..reps + 50)
                    .map(|_| {
                        let t0 = Instant::now();
                        std::hint::black_box(head.forward(&features));
                        t0.elapsed().as_secs_f64() * 1e6
                    })
                    .skip(50)
                    .collect();
                ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
                println!("{:>10} {:8.1} µs (median: the int8 PIP head run sparsely, read-out included)", "pip head", ts[ts.len() / 2]);
            }
        }
        // what facemark runs per face: the network and the head's read-out (a PIP head runs
        // sparsely there, not as the full 1×1 convolution timed above)
        let precision = if int8 { Precision::Int8 } else { Precision::F32 };
        let model = model.clone().with_precision(precision);
        let mut pred: Vec<f64> = (0..reps + 50)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(model.predict_batch(&x.data, 1).expect("one face"));
                t0.elapsed().as_secs_f64() * 1e6
            })
            .skip(50)
            .collect();
        pred.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{:>10} {:8.1} µs (median of predict_batch: network + read-out, as used)", "predict", pred[pred.len() / 2]);
        if int8 {
            println!(
                "({} layers with int8 weights; pointwise ones on maps under {} pixels run in f32; kernel: {})",
                quant.n_int8(),
                facemark_nn::quant::MIN_INT8_PIXELS,
                facemark_nn::quant::kernel_name()
            );
        }
    });
    Ok(())
}

fn label(l: &Layer) -> String {
    match l {
        Layer::Conv2d(c) => c.weight.name.clone(),
        Layer::Depthwise(c) => c.weight.name.clone(),
        Layer::Dense(c) => c.weight.name.clone(),
        Layer::BatchNorm(_) => "batchnorm".into(),
        Layer::Act(_) => "act".into(),
        Layer::MaxPool(_) => "maxpool".into(),
        Layer::Dropout(_) => "dropout".into(),
        Layer::Flatten => "flatten".into(),
        Layer::AvgPool(_) => "avgpool".into(),
        Layer::GlobalAvgPool(_) => "global_avgpool".into(),
        Layer::Residual(_) => "residual".into(),
        Layer::Concat(_) => "concat".into(),
        Layer::L2Norm(_) => "l2norm".into(),
    }
}
