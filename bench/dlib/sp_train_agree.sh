#!/usr/bin/env bash
# A shape predictor trained by facemark (`facemark train --arch ert`), loaded and run by dlib's
# own C++: dlib must give facemark's points (rounded as dlib rounds) on every face, and the
# file facemark wrote must read back byte for byte. Any differing point is listed; the script
# fails if there is one.
#
#   bash bench/dlib/sp_train_agree.sh      # LIMIT=N faces per evaluated set (default all)
#
# Training: a small cascade (3 levels × 40 trees of depth 4, oversampling 5, 200 feature
# pixels; dlib's other defaults) on the first 400 faces of YouTube-Faces training, seed 1,
# a few seconds. Comparison: crates/ert/examples/sp_agree.rs against bench/dlib/sp_agree.cpp
# (Debian libdlib-dev, -O3 -march=native) on YouTube-Faces test, 300-W HELEN and LFPW: the same
# gray pixels (sent through a pipe) and the same whole-pixel rectangle (the ground-truth
# landmark box through the trained model's mean shape).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
LIMIT=${LIMIT:-1000000}
OUT=target/bench-sp-train
mkdir -p "$OUT"
. bench/dlib/debs.sh
need_debs libdlib-dev libblas-dev liblapack-dev pkg-config g++
g++ -O3 -march=native -std=c++17 bench/dlib/sp_agree.cpp -o "$OUT/sp_agree" $(pkg-config --cflags --libs dlib-1)
cargo build --release -q -p facemark-cli -p facemark-ert --example sp_agree
BIN=${CARGO_TARGET_DIR:-target}/release
"$BIN/facemark" train --arch ert --quiet --data "$DATA/youtube-faces-68/training_frames_keypoints.csv" \
  --max-samples 400 --seed 1 --out "$OUT/run" \
  --cascade-depth 3 --num-trees-per-cascade-level 40 --oversampling-amount 5 --feature-pool-size 200
"$BIN/examples/sp_agree" --harness "$OUT/sp_agree" --model "$OUT/run/model.dat" --reps 1 --limit "$LIMIT" \
  --written-dir "$OUT/written" \
  --data "$DATA/youtube-faces-68/test_frames_keypoints.csv" \
  --data "$DATA/300w-helen-train" \
  --data "$DATA/300w-lfpw-train"
