//! Fuzz target: dlib DNN files (`facemark_recog::dnn`) must read as Ok or Err on any input,
//! never panic nor allocate beyond a small multiple of the file's size; a network that loads
//! must run. The architecture is the test fixture's (a small network with every layer type of
//! dlib's face-recognition ResNet).
//!
//! Seed with the fixture: `mkdir -p corpus/dlib_dnn && cp ../crates/recog/tests/data/tiny_resnet.dat corpus/dlib_dnn/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

const ARCH: &str = "loss_metric fc_no_bias avg_pool_everything \
    relu add_prev2 avg_pool skip1 tag2 affine con relu affine con tag1 \
    relu add_prev1 affine con relu affine con tag1 \
    max_pool relu affine con input_rgb_image_sized";

fuzz_target!(|data: &[u8]| {
    let arch = facemark_recog::Arch::parse(ARCH).expect("the architecture parses");
    if let Ok(rec) = facemark_recog::FaceRecognizer::from_bytes_with_arch(data, &arch) {
        let (w, h) = rec.input_size();
        if w * h <= 64 * 64 {
            let chip = image::RgbImage::new(w as u32, h as u32);
            let d = rec.embed_chips(&[chip]).expect("a loaded network runs");
            assert_eq!(d[0].len(), rec.dims());
        }
    }
});
