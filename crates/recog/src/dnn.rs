//! dlib DNN files (`dlib/dnn/core.h`): the weights of a network that dlib's `serialize`
//! wrote, read for the layer types of dlib's ResNets.
//!
//! # What a file holds, and what it does not
//!
//! dlib writes a network as nested objects, outermost first: the loss layer
//! (`add_loss_layer`: version, loss details, then its subnetwork), then each wrapper down to
//! the input — `add_layer` (version 1–2, its subnetwork, *then* its layer's details, three
//! flags and scratch tensors), `add_tag_layer` and `add_skip_layer` (version 1, their
//! subnetwork, nothing else) — and at the bottom the `add_layer` (version 2–3) whose
//! subnetwork is the input layer. The layer details name themselves (`"con_5"`,
//! `"relu_"`, …) and carry their sizes and weights; **tags and skips leave no trace but a
//! version number**, so the file alone does not say where a residual branch starts. dlib
//! itself needs the C++ type to read a file; here that type is an [`Arch`]: the layer kinds
//! from the output down to the input, as the type spells them (`"loss_metric fc_no_bias
//! avg_pool relu add_prev1 … tag1 … input_rgb_image_sized"`). Sizes, strides and weights
//! come from the file; the `Arch` only fixes the nesting, and the reader checks that every
//! object in the file is the kind the `Arch` says.
//!
//! Supported kinds: `con` (`con_4`, `con_5`), `affine` (`affine_`, `affine_2`; conv mode),
//! `relu`, `max_pool`, `avg_pool` (`avg_pool_everything` is `avg_pool` with a 0 × 0 window),
//! `fc` / `fc_no_bias` (`fc_2`, `fc_3`), `add_prev<N>`, `tag<N>`, `skip<N>`, the inputs
//! `input_rgb_image_sized` and `input_rgb_image`, and the loss `loss_metric` (optional).
//! Anything else (batch norm `bn_con2`, other layers) is refused with the offset and name.
//!
//! Contract of [`read_net`]: never panics on any input; every error says the byte offset, the
//! layer (`layer<i>` counted from the output as dlib's `print` counts) and what was expected;
//! tensor sizes are checked against the bytes left before anything is allocated.

use facemark_formats::dlib::{DlibError, DlibReader};
use std::fmt;

/// Why a dlib DNN file or an architecture string could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DnnError {
    /// The bytes are not the network the [`Arch`] describes.
    #[error("dlib DNN file: {0}")]
    Format(DlibError),
    /// The architecture string is malformed.
    #[error("architecture: {0}")]
    Arch(String),
    /// The file is read, but the engine has no equivalent (an unsupported combination).
    #[error("dlib DNN: {0}")]
    Unsupported(String),
}

impl From<DlibError> for DnnError {
    fn from(e: DlibError) -> Self {
        DnnError::Format(e)
    }
}

/// One element of a network's C++ type: a layer kind (sizes come from the file), a tag, a
/// skip or an `add_prev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchItem {
    /// `con<…>`.
    Con,
    /// `affine<…>`.
    Affine,
    /// `relu<…>`.
    Relu,
    /// `max_pool<…>`.
    MaxPool,
    /// `avg_pool<…>` and `avg_pool_everything<…>`.
    AvgPool,
    /// `fc<…>` and `fc_no_bias<…>`.
    Fc,
    /// `add_prev<N>`: adds the output of `tag<N>` to its input.
    AddPrev(u32),
    /// `tag<N>`: marks its input for a later `add_prev<N>` or `skip<N>`.
    Tag(u32),
    /// `skip<N>`: continues from the output of `tag<N>` instead of its input.
    Skip(u32),
}

impl fmt::Display for ArchItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchItem::Con => write!(f, "con"),
            ArchItem::Affine => write!(f, "affine"),
            ArchItem::Relu => write!(f, "relu"),
            ArchItem::MaxPool => write!(f, "max_pool"),
            ArchItem::AvgPool => write!(f, "avg_pool"),
            ArchItem::Fc => write!(f, "fc"),
            ArchItem::AddPrev(n) => write!(f, "add_prev{n}"),
            ArchItem::Tag(n) => write!(f, "tag{n}"),
            ArchItem::Skip(n) => write!(f, "skip{n}"),
        }
    }
}

