#!/usr/bin/env python3
"""facemark cascade vs OpenCV CascadeClassifier.detectMultiScale, and Haar/SeetaFace recall on 300-W.

Run through compare.sh (it makes the venv and builds the Rust helper). Both sides get the *same*
gray pixels: each photo is decoded and converted by OpenCV (imread + cvtColor BGR2GRAY) and
written as a gray PNG, which the Rust helper reads; so differences come from the detectors only.
"""
import argparse, glob, json, math, os, statistics, subprocess, sys, tempfile, time

import cv2

CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    x0, y0 = max(ax, bx), max(ay, by)
    x1, y1 = min(ax + aw, bx + bw), min(ay + ah, by + bh)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    u = aw * ah + bw * bh - inter
    return inter / u if u > 0 else 0.0


def match(xs, ys, thr=0.5):
    """Greedy one-to-one matching by IoU >= thr: (matched, only_x, only_y, exact)."""
    pairs = sorted(((iou(a, b), i, j) for i, a in enumerate(xs) for j, b in enumerate(ys)), reverse=True)
    ux, uy, m, exact = set(), set(), 0, 0
    for v, i, j in pairs:
        if v < thr or i in ux or j in uy:
            continue
        ux.add(i); uy.add(j); m += 1
        if list(map(int, xs[i])) == list(map(int, ys[j])):
            exact += 1
    return m, len(xs) - m, len(ys) - m, exact


def read_pts(path):
    pts, inside = [], False
    for line in open(path):
        line = line.strip()
        if line == "{":
            inside = True
        elif line == "}":
            break
        elif inside and line:
            x, y = map(float, line.split()[:2])
            pts.append((x, y))
    return pts


def truth_box(pts):
    """Ground-truth face box: the landmark box made square (side = its longer side), same centre."""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    s = max(max(xs) - min(xs), max(ys) - min(ys))
    return (cx - s / 2, cy - s / 2, s, s)


def run_rust(bench, pngs, args, threads, extra, repeat):
    out = {}
    cmd = [bench, "--threads", str(threads), "--repeat", str(repeat),
           "--scale-factor", str(args.scale_factor), "--min-neighbors", str(args.min_neighbors),
           "--min-size", str(args.min_size)] + extra
    # in batches to keep command lines short
    for k in range(0, len(pngs), 200):
        res = subprocess.run(cmd + pngs[k:k + 200], check=True, capture_output=True, text=True)
        for line in res.stdout.splitlines():
            j = json.loads(line)
            out[j["image"]] = j
    return out


