//! The architecture of dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`),
//! `anet_type` of dlib's `examples/dnn_face_recognition_ex.cpp`, as an [`Arch`].
//!
//! ```text
//! residual      = add_prev1<block<N,BN,1,tag1<SUBNET>>>
//! residual_down = add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,BN,2,tag1<SUBNET>>>>>>
//! block         = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
//! ares          = relu<residual<block,N,affine,SUBNET>>
//! ares_down     = relu<residual_down<block,N,affine,SUBNET>>
//! levels        = ares_down<256> · ares<256>² ares_down<256> · ares<128>² ares_down<128>
//!                 · ares<64>³ ares_down<64> · ares<32>³
//! anet_type     = loss_metric<fc_no_bias<128,avg_pool_everything<levels<
//!                 max_pool<3,3,2,2,relu<affine<con<32,7,7,2,2,input_rgb_image_sized<150>>>>>>>>>
//! ```
//!
//! 29 convolutions, 150 × 150 RGB in, a 128-d descriptor out. The shortcut of a
//! down-sampling block has half the body's channels and, where the map size is odd, one row
//! and column more: dlib's `add_prev` adds over the overlap ([`facemark_nn::Residual`]).

use crate::dnn::Arch;

/// `block` of the example, output first.
const BLOCK: &str = "affine con relu affine con";

fn ares() -> String {
    format!("relu add_prev1 {BLOCK} tag1")
}

fn ares_down() -> String {
    format!("relu add_prev2 avg_pool skip1 tag2 {BLOCK} tag1")
}

/// The architecture text (see [`Arch::parse`]).
pub fn face_resnet_arch_text() -> String {
    let mut t = vec!["loss_metric fc_no_bias avg_pool_everything".to_string()];
    // alevel0 … alevel4, output first; each level's blocks output first
    let levels: [(usize, bool); 5] = [(0, true), (2, true), (2, true), (3, true), (3, false)];
    for (n_ares, down) in levels {
        for _ in 0..n_ares {
            t.push(ares());
        }
        if down {
            t.push(ares_down());
        }
    }
    t.push("max_pool relu affine con input_rgb_image_sized".into());
    t.join(" ")
}

/// The parsed architecture.
pub fn face_resnet_arch() -> Arch {
    Arch::parse(&face_resnet_arch_text()).expect("the built-in architecture parses")
}