/// A network's C++ type as far as reading needs it (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arch {
    /// `loss_metric` on top.
    pub loss_metric: bool,
    /// The layers from the output down to (not including) the input layer.
    pub items: Vec<ArchItem>,
}

impl Arch {
    /// Parses whitespace-separated kinds from the output to the input: an optional
    /// `loss_metric`, then `con`, `affine`, `relu`, `max_pool`, `avg_pool`,
    /// `avg_pool_everything`, `fc`, `fc_no_bias`, `add_prev<N>`, `tag<N>`, `skip<N>`
    /// (`N` 1–10, as dlib's aliases), and last an input layer (`input_rgb_image_sized` or
    /// `input_rgb_image`).
    pub fn parse(text: &str) -> Result<Arch, DnnError> {
        let mut toks: Vec<&str> = text.split_whitespace().collect();
        let loss_metric = toks.first() == Some(&"loss_metric");
        if loss_metric {
            toks.remove(0);
        }
        match toks.pop() {
            Some("input_rgb_image_sized" | "input_rgb_image") => {}
            other => {
                return Err(DnnError::Arch(format!(
                    "the last item must be the input layer (input_rgb_image_sized or input_rgb_image), found {other:?}"
                )))
            }
        }
        let mut items = Vec::with_capacity(toks.len());
        for (i, t) in toks.iter().enumerate() {
            let numbered = |prefix: &str| -> Option<Result<u32, DnnError>> {
                let n = t.strip_prefix(prefix)?;
                Some(match n.parse::<u32>() {
                    Ok(v) if (1..=10).contains(&v) => Ok(v),
                    _ => Err(DnnError::Arch(format!(
                        "item {i} `{t}`: {prefix} takes a number 1–10"
                    ))),
                })
            };
            let item = match *t {
                "con" => ArchItem::Con,
                "affine" => ArchItem::Affine,
                "relu" => ArchItem::Relu,
                "max_pool" => ArchItem::MaxPool,
                "avg_pool" | "avg_pool_everything" => ArchItem::AvgPool,
                "fc" | "fc_no_bias" => ArchItem::Fc,
                _ => {
                    if let Some(n) = numbered("add_prev") {
                        ArchItem::AddPrev(n?)
                    } else if let Some(n) = numbered("tag") {
                        ArchItem::Tag(n?)
                    } else if let Some(n) = numbered("skip") {
                        ArchItem::Skip(n?)
                    } else {
                        return Err(DnnError::Arch(format!(
                            "item {i}: unknown layer kind `{t}` (known: con, affine, relu, max_pool, avg_pool, avg_pool_everything, fc, fc_no_bias, add_prevN, tagN, skipN)"
                        )));
                    }
                }
            };
            items.push(item);
        }
        if items.is_empty() {
            return Err(DnnError::Arch("no layers above the input".into()));
        }
        Ok(Arch { loss_metric, items })
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loss_metric {
            write!(f, "loss_metric ")?;
        }
        for i in &self.items {
            write!(f, "{i} ")?;
        }
        write!(f, "input_rgb_image_sized")
    }
}

/// dlib's RGB input layers: `(pixel − mean) / 256` per channel, planes R, G, B.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbInput {
    /// Mean of red, green, blue (0–255 scale) subtracted before the division.
    pub mean: [f32; 3],
    /// `(rows, cols)` an `input_rgb_image_sized` requires; `None` for `input_rgb_image`.
    pub size: Option<(usize, usize)>,
}

