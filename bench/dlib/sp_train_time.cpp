// dlib's own shape-predictor trainer, timed: facemark's peer in bench/dlib/sp_train_time.sh.
//
//   sp_train_time FACES.xml OUT.dat THREADS CASCADE_DEPTH TREES_PER_LEVEL OVERSAMPLING
//
// Loads an imglab XML data set (dlib's load_image_dataset), trains with dlib's defaults except
// the given options, writes OUT.dat and prints `dlib_train_seconds S` (the `train` call alone,
// after the images are loaded) and `dlib_load_seconds S`.
#include <dlib/data_io.h>
#include <dlib/image_processing.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 7) {
        std::cerr << "usage: sp_train_time FACES.xml OUT.dat THREADS CASCADE TREES OVERSAMPLING\n";
        return 2;
    }
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    dlib::array<dlib::array2d<unsigned char>> images;
    std::vector<std::vector<dlib::full_object_detection>> faces;
    dlib::load_image_dataset(images, faces, argv[1]);
    auto t1 = clock::now();
    dlib::shape_predictor_trainer trainer;
    trainer.set_num_threads(std::atoi(argv[3]));
    trainer.set_cascade_depth(std::atoi(argv[4]));
    trainer.set_num_trees_per_cascade_level(std::atoi(argv[5]));
    trainer.set_oversampling_amount(std::atoi(argv[6]));
    dlib::shape_predictor sp = trainer.train(images, faces);
    auto t2 = clock::now();
    dlib::serialize(argv[2]) << sp;
    std::cout << "dlib_load_seconds " << std::chrono::duration<double>(t1 - t0).count() << "\n"
              << "dlib_train_seconds " << std::chrono::duration<double>(t2 - t1).count() << "\n";
    return 0;
}
