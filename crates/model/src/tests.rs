use super::*;

/// Every int8 output within 5 % of the largest f32 output of its f32 twin.
fn assert_int8_tracks(f: &[f32], q: &[f32]) {
    let scale = f.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    for (a, b) in f.iter().zip(q) {
        assert!((a - b).abs() < 0.05 * scale, "{a} vs {b}");
    }
}

fn tiny_model() -> KeypointModel {
    let mut arch = ArchConfig::mobile(5);
    arch.input_size = 32;
    arch.width = 0.25;
    let net = arch.build(1).unwrap();
    KeypointModel::new(
        ModelMeta::new(arch, Scheme::generic(5), CropSpec::default()),
        net,
    )
}

#[test]
fn architectures_output_two_values_per_point() {
    for (arch, n) in [
        (ArchConfig::seed001(68), 1),
        (ArchConfig::naimish(15), 2),
        (ArchConfig::mobile(68), 3),
    ] {
        let net = arch.build(0).unwrap();
        let s = arch.input_size as usize;
        let x = Tensor::new(vec![n, 1, s, s], vec![0.1; n * s * s]);
        let y = net.forward(&x);
        assert_eq!(y.shape, vec![n, 2 * arch.n_points], "{:?}", arch.kind);
        assert!(y.data.iter().all(|v| v.is_finite()));
    }
    let mut small = ArchConfig::seed001(68);
    small.input_size = 20;
    assert!(matches!(
        small.build(0),
        Err(ArchError::InputTooSmall { .. })
    ));
}

#[test]
fn mobile_is_under_5_mb() {
    let net = ArchConfig::mobile(68).build(0).unwrap();
    assert!(net.size_bytes() < 5_000_000, "{} bytes", net.size_bytes());
}