/// A convolution as dlib stores it (`con_`).
#[derive(Debug, Clone, PartialEq)]
pub struct Con {
    /// Output channels.
    pub filters: usize,
    /// Input channels.
    pub in_c: usize,
    /// Kernel rows, columns.
    pub nr: usize,
    /// Kernel columns.
    pub nc: usize,
    /// Stride in y, x.
    pub stride: (usize, usize),
    /// Zero padding in y, x.
    pub pad: (usize, usize),
    /// `[filters, in_c, nr, nc]`, row-major (PyTorch's layout too).
    pub weight: Vec<f32>,
    /// `[filters]`, or `None` when the layer has its bias disabled.
    pub bias: Option<Vec<f32>>,
}

/// A pooling window (`max_pool_`, `avg_pool_`); a 0 × 0 window pools the whole map
/// (`avg_pool_everything`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// Window rows (0: the whole map).
    pub nr: usize,
    /// Window columns (0: the whole map).
    pub nc: usize,
    /// Stride in y, x.
    pub stride: (usize, usize),
    /// Padding in y, x.
    pub pad: (usize, usize),
}

/// A fully connected layer (`fc_`).
#[derive(Debug, Clone, PartialEq)]
pub struct Fc {
    /// Inputs (the flattened size of what comes in).
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// `[inputs, outputs]`, row-major (dlib's layout: the transpose of PyTorch's).
    pub weight: Vec<f32>,
    /// `[outputs]`, or `None` for `fc_no_bias` and a disabled bias.
    pub bias: Option<Vec<f32>>,
}

/// One layer read from a file, with its sizes and weights.
#[derive(Debug, Clone, PartialEq)]
pub enum DlibLayer {
    /// `con`.
    Con(Con),
    /// `affine` in conv mode: `y = gamma[c]·x + beta[c]` (a folded batch norm).
    Affine {
        /// Per-channel scale.
        gamma: Vec<f32>,
        /// Per-channel shift.
        beta: Vec<f32>,
    },
    /// An `affine` whose `disabled` flag is set: the identity.
    Identity,
    /// `relu`.
    Relu,
    /// `max_pool`.
    MaxPool(Pool),
    /// `avg_pool` (a 0 × 0 window: `avg_pool_everything`).
    AvgPool(Pool),
    /// `fc`, `fc_no_bias`.
    Fc(Fc),
    /// `add_prev<N>`.
    AddPrev(u32),
    /// `tag<N>`.
    Tag(u32),
    /// `skip<N>`.
    Skip(u32),
}

/// `loss_metric`'s settings (the descriptor is the layer below it, unchanged).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossMetric {
    /// Training margin.
    pub margin: f32,
    /// Distance below which two descriptors are the same identity (dlib's 0.6 for the face
    /// model).
    pub distance_threshold: f32,
}

/// A network read from a dlib DNN file.
#[derive(Debug, Clone, PartialEq)]
pub struct DlibNet {
    /// The input layer.
    pub input: RgbInput,
    /// The layers from the input up to the output (the reverse of the file's nesting).
    pub layers: Vec<DlibLayer>,
    /// The loss layer, when the file has one.
    pub loss: Option<LossMetric>,
}

/// Reads a network of architecture `arch` from the bytes of a dlib DNN file (see the module
/// docs for the contract).
pub fn read_net(bytes: &[u8], arch: &Arch) -> Result<DlibNet, DnnError> {
    let mut r = DlibReader::new(bytes);
    let loss = if arch.loss_metric {
        let ctx = "layer<0> (loss_metric)";
        expect_version(&mut r, "add_loss_layer", 1..=1).map_err(|e| e.within(ctx))?;
        Some(read_loss_metric(&mut r).map_err(|e| e.within(ctx))?)
    } else {
        None
    };
    let first = usize::from(arch.loss_metric);
    let mut layers = Vec::with_capacity(arch.items.len());
    let input = read_wrapper(&mut r, &arch.items, 0, first, &mut layers)?;
    r.expect_end("the network")?;
    Ok(DlibNet {
        input,
        layers,
        loss,
    })
}

