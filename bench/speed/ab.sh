#!/usr/bin/env bash
# Two builds of `layer_times` (crates/model/examples/layer_times.rs) on one model, alternated
# round by round on this shared machine, and the median of each line over the rounds:
#
#   bash bench/speed/ab.sh OLD_LAYER_TIMES NEW_LAYER_TIMES [MODEL] [ROUNDS] [-- LAYER_TIMES ARGS]
#
# e.g. OLD = a copy of target/release/examples/layer_times built from main, NEW = this tree's
# (`cargo build --release -p facemark-model --example layer_times`); default model
# models/default.safetensors, 5 rounds, `3000 --int8`. Each round runs OLD then NEW; the
# medians over rounds of every per-layer line and of `forward`, `pip head` and `predict` are
# printed side by side (µs, one face, one thread).
set -euo pipefail
OLD=$1; NEW=$2; MODEL=${3:-models/default.safetensors}; ROUNDS=${4:-5}
shift $(( $# < 4 ? $# : 4 ))
[ "${1:-}" = "--" ] && shift
ARGS=("$@"); [ ${#ARGS[@]} -gt 0 ] || ARGS=(3000 --int8)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
for r in $(seq "$ROUNDS"); do
  "$OLD" "$MODEL" "${ARGS[@]}" > "$TMP/old.$r"
  "$NEW" "$MODEL" "${ARGS[@]}" > "$TMP/new.$r"
done
python3 - "$TMP" "$ROUNDS" <<'PY'
import sys, statistics, re
tmp, rounds = sys.argv[1], int(sys.argv[2])
def read(which):
    runs = []
    for r in range(1, rounds + 1):
        d = {}
        for line in open(f"{tmp}/{which}.{r}"):
            m = re.match(r"\s*(.+?)\s+([0-9.]+) µs", line)
            if m:
                d[m.group(1)] = float(m.group(2))
        runs.append(d)
    return runs
old, new = read("old"), read("new")
names = list(dict.fromkeys(list(old[0]) + list(new[0])))
print(f"{'line':>14} {'old µs':>8} {'new µs':>8}   (medians of {rounds} alternating rounds; per round old, new)")
for n in names:
    med = lambda runs: statistics.median(r[n] for r in runs) if all(n in r for r in runs) else float("nan")
    vals = lambda runs: " ".join(f"{r.get(n, float('nan')):.0f}" for r in runs)
    print(f"{n:>14} {med(old):8.1f} {med(new):8.1f}   old {vals(old)} | new {vals(new)}")
PY
