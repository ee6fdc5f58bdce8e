#!/usr/bin/env bash
# facemark vs dlib's 68-point shape predictor: accuracy (same faces, same NME) and speed.
#
#   bash bench/dlib/compare.sh [MODEL.safetensors]
#
# Installs Debian's libdlib-dev + libdlib-data (root or sudo), builds bench/dlib/dlib_landmarks,
# and for each evaluation set (YouTube person-disjoint validation split of the default model's
# training run, its 300-W HELEN part, YouTube test) prints faces found and NME for facemark
# (its detector; ground-truth box; default and --flip) and dlib (its HOG detector), then ms per
# face. Environment: FACEMARK_REFINE=N adds refinement passes.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
MODEL=${1:-}
OUT=target/bench-dlib
mkdir -p "$OUT"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if [ ! -f /usr/share/dlib/shape_predictor_68_face_landmarks.dat ] || ! pkg-config --exists dlib-1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libdlib-dev libdlib-data libblas-dev liblapack-dev pkg-config g++
fi
g++ -O2 -std=c++17 bench/dlib/dlib_landmarks.cpp -o "$OUT/dlib_landmarks" $(pkg-config --cflags --libs dlib-1)
cargo build --release -q -p facemark --example vs_dlib
VS=target/release/examples/vs_dlib
M=(); [ -n "$MODEL" ] && M=(--model "$MODEL")
# The default model's validation split: its config's data list (HELEN listed three times, a
# training weight; each face is scored once), seed and fraction.
CONFIG=models/default.toml
TRAIN=()
while read -r D; do TRAIN+=(--data "$D"); done < <(python3 -c 'import sys, tomllib; print(*tomllib.load(open(sys.argv[1], "rb"))["data"], sep="\n")' "$CONFIG")
SEED=$(sed -n 's/^seed *= *\([0-9]*\).*/\1/p' "$CONFIG"); VALF=$(sed -n 's/^val_fraction *= *\([0-9.]*\).*/\1/p' "$CONFIG")
TRAIN+=(--split val --val-fraction "${VALF:-0.15}" --seed "${SEED:-1}")

run() { # name, vs_dlib selection args...
  local name=$1; shift
  $VS "$@" --list-out "$OUT/$name.list"
  "$OUT/dlib_landmarks" detect "$OUT/$name.list" > "$OUT/$name.dlib.csv" 2> "$OUT/$name.dlib.err"
  echo "== $name"
  $VS "$@" "${M[@]}" --dlib "$OUT/$name.dlib.csv"
  echo "-- with --flip (mirrored crop averaged in):"
  FACEMARK_FLIP=1 $VS "$@" "${M[@]}" | grep -v "faces ("
  echo "dlib: $(cat "$OUT/$name.dlib.err")"
}
run youtube-val "${TRAIN[@]}" --only "$DATA/youtube-faces-68"
run helen-val "${TRAIN[@]}" --only "$DATA/300w-helen-train"
run youtube-test --data "$DATA/youtube-faces-68/test_frames_keypoints.csv"
# dlib's shape predictor alone on the same faces (boxes given), for the speed ratio
"$OUT/dlib_landmarks" box "$OUT/youtube-val.list" > /dev/null 2> "$OUT/speed.dlib.err"
echo "== speed (dlib shape predictor alone, 1 thread): $(cat "$OUT/speed.dlib.err")"
