#!/usr/bin/env bash
# 5-fold cross-validated NME of the default model's recipe on 300-W HELEN train, with dlib on
# the same faces.
#
#   bash bench/cv/helen.sh [FOLDS]        # FOLDS defaults to 5
#   JOBS=2 bash bench/cv/helen.sh         # train 2 folds at a time, 1 thread each (default:
#                                         # one fold per 2 cores; 1 = one fold on all cores)
#
# For each fold K/N: `facemark train --config models/default.toml --fold K/N` (the fold's
# identities — HELEN photos and YouTube people alike — are held out of training *and* of the
# validation split that picks the best epoch), then the fold's HELEN faces are evaluated with
# the ground-truth landmark box (`facemark eval --split test --fold K/N`) and end to end with
# facemark's detector beside dlib's detector + shape predictor (bench/dlib, same faces, same
# NME). Runs resume: a finished fold is skipped, an interrupted one continues from its
# checkpoint; deleting a fold's helen-test.json and vs_dlib.txt re-evaluates it (e.g. in another
# --precision: FACEMARK_PRECISION=f32). Results: runs/cv/fold-K/{helen-test.json,vs_dlib.txt}
# and runs/cv/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}   # for the evaluations; training reads the config's paths
N=${1:-5}
CONFIG=models/default.toml
# The folds and the validation split are hashed with the config's seed: the evaluations must
# use the same seed and fraction, or "held-out" faces would be trained-on ones.
SEED=$(sed -n 's/^seed *= *\([0-9]*\).*/\1/p' "$CONFIG"); SEED=${SEED:-1}
VALF=$(sed -n 's/^val_fraction *= *\([0-9.]*\).*/\1/p' "$CONFIG"); VALF=${VALF:-0.15}
OUT=runs/cv
DL=target/bench-dlib
mkdir -p "$OUT" "$DL"
cargo build --release -q -p facemark-cli
cargo build --release -q -p facemark --example vs_dlib
FM=target/release/facemark
VS=target/release/examples/vs_dlib
HAVE_DLIB=0
if [ -f /usr/share/dlib/shape_predictor_68_face_landmarks.dat ] && pkg-config --exists dlib-1; then
  g++ -O2 -std=c++17 bench/dlib/dlib_landmarks.cpp -o "$DL/dlib_landmarks" $(pkg-config --cflags --libs dlib-1)
  HAVE_DLIB=1
else
  echo "dlib not installed (bash bench/dlib/compare.sh installs it): facemark only" >&2
fi
# Training: JOBS folds at a time. Small nets scale poorly over threads, so on 2+ cores
# concurrent single-threaded folds finish sooner than one fold after another on all cores.
CORES=$(nproc)
JOBS=${JOBS:-$(( CORES >= 2 ? CORES / 2 : 1 ))}
THREADS=$(( CORES / JOBS > 0 ? CORES / JOBS : 1 ))
train_fold() {  # K: trains fold K/N into runs/cv/fold-K (resumes a checkpoint)
  local F="$1/$N" D="$OUT/fold-$1" R=()
  [ -f "$D/trained" ] && return 0
  [ -f "$D/checkpoint.safetensors" ] && R=(--resume)
  echo "== fold $F: training → $D ($THREADS threads)" >&2
  "$FM" train --config "$CONFIG" --fold "$F" --out "$D" --threads "$THREADS" --quiet ${R[@]+"${R[@]}"} 2> "$D.log" \
    || { echo "fold $F failed:" >&2; tail "$D.log" >&2; return 1; }
  touch "$D/trained"
}
PIDS=()
for K in $(seq 1 "$N"); do
  [ -f "$OUT/fold-$K/helen-test.json" ] && continue
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  train_fold "$K" & PIDS+=($!)
done
# every fold finishes (or fails) before the script stops: none is left training on its own
RC=0
for P in ${PIDS[@]+"${PIDS[@]}"}; do wait "$P" || RC=1; done
[ "$RC" = 0 ] || { echo "a fold failed (see runs/cv/fold-*.log)" >&2; exit 1; }
for K in $(seq 1 "$N"); do
  F="$K/$N"; D="$OUT/fold-$K"
  if [ ! -f "$D/helen-test.json" ]; then
    "$FM" eval --model "$D/model.safetensors" --data "$DATA/300w-helen-train" --split test --fold "$F" --seed "$SEED" \
      --report "$D/helen-test.json.tmp" --quiet > "$D/helen-test.txt"
    mv "$D/helen-test.json.tmp" "$D/helen-test.json"
  fi
  SEL=(--data "$DATA/300w-helen-train" --split test --fold "$F" --seed "$SEED" --val-fraction "$VALF")
  if [ "$HAVE_DLIB" = 1 ] && [ ! -f "$D/vs_dlib.txt" ]; then
    # dlib's answers for a fold depend only on its faces (fold, folds, seed): kept between runs
    DC="$DL/helen-fold-$K-of-$N-seed$SEED"
    if [ ! -s "$DC.dlib.csv" ]; then
      $VS "${SEL[@]}" --list-out "$DC.list"
      "$DL/dlib_landmarks" detect "$DC.list" > "$DC.dlib.csv.tmp" 2> /dev/null
      mv "$DC.dlib.csv.tmp" "$DC.dlib.csv"
    fi
    $VS "${SEL[@]}" --model "$D/model.safetensors" --dlib "$DC.dlib.csv" > "$D/vs_dlib.txt.tmp"
    mv "$D/vs_dlib.txt.tmp" "$D/vs_dlib.txt"
  fi
done
python3 - "$OUT" "$N" <<'PY' | tee "$OUT/summary.txt"
import json, re, sys, pathlib
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
faces, rows, fold_means = [], [], []
for k in range(1, n + 1):
    r = json.loads((out / f"fold-{k}/helen-test.json").read_text())
    nme = [f["nme_outer"] for f in r["faces"] if f.get("nme_outer") is not None]
    if not nme:
        print(f"fold {k}/{n}: no scored faces"); continue
    faces += nme
    fold_means.append(sum(nme) / len(nme))
    line = f"fold {k}/{n}: {len(nme):4d} faces, NME {100*sum(nme)/len(nme):.2f} % (ground-truth box)"
    v = out / f"fold-{k}/vs_dlib.txt"
    if v.exists():
        t = v.read_text()
        for who in ["facemark (its detector)", "dlib (its detector)"]:
            m = re.search(re.escape(who) + r"\s+found\s+(\d+)/(\d+).*?NME\s+([\d.]+) % on its faces,\s+([\d.]+) % on the (\d+)", t)
            if m:
                rows.append((who, *map(float, m.groups())))
                line += f"; {who.split()[0]} {m.group(3)} % ({m.group(1)}/{m.group(2)} found)"
    print(line)
print(f"ground-truth box: NME {100*sum(faces)/len(faces):.2f} % pooled over {len(faces)} faces, "
      f"{100*sum(fold_means)/len(fold_means):.2f} % mean of the fold means")
for who in ["facemark (its detector)", "dlib (its detector)"]:
    rs = [r for r in rows if r[0] == who]
    if rs:
        found = sum(r[1] for r in rs); total = sum(r[2] for r in rs)
        nme = sum(r[3] * r[1] for r in rs) / found
        both = sum(r[4] * r[5] for r in rs) / sum(r[5] for r in rs)
        print(f"{who:<24} found {int(found)}/{int(total)} ({100*found/total:.1f} %), NME {nme:.2f} % on its faces, "
              f"{both:.2f} % on the {int(sum(r[5] for r in rs))} both found")
PY
