#!/usr/bin/env bash
# Jitter and speed of `facemark filter` on the shared test clip.
#
#   bench/video/run.sh [MODEL.safetensors]      (default: the model embedded in the binary)
#
# Runs the whole pipeline (FFmpeg decode → track → smooth → draw → FFmpeg encode) with the
# sunglasses effect, with tracking (re-detect every 10 frames) and without (detector on every
# frame), and prints a Markdown table: normalised mean flicker (mean frame-to-frame point
# movement / eye distance) and jerk (second difference / eye distance), raw and smoothed, from
# the same run (tracking uses raw points, so the raw figures are those of `--smooth off`), and
# the frames per second of the whole pipeline.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIP=${CLIP:-../shared/data/video/short_hamilton_clip.mp4}
[ -f "$CLIP" ] || { echo "skipping: $CLIP not found" >&2; exit 0; }
command -v ffmpeg >/dev/null || { echo "ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }
MODEL_ARGS=()
[ $# -ge 1 ] && MODEL_ARGS=(--model "$1")
cargo build --release -q -p facemark-cli
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run() { # name, extra args…
  local name=$1; shift
  ./target/release/facemark filter "${MODEL_ARGS[@]}" -e sunglasses "$CLIP" "$OUT/$name.mp4" \
    --stats-json "$OUT/$name.json" "$@" 2>/dev/null
}
run track --redetect 10
run detect_every_frame --redetect 1
python3 - "$OUT" <<'PY'
import json, sys, os
d = sys.argv[1]
print("| run | frames | detector runs | flicker raw | flicker smoothed | jerk raw | jerk smoothed | lag | frames/s |")
print("|---|---|---|---|---|---|---|---|---|")
for name, label in [("track", "tracking, re-detect every 10"), ("detect_every_frame", "detector every frame")]:
    j = json.load(open(os.path.join(d, name + ".json")))
    f = j["flicker"]
    print(f"| {label} | {j['frames']} | {j['detector_runs']} | {f['flicker_raw']:.4f} | {f['flicker_smoothed']:.4f} "
          f"({f['flicker_raw']/f['flicker_smoothed']:.2f}× less) | {f['jerk_raw']:.4f} | {f['jerk_smoothed']:.4f} "
          f"({f['jerk_raw']/f['jerk_smoothed']:.2f}× less) | {f['lag']:.4f} | {j['fps']:.1f} |")
PY
