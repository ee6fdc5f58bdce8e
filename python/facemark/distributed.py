"""Batch landmarking of many photos and videos on a Dask cluster, one output file per task.

>>> from dask.distributed import Client, LocalCluster
>>> import facemark.distributed as fd
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
>>> summary = fd.landmark(["photos/", "clips/a.mp4"], "out/", client=client)

Photos are cut into chunks of ``chunk`` files (in sorted order); each chunk is one task that
writes ``out/photos-NNNNN.jsonl``, one JSON object per photo: ``{"image", "width",
"height", "scheme", "faces": [{"box", "score", "landmark_box", "points"}]}`` (or
``{"image", "error"}`` for a photo that could not be read). Each video is one task writing
``out/STEM.landmarks.jsonl``, one line per frame (``facemark detect VIDEO``'s format: faces
tracked from frame to frame). Files are written atomically (a temporary file renamed), so a
task that is retried or killed leaves no half-written output.

Without ``client`` the same tasks run one after another in this process: the reference the
cluster's results must equal (``tests/test_distributed.py`` checks it).

Each worker process builds one :class:`facemark.Detector` per set of arguments and keeps it
for the tasks that follow. Its ``threads`` default to the worker's own thread count, so a
machine runs ``n_workers × threads_per_worker`` compute threads: give each machine as many as
it has cores. docs/python.md ("Scaling out") has the measurements behind the defaults.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any, Iterable, Optional, Sequence, Union

import facemark

PathLike = Union[str, "os.PathLike[str]"]

#: Extensions handled as videos (as the CLI's ``is_video_path``); everything else is a photo.
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv"}
#: Extensions of photos found in folders (facemark's decoders).
PHOTO_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm", ".gif"}

_DETECTORS: dict = {}


def collect(inputs: Iterable[PathLike]) -> tuple[list[str], list[str]]:
    """``(photos, videos)``: folders expanded to their photo and video files (sorted, not
    recursive), files kept as given. Raises ``FacemarkIOError`` for a path that does not
    exist."""
    photos: list[str] = []
    videos: list[str] = []
    for item in inputs:
        p = pathlib.Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file())
        elif p.exists():
            files = [p]
        else:
            raise facemark.FacemarkIOError(f"{p}: no such file or folder")
        for f in files:
            ext = f.suffix.lower()
            if ext in VIDEO_EXTENSIONS:
                videos.append(str(f))
            elif ext in PHOTO_EXTENSIONS or not p.is_dir():
                photos.append(str(f))
    return photos, videos


def _detector(kwargs: dict) -> facemark.Detector:
    """This process's Detector for ``kwargs`` (built once, then reused by later tasks).
    ``threads`` defaults to the Dask worker's thread count (None outside a worker: all
    cores)."""
    kwargs = dict(kwargs)
    if kwargs.get("threads") is None:
        kwargs["threads"] = _worker_threads()
    key = json.dumps(kwargs, sort_keys=True, default=str)
    det = _DETECTORS.get(key)
    if det is None:
        det = _DETECTORS[key] = facemark.Detector(**kwargs)
    return det


def _worker_threads() -> Optional[int]:
    try:
        from dask.distributed import get_worker  # type: ignore[import-not-found]

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return None


def _write_atomic(path: pathlib.Path, lines: Iterable[str]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line)
                f.write("\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def photo_chunk(files: Sequence[str], out: PathLike, detector: Optional[dict] = None) -> dict:
    """One task: landmarks of the photos ``files`` written as JSON lines to ``out``.
    Returns ``{"output", "photos", "faces", "errors", "seconds"}``."""
    start = time.perf_counter()
    det = _detector(detector or {})
    images: list = []
    errors: dict[int, str] = {}
    for i, f in enumerate(files):
        try:
            images.append(facemark.read_image(f))
        except facemark.FacemarkError as e:
            errors[i] = str(e)
            images.append(None)
    found = iter(det.detect_batch([im for im in images if im is not None]))
    rows = []
    n_faces = 0
    for i, (f, im) in enumerate(zip(files, images)):
        if im is None:
            rows.append(json.dumps({"image": f, "error": errors[i]}))
            continue
        faces = next(found)
        n_faces += len(faces)
        rows.append(
            json.dumps(
                {
                    "image": f,
                    "width": int(im.shape[1]),
                    "height": int(im.shape[0]),
                    "scheme": det.scheme,
                    "faces": [face.to_dict() for face in faces],
                }
            )
        )
    path = pathlib.Path(out)
    _write_atomic(path, rows)
    return {
        "output": str(path),
        "photos": len(files),
        "faces": n_faces,
        "errors": len(errors),
        "seconds": time.perf_counter() - start,
    }


def video_task(video: str, out: PathLike, detector: Optional[dict] = None) -> dict:
    """One task: per-frame landmarks of ``video`` written as JSON lines to ``out`` (needs
    ``ffmpeg``). Returns ``{"output", "frames", "seconds"}``."""
    start = time.perf_counter()
    frames = _detector(detector or {}).video_landmarks(video, out=out)
    return {"output": str(out), "frames": frames, "seconds": time.perf_counter() - start}


def plan(
    inputs: Iterable[PathLike], out_dir: PathLike, chunk: int = 64
) -> list[tuple[str, tuple]]:
    """The tasks of a job, in order: ``("photos", (files, output))`` per chunk of photos and
    ``("video", (video, output))`` per video. Raises ``FacemarkError`` when two videos
    would write the same output."""
    if chunk < 1:
        raise facemark.FacemarkError(f"chunk must be at least 1, got {chunk}")
    photos, videos = collect(inputs)
    out = pathlib.Path(out_dir)
    tasks: list[tuple[str, tuple]] = []
    for k in range(0, len(photos), chunk):
        tasks.append(("photos", (photos[k : k + chunk], str(out / f"photos-{k // chunk:05d}.jsonl"))))
    seen: dict[str, str] = {}
    for v in videos:
        name = f"{pathlib.Path(v).stem}.landmarks.jsonl"
        if name in seen:
            raise facemark.FacemarkError(f"{v} and {seen[name]} would both write {name}: rename one")
        seen[name] = v
        tasks.append(("video", (v, str(out / name))))
    return tasks


def landmark(
    inputs: Iterable[PathLike],
    out_dir: PathLike,
    client: Any = None,
    chunk: int = 64,
    detector: Optional[dict] = None,
) -> list[dict]:
    """Landmarks of every photo and video in ``inputs`` (files or folders), written as JSON
    lines under ``out_dir`` (created). ``client``: a ``dask.distributed.Client`` to run the
    tasks on its workers; ``None`` runs them here, one after another. ``chunk``: photos per
    task. ``detector``: keyword arguments of :class:`facemark.Detector` (model files must be
    readable by every worker). Returns one summary dict per task, in task order; the first
    failed task raises (photos that cannot be read do not fail their task: they get an
    ``error`` line)."""
    tasks = plan(inputs, out_dir, chunk)
    os.makedirs(out_dir, exist_ok=True)
    kwargs = dict(detector or {})
    if client is None:
        return [run_task(kind, args, kwargs) for kind, args in tasks]
    # videos first: they are the long tasks, so the photo chunks fill in around them
    order = sorted(range(len(tasks)), key=lambda i: tasks[i][0] != "video")
    futures = {i: client.submit(run_task, *tasks[i], kwargs, pure=False) for i in order}
    return [futures[i].result() for i in range(len(tasks))]


def run_task(kind: str, args: tuple, detector: Optional[dict] = None) -> dict:
    """Run one task of :func:`plan` (``kind`` "photos" or "video") here: what each worker
    does, for engines other than Dask (``ray.remote(run_task)``)."""
    if kind == "photos":
        files, out = args
        return photo_chunk(files, out, detector)
    if kind == "video":
        video, out = args
        return video_task(video, out, detector)
    raise facemark.FacemarkError(f"unknown task kind {kind!r}: expected 'photos' or 'video'")
