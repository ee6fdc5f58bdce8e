// Writes the test fixture of facemark-recog's dlib DNN reader: a tiny network with every layer
// type of dlib's face-recognition ResNet (con, affine, relu, max_pool, avg_pool,
// avg_pool_everything, fc_no_bias, add_prev/tag/skip, input_rgb_image_sized, loss_metric),
// the face network's residual blocks at 4 and 8 channels, random weights, serialized by dlib's
// own `serialize`; and dlib's descriptors of two fixed 23 × 23 images.
//
// From the repository root, with dlib 19.24 (Debian libdlib-dev):
//   g++ -O2 -std=c++17 bench/dlib/dnn_fixture.cpp -o /tmp/dnn_fixture $(pkg-config --cflags --libs dlib-1) \
//     && /tmp/dnn_fixture crates/recog/tests/data/tiny_resnet.dat > crates/recog/tests/data/tiny_resnet.expected
//
// The .expected file: one line per image, `image <i>` then its descriptor (%.9g). The images
// are pixel (r, c) = ((7r + 3c + 11k·(i+1)) mod 256) for channel k of image i.
#include <dlib/dnn.h>
#include <cstdio>
#include <iostream>
#include <sstream>

using namespace dlib;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;

template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;

// 23 → con 5×5/2: 10 → max_pool 3×3/2: 4 → ares<4>: 4 → ares_down<8>: body 1×1×8, shortcut
// 2×2×4 (the zero-padded add_prev of the face network's odd map sizes) → 2×2×8 → 8 → fc 5.
using tiny_type = loss_metric<fc_no_bias<5, avg_pool_everything<
    ares_down<8, ares<4,
    max_pool<3, 3, 2, 2, relu<affine<con<4, 5, 5, 2, 2, input_rgb_image_sized<23>>>>>>>>>>;

// The same with batch norm, as dlib trains it; read back as tiny_type, each bn_con becomes a
// conv-mode affine (as in dlib_face_recognition_resnet_model_v1.dat).
template <int N, typename SUBNET> using bres = relu<residual<block, N, bn_con, SUBNET>>;
template <int N, typename SUBNET> using bres_down = relu<residual_down<block, N, bn_con, SUBNET>>;
using train_type = loss_metric<fc_no_bias<5, avg_pool_everything<
    bres_down<8, bres<4,
    max_pool<3, 3, 2, 2, relu<bn_con<con<4, 5, 5, 2, 2, input_rgb_image_sized<23>>>>>>>>>>;

static matrix<rgb_pixel> test_image(int i) {
    matrix<rgb_pixel> img(23, 23);
    for (long r = 0; r < 23; ++r)
        for (long c = 0; c < 23; ++c)
            img(r, c) = rgb_pixel((7 * r + 3 * c + 11 * 1 * (i + 1)) % 256,
                                  (7 * r + 3 * c + 11 * 2 * (i + 1)) % 256,
                                  (7 * r + 3 * c + 11 * 3 * (i + 1)) % 256);
    return img;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: dnn_fixture OUT.dat > OUT.expected\n";
        return 1;
    }
    train_type trained;
    std::vector<matrix<rgb_pixel>> imgs = {test_image(0), test_image(1)};
    trained(imgs);  // allocates the parameters
    dlib::rand rnd(1234);
    // random weights; batch norm's gamma around 1 (its beta and the running statistics stay
    // as set up: 0, and means 0 / variances 1)
    visit_computational_layers(trained, [&](auto& l) {
        tensor& p = l.get_layer_params();
        for (auto& v : p) v = rnd.get_random_gaussian() * 0.3f;
    });
    visit_computational_layers(trained, [&](bn_<CONV_MODE>& l) {
        tensor& p = l.get_layer_params();  // gamma then beta
        const size_t k = p.size() / 2;
        size_t i = 0;
        for (auto& v : p) v = i++ < k ? 0.5f + rnd.get_random_float() : rnd.get_random_gaussian() * 0.2f;
    });
    trained.clean();
    std::ostringstream buf;
    serialize(trained, buf);
    std::istringstream in(buf.str());
    tiny_type net;
    deserialize(net, in);
    serialize(argv[1]) << net;
    // reload and run: what a reader of the file must reproduce
    tiny_type net2;
    deserialize(argv[1]) >> net2;
    std::vector<matrix<float, 0, 1>> out = net2(imgs);
    for (size_t i = 0; i < out.size(); ++i) {
        std::printf("image %zu", i);
        for (long k = 0; k < out[i].size(); ++k) std::printf(" %.9g", out[i](k));
        std::printf("\n");
    }
    std::cerr << net2 << "\n";
    return 0;
}
