// dlib's side of bench/dlib/sp_agree.sh: runs dlib's own shape_predictor on the faces facemark
// sends, on exactly the gray pixels facemark decoded, and answers with dlib's points and time.
//
//   sp_agree MODEL.dat [MODEL2.dat …]        (driven by crates/ert/examples/sp_agree.rs)
//
// Protocol on stdin (binary, little-endian), answers on stdout (text):
//   'I' u32 width, u32 height, width*height bytes   the current image (8-bit gray, row-major)
//   'P' u32 model, i64 left, top, right, bottom, u32 reps
//        → "NS x0 y0 x1 y1 …\n": dlib's sp(img, rectangle(left, top, right, bottom)).part(i),
//          and NS the fastest of `reps` timed calls in nanoseconds (one thread).
//   'Q'  quit
// Built by sp_agree.sh: g++ -O3 -march=native -std=c++17 sp_agree.cpp $(pkg-config --cflags --libs dlib-1)
#include <dlib/image_processing.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <vector>

using namespace dlib;

template <typename T> static bool get(T& v) { return std::fread(&v, sizeof v, 1, stdin) == 1; }

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: sp_agree MODEL.dat [MODEL2.dat …]\n");
        return 2;
    }
    std::vector<shape_predictor> sps(argc - 1);
    for (int i = 1; i < argc; i++) deserialize(argv[i]) >> sps[i - 1];
    array2d<unsigned char> img;
    std::vector<unsigned char> row;
    char op;
    while (get(op)) {
        if (op == 'Q') break;
        if (op == 'I') {
            uint32_t w, h;
            if (!get(w) || !get(h)) return 1;
            img.set_size(h, w);
            row.resize(w);
            for (uint32_t y = 0; y < h; y++) {
                if (w && std::fread(row.data(), 1, w, stdin) != w) return 1;
                for (uint32_t x = 0; x < w; x++) img[y][x] = row[x];
            }
        } else if (op == 'P') {
            uint32_t m, reps;
            int64_t l, t, r, b;
            if (!get(m) || !get(l) || !get(t) || !get(r) || !get(b) || !get(reps) || m >= sps.size()) return 1;
            rectangle rect(l, t, r, b);
            full_object_detection d;
            double best = 1e300;
            for (uint32_t k = 0; k < (reps ? reps : 1); k++) {
                auto t0 = std::chrono::steady_clock::now();
                d = sps[m](img, rect);
                double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
                if (ns < best) best = ns;
            }
            std::printf("%.0f", best);
            for (unsigned long i = 0; i < d.num_parts(); i++) std::printf(" %ld %ld", d.part(i).x(), d.part(i).y());
            std::printf("\n");
            std::fflush(stdout);
        } else {
            std::fprintf(stderr, "sp_agree: unknown op %d\n", op);
            return 1;
        }
    }
    return 0;
}
