// dlib's side of bench/dlib/embed_agree.sh: dlib's face-recognition ResNet (anet_type of
// dlib's examples/dnn_face_recognition_ex.cpp) on aligned chips, and dlib's own chips.
//
//   embed_agree net MODEL.dat CHIP.png…   one line per chip, `path v0 … v127` (%.9g), then on
//                                         stderr the mean ms per chip (one chip per call, after
//                                         a warm-up; dlib built single-threaded on the CPU)
//   embed_agree detect MODEL.dat SP5.dat IMAGE…
//                                         dlib end to end, as dnn_face_recognition_ex.cpp
//                                         (frontal_face_detector on the image upsampled once,
//                                         shape_predictor_5_face_landmarks, 150 px chips): one
//                                         line per image, `path v0 … v127` for its largest face,
//                                         `path` alone when no face is found
//   embed_agree cut POINTS.txt OUTDIR     for each line `IMAGE x0 y0 … x67 y67` (68 or 5 points,
//                                         whole pixels in dlib's convention) writes
//                                         OUTDIR/<line number, 3 digits>.png:
//                                         extract_image_chip(img, get_face_chip_details(shape, 150, 0.25))
//
// Build (bench/dlib/embed_agree.sh does): g++ -O3 -march=native -std=c++17 bench/dlib/embed_agree.cpp \
//   -o target/bench-dlib/embed_agree $(pkg-config --cflags --libs dlib-1)
#include <dlib/dnn.h>
#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <chrono>
#include <cstdio>
#include <fstream>
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
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using anet_type = loss_metric<fc_no_bias<128, avg_pool_everything<
    alevel0<alevel1<alevel2<alevel3<alevel4<
    max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

int main(int argc, char** argv) try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "net" && argc >= 3) {
        anet_type net;
        deserialize(argv[2]) >> net;
        std::vector<matrix<rgb_pixel>> chips(argc - 3);
        for (int i = 3; i < argc; ++i) load_image(chips[i - 3], argv[i]);
        if (chips.empty()) return 0;
        net(chips[0]);  // warm-up
        std::vector<matrix<float, 0, 1>> out;
        auto t = std::chrono::steady_clock::now();
        for (auto& c : chips) out.push_back(net(c));
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count() / chips.size();
        for (size_t i = 0; i < out.size(); ++i) {
            std::printf("%s", argv[i + 3]);
            for (long k = 0; k < out[i].size(); ++k) std::printf(" %.9g", out[i](k));
            std::printf("\n");
        }
        std::fprintf(stderr, "dlib: %.2f ms per chip (%zu chips)\n", ms, chips.size());
        return 0;
    }
    if (mode == "detect" && argc >= 4) {
        anet_type net;
        deserialize(argv[2]) >> net;
        shape_predictor sp;
        deserialize(argv[3]) >> sp;
        frontal_face_detector detector = get_frontal_face_detector();
        for (int i = 4; i < argc; ++i) {
            matrix<rgb_pixel> img, chip;
            load_image(img, argv[i]);
            std::vector<rectangle> faces = detector(img, 1);
            std::printf("%s", argv[i]);
            if (!faces.empty()) {
                rectangle best = faces[0];
                for (auto& f : faces)
                    if (f.area() > best.area()) best = f;
                extract_image_chip(img, get_face_chip_details(sp(img, best), 150, 0.25), chip);
                matrix<float, 0, 1> d = net(chip);
                for (long k = 0; k < d.size(); ++k) std::printf(" %.9g", d(k));
            }
            std::printf("\n");
        }
        return 0;
    }
    if (mode == "cut" && argc == 4) {
        std::ifstream in(argv[2]);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string path;
            ls >> path;
            std::vector<point> parts;
            long x, y;
            while (ls >> x >> y) parts.push_back(point(x, y));
            matrix<rgb_pixel> img, chip;
            load_image(img, path);
            full_object_detection det(get_rect(img), parts);
            extract_image_chip(img, get_face_chip_details(det, 150, 0.25), chip);
            char name[32];
            std::snprintf(name, sizeof name, "/%03d.png", n++);
            save_png(chip, std::string(argv[3]) + name);
        }
        return 0;
    }
    std::cerr << "usage: embed_agree net MODEL.dat CHIP.png… | detect MODEL.dat SP5.dat IMAGE… | cut POINTS.txt OUTDIR\n";
    return 1;
} catch (std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
}
