"""facemark.Detector on fixtures the tests make: inputs (arrays, paths, BGR, gray, views),
boxes, batches, threads, the GIL, pickling and errors."""

import os
import pathlib
import pickle
import threading

import numpy as np
import pytest

import facemark
from conftest import textured, write_ppm

BOX = (60.0, 40.0, 80.0, 90.0)


@pytest.fixture(scope="module")
def det():
    return facemark.Detector()


def test_default_detector_places_68_named_points_in_the_box(det):
    img = textured()
    (face,) = det.landmarks(img, [BOX])
    assert face.points.shape == (68, 2)
    assert face.points.dtype == np.float32
    assert len(face) == 68 and len(face.names) == 68 and face.names == det.names
    assert det.scheme == "ibug68"
    assert face.score is None
    assert face.box == BOX and face.landmark_box == BOX
    # the points of a face framed by the box stay around it
    cx, cy = face.points.mean(axis=0)
    assert BOX[0] < cx < BOX[0] + BOX[2] and BOX[1] < cy < BOX[1] + BOX[3]
    d = face.to_dict()
    assert d["box"] == list(BOX) and len(d["points"]) == 68 and d["score"] is None


def test_array_path_bgr_gray_and_views_give_the_same_points(det, tmp_path):
    img = textured()
    ref = det.landmarks(img, [BOX])[0].points
    path = write_ppm(tmp_path / "t.ppm", img)
    for same in (
        det.landmarks(str(path), [BOX]),
        det.landmarks(path, [BOX]),  # os.PathLike
        det.landmarks(img[..., ::-1], [BOX], bgr=True),  # a negative-stride view, BGR
        det.landmarks(np.ascontiguousarray(img[..., ::-1]), [BOX], bgr=True),
        det.landmarks(np.dstack([img, np.full(img.shape[:2], 255, np.uint8)]), [BOX]),
    ):
        np.testing.assert_array_equal(same[0].points, ref)
    np.testing.assert_array_equal(facemark.read_image(path), img)
    np.testing.assert_array_equal(facemark.read_image(path, bgr=True), img[..., ::-1])
    # a gray image is the same as the RGB image whose channels are all that gray
    gray = img[..., 1].copy()
    a = det.landmarks(gray, [BOX])[0].points
    b = det.landmarks(np.dstack([gray] * 3), [BOX])[0].points
    np.testing.assert_array_equal(a, b)
    # a strided view (every other row/column) is read as the picture it shows
    big = textured(320, 400)
    c = det.landmarks(big[::2, ::2], [BOX])[0].points
    d = det.landmarks(np.ascontiguousarray(big[::2, ::2]), [BOX])[0].points
    np.testing.assert_array_equal(c, d)


def test_many_boxes_in_order_and_boxes_as_an_array(det):
    img = textured(240, 320)
    boxes = np.array([[10, 10, 90, 100], [150, 60, 120, 130]], dtype=np.float64)
    faces = det.landmarks(img, boxes)
    assert [f.box for f in faces] == [tuple(map(float, b)) for b in boxes]
    one = det.landmarks(img, [tuple(boxes[1])])[0]
    np.testing.assert_array_equal(faces[1].points, one.points)
    assert det.landmarks(img, []) == []


def test_no_face_in_a_plain_picture(det):
    assert det.detect(np.full((120, 160, 3), 128, np.uint8)) == []
    assert det.detect_batch([np.zeros((50, 60), np.uint8)] * 3) == [[], [], []]


def test_batch_equals_one_by_one_and_threads_do_not_change_points(tmp_path):
    imgs = [textured(seed=s) for s in range(3)]
    one = facemark.Detector(threads=1)
    two = facemark.Detector(threads=2)
    a = [one.landmarks(i, [BOX])[0].points for i in imgs]
    b = [two.landmarks(i, [BOX])[0].points for i in imgs]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    paths = [write_ppm(tmp_path / f"{k}.ppm", i) for k, i in enumerate(imgs)]
    assert two.detect_batch(paths + imgs) == [[]] * 6
    assert one.threads == 1 and facemark.Detector().threads is None


