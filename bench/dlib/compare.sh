#!/usr/bin/env bash
# facemark vs dlib's 68-point shape predictor: accuracy (same faces, same NME) and speed.
#
#   bash bench/dlib/compare.sh [MODEL.safetensors]
#
# Installs Debian's libdlib-dev + libdlib-data (root or sudo), builds bench/dlib/dlib_landmarks,
# and for each evaluation set (YouTube person-disjoint validation split of the default model's
# training run, its 300-W HELEN and LFPW parts, YouTube test) prints faces found and NME for facemark
# (its detector; ground-truth box; default and --flip) and dlib (its HOG detector), then ms per
# face. Environment: FACEMARK_REFINE=N adds refinement passes (FACEMARK_REFINER=FILE runs a
# refiner, a model trained with `crop_align`, in them; default: the model again);
# FACEMARK_REFINER=FILE.dat runs a refinement cascade (`facemark train --arch ert --init
# MODEL`) once after the model instead of the one the model carries; FACEMARK_NO_CASCADE=1
# runs the network alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
MODEL=${1:-}
OUT=target/bench-dlib
mkdir -p "$OUT"
. bench/dlib/debs.sh
need_debs libdlib-dev libdlib-data libblas-dev liblapack-dev pkg-config g++
g++ -O3 -march=native -std=c++17 bench/dlib/dlib_landmarks.cpp -o "$OUT/dlib_landmarks" $(pkg-config --cflags --libs dlib-1)
cargo build --release -q -p facemark --example vs_dlib
VS=target/release/examples/vs_dlib
M=(); [ -n "$MODEL" ] && M=(--model "$MODEL")
# The default model's validation split: its config's data list (HELEN listed three times, a
# training weight; each face is scored once), seed and fraction. The config names the training
# data by path (../shared/data/…), so the split's --only filters use those paths too.
CONFIG=${FACEMARK_CONFIG:-models/default.toml}   # FACEMARK_CONFIG: another run's config (its split)
CFG=$(python3 - "$CONFIG" <<'PY'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
print(c.get("seed", 1)); print(c.get("val_fraction", 0.15))
print(*c["data"], sep="\n")
PY
)
mapfile -t CFG_LINES <<< "$CFG"
TRAIN=(); YT_DIR=""; HELEN_DIR=""; LFPW_DIR=""
for D in "${CFG_LINES[@]:2}"; do
  TRAIN+=(--data "$D")
  case "$D" in
    *youtube-faces-68/*) YT_DIR=${YT_DIR:-$(dirname "$D")} ;;
    *300w-helen-train*) HELEN_DIR=${HELEN_DIR:-$D} ;;
    *300w-lfpw-train*) LFPW_DIR=${LFPW_DIR:-$D} ;;
  esac
done
[ -n "$YT_DIR" ] && [ -n "$HELEN_DIR" ] || { echo "$CONFIG: expected YouTube-Faces and 300-W HELEN in data" >&2; exit 1; }
TRAIN+=(--split val --val-fraction "${CFG_LINES[1]}" --seed "${CFG_LINES[0]}")

run() { # name, vs_dlib selection args...
  local name=$1; shift
  $VS "$@" --list-out "$OUT/$name.list"
  "$OUT/dlib_landmarks" detect "$OUT/$name.list" > "$OUT/$name.dlib.csv" 2> "$OUT/$name.dlib.err"
  echo "== $name"
  $VS "$@" ${M[@]+"${M[@]}"} --dlib "$OUT/$name.dlib.csv"
  echo "-- with --flip (mirrored crop averaged in):"
  FACEMARK_FLIP=1 $VS "$@" ${M[@]+"${M[@]}"} | grep -v "faces ("
  echo "dlib: $(cat "$OUT/$name.dlib.err")"
}
run youtube-val "${TRAIN[@]}" --only "$YT_DIR"
run helen-val "${TRAIN[@]}" --only "$HELEN_DIR"
[ -z "$LFPW_DIR" ] || run lfpw-val "${TRAIN[@]}" --only "$LFPW_DIR"
run youtube-test --data "$DATA/youtube-faces-68/test_frames_keypoints.csv"
# dlib's shape predictor alone on the same faces (boxes given), for the speed ratio
"$OUT/dlib_landmarks" box "$OUT/youtube-val.list" > /dev/null 2> "$OUT/speed.dlib.err"
echo "== speed (dlib shape predictor alone, 1 thread): $(cat "$OUT/speed.dlib.err")"
