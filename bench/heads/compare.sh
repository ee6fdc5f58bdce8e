#!/usr/bin/env bash
# Landmark heads (dense regression, PIP, integral) compared on the same faces: validation NME
# (all, YouTube person-disjoint, photos), NME on the training faces (underfitting?), failure
# rate @0.08, per-region NME, NME with detector-like box errors (--box-shift 0.1), and model
# time per face (network + read-out as `facemark` runs it; one thread, int8 and f32).
#
#   bash bench/heads/compare.sh CONFIG.toml NAME=MODEL.safetensors [NAME=MODEL …]
#
# CONFIG gives the data list, seed and validation fraction of the training runs, so `--split
# val` is the faces none of the models trained on (they must share that split) and `--split
# train` their training faces (scored once each, no augmentation, ground-truth box).
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=$1; shift
OUT=target/bench-heads
mkdir -p "$OUT"
if [ -z "${NO_BUILD:-}" ]; then  # NO_BUILD=1: use the binaries already in target/release
  cargo build --release -q -p facemark-cli
  cargo build --release -q -p facemark-model --example layer_times
fi
FM=${FM:-target/release/facemark}   # FM=PATH: another build of the CLI
mapfile -t CFG < <(python3 - "$CONFIG" <<'PY'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
print(c.get("seed", 1)); print(c.get("val_fraction", 0.15)); print(",".join(c["data"]))
PY
)
SPLIT=(--data "${CFG[2]}" --seed "${CFG[0]}" --val-fraction "${CFG[1]}" --threads 1 --quiet)
for spec in "$@"; do
  name=${spec%%=*}; model=${spec#*=}
  $FM eval --model "$model" "${SPLIT[@]}" --split val --report "$OUT/$name.val.json" > /dev/null
  $FM eval --model "$model" "${SPLIT[@]}" --split val --box-shift 0.1 --report "$OUT/$name.shift.json" > /dev/null
  $FM eval --model "$model" "${SPLIT[@]}" --split train --report "$OUT/$name.train.json" > /dev/null
  for p in int8 f32; do
    flag=""; [ $p = int8 ] && flag=--int8
    "${LAYER_TIMES:-target/release/examples/layer_times}" "$model" 2000 $flag | awk '/median of predict_batch/ {print $2}' > "$OUT/$name.$p.us"
  done
done
python3 - "$OUT" "$@" <<'PY'
import json, re, sys
out, specs = sys.argv[1], sys.argv[2:]
photo = re.compile(r"^(\d+_\d+|image_\d+(_\d+)?)\.(jpg|png)$")
def nme(faces, keep=lambda f: True):
    v = [f["nme_outer"] for f in faces if keep(f) and f["nme_outer"] is not None]
    return 100 * sum(v) / len(v), len(v)
print("| head | val NME | YouTube val | photo val | training faces | failure@0.08 | box shift 0.1 | jaw | brows | nose | eyes | mouth | int8 µs | f32 µs |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for spec in specs:
    name = spec.split("=")[0]
    val = json.load(open(f"{out}/{name}.val.json"))
    tr = json.load(open(f"{out}/{name}.train.json"))
    sh = json.load(open(f"{out}/{name}.shift.json"))
    fail = next(t for t in val["thresholds"] if abs(t["threshold"] - 0.08) < 1e-6)["failure_rate"]
    yt, nyt = nme(val["faces"], lambda f: not photo.match(f["name"]))
    ph, nph = nme(val["faces"], lambda f: bool(photo.match(f["name"])))
    reg = {r["region"]: r["nme"] for r in val["regions"]}
    us = [open(f"{out}/{name}.{p}.us").read().strip() for p in ("int8", "f32")]
    print(f"| {name} | {100*val['nme_outer']['mean']:.2f} % ({val['n_faces']}) | {yt:.2f} % ({nyt}) | {ph:.2f} % ({nph}) "
          f"| {100*tr['nme_outer']['mean']:.2f} % ({tr['n_faces']}) | {100*fail:.1f} % | {100*sh['nme_outer']['mean']:.2f} % "
          + " ".join(f"| {100*reg.get(k, float('nan')):.2f}" for k in ("jaw", "brows", "nose", "eyes", "mouth"))
          + f" | {us[0]} | {us[1]} |")
PY
