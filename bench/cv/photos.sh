#!/usr/bin/env bash
# 5-fold cross-validation of the default recipe on the hand-labelled photos (300-W HELEN and
# LFPW train, 1675 photos), the network alone and with its refinement cascade, HELEN and LFPW
# reported apart.
#
#   bash bench/cv/photos.sh [FOLDS]        # FOLDS defaults to 5
#   JOBS=1 bash bench/cv/photos.sh         # one fold at a time on all cores (default: one fold
#                                          # per core, one thread each; a last fold alone gets
#                                          # every core)
#
# For each fold K/N:
#   1. `facemark train --config models/default.toml --fold K/N`: the fold's identities (photos
#      and YouTube people alike; folds hash the identity with the config's seed) are held out of
#      training *and* of the validation split that picks the best epoch;
#   2. `facemark train --config models/refine_cascade.toml --init FOLD_MODEL --fold K/N`: the
#      refinement cascade learnt on the same training faces, starting from that fold's network;
#   3. `facemark model convert FOLD_MODEL --cascade CASCADE --cascade-rank K`: the two in one
#      file, stored as the shipped default is (f16, the cascade's leaves at the default
#      model's leaf rank; CASCADE_RANK=K overrides);
#   4. `facemark eval --split test --fold K/N` on HELEN and on LFPW alone (the fold of a photo
#      depends only on its identity, so a set evaluated alone holds the photos held out of the
#      combined list), with the ground-truth landmark box and with facemark's detector
#      (`--detector default`), the network alone (`--no-cascade`) and with its cascade.
# Runs resume: a finished step is skipped, an interrupted training continues from its
# checkpoint; deleting a fold's JSON files re-evaluates it. FACEMARK_PRECISION=f32 evaluates in
# f32 (default int8). Results: runs/cv/fold-K/*.json and runs/cv/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}   # for the evaluations; training reads the configs' paths
N=${1:-5}
CONFIG=models/default.toml
CASCADE=models/refine_cascade.toml
PREC=${FACEMARK_PRECISION:-int8}
# The folds and the validation split are hashed with the config's seed: the evaluations must
# use the same seed and fraction, or "held-out" faces would be trained-on ones.
SEED=$(sed -n 's/^seed *= *\([0-9]*\).*/\1/p' "$CONFIG"); SEED=${SEED:-1}
VALF=$(sed -n 's/^val_fraction *= *\([0-9.]*\).*/\1/p' "$CONFIG"); VALF=${VALF:-0.15}
OUT=runs/cv
mkdir -p "$OUT"
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p facemark-cli
FM=target/release/facemark
# the leaf rank the shipped default stores its cascade at (`facemark model info`)
RANK=${CASCADE_RANK:-$("$FM" model info models/default.safetensors | sed -n 's/.*leaves stored at rank \([0-9]*\).*/\1/p')}
RANK=${RANK:-0}
# Training: JOBS folds at a time. Small nets scale poorly over threads, so on 2+ cores
# concurrent single-threaded folds finish sooner than one fold after another on all cores
# (2 cores: 158 faces/s per 1-thread fold against 270 for one 2-thread fold).
CORES=$(nproc)
JOBS=${JOBS:-$(( CORES < N ? CORES : N ))}
train_fold() {  # K THREADS: trains fold K/N's network and cascade into runs/cv/fold-K
  local F="$1/$N" D="$OUT/fold-$1" R=()
  if [ ! -f "$D/trained" ]; then
    [ -f "$D/checkpoint.safetensors" ] && R=(--resume)
    echo "== fold $F: training the network → $D ($2 threads)" >&2
    "$FM" train --config "$CONFIG" --fold "$F" --out "$D" --threads "$2" --quiet ${R[@]+"${R[@]}"} 2> "$D.log" \
      || { echo "fold $F failed:" >&2; tail "$D.log" >&2; return 1; }
    touch "$D/trained"
  fi
  if [ ! -f "$D/cascade/model.dat" ]; then
    echo "== fold $F: training the refinement cascade → $D/cascade" >&2
    "$FM" train --config "$CASCADE" --init "$D/model.safetensors" --fold "$F" --out "$D/cascade" \
      --threads "$2" --quiet 2> "$D.cascade.log" \
      || { echo "fold $F cascade failed:" >&2; tail "$D.cascade.log" >&2; return 1; }
  fi
  if [ ! -f "$D/with-cascade.safetensors" ]; then
    "$FM" model convert "$D/model.safetensors" "$D/with-cascade.safetensors" \
      --cascade "$D/cascade/model.dat" --cascade-rank "$RANK" > /dev/null
  fi
}
PIDS=()
for K in $(seq 1 "$N"); do
  [ -f "$OUT/fold-$K/with-cascade.safetensors" ] && continue
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  # the last fold alone (N not a multiple of JOBS) gets every core
  LEFT=$(( N - K + 1 )); T=$(( CORES / JOBS )); [ "$LEFT" -lt "$JOBS" ] && T=$CORES
  train_fold "$K" "$(( T > 0 ? T : 1 ))" & PIDS+=($!)