#[test]
fn mobile_repeats_add_stride_one_blocks_at_the_small_maps_only() {
    let build = |repeats: usize| {
        let mut arch = ArchConfig::mobile(68);
        arch.input_size = 80;
        arch.repeats = repeats;
        let net = arch.build(0).unwrap();
        let x = Tensor::new(vec![1, 1, 80, 80], vec![0.1; 80 * 80]);
        assert_eq!(net.forward(&x).shape, vec![1, 136]);
        // depthwise strides and weight names in layer order
        let dw: Vec<(usize, String)> = net
            .layers
            .iter()
            .filter_map(|l| match l {
                facemark_nn::layers::Layer::Depthwise(d) => {
                    Some((d.win.stride, d.weight.name.clone()))
                }
                _ => None,
            })
            .collect();
        let (strides, names): (Vec<usize>, Vec<String>) = dw.into_iter().unzip();
        (
            strides,
            names,
            net.param("head.weight").unwrap().value.len(),
        )
    };
    let (plain, names0, head0) = build(0);
    assert_eq!(
        plain,
        vec![1, 2, 1, 2, 1, 2, 2],
        "80²: the shipped seven blocks"
    );
    // one stride-1 copy after the 1/16 (5×5) and 1/32 (3×3) stride-2 blocks; head unchanged;
    // the base blocks keep their names (`--init` and `--freeze` go by name)
    let (deep, names1, head1) = build(1);
    assert_eq!(deep, vec![1, 2, 1, 2, 1, 2, 1, 2, 1]);
    assert_eq!(head0, head1);
    let w = |n: &str| format!("{n}.weight");
    assert_eq!(
        names0,
        (1..=7).map(|i| w(&format!("dw{i}"))).collect::<Vec<_>>()
    );
    assert_eq!(names1[..6], names0[..6]);
    assert_eq!(names1[6..], [w("dw6r1"), w("dw7"), w("dw7r1")]);
    // a model file without the field is a plain stack
    let old: ArchConfig =
        serde_json::from_str(r#"{"kind":"mobile","input_size":80,"n_points":68,"width":1.5}"#)
            .unwrap();
    assert_eq!(old.repeats, 0);
    assert_eq!(old.head_hidden, 0);
    assert_eq!(old.late_width, 0.0);
}

#[test]
fn mobile_late_width_widens_the_last_stage_only() {
    let out_channels = |late: f32| {
        let mut arch = ArchConfig::mobile(68);
        arch.input_size = 80;
        arch.width = 1.5;
        arch.late_width = late;
        let net = arch.build(0).unwrap();
        let x = Tensor::new(vec![1, 1, 80, 80], vec![0.1; 80 * 80]);
        assert_eq!(net.forward(&x).shape, vec![1, 136]);
        let pw: Vec<usize> = (1..=7)
            .map(|i| net.param(&format!("pw{i}.bias")).unwrap().value.len())
            .collect();
        (pw, net.param("head.weight").unwrap().value.len() / 136)
    };
    let (same, head) = out_channels(0.0);
    assert_eq!(same, [48, 96, 96, 192, 192, 384, 384]);
    assert_eq!(head, 384 * 3 * 3);
    assert_eq!(
        out_channels(1.5),
        (same, head),
        "late_width = width: the same net"
    );
    let (wide, head) = out_channels(2.0);
    assert_eq!(wide, [48, 96, 96, 192, 192, 512, 512]);
    assert_eq!(head, 512 * 3 * 3);
}

#[test]
fn mobile_head_hidden_adds_a_dense_layer_that_saves_loads_and_runs_in_int8() {
    use crate::Precision;
    let mut arch = ArchConfig::mobile(5);
    arch.input_size = 32;
    arch.width = 0.5;
    arch.head_hidden = 24;
    let net = arch.build(4).unwrap();
    let flat = net.param("fc1.weight").unwrap().value.len() / 24;
    assert_eq!(net.param("fc1.bias").unwrap().value.len(), 24);
    assert_eq!(net.param("head.weight").unwrap().value.len(), 24 * 10);
    assert_eq!(
        flat,
        ArchConfig {
            head_hidden: 0,
            ..arch.clone()
        }
        .build(4)
        .unwrap()
        .param("head.weight")
        .unwrap()
        .value
        .len()
            / 10,
        "fc1 reads what the plain head read"
    );
    let m = KeypointModel::new(
        ModelMeta::new(arch, Scheme::generic(5), CropSpec::default()),
        net,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    m.save(&path).unwrap();
    let back = KeypointModel::load(&path).unwrap();
    assert_eq!(back.meta.arch.head_hidden, 24);
    let x: Vec<f32> = (0..2 * 32 * 32)
        .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
        .collect();
    let f = m
        .with_precision(Precision::F32)
        .predict_batch(&x, 2)
        .unwrap();
    assert_eq!(
        f,
        back.clone()
            .with_precision(Precision::F32)
            .predict_batch(&x, 2)
            .unwrap()
    );
    let q = back
        .with_precision(Precision::Int8)
        .predict_batch(&x, 2)
        .unwrap();
    assert_int8_tracks(&f, &q);
}

#[test]
fn mobile_head_does_not_grow_with_the_input() {
    let head = |size: u32| {
        let mut arch = ArchConfig::mobile(68);
        arch.input_size = size;
        arch.width = 1.5;
        let net = arch.build(0).unwrap();
        let x = Tensor::new(
            vec![1, 1, size as usize, size as usize],
            vec![0.1; (size * size) as usize],
        );
        assert_eq!(net.forward(&x).shape, vec![1, 136], "input {size}");
        let blocks = (1..)
            .take_while(|i| net.param(&format!("dw{i}.weight")).is_some())
            .count();
        (
            net.param("head.weight").unwrap().value.len(),
            blocks,
            net.size_bytes(),
        )
    };
    let (h64, b64, _) = head(64);
    assert_eq!(b64, 6, "64² keeps the six blocks of the shipped models");
    for size in [80, 96, 128] {
        let (h, b, bytes) = head(size);
        assert!(h <= h64, "input {size}: head {h} > {h64}");
        assert!(b > 6, "input {size}: {b} blocks");
        assert!(bytes < 5_000_000, "input {size}: {bytes} bytes");
    }
}

#[test]
fn save_load_round_trip_gives_same_outputs() {
    let mut m = tiny_model();
    m.meta.metrics.insert("nme".into(), 0.05);
    m.meta.epochs = 3;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    m.save(&path).unwrap();
    let back = KeypointModel::load(&path).unwrap();
    assert_eq!(back.meta, m.meta);
    let x: Vec<f32> = (0..2 * 32 * 32)
        .map(|i| ((i % 17) as f32) / 8.5 - 1.0)
        .collect();
    assert_eq!(
        m.predict_batch(&x, 2).unwrap(),
        back.predict_batch(&x, 2).unwrap()
    );
    let from_bytes = KeypointModel::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(from_bytes.meta, m.meta);
}

#[test]
fn f16_storage_halves_the_file_and_rounds_each_value_only() {
    let m = tiny_model();
    let f32_bytes = m.to_bytes();
    let f16_bytes = m.to_bytes_as(st::Storage::F16).unwrap();
    // the tensors take half the bytes (the JSON header's offsets differ by a few bytes)
    let values: usize = m.net.params().iter().map(|p| p.value.len()).sum();
    let saved = f32_bytes.len() as i64 - f16_bytes.len() as i64;
    assert!((saved - 2 * values as i64).abs() <= 64, "{saved} {values}");
    let back = KeypointModel::from_bytes(&f16_bytes).unwrap();
    assert_eq!(back.meta, m.meta);
    for (a, b) in m.net.params().iter().zip(back.net.params()) {
        assert_eq!(a.name, b.name);
        for (x, y) in a.value.iter().zip(&b.value) {
            // round to nearest with 11 significant bits (subnormals: absolute 2^-25)
            assert!(
                (x - y).abs() <= x.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                "{x} {y}"
            );
        }
    }
    // a model stored as f16 and written again as f16 is the same file
    assert_eq!(back.to_bytes_as(st::Storage::F16).unwrap(), f16_bytes);

    // bf16 files (another tool's) read too
    let bf: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
        .collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::BF16, vec![2], &bf).unwrap();
    let bytes = safetensors::tensor::serialize(vec![("w", view)], &None).unwrap();
    let file = st::read(&bytes, "bf16 file").unwrap();
    assert_eq!(file.tensors["w"].1, vec![1.5, -2.0]);
}

#[test]
fn f16_storage_refuses_values_it_cannot_hold() {
    let mut m = tiny_model();
    m.net.params_mut()[0].value[0] = 1e6;
    let name = m.net.params()[0].name.clone();
    let err = m.to_bytes_as(st::Storage::F16).unwrap_err();
    assert!(matches!(err, ModelError::Storage { .. }), "{err}");
    assert!(err.to_string().contains(&name), "{err}");
    assert!("f16".parse::<st::Storage>().is_ok() && "f8".parse::<st::Storage>().is_err());
}

#[test]
fn truncated_or_mismatched_files_fail_clearly() {
    let m = tiny_model();
    let bytes = m.to_bytes();
    let err = KeypointModel::from_bytes(&bytes[..bytes.len() - 10]).unwrap_err();
    assert!(matches!(err, ModelError::Format { .. }), "{err}");
    let err = KeypointModel::from_bytes(&bytes[..5]).unwrap_err();
    assert!(matches!(err, ModelError::Format { .. }), "{err}");

    // metadata claims another architecture than the tensors
    let mut other = m.meta.clone();
    other.arch.width = 0.5;
    let wrong = KeypointModel::new(other, m.net.clone());
    let err = KeypointModel::from_bytes(&wrong.to_bytes()).unwrap_err();
    assert!(err.to_string().contains("parameters"), "{err}");
    // … or the same number of values in other shapes
    let mut other = m.meta.clone();
    other.arch.head_hidden = 1;
    let wrong = KeypointModel::new(other, m.net.clone());
    let err = KeypointModel::from_bytes(&wrong.to_bytes()).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");

    // a file without facemark metadata
    let plain = st::write(&[("x".into(), vec![1], &[1.0][..])], &[], st::Storage::F32).unwrap();
    assert!(matches!(
        KeypointModel::from_bytes(&plain).unwrap_err(),
        ModelError::NoMeta { .. }
    ));
}

#[test]
fn int8_storage_holds_whole_numbers_exactly_and_refuses_others() {
    let v = [-127.0, -3.0, 0.0, 5.0, 127.0];
    let bytes = st::write(&[("q".into(), vec![5], &v[..])], &[], st::Storage::Int8).unwrap();
    let f = st::read(&bytes, "t").unwrap();
    assert_eq!(f.tensors["q"].1, v);
    assert!(f.stored_as.contains("I8"));
    for bad in [0.5, 128.0, -128.0, f32::NAN] {
        let e =
            st::write(&[("q".into(), vec![1], &[bad][..])], &[], st::Storage::Int8).unwrap_err();
        assert!(e.contains("`q`") && e.contains("int8"), "{e}");
    }
    // not offered for a model's weights
    assert!("int8".parse::<st::Storage>().is_err());
}

#[test]
fn landmarker_maps_outputs_back_to_photo_pixels() {
    let mut m = tiny_model();
    // make the head output constants: point 0 at the crop centre, point 1 at (+0.5, -0.5)
    let head_w = m.net.param("head.weight").unwrap().shape.clone();
    let zeros = vec![0.0; head_w.iter().product()];
    m.net.set("head.weight", &head_w, &zeros).unwrap();
    let mut bias = vec![0.0; 10];
    bias[2] = 0.5;
    bias[3] = -0.5;
    m.net.set("head.bias", &[10], &bias).unwrap();
    m.refresh();
    let img = GrayImage::new(200, 150);
    let face = BoxF::new(50.0, 30.0, 80.0, 60.0);
    let pts = m.landmarks(&img, &face);
    assert_eq!(pts.len(), 5);
    let c = face.center();
    assert!((pts[0][0] - c[0]).abs() < 1e-3 && (pts[0][1] - c[1]).abs() < 1e-3);
    // crop side = 80 · 1.3 = 104 px; +0.5 normalised = a quarter of the side
    assert!((pts[1][0] - (c[0] + 26.0)).abs() < 1e-2, "{:?}", pts[1]);
    assert!((pts[1][1] - (c[1] - 26.0)).abs() < 1e-2, "{:?}", pts[1]);
}

#[test]
fn transfer_copies_matching_tensors_and_keeps_a_new_head() {
    let a = ArchConfig::mobile(68).build(1).unwrap();
    let mut b = ArchConfig::mobile(15).build(2).unwrap();
    let rep = transfer(&a, &mut b);
    assert!(rep.kept.contains(&"head.weight".to_string()));
    assert!(rep.copied.contains(&"pw6.weight".to_string()));
    assert_eq!(
        a.param("conv1.weight").unwrap().value,
        b.param("conv1.weight").unwrap().value
    );
    assert_eq!(b.param("head.bias").unwrap().shape, vec![30]);
}

#[test]
fn precision_parses_and_int8_tracks_f32() {
    use crate::Precision;
    assert_eq!("int8".parse::<Precision>(), Ok(Precision::Int8));
    assert!("fp16"
        .parse::<Precision>()
        .unwrap_err()
        .contains("auto, f32 or int8"));
    assert!(!Precision::F32.uses_int8() && Precision::Int8.uses_int8());
    let arch = ArchConfig {
        input_size: 32,
        ..ArchConfig::mobile(5)
    };
    let m = KeypointModel::new(
        ModelMeta::new(arch.clone(), Scheme::generic(5), CropSpec::default()),
        arch.build(2).unwrap(),
    );
    let x: Vec<f32> = (0..2 * 32 * 32)
        .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
        .collect();
    let f = m
        .clone()
        .with_precision(Precision::F32)
        .predict_batch(&x, 2)
        .unwrap();
    let q = m
        .with_precision(Precision::Int8)
        .predict_batch(&x, 2)
        .unwrap();
    assert_int8_tracks(&f, &q);
    assert_ne!(f, q, "int8 ran");
}

/// A 5-point mobile model with a map head (32×32 input: a 2×2 map).
fn map_model(head: Head) -> KeypointModel {
    let arch = ArchConfig {
        input_size: 32,
        width: 0.25,
        head,
        ..ArchConfig::mobile(5)
    };
    let net = arch.build(4).unwrap();
    KeypointModel::new(
        ModelMeta::new(arch, Scheme::generic(5), CropSpec::default()),
        net,
    )
}

fn pip_head() -> Head {
    Head::Pip {
        neighbours: vec![vec![1, 2], vec![0, 2], vec![1, 3], vec![2, 4], vec![3, 1]],
    }
}

#[test]
fn map_heads_output_maps_and_decode_to_points() {
    for (head, channels) in [(pip_head(), 5 * 7), (Head::Integral, 15)] {
        let m = map_model(head.clone());
        assert_eq!(m.meta.arch.map_channels(), Some(channels));
        let x: Vec<f32> = (0..3 * 32 * 32)
            .map(|i| ((i * 31 % 97) as f32) / 48.0 - 1.0)
            .collect();
        let y = m.net.forward(&Tensor::new(vec![3, 1, 32, 32], x.clone()));
        assert_eq!(y.shape, vec![3, channels, 2, 2], "{head:?}");
        let uv = m.predict_batch(&x, 3).unwrap();
        assert_eq!(uv.len(), 3 * 10);
        assert!(uv.iter().all(|v| v.is_finite()));
        // save → load: same metadata (head and neighbour table included), same points
        let back = KeypointModel::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back.meta, m.meta);
        assert_eq!(back.predict_batch(&x, 3).unwrap(), uv);
    }
}

