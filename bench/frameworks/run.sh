#!/usr/bin/env bash
# candle 0.11 (CPU) and burn 0.22 (`flex`, pure-Rust CPU) vs facemark on the seed-001 net:
# training step (Adam, MSE, batch 16, 224×224×1) and one-face inference, all three back to
# back in one run, as ratios (absolute times on a shared machine move 2–3× between runs).
#
#   bash bench/frameworks/run.sh [THREADS=2] [REPS=3]
#   BURN_FEATURES=avx512 bash bench/frameworks/run.sh   # burn with flex's AVX-512 matmul kernels
#   PEER_RUSTFLAGS= bash bench/frameworks/run.sh        # peers built for generic x86-64
#
# bench/frameworks/ (candle) and bench/frameworks/burn/ (burn) are two standalone crates, each
# with its own lock file and target/, neither a member of the facemark workspace.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS="${1:-2}"
REPS="${2:-3}"
# Each peer built for this CPU, as candle's own repository builds it (its .cargo/config.toml sets
# `-C target-cpu=native`); MKL (candle's `mkl` feature) is left out: intel-mkl-src fetches MKL
# from outside the package registries at build time. facemark picks its AVX2/AVX-512 kernels at
# run time, so it needs no such flag.
PEER_RUSTFLAGS="${PEER_RUSTFLAGS--C target-cpu=native}"
(cd bench/frameworks && RUSTFLAGS="$PEER_RUSTFLAGS" cargo build -q --release)
(cd bench/frameworks/burn && RUSTFLAGS="$PEER_RUSTFLAGS" cargo build -q --release ${BURN_FEATURES:+--features "$BURN_FEATURES"})
echo "== candle ($THREADS threads)" >&2
C_JSON=$(RAYON_NUM_THREADS="$THREADS" bench/frameworks/target/release/facemark-bench-frameworks "$REPS")
echo "$C_JSON"
echo "== burn ($THREADS threads)" >&2
B_JSON=$(RAYON_NUM_THREADS="$THREADS" bench/frameworks/burn/target/release/facemark-bench-burn "$REPS")
echo "$B_JSON"
echo "== facemark ($THREADS threads)" >&2
FM_JSON=$(RAYON_NUM_THREADS="$THREADS" cargo bench -q -p facemark-model --bench speed -- seed001 2>/dev/null | grep '^JSON' | head -1 | sed 's/^JSON //')
echo "$FM_JSON"
python3 - "$C_JSON" "$B_JSON" "$FM_JSON" "$THREADS" <<'PY'
import json, sys
c, b, f = (json.loads(a) for a in sys.argv[1:4])
n = sys.argv[4]
k = f"infer_ms_{n}t"
for name, o in (("candle", c), ("burn", b)):
    print(f"seed001 training step, batch 16, {n} threads: facemark {f['step_ms']:.0f} ms, {name} {o['step_ms']:.0f} ms "
          f"-> facemark/{name} = {f['step_ms'] / o['step_ms']:.2f}")
    print(f"seed001 one-face inference ({n} threads): facemark {f[k]:.2f} ms, {name} {o['infer_ms']:.2f} ms "
          f"-> facemark/{name} = {f[k] / o['infer_ms']:.2f}")
print(f"burn/candle: training step {b['step_ms'] / c['step_ms']:.2f}, inference {b['infer_ms'] / c['infer_ms']:.2f}")
PY