fn expect_version(
    r: &mut DlibReader,
    what: &str,
    ok: std::ops::RangeInclusive<i32>,
) -> Result<i32, DlibError> {
    let at = r.offset();
    let v = r.read_int(&format!("the version of {what}"))?;
    if !ok.contains(&v) {
        return Err(DlibError::new(
            at,
            format!(
                "{what} version {}–{}, found {v} (is the file this network, or a different architecture?)",
                ok.start(),
                ok.end()
            ),
        ));
    }
    Ok(v)
}

/// Reads the wrapper of `items[i]` and everything inside it, pushing the layers innermost
/// first; returns the input layer.
fn read_wrapper(
    r: &mut DlibReader,
    items: &[ArchItem],
    i: usize,
    first: usize,
    out: &mut Vec<DlibLayer>,
) -> Result<RgbInput, DnnError> {
    let item = items[i];
    let last = i + 1 == items.len();
    let ctx = format!("layer<{}> ({item})", i + first);
    let input = match item {
        ArchItem::Tag(_) | ArchItem::Skip(_) => {
            let input = if last {
                if let ArchItem::Skip(_) = item {
                    return Err(DnnError::Unsupported(format!(
                        "{ctx}: a skip right above the input layer"
                    )));
                }
                (|| {
                    let v = expect_version(r, "add_tag_layer", 1..=2)?;
                    let input = read_input(r)?;
                    skip_tensor(r, "cached_output")?;
                    skip_tensor(r, "grad_final")?;
                    r.read_bool("gradient_input_is_stale")?;
                    if v >= 2 {
                        r.read_uint("_sample_expansion_factor")?;
                    }
                    Ok::<_, DlibError>(input)
                })()
                .map_err(|e| e.within(&ctx))?
            } else {
                let what = if matches!(item, ArchItem::Tag(_)) {
                    "add_tag_layer"
                } else {
                    "add_skip_layer"
                };
                expect_version(r, what, 1..=1).map_err(|e| e.within(&ctx))?;
                read_wrapper(r, items, i + 1, first, out)?
            };
            out.push(match item {
                ArchItem::Tag(n) => DlibLayer::Tag(n),
                ArchItem::Skip(n) => DlibLayer::Skip(n),
                _ => unreachable!(),
            });
            input
        }
        _ => {
            let (v, input) = if last {
                let v = expect_version(r, "add_layer (above the input)", 2..=3)
                    .map_err(|e| e.within(&ctx))?;
                (v, read_input(r).map_err(|e| e.within(&ctx))?)
            } else {
                let v = expect_version(r, "add_layer", 1..=2).map_err(|e| e.within(&ctx))?;
                (v, read_wrapper(r, items, i + 1, first, out)?)
            };
            let layer = (|| {
                let layer = read_details(r, item)?;
                r.read_bool("this_layer_setup_called")?;
                r.read_bool("gradient_input_is_stale")?;
                r.read_bool("get_output_and_gradient_input_disabled")?;
                skip_tensor(r, "x_grad")?;
                skip_tensor(r, "cached_output")?;
                if last {
                    skip_tensor(r, "grad_final")?;
                    if v >= 3 {
                        r.read_uint("_sample_expansion_factor")?;
                    }
                } else if v == 2 {
                    skip_tensor(r, "params_grad")?;
                }
                Ok::<_, DlibError>(layer)
            })()
            .map_err(|e| e.within(&ctx))?;
            out.push(layer);
            input
        }
    };
    Ok(input)
}

fn read_loss_metric(r: &mut DlibReader) -> Result<LossMetric, DlibError> {
    let at = r.offset();
    match r.read_string("the loss layer's name")?.as_str() {
        // the first version had the values built in
        "loss_metric_" => Ok(LossMetric {
            margin: 0.1,
            distance_threshold: 0.75,
        }),
        "loss_metric_2" => Ok(LossMetric {
            margin: r.read_f32("margin")?,
            distance_threshold: r.read_f32("distance_threshold")?,
        }),
        other => Err(DlibError::new(
            at,
            format!("\"loss_metric_\" or \"loss_metric_2\", found {other:?}"),
        )),
    }
}

