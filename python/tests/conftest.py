"""Shared helpers of the facemark Python tests: small fixtures the tests make, and the
shared data sets (skipped with a reason when absent)."""

import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def shared_data() -> pathlib.Path:
    """``$FACEMARK_DATA`` or ``../shared/data`` beside the repository; skips the test when
    it is absent (as the Rust tests do)."""
    root = pathlib.Path(os.environ.get("FACEMARK_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set FACEMARK_DATA)")
    return root


def write_ppm(path: pathlib.Path, rgb: np.ndarray) -> pathlib.Path:
    """Write an H×W×3 uint8 array as a binary PPM (P6), a format facemark decodes."""
    h, w, _ = rgb.shape
    path.write_bytes(b"P6\n%d %d\n255\n" % (w, h) + np.ascontiguousarray(rgb).tobytes())
    return path


def textured(h: int = 160, w: int = 200, seed: int = 0) -> np.ndarray:
    """A deterministic colour image with some structure (no face in it)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = ((x * 3 + y) % 251).astype(np.uint8)
    rgb = np.stack([base, np.roll(base, 17, axis=1), (255 - base)], axis=-1)
    return (rgb ^ rng.integers(0, 16, size=rgb.shape, dtype=np.uint8)).astype(np.uint8)