def run_cv(cc, gray, args, repeat):
    times, r = [], None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        r = cc.detectMultiScale(gray, args.scale_factor, args.min_neighbors,
                                minSize=(args.min_size, args.min_size))
        times.append((time.perf_counter() - t) * 1000)
    boxes = [list(map(float, b)) for b in (r.tolist() if len(r) else [])]
    return boxes, min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/data"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=5, help="timing runs per scene photo (the minimum is reported)")
    ap.add_argument("--helen-repeat", type=int, default=1, help="timing runs per HELEN photo")
    ap.add_argument("--scale-factor", type=float, default=1.1)
    ap.add_argument("--min-neighbors", type=int, default=5)
    ap.add_argument("--min-size", type=int, default=20)
    ap.add_argument("--helen-limit", type=int, default=0, help="0: all HELEN photos")
    ap.add_argument("--quiet", action="store_true", help="HELEN: print only summaries")
    ap.add_argument("--other-cascades", action="store_true",
                    help="only: agreement on the scenes for other Haar/LBP cascades (min_neighbors 3)")
    args = ap.parse_args()

    data = os.path.abspath(args.data)
    scenes = sorted(glob.glob(os.path.join(data, "scenes", "*.jpg")))
    helen = sorted(glob.glob(os.path.join(data, "300w-helen-train", "*.jpg")))
    if args.helen_limit:
        helen = helen[:args.helen_limit]
    if args.other_cascades:
        helen = []
    if not scenes and not helen:
        sys.exit(f"no photos under {data}")
    tmp = tempfile.mkdtemp(prefix="fm-cascade-")
    grays, pngs = {}, []
    for f in scenes + helen:
        g = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2GRAY)
        sub = "scenes" if f in scenes else "helen"
        p = os.path.join(tmp, sub + "-" + os.path.basename(f)[:-4] + ".png")
        cv2.imwrite(p, g)
        grays[p] = (f, g, sub)
        pngs.append(p)

    if args.other_cascades:
        other_cascades(args, [p for p in pngs if grays[p][2] == "scenes"], grays)
        return

    cc = cv2.CascadeClassifier(CASCADE)
    print(f"OpenCV {cv2.__version__}; cascade {os.path.basename(CASCADE)}; scale_factor {args.scale_factor}, "
          f"min_neighbors {args.min_neighbors}, min_size {args.min_size}; timings: fastest of {args.repeat} runs (scenes), {args.helen_repeat} (HELEN)")
    cv_boxes = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        cv2.setNumThreads(threads)
        scene_pngs = [p for p in pngs if grays[p][2] == "scenes"]
        helen_pngs = [p for p in pngs if grays[p][2] == "helen"]
        rust = run_rust(args.bench, scene_pngs, args, threads, ["--cascade", CASCADE], args.repeat)
        if helen_pngs:
            rust.update(run_rust(args.bench, helen_pngs, args, threads, ["--cascade", CASCADE], args.helen_repeat))
        tot = dict(m=0, fo=0, co=0, ex=0, cv_ms=0.0, fm_ms=0.0, n=0)
        by = {"scenes": dict(tot), "helen": dict(tot)}
        print(f"\n== {threads} thread(s) ==")
        print(f"{'image':<28}{'size':>11}{'OpenCV':>7}{'fm':>4}{'match':>6}{'fm-only':>8}{'cv-only':>8}"
              f"{'cv ms':>9}{'fm ms':>9}{'cv/fm':>7}")
        for p in pngs:
            f, g, sub = grays[p]
            boxes, cv_ms = run_cv(cc, g, args, args.repeat if sub == "scenes" else args.helen_repeat)
            cv_boxes[p] = boxes
            r = rust[p]
            m, fo, co, ex = match(r["boxes"], boxes)
            s = by[sub]
            for k, v in dict(m=m, fo=fo, co=co, ex=ex, cv_ms=cv_ms, fm_ms=r["ms"], n=1).items():
                s[k] += v
            if sub == "scenes" or not args.quiet or fo or co:
                print(f"{os.path.basename(f):<28}{g.shape[1]:>5}x{g.shape[0]:<5}{len(boxes):>7}{len(r['boxes']):>4}"
                      f"{m:>6}{fo:>8}{co:>8}{cv_ms:>9.1f}{r['ms']:>9.1f}{cv_ms / max(r['ms'], 1e-9):>7.2f}")
        for sub, s in by.items():
            if not s["n"]:
                continue
            faces = s["m"] + s["co"]
            print(f"-- {sub}: {s['n']} photos; OpenCV faces {faces}, matched {s['m']} "
                  f"({100.0 * s['m'] / max(faces, 1):.1f} %), exact boxes {s['ex']}, facemark-only {s['fo']}, "
                  f"OpenCV-only {s['co']}; total ms OpenCV {s['cv_ms']:.0f}, facemark {s['fm_ms']:.0f}, "
                  f"ratio {s['cv_ms'] / max(s['fm_ms'], 1e-9):.2f}x")

    # SeetaFace on the scenes (no annotations: counts beside Haar's, for a look at the pictures).
    sp = [p for p in pngs if grays[p][2] == "scenes"]
    if sp:
        seeta_sc = run_rust(args.bench, sp, args, 2, ["--seeta"], args.repeat)
        haar_sc = run_rust(args.bench, sp, args, 2, ["--cascade", CASCADE], args.repeat)
        print("\n== scenes, 2 threads: Haar (facemark) vs SeetaFace ==")
        print(f"{'image':<28}{'haar':>6}{'seeta':>6}{'both':>6}{'haar ms':>9}{'seeta ms':>9}")
        for p in sp:
            a, b = haar_sc[p], seeta_sc[p]
            m, _, _, _ = match(a["boxes"], b["boxes"], 0.3)
            print(f"{os.path.basename(grays[p][0]):<28}{len(a['boxes']):>6}{len(b['boxes']):>6}{m:>6}"
                  f"{a['ms']:>9.1f}{b['ms']:>9.1f}")

    # Recall on HELEN: each photo holds one annotated face.
    hp = [p for p in pngs if grays[p][2] == "helen"]
    if hp:
        seeta = run_rust(args.bench, hp, args, 2, ["--seeta"], args.helen_repeat)
        haar = run_rust(args.bench, hp, args, 2, ["--cascade", CASCADE], args.helen_repeat)
        print(f"\n== recall on {len(hp)} 300-W HELEN train photos (hit: IoU >= 0.4 with the square "
              f"landmark box) ==")
        for name, res in [("haar (facemark)", haar), ("haar (OpenCV)", None), ("seetaface", seeta)]:
            hits, extra, ms, hist = 0, 0, 0.0, [0] * 10
            for p in hp:
                pts = read_pts(grays[p][0][:-4] + ".pts")
                t = truth_box(pts)
                boxes = cv_boxes[p] if res is None else res[p]["boxes"]
                ms += 0 if res is None else res[p]["ms"]
                best = max([iou(b, t) for b in boxes], default=0.0)
                hist[min(int(best * 10), 9)] += 1
                hit = best >= 0.4
                hits += hit
                extra += len(boxes) - (1 if hit else 0)
            timing = f", {ms / len(hp):.1f} ms/photo (2 threads)" if res is not None else ""
            print(f"{name:<18} recall {hits}/{len(hp)} = {100.0 * hits / len(hp):.1f} %, "
                  f"other detections {extra}{timing}")
            print(f"{'':<18} best-IoU histogram [0,.1)…[.9,1]: {hist}")


