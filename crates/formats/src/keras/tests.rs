//! The Keras reader on `tests/data/keras_small.h5` (written by h5py in Keras 2's layout:
//! `bench/facenet/keras_fixture.py`, whose docstring lists the contents) and on files written
//! here by `hdf5-pure`.

use super::*;
use hdf5_pure::FileBuilder;

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/keras_small.h5"
    ))
    .unwrap()
}

#[test]
fn reads_the_keras_layout() {
    let w = read_keras_weights(&fixture()).unwrap();
    let names: Vec<(&str, &str)> = w
        .iter()
        .map(|w| (w.layer.as_str(), w.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Block35_1_Conv2d_1x1", "bias"),
            ("Block35_1_Conv2d_1x1", "kernel"),
            ("Bottleneck", "kernel"),
            ("Conv2d_1a_3x3", "kernel"),
            ("Conv2d_1a_3x3_BatchNorm", "beta"),
            ("Conv2d_1a_3x3_BatchNorm", "moving_mean"),
            ("Conv2d_1a_3x3_BatchNorm", "moving_variance"),
        ]
    );
    let k = &w[3];
    assert_eq!(k.path, "model_weights/Conv2d_1a_3x3/Conv2d_1a_3x3/kernel:0");
    assert_eq!(k.shape, [3, 3, 3, 2]);
    assert_eq!(
        k.values,
        (0..54).map(|i| i as f32 / 8.0).collect::<Vec<_>>()
    );
    assert_eq!(w[0].values, [0.25, -0.25]);
    assert_eq!(w[1].shape, [1, 1, 2, 2]);
    assert_eq!(w[1].values, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(w[2].shape, [2, 3]);
    assert_eq!(w[6].values, [3.0, 4.0]);
}

#[test]
fn weights_only_files_have_the_layers_at_the_root() {
    let mut b = FileBuilder::new();
    let mut layer = b.create_group("Bottleneck");
    let mut inner = layer.create_group("Bottleneck");
    inner
        .create_dataset("kernel:0")
        .with_f32_data(&[1.0, 2.0])
        .with_shape(&[1, 2]);
    layer.add_group(inner.finish());
    b.add_group(layer.finish());
    let w = read_keras_weights(&b.finish().unwrap()).unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].layer.as_str(), w[0].name.as_str()),
        ("Bottleneck", "kernel")
    );
    assert_eq!(w[0].path, "Bottleneck/Bottleneck/kernel:0");
    assert_eq!(
        (w[0].shape.clone(), w[0].values.clone()),
        (vec![1, 2], vec![1.0, 2.0])
    );
}

#[test]
fn other_element_types_are_refused_by_name() {
    let mut b = FileBuilder::new();
    let mut layer = b.create_group("dense");
    layer
        .create_dataset("kernel:0")
        .with_f64_data(&[1.0, 2.0])
        .with_shape(&[2]);
    b.add_group(layer.finish());
    let e = read_keras_weights(&b.finish().unwrap()).unwrap_err();
    assert!(
        matches!(&e, KerasError::Dtype { path, dtype } if path == "dense/kernel:0" && dtype == "f64"),
        "{e}"
    );
}

#[test]
fn not_hdf5_is_an_error() {
    assert!(matches!(
        read_keras_weights(b"PK\x03\x04 not hdf5"),
        Err(KerasError::NotHdf5)
    ));
    assert!(matches!(read_keras_weights(&[]), Err(KerasError::NotHdf5)));
}

/// Every truncation (the file is small) and every single-byte change at a stride: an error or
/// a result, never a panic; what reads has values that fit its shapes.
#[test]
fn damaged_files_give_errors_not_panics() {
    let bytes = fixture();
    let check = |b: &[u8]| {
        if let Ok(w) = read_keras_weights(b) {
            for t in w {
                assert_eq!(t.values.len(), t.shape.iter().product::<usize>());
            }
        }
    };
    for len in (0..bytes.len()).step_by(7) {
        check(&bytes[..len]);
    }
    let mut errors = 0;
    for i in (0..bytes.len()).step_by(5) {
        for x in [0xff, 0x01, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= x;
            check(&b);
            errors += read_keras_weights(&b).is_err() as usize;
        }
    }
    assert!(errors > 0, "no change was noticed");
    assert!(read_keras_weights(&bytes[..bytes.len() / 2]).is_err());
}
