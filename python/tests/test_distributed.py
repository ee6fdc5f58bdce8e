"""facemark.distributed: the job's plan and outputs on fixtures the tests make, and a local
Dask cluster of 2 workers giving the same files as the single-process run on the shared
photos and video (skipped with a reason without Dask or the shared data)."""

import filecmp
import json
import os
import shutil

import pytest

import facemark
import facemark.distributed as fd
from conftest import shared_data, textured, write_ppm


def test_plan_chunks_photos_and_gives_each_video_a_task(tmp_path):
    for k in range(5):
        write_ppm(tmp_path / f"p{k}.ppm", textured(seed=k))
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "a.mp4").write_bytes(b"")
    tasks = fd.plan([tmp_path], tmp_path / "out", chunk=2)
    assert [t[0] for t in tasks] == ["photos", "photos", "photos", "video"]
    assert [len(t[1][0]) for t in tasks[:3]] == [2, 2, 1]
    assert tasks[0][1][1].endswith("photos-00000.jsonl")
    assert tasks[3][1] == (str(tmp_path / "a.mp4"), str(tmp_path / "out" / "a.landmarks.jsonl"))
    other = tmp_path / "x"
    other.mkdir()
    (other / "a.mkv").write_bytes(b"")
    with pytest.raises(facemark.FacemarkError, match="would both write a.landmarks.jsonl"):
        fd.plan([tmp_path, other], tmp_path / "out")
    with pytest.raises(facemark.FacemarkIOError, match="nowhere"):
        fd.plan([tmp_path / "nowhere"], tmp_path / "out")
    with pytest.raises(facemark.FacemarkError, match="chunk"):
        fd.plan([tmp_path], tmp_path / "out", chunk=0)


def test_single_process_job_writes_one_line_per_photo_and_errors_as_lines(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for k in range(3):
        write_ppm(src / f"p{k}.ppm", textured(seed=k))
    (src / "broken.png").write_bytes(b"not a png")
    summary = fd.landmark([src], tmp_path / "out", chunk=3)
    assert [s["photos"] for s in summary] == [3, 1]
    assert [s["errors"] for s in summary] == [1, 0]
    rows = [json.loads(line) for line in (tmp_path / "out" / "photos-00000.jsonl").read_text().splitlines()]
    assert [os.path.basename(r["image"]) for r in rows] == ["broken.png", "p0.ppm", "p1.ppm"]
    assert "cannot decode" in rows[0]["error"]
    assert rows[1]["width"] == 200 and rows[1]["height"] == 160 and rows[1]["faces"] == []
    # nothing but the outputs is left behind (no temporary files)
    assert sorted(os.listdir(tmp_path / "out")) == ["photos-00000.jsonl", "photos-00001.jsonl"]


def test_two_dask_workers_give_the_single_process_results(tmp_path):
    pytest.importorskip("dask.distributed", reason="Dask not installed (pip install 'dask[distributed]')")
    from dask.distributed import Client, LocalCluster

    data = shared_data()
    inputs = [data / "scenes"]
    clip = data / "video" / "short_hamilton_clip.mp4"
    if clip.is_file() and shutil.which("ffmpeg") and shutil.which("ffprobe"):
        inputs.append(clip)
    else:
        print(f"note: leaving out the video ({clip} absent or no ffmpeg/ffprobe on PATH)")
    one = fd.landmark(inputs, tmp_path / "single", chunk=3)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            two = fd.landmark(inputs, tmp_path / "dask", chunk=3, client=client)
            # each worker built its Detector with its own thread count
            threads = client.run(lambda: [d.threads for d in fd._DETECTORS.values()])
            assert all(t == 1 for ts in threads.values() for t in ts) and any(threads.values())
    assert [os.path.basename(s["output"]) for s in two] == [os.path.basename(s["output"]) for s in one]
    names = sorted(os.listdir(tmp_path / "single"))
    assert names == sorted(os.listdir(tmp_path / "dask")) and len(names) >= 3
    for n in names:
        assert filecmp.cmp(tmp_path / "single" / n, tmp_path / "dask" / n, shallow=False), n
    faces = sum(s.get("faces", 0) for s in one)
    assert faces >= 8, one
