#!/usr/bin/env bash
# Peer comparison: facemark's pure-Rust cascade vs OpenCV's CascadeClassifier (opencv-python-headless<5),
# same cascade (haarcascade_frontalface_default.xml), same parameters, same gray pixels.
# Also recall of the annotated faces in 300-W HELEN train for Haar and SeetaFace.
#
#   bench/cascade/compare.sh [--threads 1,2] [--helen-limit N] [--repeat 3]
#
# Needs: python3, network access to PyPI the first time (venv in .cache/cascade-venv),
# Debian opencv-data, ../shared/data.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
venv="${CASCADE_VENV:-$root/.cache/cascade-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import cv2" 2>/dev/null || "$venv/bin/pip" install -q "opencv-python-headless<5"
cargo build --release -q -p facemark-detect --example cascade_bench
exec "$venv/bin/python" "$root/bench/cascade/compare.py" --bench "$root/target/release/examples/cascade_bench" "$@"