#[test]
fn map_head_int8_tracks_f32() {
    let m = map_model(pip_head());
    let fused = m.net.fused();
    let q = facemark_nn::QuantNetwork::from_fused(&fused);
    assert!(q.n_int8() > 0);
    let x = Tensor::new(
        vec![2, 1, 32, 32],
        (0..2 * 32 * 32)
            .map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0)
            .collect(),
    );
    let (f, i8) = (fused.forward(&x), q.forward(&x));
    assert_eq!(f.shape, i8.shape);
    assert_int8_tracks(&f.data, &i8.data);
}

#[test]
fn bad_map_heads_are_refused() {
    // a neighbour table that names a point the model does not have: refused on load, no panic
    let mut m = map_model(pip_head());
    m.meta.arch.head = Head::Pip {
        neighbours: vec![vec![1, 9], vec![0, 2], vec![1, 3], vec![2, 4], vec![3, 1]],
    };
    let err = KeypointModel::from_bytes(&m.to_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("point 9"), "{err}");
    m.meta.arch.head = Head::Pip {
        neighbours: vec![vec![1]; 4],
    };
    let err = KeypointModel::from_bytes(&m.to_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("4 rows for 5 points"), "{err}");
    // map heads need the mobile backbone
    let arch = ArchConfig {
        head: Head::Integral,
        ..ArchConfig::naimish(15)
    };
    assert!(matches!(arch.build(0), Err(ArchError::Head { .. })));
}

