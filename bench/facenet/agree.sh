#!/usr/bin/env bash
# FaceNet (InceptionResNetV1) in facemark's engine against facenet-pytorch's own forward pass,
# on the same seeded random weights (the real weights cannot be downloaded here) and the same
# 160 × 160 face crops from the 300-W HELEN photos.
#
#   bash bench/facenet/agree.sh [N_FACES=12]
#
# Installs torch and facenet-pytorch (no deps: its pins predate current torch; only its model
# file is used) and h5py into a venv under target/ on first use. Writes target/facenet-agree/:
# the state dict in both torch.save containers (zip and legacy), the same weights as a Keras
# .h5 in keras-facenet's layout (batch-norm gamma 1 on the torch side, chips prewhitened:
# see agree.py), the chips, both sides' embeddings.
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-12}"
DATA="${FACEMARK_DATA:-../shared/data}"
[ -d "$DATA/300w-helen-train" ] || DATA=/work/shared/data
VENV="${FACENET_VENV:-target/bench-facenet-venv}"
OUT=target/facenet-agree
if ! "$VENV/bin/python" -c "import torch, tqdm, requests, PIL, h5py, importlib.util as u; assert u.find_spec('facenet_pytorch')" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch numpy pillow requests tqdm h5py
  "$VENV/bin/pip" install -q --no-deps facenet-pytorch
fi
rm -rf "$OUT" && mkdir -p "$OUT/chips"
"$VENV/bin/python" bench/facenet/agree.py make "$DATA/300w-helen-train" "$N" "$OUT"
cargo build -q --release -p facemark-recog --example embed_chips
for pt in model.pt model_legacy.pt; do
  RAYON_NUM_THREADS="${THREADS:-2}" target/release/examples/embed_chips net "$OUT/$pt" "$OUT"/chips/*.png \
    > "$OUT/facemark_${pt%.pt}.txt"
  "$VENV/bin/python" bench/facenet/agree.py compare "$OUT" "$OUT/facemark_${pt%.pt}.txt"
done
RAYON_NUM_THREADS="${THREADS:-2}" target/release/examples/embed_chips net "$OUT/model.h5" "$OUT"/chips/*.png \
  > "$OUT/facemark_h5.txt"
"$VENV/bin/python" bench/facenet/agree.py compare "$OUT" "$OUT/facemark_h5.txt" torch_h5.txt
