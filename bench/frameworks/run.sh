#!/usr/bin/env bash
# candle 0.11 (CPU) vs facemark on the seed-001 net: training step (Adam, MSE, batch 16,
# 224×224×1) and one-face inference, back to back, as ratios. burn is not measured here.
#
#   bash bench/frameworks/run.sh [THREADS=2] [REPS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS="${1:-2}"
REPS="${2:-3}"
(cd bench/frameworks && cargo build -q --release)
echo "== candle ($THREADS threads)" >&2
C_JSON=$(RAYON_NUM_THREADS="$THREADS" bench/frameworks/target/release/facemark-bench-frameworks "$REPS")
echo "$C_JSON"
echo "== facemark ($THREADS threads)" >&2
FM_JSON=$(RAYON_NUM_THREADS="$THREADS" cargo bench -q -p facemark-model --bench speed -- seed001 2>/dev/null | grep '^JSON' | head -1 | sed 's/^JSON //')
echo "$FM_JSON"
python3 - "$C_JSON" "$FM_JSON" "$THREADS" <<'PY'
import json, sys
c, f, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"seed001 training step, batch 16, {n} threads: facemark {f['step_ms']:.0f} ms, candle {c['step_ms']:.0f} ms "
      f"-> facemark/candle = {f['step_ms'] / c['step_ms']:.2f}")
k = f"infer_ms_{n}t"
print(f"seed001 one-face inference ({n} threads): facemark {f[k]:.2f} ms, candle {c['infer_ms']:.2f} ms "
      f"-> facemark/candle = {f[k] / c['infer_ms']:.2f}")
PY