fn read_input(r: &mut DlibReader) -> Result<RgbInput, DlibError> {
    let at = r.offset();
    let name = r.read_string("the input layer's name")?;
    let sized = match name.as_str() {
        "input_rgb_image_sized" => true,
        "input_rgb_image" => false,
        other => {
            let want = "an input layer \"input_rgb_image_sized\" or \"input_rgb_image\"";
            return Err(DlibError::new(at, format!("{want}, found {other:?}")));
        }
    };
    let mean = [
        r.read_f32("avg_red")?,
        r.read_f32("avg_green")?,
        r.read_f32("avg_blue")?,
    ];
    let size = if sized {
        let at = r.offset();
        let (nr, nc) = (r.read_ulong("NR")?, r.read_ulong("NC")?);
        if !(1..=1 << 16).contains(&nr) || !(1..=1 << 16).contains(&nc) {
            return Err(DlibError::new(
                at,
                format!("an input size of 1–65536 pixels, found {nr} × {nc}"),
            ));
        }
        Some((nr as usize, nc as usize))
    } else {
        None
    };
    Ok(RgbInput { mean, size })
}

/// A `resizable_tensor`: version 2, four `long long` dimensions, then raw little-endian
/// `f32`s. Returns the dimensions and the values.
fn read_tensor(r: &mut DlibReader, what: &str) -> Result<([usize; 4], Vec<f32>), DlibError> {
    let at = r.offset();
    let v = r.read_int(what)?;
    if v != 2 {
        return Err(DlibError::new(
            at,
            format!("{what}: a tensor (version 2), found version {v}"),
        ));
    }
    let dims = read_dims(r, what)?;
    let n = dims.iter().map(|&d| d as u128).product::<u128>();
    if n * 4 > r.remaining() as u128 {
        return Err(DlibError::new(
            at,
            format!(
                "{what}: a {dims:?} tensor needs {} bytes, only {} are left (truncated file?)",
                n * 4,
                r.remaining()
            ),
        ));
    }
    let raw = r.read_bytes(n as usize * 4, what)?;
    let data = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((dims, data))
}

fn skip_tensor(r: &mut DlibReader, what: &str) -> Result<(), DlibError> {
    read_tensor(r, what).map(|_| ())
}

fn read_dims(r: &mut DlibReader, what: &str) -> Result<[usize; 4], DlibError> {
    let mut dims = [0usize; 4];
    for d in &mut dims {
        let at = r.offset();
        let v = r.read_signed(8, what)?;
        if !(0..=1 << 40).contains(&v) {
            return Err(DlibError::new(
                at,
                format!("{what}: a tensor dimension, found {v}"),
            ));
        }
        *d = v as usize;
    }
    Ok(dims)
}

/// An `alias_tensor` (a view's shape): version 1 and four dimensions.
fn read_alias(r: &mut DlibReader, what: &str) -> Result<[usize; 4], DlibError> {
    let at = r.offset();
    let v = r.read_int(what)?;
    if v != 1 {
        return Err(DlibError::new(
            at,
            format!("{what}: an alias_tensor (version 1), found version {v}"),
        ));
    }
    read_dims(r, what)
}

fn size(d: &[usize; 4]) -> usize {
    d.iter().product()
}

fn read_size(r: &mut DlibReader, what: &str, signed: bool) -> Result<usize, DlibError> {
    let at = r.offset();
    let v = if signed {
        r.read_long(what)?
    } else {
        r.read_ulong(what)? as i64
    };
    if !(0..=1 << 32).contains(&v) {
        return Err(DlibError::new(
            at,
            format!("{what}: a size from 0 to 2^32, found {v}"),
        ));
    }
    Ok(v as usize)
}

/// Skips the four training multipliers `con_` and `fc_` write after their parameters
/// (learning rate and weight decay, of the weights and of the biases): inference needs none.
fn skip_multipliers(r: &mut DlibReader) -> Result<(), DlibError> {
    for m in [
        "learning_rate_multiplier",
        "weight_decay_multiplier",
        "bias_learning_rate_multiplier",
        "bias_weight_decay_multiplier",
    ] {
        r.read_f64(m)?;
    }
    Ok(())
}

