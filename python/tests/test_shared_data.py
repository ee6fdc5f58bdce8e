"""facemark on the shared photos, video and 300-W faces (skipped with a reason when
../shared/data is absent): the Python API gives the same faces however the image comes in,
and the points are where the annotators put them."""

import json
import pathlib
import shutil

import numpy as np
import pytest

import facemark
from conftest import shared_data


@pytest.fixture(scope="module")
def det():
    return facemark.Detector()


def test_photos_give_the_same_faces_as_path_array_bgr_and_batch(det):
    scenes = sorted((shared_data() / "scenes").glob("*.jpg"))
    assert scenes
    batch = det.detect_batch(scenes)
    total = 0
    for path, faces in zip(scenes, batch):
        one = det.detect(path)
        rgb = facemark.read_image(path)
        for other in (faces, det.detect(rgb), det.detect(np.ascontiguousarray(rgb[..., ::-1]), bgr=True)):
            assert [f.box for f in other] == [f.box for f in one]
            for a, b in zip(other, one):
                np.testing.assert_array_equal(a.points, b.points)
        for f in one:
            x, y, w, h = f.box
            assert 0 <= x and 0 <= y and x + w <= rgb.shape[1] + 1 and y + h <= rgb.shape[0] + 1
            assert f.score is not None and f.points.shape == (68, 2)
        total += len(one)
    assert total >= len(scenes)  # each scene holds at least one face


def test_points_on_300w_faces_are_where_the_annotators_put_them(det):
    root = shared_data() / "300w-helen-train"
    samples = facemark.read_dataset(root)[:24]
    errors = []
    for s in samples:
        x0, y0 = np.nanmin(s.points, axis=0)
        x1, y1 = np.nanmax(s.points, axis=0)
        (face,) = det.landmarks(s.image, [(x0, y0, x1 - x0, y1 - y0)])
        errors.append(facemark.nme(face.points, s.points))
    # the default model's HELEN NME on annotation boxes is ~5 % (README); a swapped axis or
    # an off-by-one scale would be far above this
    assert np.median(errors) < 0.08, errors


def test_video_landmarks_in_memory_and_as_json_lines(det, tmp_path):
    clip = shared_data() / "video" / "short_hamilton_clip.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} absent")
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg/ffprobe not on PATH (apt-get install ffmpeg)")
    frames = det.video_landmarks(clip)
    assert len(frames) > 10
    assert [f["frame"] for f in frames] == list(range(len(frames)))
    assert sum(len(f["faces"]) for f in frames) >= len(frames) // 2
    out = tmp_path / "clip.landmarks.jsonl"
    assert det.video_landmarks(clip, out=out) == len(frames)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len(frames)
    for a, b in zip(lines, frames):
        assert len(a["faces"]) == len(b["faces"])
        for fa, fb in zip(a["faces"], b["faces"]):
            np.testing.assert_allclose(np.array(fa["points"]), fb["points"], atol=1e-3)
    with pytest.raises(facemark.FacemarkIOError, match="nope.mp4"):
        det.video_landmarks(tmp_path / "nope.mp4")


def test_filter_on_a_photo_changes_the_faces(det):
    path = shared_data() / "scenes" / "obama_and_biden.jpg"
    rgb = facemark.read_image(path)
    out = facemark.filter(path, "sunglasses")
    assert out.shape == rgb.shape
    assert np.any(out != rgb)
    faces = facemark.Detector(refine=1, flip=True).detect(rgb)
    np.testing.assert_array_equal(facemark.filter(rgb, "sunglasses", faces=faces), out)


def test_same_faces_and_points_as_the_cli(det, tmp_path):
    import os
    import subprocess

    from conftest import REPO

    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    # the most recently built CLI: an older build may embed another default model
    built = [p for p in (target / "release" / "facemark", target / "debug" / "facemark") if p.is_file()]
    cli = max(built, key=lambda p: p.stat().st_mtime, default=None)
    if cli is None:
        pytest.skip(f"no facemark binary under {target} (cargo build -p facemark-cli)")
    photo = shared_data() / "scenes" / "obamas4.jpg"
    run = subprocess.run(
        [cli, "detect", "--json", "--format", "json", "--out", tmp_path, photo],
        capture_output=True, check=True, text=True,
    )
    cli_faces = json.loads(run.stdout)[0]["faces"]
    faces = det.detect(photo)
    assert len(faces) == len(cli_faces) > 0
    for f, c in zip(faces, cli_faces):
        b = c["detection"]["bbox"]
        assert f.box == (b["x"], b["y"], b["w"], b["h"])
        np.testing.assert_allclose(f.points, np.array(c["points"], np.float32), atol=1e-4)