def other_cascades(args, pngs, grays):
    root = os.path.dirname(os.path.dirname(CASCADE))
    names = ["haarcascades/haarcascade_frontalface_alt.xml", "haarcascades/haarcascade_frontalface_alt2.xml",
             "haarcascades/haarcascade_frontalface_alt_tree.xml", "haarcascades/haarcascade_profileface.xml",
             "haarcascades/haarcascade_eye_tree_eyeglasses.xml", "haarcascades/haarcascade_upperbody.xml",
             "lbpcascades/lbpcascade_frontalface.xml", "lbpcascades/lbpcascade_frontalface_improved.xml"]
    a = argparse.Namespace(**{**vars(args), "min_neighbors": 3})
    print(f"scenes, scale_factor {a.scale_factor}, min_neighbors 3, min_size {a.min_size}")
    print(f"{'cascade':<42}{'OpenCV':>7}{'fm':>5}{'match':>6}{'exact':>6}{'fm-only':>8}{'cv-only':>8}")
    for name in names:
        path = os.path.join(root, name)
        cc = cv2.CascadeClassifier(path)
        rust = run_rust(args.bench, pngs, a, 2, ["--cascade", path], 1)
        tot = [0] * 6
        for p in pngs:
            boxes, _ = run_cv(cc, grays[p][1], a, 1)
            m, fo, co, ex = match(rust[p]["boxes"], boxes)
            for k, v in enumerate([len(boxes), len(rust[p]["boxes"]), m, ex, fo, co]):
                tot[k] += v
        print(f"{os.path.basename(name):<42}" + "".join(f"{v:>{w}}" for v, w in zip(tot, [7, 5, 6, 6, 8, 8])))


if __name__ == "__main__":
    main()
