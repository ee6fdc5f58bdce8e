#!/usr/bin/env bash
# Face verification on YouTube-Faces: every pair of frames, same person (identity = file name
# without `_NN.jpg`) when the descriptors' distance is below dlib's 0.6. Three ways to the
# descriptors, all through dlib's face-recognition ResNet:
#   facemark       `facemark embed`: facemark's detector and 68 points align the faces,
#                  the network runs in facemark's engine;
#   ground truth   the data set's 68 points align the faces (facemark's chips and engine);
#   dlib           dlib end to end, as dnn_face_recognition_ex.cpp: HOG detector on the frame
#                  upsampled once, the 5-point shape predictor, dlib's network.
#
#   bash bench/dlib/embed_youtube.sh [test|training]     # default: test (770 frames)
#
# Frames where no face is found are counted and left out of that row; with several faces, the
# largest. Then both again on the frames dlib's detector finds (its misses are the harder
# frames). Set-up: bench/dlib/recog_setup.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
SPLIT=${1:-test}
T=${CARGO_TARGET_DIR:-target}
OUT=$T/bench-dlib/embed-youtube
rm -rf "$OUT"; mkdir -p "$OUT/chips"
. bench/dlib/recog_setup.sh
cargo build --release -q -p facemark-cli
YT=$DATA/youtube-faces-68
"$T/release/facemark" embed --recognition-model "$MODEL" "$YT/$SPLIT"/*.jpg -o "$OUT/facemark.json"
python3 - "$YT" "$SPLIT" > "$OUT/points.txt" <<'PY'
import csv, os, sys
yt, split = sys.argv[1:]
for r in sorted(list(csv.reader(open(os.path.join(yt, f"{split}_frames_keypoints.csv"))))[1:]):
    print(os.path.join(yt, split, r[0]), *r[1:137])
PY
$FM cut "$OUT/points.txt" "$OUT/chips"
$FM net "$MODEL" "$OUT"/chips/*.png > "$OUT/truth.txt" 2> /dev/null
"$BIN" detect "$MODEL" "$SP5" "$YT/$SPLIT"/*.jpg > "$OUT/dlib.txt"
python3 - "$OUT" <<'PY'
import json, math, os, re, sys
out = sys.argv[1]
def ident(path):
    return re.sub(r"_\d+\.jpg$", "", os.path.basename(path))
def score(name, frames, desc):
    missing = frames - len(desc)
    same, diff = [0, 0], [0, 0]
    for i in range(len(desc)):
        for j in range(i + 1, len(desc)):
            d = math.sqrt(sum((x - y) ** 2 for x, y in zip(desc[i][1], desc[j][1])))
            if desc[i][0] == desc[j][0]:
                same[0] += 1; same[1] += d < 0.6
            else:
                diff[0] += 1; diff[1] += d >= 0.6
    tpr, tnr = same[1] / same[0], diff[1] / diff[0]
    print(f"| {name} | {frames} | {missing} | {same[0]} | {100*tpr:.2f} % | {diff[0]} | {100*tnr:.2f} % | {50*(tpr+tnr):.2f} % |")
photos = json.load(open(os.path.join(out, "facemark.json")))
fm = [(ident(p["photo"]), max(p["faces"], key=lambda f: f["box"][2] * f["box"][3])["descriptor"], os.path.basename(p["photo"])) for p in photos if p["faces"]]
names = [l.split()[0] for l in open(os.path.join(out, "points.txt"))]
truth = [(ident(names[k]), [float(v) for v in l.split()[1:]]) for k, l in enumerate(open(os.path.join(out, "truth.txt")))]
dl = [(ident(l.split()[0]), [float(v) for v in l.split()[1:]], os.path.basename(l.split()[0])) for l in open(os.path.join(out, "dlib.txt")) if len(l.split()) > 1]
found = {d[2] for d in dl}
print("| descriptors | frames | no face | same-person pairs | called same | different pairs | called different | verification accuracy (mean) |")
print("|---|---|---|---|---|---|---|---|")
score("facemark (`facemark embed`)", len(photos), fm)
score("ground-truth 68 points, facemark's chips", len(names), truth)
score("dlib end to end (HOG ×2, 5 points)", len(photos), dl)
both = [f for f in fm if f[2] in found]
print(f"\nOn the {len(found)} frames where dlib's detector finds a face ({len(both)} of them with a face found by facemark too):\n")
print("| descriptors | frames | no face | same-person pairs | called same | different pairs | called different | verification accuracy (mean) |")
print("|---|---|---|---|---|---|---|---|")
score("facemark (`facemark embed`)", len(found), both)
score("dlib end to end (HOG ×2, 5 points)", len(found), dl)
PY