/// A PIP model's inference (backbone, then the sparse head) gives the points of the full
/// network's output decoded, in f32.
#[test]
fn pip_inference_runs_the_head_sparsely_with_the_same_points() {
    let m = map_model(pip_head()).with_precision(crate::Precision::F32);
    let x: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i * 29 % 89) as f32) / 44.0 - 1.0)
        .collect();
    let full = m.net.forward(&Tensor::new(vec![3, 1, 32, 32], x.clone()));
    let want = m.meta.arch.decode(&full.data, &full.shape);
    let got = m.predict_batch(&x, 3).unwrap();
    assert!(m.sparse_pip().is_some());
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-4, "{got:?} vs {want:?}");
    }
}

/// In int8 a PIP model's head runs sparsely as well (`facemark_nn::quant::QuantPipHead`):
/// the same points, to the bit, as the whole int8 network's output decoded, on a 5×5 map
/// (the sparse path) and a 2×2 one (under `MIN_INT8_PIXELS`: the whole head, in f32).
#[test]
fn int8_pip_inference_gives_the_whole_int8_heads_points() {
    for size in [80, 32] {
        let arch = ArchConfig {
            input_size: size,
            width: 0.25,
            head: pip_head(),
            ..ArchConfig::mobile(5)
        };
        let net = arch.build(6).unwrap();
        let m = KeypointModel::new(
            ModelMeta::new(arch, Scheme::generic(5), CropSpec::default()),
            net,
        )
        .with_precision(crate::Precision::Int8);
        let s = size as usize;
        let x: Vec<f32> = (0..3 * s * s)
            .map(|i| ((i * 29 % 89) as f32) / 44.0 - 1.0)
            .collect();
        let whole = facemark_nn::QuantNetwork::from_fused(&m.net.fused())
            .forward(&Tensor::new(vec![3, 1, s, s], x.clone()));
        let want = m.meta.arch.decode(&whole.data, &whole.shape);
        assert_eq!(m.predict_batch(&x, 3).unwrap(), want, "{size}×{size} input");
        assert!(m.quantised().1.is_some());
        assert!(m.sparse_pip().is_none());
    }
}

