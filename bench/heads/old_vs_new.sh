#!/usr/bin/env bash
# Two landmark models trained on different data lists, compared on the faces neither trained
# on: the new run's validation split, less the faces the old run trained on (faces of data sets
# the old run never saw all count). Ground-truth box, and with detector-like box errors
# (--box-shift 0.05 … 0.2), per data set, with failure rate @0.08 and |yaw| buckets.
#
#   bash bench/heads/old_vs_new.sh OLD_CONFIG.toml OLD_MODEL NEW_CONFIG.toml NEW_MODEL
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD_CFG=$1; OLD=$2; NEW_CFG=$3; NEW=$4
OUT=target/bench-heads/old-vs-new
mkdir -p "$OUT"
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p facemark-cli
FM=${FM:-target/release/facemark}   # FM=PATH: another build of the CLI
split() { # config → eval arguments of its validation split
  python3 - "$1" <<'PY'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
print("--data", ",".join(c["data"]), "--seed", c.get("seed", 1), "--val-fraction", c.get("val_fraction", 0.15), "--split")
PY
}
# shellcheck disable=SC2046
$FM eval --model "$OLD" $(split "$OLD_CFG") train --threads 1 --quiet --report "$OUT/old-train.json" > /dev/null
for shift in 0 0.05 0.1 0.15 0.2; do
  for m in old new; do
    model=$OLD; [ $m = new ] && model=$NEW
    # shellcheck disable=SC2046
    $FM eval --model "$model" $(split "$NEW_CFG") val --box-shift $shift --threads 1 --quiet --report "$OUT/$m.$shift.json" > /dev/null
  done
done
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
old_train = {f["name"] for f in json.load(open(f"{out}/old-train.json"))["faces"]}
def subset(name):
    if re.match(r"^\d+_\d+\.", name): return "HELEN"
    if re.match(r"^image_\d+\.", name): return "LFPW"
    return "YouTube"
def stats(faces):
    v = [f["nme_outer"] for f in faces if f["nme_outer"] is not None]
    fail = sum(x > 0.08 for x in v) / len(v)
    return f"{100*sum(v)/len(v):.2f} % / {100*fail:.1f} %"
rows = {}
for shift in ["0", "0.05", "0.1", "0.15", "0.2"]:
    for m in ["old", "new"]:
        faces = [f for f in json.load(open(f"{out}/{m}.{shift}.json"))["faces"] if f["name"] not in old_train]
        for s in ["YouTube", "HELEN", "LFPW", "all"]:
            sel = [f for f in faces if s == "all" or subset(f["name"]) == s]
            rows.setdefault((s, len(sel)), {})[(shift, m)] = stats(sel)
print("NME / failure@0.08 on faces neither model trained on (box shift = fraction of the box side)")
print("| faces | model | " + " | ".join(f"shift {s}" for s in ["0", "0.05", "0.1", "0.15", "0.2"]) + " |")
print("|---|---|" + "---|" * 5)
for (s, n), r in rows.items():
    for m in ["old", "new"]:
        print(f"| {s} ({n}) | {m} | " + " | ".join(r[(sh, m)] for sh in ["0", "0.05", "0.1", "0.15", "0.2"]) + " |")
# |yaw| buckets at shift 0
print("\n|yaw| (proxy from the ground-truth points), shift 0: NME / failure@0.08")
edges = [(0, 15), (15, 30), (30, 45), (45, 91)]
for m in ["old", "new"]:
    faces = [f for f in json.load(open(f"{out}/{m}.0.json"))["faces"] if f["name"] not in old_train and f.get("yaw_deg") is not None]
    cells = []
    for lo, hi in edges:
        sel = [f for f in faces if lo <= abs(f["yaw_deg"]) < hi]
        cells.append(f"{lo}–{hi if hi < 91 else '90'}°: {stats(sel)} ({len(sel)})" if sel else f"{lo}°: none")
    print(f"- {m}: " + "; ".join(cells))
PY