done
# every fold finishes (or fails) before the script stops: none is left training on its own
RC=0
for P in ${PIDS[@]+"${PIDS[@]}"}; do wait "$P" || RC=1; done
[ "$RC" = 0 ] || { echo "a fold failed (see runs/cv/fold-*.log)" >&2; exit 1; }
for K in $(seq 1 "$N"); do
  D="$OUT/fold-$K"
  for S in helen lfpw; do
    for BOX in gt det; do
      B=(); [ "$BOX" = det ] && B=(--detector default)
      for ARM in net cascade; do
        M="$D/with-cascade.safetensors"; R=(); [ "$ARM" = net ] && R=(--no-cascade)
        J="$D/$S-$BOX-$ARM.json"
        [ -f "$J" ] && continue
        "$FM" eval --model "$M" ${R[@]+"${R[@]}"} ${B[@]+"${B[@]}"} --data "$DATA/300w-$S-train" \
          --split test --fold "$K/$N" --seed "$SEED" --val-fraction "$VALF" --precision "$PREC" \
          --report "$J.tmp" --quiet > /dev/null
        mv "$J.tmp" "$J"
      done
    done
  done
done
python3 - "$OUT" "$N" <<'PY' | tee "$OUT/summary.txt"
import json, sys, pathlib
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def scores(path):
    r = json.loads(path.read_text())
    # faces the detector missed are listed apart, as skipped
    return [f["nme_outer"] for f in r["faces"] if f.get("nme_outer") is not None], len(r["faces"]) + len(r["skipped"])
def cell(nme, total=None):
    if not nme:
        return "–"
    fail = sum(x > 0.08 for x in nme) / len(nme)
    s = f"{100*sum(nme)/len(nme):.2f} % / {100*fail:.1f} %"
    return s + (f" ({len(nme)}/{total} found)" if total is not None and len(nme) < total else "")
print(f"{n}-fold CV of models/default.toml on the photos: NME (outer-eye) / failures @0.08, pooled over the folds")
for box in ["gt", "det"]:
    for arm in ["net", "cascade"]:
        pooled, total, per_fold = {}, {}, []
        for s in ["helen", "lfpw"]:
            pooled[s], total[s] = [], 0
            for k in range(1, n + 1):
                nme, t = scores(out / f"fold-{k}/{s}-{box}-{arm}.json")
                pooled[s] += nme; total[s] += t
        both = pooled["helen"] + pooled["lfpw"]
        label = {"gt": "ground-truth box", "det": "facemark's detector"}[box] + ", " + {"net": "network", "cascade": "network + cascade"}[arm]
        print(f"{label:<44} HELEN {cell(pooled['helen'], total['helen'] if box == 'det' else None)}"
              f"  LFPW {cell(pooled['lfpw'], total['lfpw'] if box == 'det' else None)}"
              f"  both {cell(both, total['helen'] + total['lfpw'] if box == 'det' else None)}")
def pooled(key, name_key, arm):
    # a report's per-region / per-yaw means, pooled over both sets and every fold by face count
    acc = {}
    for s in ["helen", "lfpw"]:
        for k in range(1, n + 1):
            for b in json.loads((out / f"fold-{k}/{s}-gt-{arm}.json").read_text())[key]:
                t = acc.setdefault(b[name_key], [0.0, 0.0, 0])
                t[0] += b["nme"] * b["n"]; t[1] += b.get("failure_rate", 0.0) * b["n"]; t[2] += b["n"]
    return acc
for arm in ["net", "cascade"]:
    r = pooled("regions", "region", arm)
    print(f"ground-truth box, {arm:<8} per region: " + ", ".join(f"{k} {100*v[0]/v[2]:.2f}" for k, v in r.items()))
    y = pooled("yaw", "bucket", arm)
    print(f"ground-truth box, {arm:<8} by |yaw|: " + ", ".join(f"{k}° ({v[2]}) {100*v[0]/v[2]:.2f} / {100*v[1]/v[2]:.1f}" for k, v in y.items()))
for k in range(1, n + 1):
    row = []
    for arm in ["net", "cascade"]:
        nme = scores(out / f"fold-{k}/helen-gt-{arm}.json")[0] + scores(out / f"fold-{k}/lfpw-gt-{arm}.json")[0]
        row.append(f"{arm} {100*sum(nme)/len(nme):.2f} %")
    print(f"fold {k}/{n}: {len(nme)} photos, ground-truth box: " + ", ".join(row))
PY
