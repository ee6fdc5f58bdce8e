"""facemark.read_dataset, facemark.nme and facemark.filter on fixtures the tests make."""

import numpy as np
import pytest

import facemark
from conftest import textured, write_ppm


def pts_text(points) -> str:
    rows = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points)
    return f"version: 1\nn_points: {len(points)}\n{{\n{rows}\n}}\n"


def shape68(seed=0, scale=40.0, at=(100.0, 80.0)):
    """68 points with outer eye corners (36, 45) exactly 2·scale apart."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(-scale, scale, size=(68, 2)).astype(np.float32)
    p[36] = (-scale, 0)
    p[45] = (scale, 0)
    return p + np.array(at, np.float32)


def test_read_300w_folder_and_single_pts(tmp_path):
    img = textured()
    a, b = shape68(1), shape68(2)
    for name, pts in (("a", a), ("b", b)):
        write_ppm(tmp_path / f"{name}.ppm", img)
        (tmp_path / f"{name}.pts").write_text(pts_text(pts))
    samples = facemark.read_dataset(tmp_path)
    assert [s.name for s in samples] == ["a.ppm", "b.ppm"] or len(samples) == 2
    s = samples[0]
    assert s.image.endswith("a.ppm") and s.box is None
    assert s.points.shape == (68, 2) and s.points.dtype == np.float32
    np.testing.assert_allclose(s.points, a, atol=1e-3)
    assert s.visible.all()
    np.testing.assert_array_equal(s.load_image(), img)
    np.testing.assert_array_equal(s.load_image(bgr=True), img[..., ::-1])
    # one file, and the format named explicitly
    (one,) = facemark.read_dataset(tmp_path / "b.pts")
    np.testing.assert_allclose(one.points, b, atol=1e-3)
    assert len(facemark.read_dataset(tmp_path, format="300w")) == 2
    stacked = np.stack([s.points for s in samples])
    assert stacked.shape == (2, 68, 2)


def test_read_imglab_xml_keeps_boxes_and_missing_parts(tmp_path):
    write_ppm(tmp_path / "img.ppm", textured())
    (tmp_path / "faces.xml").write_text(
        "<?xml version='1.0'?>\n<dataset><images>\n"
        "<image file='img.ppm'>\n"
        "  <box top='10' left='20' width='50' height='60'>\n"
        "    <part name='00' x='25' y='30'/>\n"
        "    <part name='02' x='40' y='35'/>\n"
        "  </box>\n"
        "</image>\n</images></dataset>\n"
    )
    (s,) = facemark.read_dataset(tmp_path / "faces.xml")
    assert s.box == (20.0, 10.0, 50.0, 60.0)
    assert s.points.shape == (3, 2)
    assert list(s.visible) == [True, False, True]
    assert np.isnan(s.points[1]).all()
    np.testing.assert_array_equal(s.points[2], [40, 35])


def test_read_kaggle_csv_holds_pixels(tmp_path):
    cols = ["left_eye_center_x", "left_eye_center_y", "right_eye_center_x", "right_eye_center_y"]
    pixels = " ".join(str(v % 256) for v in range(96 * 96))
    (tmp_path / "training.csv").write_text(
        ",".join(cols + ["Image"]) + "\n" + "66.0,39.0,30.0,36.5," + pixels + "\n"
    )
    (s,) = facemark.read_dataset(tmp_path / "training.csv")
    assert s.image is None
    gray = s.load_image()
    assert gray.shape == (96, 96) and gray.dtype == np.uint8 and gray[0, 5] == 5


def test_read_dataset_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.pts"
    bad.write_text("version: 1\nn_points: 2\n{\n1 2\nthree 4\n}\n")
    write_ppm(tmp_path / "bad.ppm", textured())
    with pytest.raises(facemark.FacemarkError, match=r"bad\.pts:5"):
        facemark.read_dataset(bad)
    with pytest.raises(facemark.FacemarkIOError, match="absent"):
        facemark.read_dataset(tmp_path / "absent")
    with pytest.raises(facemark.FacemarkError, match="unknown data set format `nope`: expected one of 300w"):
        facemark.read_dataset(tmp_path, format="nope")
    assert "300w" in facemark.DATASET_FORMATS and "imglab" in facemark.DATASET_FORMATS


def test_nme_by_hand():
    truth = shape68()  # outer eye distance 80 px
    pred = truth + np.array([3.0, 4.0], np.float32)  # every point 5 px off
    assert facemark.nme(pred, truth) == pytest.approx(5 / 80, rel=1e-5)
    # float64 and lists are accepted; several faces give an array
    many = facemark.nme(np.stack([pred, truth]).astype(np.float64), np.stack([truth, truth]))
    np.testing.assert_allclose(many, [5 / 80, 0.0], rtol=1e-5)
    # a missing truth point (NaN) is left out of the mean
    t2 = truth.copy()
    t2[10] = np.nan
    p2 = pred.copy()
    p2[10] += 1000
    assert facemark.nme(p2, t2) == pytest.approx(5 / 80, rel=1e-5)
    # inter-pupil normalisation is another distance
    assert facemark.nme(pred, truth, norm="pupil") != pytest.approx(5 / 80)
    # a scheme without the norm pair gives NaN
    assert np.isnan(facemark.nme(pred[:7], truth[:7]))


def test_nme_errors():
    t = shape68()
    with pytest.raises(facemark.FacemarkError, match="shape"):
        facemark.nme(t[:10], t)
    with pytest.raises(facemark.FacemarkError, match=r"\(N, 2\)"):
        facemark.nme(t.ravel(), t.ravel())
    with pytest.raises(facemark.FacemarkError, match="unknown scheme"):
        facemark.nme(t, t, scheme="ibug99x")
    with pytest.raises(facemark.FacemarkError, match="scheme kaggle15 has 15 points"):
        facemark.nme(t, t, scheme="kaggle15")
    with pytest.raises(facemark.FacemarkError, match="unknown norm"):
        facemark.nme(t, t, norm="box")


def test_filter_draws_on_the_given_faces_only():
    det = facemark.Detector()
    img = textured(240, 320)
    face = det.landmarks(img, [(100, 60, 110, 120)])[0]
    out = facemark.filter(img, "sunglasses", faces=[face])
    assert out.shape == img.shape and out.dtype == np.uint8
    changed = np.any(out != img, axis=-1)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 200
    # drawn around the eyes, nowhere else
    eyes = face.points[36:48]
    assert xs.min() >= eyes[:, 0].min() - 60 and xs.max() <= eyes[:, 0].max() + 60
    # points as arrays, and BGR in → BGR out
    same = facemark.filter(img, "sunglasses", faces=[face.points])
    np.testing.assert_array_equal(same, out)
    bgr = facemark.filter(img[..., ::-1], "sunglasses", faces=face.points, bgr=True)
    np.testing.assert_array_equal(bgr, out[..., ::-1])
    # no faces: the picture unchanged
    np.testing.assert_array_equal(facemark.filter(img, "dog", faces=[]), img)
    # every built-in effect runs
    for e in facemark.EFFECTS:
        assert facemark.filter(img, e, faces=[face]).shape == img.shape


def test_filter_errors():
    img = textured()
    with pytest.raises(facemark.FacemarkError, match="unknown effect \"nope\""):
        facemark.filter(img, "nope", faces=[])
    with pytest.raises(facemark.FacemarkError, match="68-point"):
        facemark.filter(img, faces=[np.zeros((5, 2), np.float32)])
    with pytest.raises(facemark.FacemarkError, match="N×2"):
        facemark.filter(img, faces=[np.zeros((5, 3), np.float32)])
    with pytest.raises(facemark.FacemarkError, match="overlay"):
        facemark.filter(img, anchors="a.json")
    with pytest.raises(facemark.FacemarkIOError, match="missing.png"):
        facemark.filter(img, overlay="missing.png", faces=[])
