// dlib peer for facemark's benchmarks: runs dlib's HOG face detector and its 68-point shape
// predictor (shape_predictor_68_face_landmarks.dat, Debian libdlib-data) on a list of images.
//
// Input (stdin or file given as argv[2]): one line per face: `IMAGE [x y w h]`, where the
// optional box is a facemark landmark box (tight box around the ground-truth points).
// Output (stdout): CSV `name,detected,x0,y0,...,x67,y67` in pixels.
//  - mode `detect`: dlib's own detector; the detection that best overlaps the given box is used
//    (or the largest one when no box is given); `detected=0` and empty points when none.
//  - mode `box`: the shape predictor alone, on dlib-style boxes derived from the given box.
// stderr: timing of the shape predictor alone (ms per face: the best of 3 rounds over all faces,
// images decoded beforehand, as facemark's vs_dlib times its own) and of detection (ms per
// image, one round).
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_io.h>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>
#include <sstream>

using namespace dlib;

static double iou(const rectangle& a, const rectangle& b) {
    rectangle i = a.intersect(b);
    if (i.is_empty()) return 0;
    double u = a.area() + b.area() - i.area();
    return i.area() / u;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: dlib_landmarks detect|box [list] [model.dat]\n";
        return 2;
    }
    std::string mode = argv[1];
    std::string model = argc > 3 ? argv[3] : "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";
    std::ifstream file;
    std::istream* in = &std::cin;
    if (argc > 2 && std::string(argv[2]) != "-") {
        file.open(argv[2]);
        in = &file;
    }
    shape_predictor sp;
    deserialize(model) >> sp;
    frontal_face_detector det = get_frontal_face_detector();
    double sp_ms = 0, det_ms = 0;
    // the faces found, kept (decoded images and boxes) for the timing rounds after the first:
    // memory grows with the list, which is meant for evaluation sets of a few thousand faces
    std::vector<std::pair<std::unique_ptr<array2d<unsigned char>>, rectangle>> kept;
    long n_faces = 0, n_images = 0, n_found = 0;
    std::string line;
    std::cout.setf(std::ios::fixed);
    std::cout.precision(3);
    while (std::getline(*in, line)) {
        if (line.empty()) continue;
        std::istringstream ss(line);
        std::string path;
        double x = 0, y = 0, w = 0, h = 0;
        ss >> path;
        bool has_box = static_cast<bool>(ss >> x >> y >> w >> h);
        auto owned = std::make_unique<array2d<unsigned char>>();
        array2d<unsigned char>& img = *owned;
        try {
            load_image(img, path);
        } catch (std::exception& e) {
            std::cerr << path << ": " << e.what() << "\n";
            return 1;
        }
        n_images++;
        rectangle face;
        bool found = false;
        std::string name = path.substr(path.find_last_of('/') + 1);
        if (mode == "detect") {
            auto t0 = std::chrono::steady_clock::now();
            std::vector<rectangle> dets = det(img);
            det_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            rectangle gt(std::lround(x), std::lround(y), std::lround(x + w), std::lround(y + h));
            double best = -1;
            for (auto& d : dets) {
                double s = has_box ? iou(d, gt) : d.area();
                if (s > best) { best = s; face = d; }
            }
            found = !dets.empty() && (!has_box || best > 0.2);
        } else {
            // dlib's training boxes are about the landmark box, shifted down, ~square.
            double side = std::max(w, h);
            double cx = x + w / 2, cy = y + h / 2;
            face = rectangle(std::lround(cx - side / 2), std::lround(cy - side / 2),
                             std::lround(cx + side / 2), std::lround(cy + side / 2));
            found = has_box;
        }
        std::cout << name << "," << (found ? 1 : 0);
        if (found) {
            n_found++;
            auto t0 = std::chrono::steady_clock::now();
            full_object_detection s = sp(img, face);
            sp_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            n_faces++;
            for (unsigned k = 0; k < s.num_parts(); k++) std::cout << "," << s.part(k).x() << "," << s.part(k).y();
            kept.emplace_back(std::move(owned), face);
        }
        std::cout << "\n";
    }
    volatile unsigned long sink = 0;
    for (int round = 1; round < 3; round++) {
        double ms = 0;
        for (auto& k : kept) {
            auto t0 = std::chrono::steady_clock::now();
            full_object_detection s = sp(*k.first, k.second);
            ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            sink = sink + s.num_parts();  // keeps the call observable
        }
        sp_ms = std::min(sp_ms, ms);
    }
    std::cerr << "images " << n_images << " faces_found " << n_found << " shape_predictor_ms_per_face "
              << (n_faces ? sp_ms / n_faces : 0) << " detector_ms_per_image " << (n_images ? det_ms / n_images : 0)
              << "\n";
    return 0;
}