fn read_small(r: &mut DlibReader, what: &str) -> Result<usize, DlibError> {
    let at = r.offset();
    let v = r.read_int(what)?;
    if !(0..=1 << 16).contains(&v) {
        return Err(DlibError::new(at, format!("{what}: 0 to 65536, found {v}")));
    }
    Ok(v as usize)
}

fn read_pool(r: &mut DlibReader, name: &str) -> Result<Pool, DlibError> {
    let nr = read_size(r, "window rows", true)?;
    let nc = read_size(r, "window cols", true)?;
    let sy = read_small(r, "stride_y")?;
    let sx = read_small(r, "stride_x")?;
    let py = read_small(r, "padding_y")?;
    let px = read_small(r, "padding_x")?;
    if sy == 0 || sx == 0 {
        return Err(DlibError::new(r.offset(), format!("{name}: strides ≥ 1")));
    }
    Ok(Pool {
        nr,
        nc,
        stride: (sy, sx),
        pad: (py, px),
    })
}

fn read_details(r: &mut DlibReader, item: ArchItem) -> Result<DlibLayer, DlibError> {
    let at = r.offset();
    let name = r.read_string("a layer's name")?;
    let wrong = |want: &str| {
        DlibError::new(
            at,
            format!("a {item} layer ({want}), found {name:?}{}", hint(&name)),
        )
    };
    match item {
        ArchItem::Con => {
            let v5 = match name.as_str() {
                "con_4" => false,
                "con_5" => true,
                _ => return Err(wrong("\"con_4\" or \"con_5\"")),
            };
            let (_, params) = read_tensor(r, "con params")?;
            let filters = read_size(r, "num_filters", true)?;
            let nr = read_size(r, "nr", true)?;
            let nc = read_size(r, "nc", true)?;
            let sy = read_small(r, "stride_y")?;
            let sx = read_small(r, "stride_x")?;
            let py = read_small(r, "padding_y")?;
            let px = read_small(r, "padding_x")?;
            let fdims = read_alias(r, "filters")?;
            let bdims = read_alias(r, "biases")?;
            skip_multipliers(r)?;
            let use_bias = if v5 { r.read_bool("use_bias")? } else { true };
            let end = r.offset();
            let bad = |msg: String| DlibError::new(end, format!("con: {msg}"));
            if sy == 0 || sx == 0 {
                return Err(bad("strides ≥ 1".into()));
            }
            if fdims[0] != filters || fdims[2] != nr || fdims[3] != nc {
                return Err(bad(format!(
                    "filters of {filters} × k × {nr} × {nc}, found {fdims:?}"
                )));
            }
            let nw = size(&fdims);
            let nb = if use_bias { filters } else { 0 };
            if nw == 0 {
                return Err(bad(
                    "weights, found none (a network that was never run or trained?)".into(),
                ));
            }
            if params.len() != nw + nb || (use_bias && size(&bdims) != filters) {
                return Err(bad(format!(
                    "{nw} weights + {nb} biases, found {} parameters (biases {bdims:?})",
                    params.len()
                )));
            }
            let bias = use_bias.then(|| params[nw..].to_vec());
            let mut weight = params;
            weight.truncate(nw);
            Ok(DlibLayer::Con(Con {
                filters,
                in_c: fdims[1],
                nr,
                nc,
                stride: (sy, sx),
                pad: (py, px),
                weight,
                bias,
            }))
        }
        ArchItem::Affine => {
            let v2 = match name.as_str() {
                "affine_" => false,
                "affine_2" => true,
                "bn_con2" | "bn_fc2" => {
                    return Err(DlibError::new(
                        at,
                        format!("an affine layer, found a batch norm layer {name:?} (a network saved during training; not supported: save it after converting bn_ to affine_, as dlib's examples do)"),
                    ))
                }
                _ => return Err(wrong("\"affine_\" or \"affine_2\"")),
            };
            let (_, params) = read_tensor(r, "affine params")?;
            let g = read_alias(r, "gamma")?;
            let b = read_alias(r, "beta")?;
            let mode_at = r.offset();
            let mode = r.read_int("mode")?;
            let disabled = if v2 { r.read_bool("disabled")? } else { false };
            if mode != 0 {
                return Err(DlibError::new(
                    mode_at,
                    format!(
                        "affine in conv mode (0), found mode {mode} (fc mode is not supported)"
                    ),
                ));
            }
            if disabled {
                return Ok(DlibLayer::Identity);
            }
            let c = size(&g);
            if size(&b) != c || params.len() != 2 * c || g[1] != c {
                return Err(DlibError::new(
                    mode_at,
                    format!(
                        "affine: gamma and beta of one value per channel, found gamma {g:?}, beta {b:?}, {} parameters",
                        params.len()
                    ),
                ));
            }
            Ok(DlibLayer::Affine {
                gamma: params[..c].to_vec(),
                beta: params[c..].to_vec(),
            })
        }
        ArchItem::Relu => match name.as_str() {
            "relu_" => Ok(DlibLayer::Relu),
            _ => Err(wrong("\"relu_\"")),
        },
        ArchItem::MaxPool => match name.as_str() {
            "max_pool_2" => Ok(DlibLayer::MaxPool(read_pool(r, "max_pool")?)),
            _ => Err(wrong("\"max_pool_2\"")),
        },
        ArchItem::AvgPool => match name.as_str() {
            "avg_pool_2" => Ok(DlibLayer::AvgPool(read_pool(r, "avg_pool")?)),
            _ => Err(wrong("\"avg_pool_2\"")),
        },
        ArchItem::AddPrev(n) => match name.as_str() {
            "add_prev_" => Ok(DlibLayer::AddPrev(n)),
            _ => Err(wrong("\"add_prev_\"")),
        },
        ArchItem::Fc => {
            let v3 = match name.as_str() {
                "fc_2" => false,
                "fc_3" => true,
                _ => return Err(wrong("\"fc_2\" or \"fc_3\"")),
            };
            let outputs = read_size(r, "num_outputs", false)?;
            let inputs = read_size(r, "num_inputs", false)?;
            let (_, params) = read_tensor(r, "fc params")?;
            let w = read_alias(r, "weights")?;
            let b = read_alias(r, "biases")?;
            let mode_at = r.offset();
            let mode = r.read_int("bias_mode")?;
            skip_multipliers(r)?;
            let use_bias = if v3 { r.read_bool("use_bias")? } else { true };
            if !(0..=1).contains(&mode) {
                return Err(DlibError::new(
                    mode_at,
                    format!("fc bias mode 0 or 1, found {mode}"),
                ));
            }
            let has_bias = mode == 0 && use_bias;
            let nw = inputs * outputs;
            let nb = if has_bias { outputs } else { 0 };
            if nw == 0
                || size(&w) != nw
                || params.len() != nw + nb
                || (has_bias && size(&b) != outputs)
            {
                return Err(DlibError::new(
                    r.offset(),
                    format!(
                        "fc: {inputs} × {outputs} weights + {nb} biases, found weights {w:?}, {} parameters",
                        params.len()
                    ),
                ));
            }
            let bias = has_bias.then(|| params[nw..].to_vec());
            let mut weight = params;
            weight.truncate(nw);
            Ok(DlibLayer::Fc(Fc {
                inputs,
                outputs,
                weight,
                bias,
            }))
        }
        ArchItem::Tag(_) | ArchItem::Skip(_) => unreachable!("tags have no details"),
    }
}

/// A hint when the name found is a known layer of another kind (the architecture does not
/// match the file).
fn hint(name: &str) -> &'static str {
    const KNOWN: [&str; 11] = [
        "con_4",
        "con_5",
        "affine_",
        "affine_2",
        "relu_",
        "max_pool_2",
        "avg_pool_2",
        "fc_2",
        "fc_3",
        "add_prev_",
        "bn_con2",
    ];
    if KNOWN.contains(&name) {
        " (the file's architecture differs from the one given)"
    } else {
        ""
    }
}
