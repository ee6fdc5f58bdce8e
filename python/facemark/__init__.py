"""facemark: faces and facial landmarks from Python, on facemark's Rust engine.

>>> import facemark, numpy as np
>>> det = facemark.Detector()              # embedded SeetaFace detector + 68-point model
>>> faces = det.detect("photo.jpg")        # or an H×W×3 uint8 RGB array (bgr=True for OpenCV)
>>> faces[0].points.shape                  # (68, 2) float32, pixels
(68, 2)

Everything runs offline: the default model and face detector are inside the package.
Errors are :class:`FacemarkError` (a ValueError) with facemark's message, or
:class:`FacemarkIOError` (also an OSError) for files that cannot be read or written.
See docs/python.md in the repository for the whole API and ``facemark.distributed`` for
batches on a Dask cluster.
"""

from ._errors import FacemarkError, FacemarkIOError
from ._facemark import (
    DATASET_FORMATS,
    EFFECTS,
    Detector,
    Face,
    Sample,
    __version__,
    filter,
    nme,
    read_dataset,
    read_image,
)

__all__ = [
    "DATASET_FORMATS",
    "EFFECTS",
    "Detector",
    "Face",
    "FacemarkError",
    "FacemarkIOError",
    "Sample",
    "__version__",
    "filter",
    "nme",
    "read_dataset",
    "read_image",
]
