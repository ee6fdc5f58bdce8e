#!/usr/bin/env bash
# facemark vs PyTorch on the seed-001 net: a training step (Adam, MSE, batch 16, 224×224×1)
# and one-face inference, measured back to back on this machine, printed as ratios.
#
#   bash bench/torch/run.sh [THREADS=2] [REPS=5]
#
# Installs `torch` (plain PyPI wheel) into a venv under target/ on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS="${1:-2}"
REPS="${2:-5}"
VENV="${TORCH_VENV:-target/bench-torch-venv}"
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch numpy
fi
echo "== PyTorch ($THREADS threads)" >&2
TORCH_JSON=$("$VENV/bin/python" bench/torch/seed001_bench.py "$THREADS" "$REPS")
echo "$TORCH_JSON"
echo "== facemark ($THREADS threads)" >&2
FM_OUT=$(RAYON_NUM_THREADS="$THREADS" cargo bench -q -p facemark-model --bench speed -- seed001 2>/dev/null)
echo "$FM_OUT" | grep -v '^JSON'
FM_JSON=$(echo "$FM_OUT" | grep '^JSON' | head -1 | sed 's/^JSON //')
python3 - "$TORCH_JSON" "$FM_JSON" "$THREADS" <<'PY'
import json, sys
t, f, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"seed001 training step, batch 16, {n} threads: facemark {f['step_ms']:.1f} ms, "
      f"PyTorch {t['torch']} {t['step_ms']:.1f} ms -> facemark/PyTorch = {f['step_ms'] / t['step_ms']:.2f}")
for k in ("infer_ms_1t", f"infer_ms_{n}t"):
    if k in f and k in t:
        best = t.get("infer_best_" + k[9:], "eager")
        print(f"seed001 one-face inference ({k[9:]}): facemark {f[k]:.2f} ms, PyTorch {t[k]:.2f} ms ({best}) "
              f"-> facemark/PyTorch = {f[k] / t[k]:.2f}")
PY
