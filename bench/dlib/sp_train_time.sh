#!/usr/bin/env bash
# Training time of a shape predictor: facemark's trainer (`facemark train --arch ert`) against
# dlib's own `shape_predictor_trainer` (bench/dlib/sp_train_time.cpp, Debian libdlib-dev, built
# -O3 -march=native), on the same imglab XML data set, with the same options and threads, back
# to back in one run; then both models on the same held-out faces (`facemark eval`).
#
#   bash bench/dlib/sp_train_time.sh     # THREADS=2 CASCADE=10 TREES=100 OVERSAMPLING=10
#
# Data: YouTube-Faces training (3 531 frames) written as imglab XML by `facemark data convert`
# (whole-pixel points and boxes, as imglab stores them), trained on all of it by both; evaluated
# on YouTube-Faces test (people seen in training: a check that both learnt, not an honest split).
# Times: each trainer's own figure for fitting the cascade, after its images are loaded.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
THREADS=${THREADS:-2}; CASCADE=${CASCADE:-10}; TREES=${TREES:-100}; OVER=${OVERSAMPLING:-10}
OUT=target/bench-sp-train-time
mkdir -p "$OUT"
. bench/dlib/debs.sh
need_debs libdlib-dev libblas-dev liblapack-dev pkg-config g++
g++ -O3 -march=native -std=c++17 bench/dlib/sp_train_time.cpp -o "$OUT/sp_train_time" $(pkg-config --cflags --libs dlib-1)
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p facemark-cli
FM=${FM:-target/release/facemark}
"$FM" data convert "$DATA/youtube-faces-68/training_frames_keypoints.csv" "$OUT/train.xml" > /dev/null
echo "options: $CASCADE levels × $TREES trees, oversampling $OVER, $THREADS threads (dlib's other defaults)"
"$OUT/sp_train_time" "$OUT/train.xml" "$OUT/dlib.dat" "$THREADS" "$CASCADE" "$TREES" "$OVER" | tee "$OUT/dlib.txt"
# facemark on all the faces too (no validation split), the same options
cat > "$OUT/facemark.toml" <<TOML
data = ["$OUT/train.xml"]
out = "$OUT/facemark"
arch = "ert"
val_fraction = 0.0
seed = 1
threads = $THREADS

[ert]
cascade_depth = $CASCADE
num_trees_per_cascade_level = $TREES
oversampling_amount = $OVER
TOML
"$FM" train --config "$OUT/facemark.toml" --quiet | tee "$OUT/facemark.txt"
for m in "$OUT/dlib.dat" "$OUT/facemark/model.dat"; do
  echo "== $m on YouTube-Faces test (ground-truth box)"
  "$FM" eval --model "$m" --data "$DATA/youtube-faces-68/test_frames_keypoints.csv" --quiet | grep -E "^NME outer|^AUC@0.08"
done
python3 - "$OUT" <<'PY'
import re, sys
out = sys.argv[1]
d = float(re.search(r"dlib_train_seconds (\S+)", open(f"{out}/dlib.txt").read()).group(1))
f = float(re.search(r"; ([0-9.]+) s of training", open(f"{out}/facemark.txt").read()).group(1))
print(f"training time: facemark {f:.1f} s, dlib {d:.1f} s: facemark {d / f:.2f}x faster")
PY
