"""Dask or Ray for facemark.distributed: start-up and throughput with 1 and 2 workers.

    python bench/python/scaleout.py [--photos N] [--chunk C] [--engines dask,ray] [--no-video]

Runs facemark.distributed's tasks (chunks of photos, one task per video) on the shared
photos (the first N of ../shared/data/300w-helen-train, 400×400 JPEGs; plus the scenes) and
the shared video, single-process first (the reference), then on each engine with 1 and 2
worker processes of 1 thread each (the Detector gets threads=1), and prints per run: the
engine's start-up (cluster up, every worker ready), the job's wall time, files/s (photos, and
the video as one file), the largest worker's memory (RSS) after the job, and whether every
output file equals the single-process one. Needs `pip install facemark "dask[distributed]"
ray` (`bench/python/compare.sh distributed` makes such a venv).
"""

import argparse
import filecmp
import os
import pathlib
import shutil
import tempfile
import time

import facemark.distributed as fd

DATA = pathlib.Path(os.environ.get("FACEMARK_DATA", pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"))


def inputs(n_photos, video=True):
    helen = sorted((DATA / "300w-helen-train").glob("*.jpg"))[:n_photos]
    scenes = sorted((DATA / "scenes").glob("*.jpg"))
    clip = DATA / "video" / "short_hamilton_clip.mp4"
    return [str(p) for p in helen + scenes] + ([str(clip)] if video and clip.is_file() else [])


def rss_mb():
    """This process's resident memory, MB (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def same_outputs(a, b):
    names = sorted(os.listdir(a))
    return names == sorted(os.listdir(b)) and all(
        filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False) for n in names
    )


def run_dask(files, out, workers, chunk, kw):
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(workers)
    client.run(lambda: __import__("facemark"))  # the workers import facemark once
    up = time.perf_counter() - t0
    t1 = time.perf_counter()
    fd.landmark(files, out, client=client, chunk=chunk, detector=kw)
    job = time.perf_counter() - t1
    mem = max(client.run(rss_mb).values())
    client.close()
    cluster.close()
    return up, job, mem


def run_ray(files, out, workers, chunk, kw):
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR")
    warm = ray.remote(num_cpus=1)(lambda: __import__("facemark") and os.getpid())
    ray.get([warm.remote() for _ in range(workers)])
    up = time.perf_counter() - t0
    task = ray.remote(num_cpus=1)(fd.run_task)
    t1 = time.perf_counter()
    tasks = fd.plan(files, out, chunk)
    os.makedirs(out, exist_ok=True)
    refs = [task.remote(kind, args, kw) for kind, args in tasks]
    ray.get(refs)
    job = time.perf_counter() - t1
    mem = max(ray.get([ray.remote(num_cpus=1)(rss_mb).remote() for _ in range(workers)]))
    ray.shutdown()
    return up, job, mem


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200, help="HELEN photos to add to the scenes")
    ap.add_argument("--chunk", type=int, default=16, help="photos per task")
    ap.add_argument("--engines", default="dask,ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--no-video", action="store_true", help="photos only (photos/s is then the throughput)")
    args = ap.parse_args()
    files = inputs(args.photos, not args.no_video)
    n_photos = sum(1 for f in files if not f.endswith(".mp4"))
    kw = {"threads": 1}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="fm-dist-"))
    try:
        ref = tmp / "single"
        t = time.perf_counter()
        fd.landmark(files, ref, chunk=args.chunk, detector=kw)
        single = time.perf_counter() - t
        print(f"inputs: {n_photos} photos + {len(files) - n_photos} video(s), chunk {args.chunk}, 1 thread per worker")
        print(f"{'engine':8} {'workers':>7} {'start-up s':>10} {'job s':>7} {'files/s':>8} {'speed-up':>8} {'worker MB':>9}  same as single-process")
        print(f"{'single':8} {1:>7} {0:>10.2f} {single:>7.2f} {len(files) / single:>8.1f} {1:>8.2f} {rss_mb():>9.0f}  -")
        for engine in args.engines.split(","):
            for w in map(int, args.workers.split(",")):
                out = tmp / f"{engine}-{w}"
                up, job, mem = {"dask": run_dask, "ray": run_ray}[engine](files, out, w, args.chunk, kw)
                print(
                    f"{engine:8} {w:>7} {up:>10.2f} {job:>7.2f} {len(files) / job:>8.1f} {single / job:>8.2f} {mem:>9.0f}  {same_outputs(ref, out)}"
                )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