/// A change to a model's metadata, for the refusal tests.
type Edit<T> = Box<dyn Fn(&mut T)>;

/// `m`'s tensors with metadata `meta`, loaded: the error.
fn load_with_meta(m: &KeypointModel, meta: ModelMeta) -> String {
    let bytes = KeypointModel::new(meta, m.net.clone()).to_bytes();
    KeypointModel::from_bytes(&bytes).unwrap_err().to_string()
}

#[test]
fn metadata_that_contradicts_itself_is_refused() {
    let m = tiny_model();
    let cases: Vec<(&str, Edit<ModelMeta>)> = vec![
        // the copies disagree with the architecture (input_size 64 panicked in the engine)
        ("input_size 64 disagrees", Box::new(|x| x.input_size = 64)),
        ("n_points 6 disagrees", Box::new(|x| x.n_points = 6)),
        (
            "mirror",
            Box::new(|x| x.scheme.mirror = vec![1, 1, 2, 3, 4]),
        ),
        ("NME pair", Box::new(|x| x.scheme.norm_pair = Some((0, 5)))),
        ("colour", Box::new(|x| x.colour = "rgb".into())),
        (
            "normalisation",
            Box::new(|x| x.normalisation = "v/255".into()),
        ),
        ("crop margin", Box::new(|x| x.crop.margin = -1.0)),
    ];
    for (want, edit) in cases {
        let mut meta = m.meta.clone();
        edit(&mut meta);
        let err = load_with_meta(&m, meta);
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn huge_sizes_in_metadata_are_refused_before_allocating() {
    let m = tiny_model();
    let cases: Vec<(&str, Edit<ArchConfig>)> = vec![
        ("width", Box::new(|a| a.width = 1e9)),
        ("width", Box::new(|a| a.width = -1.0)),
        ("late_width", Box::new(|a| a.late_width = 1e9)),
        ("input_size", Box::new(|a| a.input_size = 4_000_000)),
        ("repeats", Box::new(|a| a.repeats = 1 << 40)),
        ("head_hidden", Box::new(|a| a.head_hidden = 1 << 40)),
        ("n_points", Box::new(|a| a.n_points = 1 << 40)),
        // every field within its bounds, the network still too large
        (
            "parameters",
            Box::new(|a| *a = ArchConfig::naimish(a.n_points)),
        ),
        // a valid network larger than the file's tensors
        (
            "the file only",
            Box::new(|a| {
                a.width = 2.0;
                a.input_size = 256;
            }),
        ),
    ];
    for (want, edit) in cases {
        let mut meta = m.meta.clone();
        edit(&mut meta.arch);
        if want == "parameters" {
            meta.arch.input_size = MAX_INPUT_SIZE;
        }
        meta.n_points = meta.arch.n_points;
        meta.input_size = meta.arch.input_size;
        let err = load_with_meta(&m, meta);
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn param_count_is_the_built_networks_size() {
    let mut archs = vec![
        ArchConfig::seed001(68),
        ArchConfig::naimish(15),
        ArchConfig::mobile(68),
        ArchConfig {
            input_size: 112,
            width: 0.5,
            late_width: 1.5,
            repeats: 2,
            head_hidden: 64,
            ..ArchConfig::mobile(5)
        },
    ];
    archs.push(ArchConfig {
        input_size: 32,
        width: 0.25,
        head: pip_head(),
        ..ArchConfig::mobile(5)
    });
    archs.push(ArchConfig {
        input_size: 48,
        head: Head::Integral,
        repeats: 1,
        ..ArchConfig::mobile(7)
    });
    for a in archs {
        let net = a.build(0).unwrap();
        let n: usize = net.params().iter().map(|p| p.value.len()).sum();
        assert_eq!(a.param_count().unwrap(), n, "{a:?}");
    }
}

#[test]
fn the_shipped_model_passes_the_checks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default.safetensors");
    if !path.exists() {
        eprintln!("skipping: {} not present", path.display());
        return;
    }
    let m = KeypointModel::load(&path).unwrap();
    assert_eq!(
        m.meta.arch.param_count().unwrap(),
        m.net.params().iter().map(|p| p.value.len()).sum::<usize>()
    );
}

/// A hand-made refinement cascade of `n` points: one level, two one-split trees on four
/// feature pixels, every leaf a small non-zero increment (so it moves points on any image).
fn tiny_cascade(n: usize) -> facemark_ert::ShapePredictor {
    use facemark_ert::{Level, Split, Tree};
    let tree = |t: f32, s: f32| Tree {
        splits: vec![Split {
            idx1: 0,
            idx2: 3,
            thresh: t,
        }],
        leaf_values: (0..4 * n).map(|i| s * (0.011 + 0.003 * i as f32)).collect(),
    };
    let level = Level::new(
        vec![0, 1, 0, 1],
        vec![[0.05, 0.0], [0.0, 0.07], [-0.1, 0.02], [0.03, -0.04]],
        &[tree(3.5, 1.0), tree(-12.25, -0.5)],
    );
    let initial: Vec<f32> = (0..n)
        .flat_map(|i| [0.2 + 0.6 * i as f32 / n as f32, 0.3 + 0.1 * (i % 3) as f32])
        .collect();
    facemark_ert::ShapePredictor::new(initial, vec![level]).unwrap()
}

#[test]
fn a_carried_cascade_refines_the_points_and_travels_in_the_file() {
    let mut m = tiny_model();
    let img = GrayImage::from_fn(64, 64, |x, y| {
        image::Luma([((x * 37 + y * 91) % 251) as u8])
    });
    let face = BoxF::new(16.0, 14.0, 32.0, 34.0);
    let plain = m.landmarks(&img, &face);
    m.set_cascade(Some((tiny_cascade(5), "tiny.dat".into())))
        .unwrap();
    let refined = m.landmarks(&img, &face);
    assert_ne!(plain, refined, "the cascade moves the points");
    let meta = m.cascade_meta().unwrap();
    assert_eq!(
        (meta.levels, meta.trees, &meta.source[..]),
        (1, 2, "tiny.dat")
    );
    // f32: the same cascade; f16: only the leaves rounded, the points within 0.01 px
    for storage in [st::Storage::F32, st::Storage::F16] {
        let bytes = m.to_bytes_as(storage).unwrap();
        // two metadata keys, the same bytes every time (safetensors' own order is a HashMap's)
        for _ in 0..4 {
            assert_eq!(m.to_bytes_as(storage).unwrap(), bytes);
        }
        let back = KeypointModel::from_bytes(&bytes).unwrap();
        assert_eq!(back.cascade_meta(), Some(meta.clone()));
        let (a, b) = (back.cascade.as_ref().unwrap(), m.cascade.as_ref().unwrap());
        if storage == st::Storage::F32 {
            assert_eq!(a.to_bytes(), b.to_bytes());
        }
        let (la, lb) = (&a.levels()[0], &b.levels()[0]);
        assert_eq!(la.anchor_idx, lb.anchor_idx);
        assert_eq!(la.deltas, lb.deltas);
        assert_eq!(la.tree(1, 10).splits, lb.tree(1, 10).splits);
        // from the same start (f16 rounds the network's weights too)
        let mut scratch = facemark_ert::Scratch::default();
        let pa = a.refine_points(&img, &plain, &mut scratch);
        let pb = b.refine_points(&img, &plain, &mut scratch);
        assert_eq!(pb, refined);
        for (p, q) in pa.iter().zip(&pb) {
            assert!(
                (p[0] - q[0]).abs() < 0.01 && (p[1] - q[1]).abs() < 0.01,
                "{p:?} {q:?}"
            );
        }
        let file = st::read(&bytes, "t").unwrap();
        let leaves = if storage == st::Storage::F16 {
            "F16"
        } else {
            "F32"
        };
        assert!(file.stored_as.contains(leaves));
    }
    // another point count is refused; None removes it, and the file is the network's again
    let err = m
        .set_cascade(Some((tiny_cascade(4), "four.dat".into())))
        .unwrap_err();
    assert!(err.contains("4 points, the model 5"), "{err}");
    m.set_cascade(None).unwrap();
    assert_eq!(m.landmarks(&img, &face), plain);
    assert_eq!(m.to_bytes(), tiny_model().to_bytes());
}

/// Why a model file no longer loads once `edit` has changed its tensors or metadata (written
/// back as f32); panics if it still loads.
fn load_error_after(bytes: &[u8], edit: &dyn Fn(&mut st::StFile)) -> String {
    let mut f = st::read(bytes, "t").unwrap();
    edit(&mut f);
    let tensors: Vec<_> = f
        .tensors
        .iter()
        .map(|(n, (s, v))| (n.clone(), s.clone(), &v[..]))
        .collect();
    let meta: Vec<(&str, String)> = f
        .metadata
        .iter()
        .map(|(k, v)| (&k[..], v.clone()))
        .collect();
    let bytes = st::write(&tensors, &meta, st::Storage::F32).unwrap();
    KeypointModel::from_bytes(&bytes).unwrap_err().to_string()
}

#[test]
fn damaged_or_stray_cascades_are_refused() {
    let mut m = tiny_model();
    m.set_cascade(Some((tiny_cascade(5), "tiny.dat".into())))
        .unwrap();
    let bytes = m.to_bytes();
    let rewrite = |edit: &dyn Fn(&mut st::StFile)| load_error_after(&bytes, edit);
    let e = rewrite(&|f| drop(f.metadata.remove(CASCADE_META_KEY)));
    assert!(e.contains("no `facemark.cascade` metadata"), "{e}");
    let e = rewrite(&|f| drop(f.tensors.remove("cascade.0.leaves")));
    assert!(e.contains("`cascade.0.leaves` is missing"), "{e}");
    let e = rewrite(&|f| {
        f.metadata.insert(
            CASCADE_META_KEY.into(),
            r#"{"source":"x","levels":2,"trees":2}"#.into(),
        );
    });
    assert!(e.contains("2 levels"), "{e}");
    let e = rewrite(&|f| {
        f.metadata
            .insert(CASCADE_META_KEY.into(), "{not json".into());
    });
    assert!(e.contains("refinement cascade"), "{e}");
}

#[test]
fn a_cascade_stored_at_a_leaf_rank_keeps_its_rank() {
    let mut m = tiny_model();
    m.set_cascade(Some((tiny_cascade(5), "tiny.dat".into())))
        .unwrap();
    // the tiny cascade's leaves are of rank 1 or 2 (two trees, each scaling one ramp)
    m.cascade_leaf_rank = 3;
    let bytes = m.to_bytes();
    let back = KeypointModel::from_bytes(&bytes).unwrap();
    assert_eq!(back.cascade_leaf_rank, 3);
    assert_eq!(back.cascade_meta().unwrap().leaf_rank, 3);
    let file = st::read(&bytes, "t").unwrap();
    assert!(file.tensors.contains_key("cascade.0.leaf_basis"));
    assert!(!file.tensors.contains_key("cascade.0.leaves"));
    assert!(file.stored_as.contains("I8"), "{:?}", file.stored_as);
    let (a, b) = (back.cascade.as_ref().unwrap(), m.cascade.as_ref().unwrap());
    let (la, lb) = (a.levels()[0].tree(0, 10), b.levels()[0].tree(0, 10));
    // the coefficients' 8 bits: within 1/254 of a leaf's largest value (≈ 0.13 here)
    for (x, y) in la.leaf_values.iter().zip(&lb.leaf_values) {
        assert!((x - y).abs() < 1e-3, "{x} {y}");
    }
    // saved again, the same file (the arrays read are written back); set back to 0, the
    // leaves as they are
    assert_eq!(back.to_bytes(), bytes);
    let again = KeypointModel::from_bytes(&back.to_bytes()).unwrap();
    assert_eq!(again.cascade_leaf_rank, 3);
    let lc = again.cascade.as_ref().unwrap().levels()[0].tree(0, 10);
    for (x, y) in lc.leaf_values.iter().zip(&lb.leaf_values) {
        assert!((x - y).abs() < 2e-3, "{x} {y}");
    }
    let mut full = back.clone();
    full.cascade_leaf_rank = 0;
    let file = st::read(&full.to_bytes(), "t").unwrap();
    assert!(file.tensors.contains_key("cascade.0.leaves"));
    // a rank of 2n or more is the leaves as they are, and says so
    m.cascade_leaf_rank = 10;
    assert_eq!(m.cascade_meta().unwrap().leaf_rank, 0);
    assert_eq!(
        KeypointModel::from_bytes(&m.to_bytes())
            .unwrap()
            .cascade_leaf_rank,
        0
    );
    // metadata that disagrees with the tensors is refused
    let e = load_error_after(&bytes, &|f| {
        let cm = f.metadata.get_mut(CASCADE_META_KEY).unwrap();
        *cm = cm.replace("\"leaf_rank\":3", "\"leaf_rank\":2");
    });
    assert!(e.contains("leaf rank 2, the tensors hold 3"), "{e}");
}
