// Makes the tiny shape-predictor fixtures of crates/ert/tests/data with dlib's own trainer, and
// records dlib's own predictions on them (dlib 19.24, Debian libdlib-dev). From the repository
// root:
//
//   g++ -O2 -std=c++17 bench/dlib/sp_fixtures.cpp -o /tmp/sp_fixtures $(pkg-config --cflags --libs dlib-1) \
//       && /tmp/sp_fixtures crates/ert/tests/data
//
// Writes, for N in 5 and 7 points: tinyN.dat (a small cascade: a few trees per level) and
// tinyN.expected (one line per face rectangle: `left top right bottom x0 y0 x1 y1 …`, dlib's
// sp(img, rect) on the test image). The test image is procedural: 120 × 90 pixels of
// test_pixel below, the same formula as in crates/ert/tests/fixtures.rs.
#include <dlib/image_processing.h>
#include <dlib/image_processing/shape_predictor_trainer.h>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace dlib;

// The test image's pixel (also in the Rust test): smooth blobs plus a few edges, so that
// pixel differences vary with position.
static unsigned char test_pixel(long x, long y) {
    long v = (x * x + 3 * y * y + 7 * x * y + 11 * x) / 5 + ((x / 9 + y / 7) % 2) * 90;
    return (unsigned char)(v % 256);
}

static void make(int n_parts, unsigned long tree_depth, unsigned long cascade, unsigned long trees,
                 const std::string& dir) {
    dlib::rand rnd(1234 + n_parts);
    dlib::array<array2d<unsigned char>> images;
    std::vector<std::vector<full_object_detection>> objects;
    // Training faces: random images with a bright blob per part; the part sits on its blob.
    for (int i = 0; i < 12; i++) {
        array2d<unsigned char> img(96, 96);
        for (long y = 0; y < 96; y++)
            for (long x = 0; x < 96; x++) img[y][x] = (unsigned char)(rnd.get_random_32bit_number() % 40);
        rectangle rect(12 + rnd.get_random_32bit_number() % 8, 12 + rnd.get_random_32bit_number() % 8, 0, 0);
        rect.right() = rect.left() + 60 + rnd.get_random_32bit_number() % 10;
        rect.bottom() = rect.top() + 60 + rnd.get_random_32bit_number() % 10;
        std::vector<point> parts;
        for (int k = 0; k < n_parts; k++) {
            double u = 0.2 + 0.6 * ((k * 37) % 11) / 10.0 + 0.05 * rnd.get_random_gaussian();
            double v = 0.2 + 0.6 * ((k * 53) % 7) / 6.0 + 0.05 * rnd.get_random_gaussian();
            point p(rect.left() + u * rect.width(), rect.top() + v * rect.height());
            parts.push_back(p);
            for (long y = p.y() - 3; y <= p.y() + 3; y++)
                for (long x = p.x() - 3; x <= p.x() + 3; x++)
                    if (x >= 0 && y >= 0 && x < 96 && y < 96) img[y][x] = 200 + (k * 10) % 50;
        }
        images.push_back(std::move(img));
        objects.push_back({full_object_detection(rect, parts)});
    }
    shape_predictor_trainer trainer;
    trainer.set_cascade_depth(cascade);
    trainer.set_tree_depth(tree_depth);
    trainer.set_num_trees_per_cascade_level(trees);
    trainer.set_feature_pool_size(24);
    trainer.set_oversampling_amount(3);
    trainer.set_num_test_splits(5);
    trainer.set_random_seed("facemark");
    trainer.set_num_threads(1);
    shape_predictor sp = trainer.train(images, objects);
    std::string base = dir + "/tiny" + std::to_string(n_parts);
    serialize(base + ".dat") << sp;

    array2d<unsigned char> test(90, 120);  // 90 rows, 120 columns
    for (long y = 0; y < 90; y++)
        for (long x = 0; x < 120; x++) test[y][x] = test_pixel(x, y);
    std::vector<rectangle> rects = {
        rectangle(10, 10, 70, 70),  rectangle(30, 5, 100, 80), rectangle(0, 0, 119, 89),
        rectangle(-20, -15, 40, 50), rectangle(80, 40, 150, 120), rectangle(50, 30, 59, 39),
        rectangle(5, 20, 64, 79),   rectangle(200, 200, 260, 260), rectangle(44, 17, 97, 70),
    };
    std::ofstream out(base + ".expected");
    for (auto& r : rects) {
        full_object_detection d = sp(test, r);
        out << r.left() << " " << r.top() << " " << r.right() << " " << r.bottom();
        for (unsigned long k = 0; k < d.num_parts(); k++) out << " " << d.part(k).x() << " " << d.part(k).y();
        out << "\n";
    }
}

int main(int argc, char** argv) {
    std::string dir = argc > 1 ? argv[1] : ".";
    make(5, 2, 3, 6, dir);
    make(7, 3, 2, 4, dir);
    return 0;
}
