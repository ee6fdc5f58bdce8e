//! The dlib DNN reader against dlib itself: `tests/data/tiny_resnet.dat` is a small network
//! with every layer type of the face-recognition ResNet, written by dlib 19.24's `serialize`
//! (`bench/dlib/dnn_fixture.cpp`), and `tiny_resnet.expected` dlib's descriptors of two fixed
//! images.

use facemark_recog::{dnn::DnnError, read_net, Arch, FaceRecognizer};
use image::RgbImage;

const TINY: &[u8] = include_bytes!("data/tiny_resnet.dat");
const EXPECTED: &str = include_str!("data/tiny_resnet.expected");
/// The C++ type of `dnn_fixture.cpp`, output first.
const TINY_ARCH: &str = "loss_metric fc_no_bias avg_pool_everything \
    relu add_prev2 avg_pool skip1 tag2 affine con relu affine con tag1 \
    relu add_prev1 affine con relu affine con tag1 \
    max_pool relu affine con input_rgb_image_sized";

fn arch() -> Arch {
    Arch::parse(TINY_ARCH).unwrap()
}

/// The fixture's images: pixel (r, c) of channel k of image i is (7r + 3c + 11k(i+1)) mod 256.
fn test_image(i: u32) -> RgbImage {
    RgbImage::from_fn(23, 23, |c, r| {
        let v = |k: u32| ((7 * r + 3 * c + 11 * k * (i + 1)) % 256) as u8;
        image::Rgb([v(1), v(2), v(3)])
    })
}

#[test]
fn tiny_network_matches_dlib() {
    let rec = FaceRecognizer::from_bytes_with_arch(TINY, &arch()).unwrap();
    assert_eq!(rec.input_size(), (23, 23));
    assert_eq!(rec.dims(), 5);
    assert!((rec.threshold() - 0.6).abs() < 1e-6);
    let got = rec.embed_chips(&[test_image(0), test_image(1)]).unwrap();
    let mut lines = 0;
    for (line, g) in EXPECTED.lines().zip(&got) {
        let want: Vec<f32> = line
            .split_whitespace()
            .skip(2)
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(want.len(), g.len());
        for (w, v) in want.iter().zip(g) {
            assert!((w - v).abs() < 1e-5 * w.abs().max(1.0), "{line}: got {g:?}");
        }
        lines += 1;
    }
    assert_eq!(lines, 2);
    // one at a time gives the same as the batch
    let one = rec.embed_chips(&[test_image(1)]).unwrap();
    for (a, b) in one[0].iter().zip(&got[1]) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn the_file_reads_as_dlib_wrote_it() {
    let net = read_net(TINY, &arch()).unwrap();
    assert_eq!(net.input.size, Some((23, 23)));
    assert!(
        (net.input.mean[0] - 122.782).abs() < 1e-3,
        "{:?}",
        net.input
    );
    let loss = net.loss.unwrap();
    assert!((loss.margin - 0.04).abs() < 1e-6 && (loss.distance_threshold - 0.6).abs() < 1e-6);
    // 26 layers below the loss, input first
    assert_eq!(net.layers.len(), 25);
    assert!(
        matches!(&net.layers[0], facemark_recog::dnn::DlibLayer::Con(c)
        if c.filters == 4 && c.in_c == 3 && c.nr == 5 && c.stride == (2, 2) && c.pad == (0, 0))
    );
    // the parameter names a --freeze sees
    let rec = FaceRecognizer::from_bytes_with_arch(TINY, &arch()).unwrap();
    let names: Vec<String> = rec
        .network()
        .params()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert!(names.contains(&"con1.weight".to_string()), "{names:?}");
    assert!(names.contains(&"fc1.weight".to_string()), "{names:?}");
}

#[test]
fn wrong_architecture_is_a_clear_error() {
    // one block fewer: the versions no longer line up
    let wrong = TINY_ARCH.replace("relu add_prev1 affine con relu affine con tag1 ", "");
    let e = read_net(TINY, &Arch::parse(&wrong).unwrap()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("byte ") && msg.contains("layer<"), "{msg}");
    // a con where the file has a relu
    let wrong = TINY_ARCH.replacen("max_pool relu", "max_pool con", 1);
    let msg = read_net(TINY, &Arch::parse(&wrong).unwrap())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("found \"relu_\""), "{msg}");
    // the face network's architecture on this file
    assert!(FaceRecognizer::from_bytes(TINY).is_err());
}

#[test]
fn bad_architecture_text_is_an_error() {
    for bad in [
        "",
        "con relu",
        "loss_metric con tag0 input_rgb_image_sized",
        "conv input_rgb_image_sized",
        "loss_metric input_rgb_image_sized",
    ] {
        assert!(
            matches!(Arch::parse(bad), Err(DnnError::Arch(_))),
            "{bad:?}"
        );
    }
    let a = arch();
    assert_eq!(Arch::parse(&a.to_string()).unwrap(), a);
}

#[test]
fn truncated_files_are_errors_not_panics() {
    let a = arch();
    for n in (0..TINY.len()).step_by(7) {
        let e = read_net(&TINY[..n], &a).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("byte "), "{n}: {msg}");
    }
    let mut longer = TINY.to_vec();
    longer.push(0);
    let msg = read_net(&longer, &a).unwrap_err().to_string();
    assert!(msg.contains("end of data"), "{msg}");
}

#[test]
fn corrupt_files_never_panic() {
    let a = arch();
    let mut rejected = 0;
    for i in (0..TINY.len()).step_by(5) {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = TINY.to_vec();
            b[i] ^= flip;
            // either an error, or a network the engine can run without panicking
            match FaceRecognizer::from_bytes_with_arch(&b, &a) {
                Ok(rec) => {
                    let d = rec.embed_chips(&[test_image(0)]).unwrap();
                    assert_eq!(d[0].len(), rec.dims());
                }
                Err(_) => rejected += 1,
            }
        }
    }
    assert!(rejected > 0);
}

/// The real model, when `FACEMARK_RECOGNITION_MODEL` names it (bench/dlib/embed_agree.sh
/// fetches it): it loads as the face-recognition architecture.
#[test]
fn real_model_loads_when_available() {
    let Some(path) = std::env::var_os("FACEMARK_RECOGNITION_MODEL") else {
        eprintln!("skipped: FACEMARK_RECOGNITION_MODEL is not set");
        return;
    };
    let rec = FaceRecognizer::load(path.as_ref()).unwrap();
    assert_eq!(rec.input_size(), (150, 150));
    assert_eq!(rec.dims(), 128);
    let d = rec.embed_chips(&[RgbImage::new(150, 150)]).unwrap();
    assert!(d[0].iter().all(|v| v.is_finite()));
}
