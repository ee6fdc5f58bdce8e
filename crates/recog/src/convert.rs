//! A [`DlibNet`] as a facemark-nn [`Network`]: dlib's layers one for one, its tag / skip /
//! `add_prev` graph as [`Residual`] blocks.
//!
//! | dlib | facemark-nn |
//! |---|---|
//! | `con` (square kernel, equal strides and paddings) | [`Conv2d`] `con<i>` (bias zeros when disabled) |
//! | `affine` (conv mode) | [`BatchNorm`] `affine<i>` with mean 0, variance 1, ε 0 and [`BatchNorm::fixed_stats`]: exactly `γ·x + β`, in training too, folded into the convolution before it by [`Network::fused`] |
//! | `relu` | [`Activation`] ReLU |
//! | `max_pool`, `avg_pool` (square, no padding) | [`MaxPool2d`], [`AvgPool2d`] |
//! | `avg_pool_everything` | [`GlobalAvgPool`] |
//! | `fc`, `fc_no_bias` | [`Dense`] `fc<i>` (weights transposed from dlib's `[in, out]`) |
//! | `tag<N>` … `add_prev<N>` | [`Residual`] with the layers in between as body, identity shortcut |
//! | `tag<A>` … `tag<B>` `skip<A>` … `add_prev<B>` | [`Residual`]: body between the tags, shortcut the layers after the skip |
//!
//! `i` counts each kind from the input, from 1 (`con1` is the first convolution), so the
//! parameter names (`con1.weight`, `affine3.bias`, `fc1.weight`) are stable for `--freeze`.
//! Other graphs (a skip that is not followed by its `add_prev`, tags inside a shortcut) are
//! refused with [`DnnError::Unsupported`]; so are windows the engine does not have (non-square,
//! padded pools). [`to_network`] also runs the shapes through the network, so that a file
//! whose sizes do not fit together is an error here, not a panic at the first image.

use crate::dnn::{DlibLayer, DlibNet, DnnError, Pool};
use facemark_nn::layers::skip_init;
use facemark_nn::{
    layers::ActKind, Activation, AvgPool2d, BatchNorm, Conv2d, Dense, GlobalAvgPool, Layer,
    MaxPool2d, Network, Residual,
};
use std::collections::HashMap;

struct Skip {
    from: usize,
    body_end: usize,
    shortcut: Vec<Layer>,
}

#[derive(Default)]
struct Names {
    con: usize,
    affine: usize,
    fc: usize,
}

/// The network for `net` (see the module docs), unfused: parameters by name as above.
pub fn to_network(net: &DlibNet) -> Result<Network, DnnError> {
    let mut out: Vec<Layer> = Vec::new();
    let mut tags: HashMap<u32, usize> = HashMap::new();
    let mut skip: Option<Skip> = None;
    let mut names = Names::default();
    let unsupported =
        |i: usize, msg: String| DnnError::Unsupported(format!("layer {i} from the input: {msg}"));
    for (i, l) in net.layers.iter().enumerate() {
        match l {
            DlibLayer::Tag(n) => {
                if skip.is_some() {
                    return Err(unsupported(i, format!("tag{n} inside a skip's shortcut")));
                }
                tags.insert(*n, out.len());
            }
            DlibLayer::Skip(n) => {
                if skip.is_some() {
                    return Err(unsupported(
                        i,
                        format!("skip{n} inside another skip's shortcut"),
                    ));
                }
                let Some(&from) = tags.get(n) else {
                    return Err(unsupported(i, format!("skip{n} without a tag{n} below it")));
                };
                skip = Some(Skip {
                    from,
                    body_end: out.len(),
                    shortcut: Vec::new(),
                });
            }
            DlibLayer::AddPrev(n) => {
                let Some(&at) = tags.get(n) else {
                    return Err(unsupported(
                        i,
                        format!("add_prev{n} without a tag{n} below it"),
                    ));
                };
                let (from, shortcut) = match skip.take() {
                    Some(s) => {
                        if at != s.body_end {
                            return Err(unsupported(
                                i,
                                format!("add_prev{n} after a skip must add the tag{n} just below the skip"),
                            ));
                        }
                        (s.from, s.shortcut)
                    }
                    None => (at, Vec::new()),
                };
                let body: Vec<Layer> = out.drain(from..).collect();
                out.push(Layer::Residual(Residual::new(
                    Network::new(body),
                    Network::new(shortcut),
                )));
                // tags above the block's input pointed inside it: gone
                tags.retain(|_, p| *p <= from);
            }
            DlibLayer::Identity => {}
            other => {
                let layer = convert_layer(other, &mut names).map_err(|m| unsupported(i, m))?;
                match &mut skip {
                    Some(s) => s.shortcut.push(layer),
                    None => out.push(layer),
                }
            }
        }
    }
    if skip.is_some() {
        return Err(DnnError::Unsupported(
            "a skip whose add_prev never comes".into(),
        ));
    }
    let network = Network::new(out);
    let (nr, nc) = net.input.size.ok_or_else(|| {
        DnnError::Unsupported(
            "input_rgb_image (any size): facemark runs networks with a fixed input size (input_rgb_image_sized)".into(),
        )
    })?;
    check_shapes(&network, [3, nr, nc])?;
    Ok(network)
}

