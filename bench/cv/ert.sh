#!/usr/bin/env bash
# 5-fold cross-validation of a shape predictor (ERT) trained by facemark on the default model's
# data (models/default.toml's list: YouTube-Faces training CSV, 300-W HELEN and LFPW, each photo
# set twice; the training default 15 % validation fraction), evaluated on each fold's held-out HELEN and LFPW photos with the ground-truth box.
#
#   bash bench/cv/ert.sh [FOLDS]          # FOLDS defaults to 5; ERT_OPTS overrides the options
#
# Fold K/N: `facemark train --arch ert --fold K/N` (the fold's identities — photos and YouTube
# people — held out of training and of the validation split), then `facemark eval --split test
# --fold K/N` on HELEN and on LFPW alone (folds hash the identity alone, so a data set evaluated
# alone holds the same photos as the fold held out of the combined list). Default options: 10
# levels × 200 trees, oversampling 10 (else dlib's defaults), the smaller ERT of docs/dlib.md.
# Results: runs/cv-ert/fold-K/{helen,lfpw}.json and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-5}
FM=${FM:-target/release/facemark}
D=${FACEMARK_DATA:-../shared/data}
L=$D/youtube-faces-68/training_frames_keypoints.csv,$D/300w-helen-train,$D/300w-helen-train,$D/300w-lfpw-train,$D/300w-lfpw-train
OPTS=${ERT_OPTS:---num-trees-per-cascade-level 200 --oversampling-amount 10}
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p facemark-cli
for K in $(seq 1 "$N"); do
  O=runs/cv-ert/fold-$K
  if [ ! -f "$O/model.dat" ]; then
    # shellcheck disable=SC2086
    $FM train --arch ert --data "$L" --seed 1 --fold "$K/$N" --out "$O" --quiet $OPTS
  fi
  for S in helen lfpw; do
    [ -f "$O/$S.json" ] || $FM eval --model "$O/model.dat" --data "$D/300w-$S-train" --seed 1 --val-fraction 0.15 \
      --split test --fold "$K/$N" --quiet --report "$O/$S.json" > /dev/null
  done
done
python3 - "$N" <<'PY'
import json, sys
n = int(sys.argv[1])
for s in ("helen", "lfpw"):
    per, faces = [], []
    for k in range(1, n + 1):
        r = json.load(open(f"runs/cv-ert/fold-{k}/{s}.json"))
        per.append(100 * r["nme_outer"]["mean"])
        faces += [f["nme_outer"] for f in r["faces"] if f["nme_outer"] is not None]
    fail = 100 * sum(v > 0.08 for v in faces) / len(faces)
    print(f"{s}: per fold " + ", ".join(f"{v:.2f}" for v in per)
          + f" %; pooled {100 * sum(faces) / len(faces):.2f} % over {len(faces)} faces; failure@0.08 {fail:.1f} %")
PY
