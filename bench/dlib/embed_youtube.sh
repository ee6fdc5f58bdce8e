#!/usr/bin/env bash
# Face verification on YouTube-Faces with `facemark embed` (dlib's face-recognition ResNet in
# facemark's engine, faces found and aligned by facemark's detector and 68-point model):
# every pair of frames, same person (identity = file name without `_NN.jpg`) when the
# descriptors' distance is below 0.6.
#
#   bash bench/dlib/embed_youtube.sh [test|training]     # default: test (770 frames)
#
# Frames where no face is found are counted and left out; with several faces, the largest.
# The model: bench/dlib/recog_model.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
SPLIT=${1:-test}
T=${CARGO_TARGET_DIR:-target}
OUT=$T/bench-dlib/embed-youtube
mkdir -p "$OUT"
. bench/dlib/recog_model.sh
cargo build --release -q -p facemark-cli
"$T/release/facemark" embed --recognition-model "$MODEL" "$DATA/youtube-faces-68/$SPLIT"/*.jpg -o "$OUT/$SPLIT.json"
python3 - "$OUT/$SPLIT.json" <<'PY'
import json, math, os, re, sys
photos = json.load(open(sys.argv[1]))
desc, missing = [], 0
for p in photos:
    if not p["faces"]:
        missing += 1
        continue
    f = max(p["faces"], key=lambda f: f["box"][2] * f["box"][3])
    ident = re.sub(r"_\d+\.jpg$", "", os.path.basename(p["photo"]))
    desc.append((ident, f["descriptor"]))
def dist(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
same = [0, 0]; diff = [0, 0]
for i in range(len(desc)):
    for j in range(i + 1, len(desc)):
        d = dist(desc[i][1], desc[j][1])
        if desc[i][0] == desc[j][0]:
            same[0] += 1; same[1] += d < 0.6
        else:
            diff[0] += 1; diff[1] += d >= 0.6
ids = len({i for i, _ in desc})
tpr, tnr = same[1] / same[0], diff[1] / diff[0]
print(f"{len(photos)} frames, {missing} without a face found; {len(desc)} frames of {ids} people")
print(f"same-person pairs: {same[0]}, called same at 0.6: {100*tpr:.2f} %")
print(f"different-people pairs: {diff[0]}, called different at 0.6: {100*tnr:.2f} %")
print(f"verification accuracy at 0.6 (mean of the two): {50*(tpr+tnr):.2f} %; over all pairs: {100*(same[1]+diff[1])/(same[0]+diff[0]):.2f} %")
PY