def test_detect_batch_releases_the_gil():
    det = facemark.Detector(threads=1)
    imgs = [textured(480, 640, seed=s) for s in range(6)]
    count = [0]
    running = threading.Event()
    stop = threading.Event()

    def spin():
        running.set()
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    running.wait()
    before = count[0]
    det.detect_batch(imgs)
    during = count[0] - before
    stop.set()
    t.join()
    # with the GIL held the other thread could not run at all during the call
    assert during > 0


def test_pickle_rebuilds_the_same_detector(tmp_path):
    det = facemark.Detector(threads=2, refine=1, flip=True, min_face=30, precision="f32")
    back = pickle.loads(pickle.dumps(det))
    assert repr(back) == repr(det)
    img = textured()
    np.testing.assert_array_equal(
        back.landmarks(img, [BOX])[0].points, det.landmarks(img, [BOX])[0].points
    )


def test_options_change_the_points():
    img = textured()
    plain = facemark.Detector().landmarks(img, [BOX])[0].points
    flipped = facemark.Detector(flip=True).landmarks(img, [BOX])[0].points
    refined = facemark.Detector(refine=2).landmarks(img, [BOX])[0].points
    assert not np.array_equal(plain, flipped)
    assert not np.array_equal(plain, refined)


def test_the_default_model_carries_a_refinement_cascade(tmp_path):
    img = textured()
    refined = facemark.Detector().landmarks(img, [BOX])[0].points
    alone = facemark.Detector(cascade=False)
    plain = alone.landmarks(img, [BOX])[0].points
    # the cascade moves the points, a little (it corrects the model; it does not replace it)
    moved = np.linalg.norm(refined - plain, axis=1)
    assert moved.max() > 0 and moved.mean() < 0.25 * BOX[2]
    assert np.array_equal(pickle.loads(pickle.dumps(alone)).landmarks(img, [BOX])[0].points, plain)
    with pytest.raises(facemark.FacemarkError, match="cascade=False"):
        facemark.Detector(refiner=tmp_path / "x.dat", cascade=False)
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"not a shape predictor")
    with pytest.raises(facemark.FacemarkError, match="bad.dat"):
        facemark.Detector(refiner=bad)


def test_errors_are_python_exceptions_with_facemark_messages(det, tmp_path):
    with pytest.raises(facemark.FacemarkError, match="uint8"):
        det.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(facemark.FacemarkError, match=r"shape \(H, W\)"):
        det.detect(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(facemark.FacemarkError, match="empty image"):
        det.detect(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(TypeError, match="NumPy uint8 array"):
        det.detect(42)
    missing = tmp_path / "nope.jpg"
    with pytest.raises(facemark.FacemarkIOError, match="nope.jpg") as e:
        det.detect(missing)
    assert isinstance(e.value, OSError) and isinstance(e.value, facemark.FacemarkError)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(facemark.FacemarkError, match="bad.png: cannot decode"):
        det.detect(bad)
    with pytest.raises(facemark.FacemarkError, match="bad.png"):
        det.detect_batch([textured(), bad])
    with pytest.raises(facemark.FacemarkError, match="w, h > 0"):
        det.landmarks(textured(), [(0, 0, -5, 10)])
    with pytest.raises(facemark.FacemarkError, match="unknown detector `nosuch`"):
        facemark.Detector(detector="nosuch")
    with pytest.raises(facemark.FacemarkError, match="unknown precision"):
        facemark.Detector(precision="f16")
    with pytest.raises(facemark.FacemarkIOError, match="model .*missing.safetensors"):
        facemark.Detector(model=tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(facemark.FacemarkError, match="junk.safetensors"):
        facemark.Detector(model=junk)
    with pytest.raises(facemark.FacemarkError, match="at least 20"):
        facemark.Detector(min_face=5)
    with pytest.raises(facemark.FacemarkError, match="threads"):
        facemark.Detector(threads=0)


def test_other_detectors_by_name():
    img = textured()
    assert facemark.Detector(detector="haar").detect(img) == []
    cascade = pathlib.Path(
        "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml"
    )
    if not cascade.is_file():
        pytest.skip(f"{cascade} absent (apt-get install opencv-data)")
    assert facemark.Detector(detector=cascade).detect(img) == []
    assert os.fspath(cascade) in repr(facemark.Detector(detector=cascade))