fn square_pool(p: &Pool, what: &str) -> Result<(usize, usize), String> {
    if p.nr != p.nc || p.stride.0 != p.stride.1 || p.pad != (0, 0) {
        return Err(format!(
            "{what} {}×{} stride {:?} padding {:?}: only square windows with equal strides and no padding are supported",
            p.nr, p.nc, p.stride, p.pad
        ));
    }
    Ok((p.nr, p.stride.0))
}

fn convert_layer(l: &DlibLayer, names: &mut Names) -> Result<Layer, String> {
    let mut rng = rand::rngs::mock::StepRng::new(0, 1);
    Ok(match l {
        DlibLayer::Con(c) => {
            if c.nr != c.nc || c.stride.0 != c.stride.1 || c.pad.0 != c.pad.1 {
                return Err(format!(
                    "con {}×{} stride {:?} padding {:?}: only square kernels with equal strides and paddings are supported",
                    c.nr, c.nc, c.stride, c.pad
                ));
            }
            names.con += 1;
            let name = format!("con{}", names.con);
            let mut conv = skip_init(|| {
                Conv2d::new(
                    &name, c.in_c, c.filters, c.nr, c.stride.0, c.pad.0, &mut rng,
                )
            });
            conv.weight.value.copy_from_slice(&c.weight);
            if let Some(b) = &c.bias {
                conv.bias.value.copy_from_slice(b);
            }
            Layer::Conv2d(conv)
        }
        DlibLayer::Affine { gamma, beta } => {
            names.affine += 1;
            let mut bn = BatchNorm::new(&format!("affine{}", names.affine), gamma.len());
            bn.eps = 0.0;
            // an affine layer also when trained on (transfer learning): no batch statistics
            bn.fixed_stats = true;
            bn.weight.value.copy_from_slice(gamma);
            bn.bias.value.copy_from_slice(beta);
            Layer::BatchNorm(bn)
        }
        DlibLayer::Relu => Layer::Act(Activation::new(ActKind::Relu)),
        DlibLayer::MaxPool(p) => {
            let (k, s) = square_pool(p, "max_pool")?;
            Layer::MaxPool(MaxPool2d::new(k, s))
        }
        DlibLayer::AvgPool(p) if p.nr == 0 && p.nc == 0 => {
            Layer::GlobalAvgPool(GlobalAvgPool::new())
        }
        DlibLayer::AvgPool(p) => {
            let (k, s) = square_pool(p, "avg_pool")?;
            Layer::AvgPool(AvgPool2d::new(k, s))
        }
        DlibLayer::Fc(f) => {
            names.fc += 1;
            let name = format!("fc{}", names.fc);
            let mut d = skip_init(|| Dense::new(&name, f.inputs, f.outputs, 1.0, &mut rng));
            // dlib: [in, out]; here: [out, in]
            for (i, row) in f.weight.chunks_exact(f.outputs).enumerate() {
                for (o, v) in row.iter().enumerate() {
                    d.weight.value[o * f.inputs + i] = *v;
                }
            }
            if let Some(b) = &f.bias {
                d.bias.value.copy_from_slice(b);
            }
            Layer::Dense(d)
        }
        DlibLayer::Tag(_) | DlibLayer::Skip(_) | DlibLayer::AddPrev(_) | DlibLayer::Identity => {
            unreachable!("handled by to_network")
        }
    })
}

/// Runs the shape `[c, h, w]` of one sample through `net`; errors where a layer cannot take
/// what comes in.
pub(crate) fn check_shapes(net: &Network, input: [usize; 3]) -> Result<Vec<usize>, DnnError> {
    let mut s = vec![input[0], input[1], input[2]];
    for l in &net.layers {
        s = layer_shape(l, &s)?;
    }
    Ok(s)
}

fn layer_shape(l: &Layer, s: &[usize]) -> Result<Vec<usize>, DnnError> {
    let bad = |what: String| DnnError::Unsupported(format!("shapes: {what}"));
    let spatial = |what: &str, k: usize, stride: usize, pad: usize| {
        if s.len() != 3 {
            return Err(bad(format!("{what} needs a [c, h, w] input, gets {s:?}")));
        }
        let out = |n: usize| (n + 2 * pad).checked_sub(k).map(|v| v / stride + 1);
        match (out(s[1]), out(s[2])) {
            (Some(h), Some(w)) if h > 0 && w > 0 => Ok((h, w)),
            _ => Err(bad(format!(
                "{what} with a {k}×{k} window does not fit its {}×{} input",
                s[1], s[2]
            ))),
        }
    };
    match l {
        Layer::Conv2d(c) => {
            if s.first() != Some(&c.in_c) {
                return Err(bad(format!(
                    "{} takes {} channels, gets {s:?}",
                    c.weight.name, c.in_c
                )));
            }
            let (h, w) = spatial(&c.weight.name, c.win.k, c.win.stride, c.win.pad)?;
            Ok(vec![c.out_c, h, w])
        }
        Layer::BatchNorm(b) => {
            if s.first() != Some(&b.c) {
                return Err(bad(format!(
                    "{} has {} channels, gets {s:?}",
                    b.weight.name, b.c
                )));
            }
            Ok(s.to_vec())
        }
        Layer::Act(_) => Ok(s.to_vec()),
        Layer::MaxPool(p) => {
            let (h, w) = spatial("max_pool", p.k, p.stride, 0)?;
            Ok(vec![s[0], h, w])
        }
        Layer::AvgPool(p) => {
            let (h, w) = spatial("avg_pool", p.k, p.stride, 0)?;
            Ok(vec![s[0], h, w])
        }
        Layer::GlobalAvgPool(_) => {
            if s.len() != 3 || s[1] * s[2] == 0 {
                return Err(bad(format!("avg_pool_everything gets {s:?}")));
            }
            Ok(vec![s[0], 1, 1])
        }
        Layer::Dense(d) => {
            let n: usize = s.iter().product();
            if n != d.in_f {
                return Err(bad(format!(
                    "{} takes {} inputs, gets {s:?} = {n}",
                    d.weight.name, d.in_f
                )));
            }
            Ok(vec![d.out_f])
        }
        Layer::Residual(r) => {
            let mut b = s.to_vec();
            for l in &r.body.layers {
                b = layer_shape(l, &b)?;
            }
            let mut c = s.to_vec();
            for l in &r.shortcut.layers {
                c = layer_shape(l, &c)?;
            }
            if b.len() != c.len() {
                return Err(bad(format!(
                    "add_prev adds {b:?} and {c:?} (different ranks)"
                )));
            }
            Ok(b.iter().zip(&c).map(|(p, q)| *p.max(q)).collect())
        }
        other => Err(bad(format!("unexpected layer {other:?}"))),
    }
}
