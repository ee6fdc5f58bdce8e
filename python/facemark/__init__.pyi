"""Type stubs of facemark (the native module facemark._facemark and its exceptions)."""

import os
from typing import Any, Iterable, Literal, Optional, Sequence, Tuple, Union, final, overload

import numpy as np
import numpy.typing as npt

__version__: str

#: The built-in effects of :func:`filter`.
EFFECTS: list[str]
#: The data set formats :func:`read_dataset` reads (its ``format`` argument).
DATASET_FORMATS: list[str]

#: A path (``str`` or ``os.PathLike``).
_PathLike = Union[str, "os.PathLike[str]"]
#: An image: a ``uint8`` array H×W×3 (RGB; BGR with ``bgr=True``), H×W×4 or H×W, or a path.
_ImageLike = Union[npt.NDArray[np.uint8], _PathLike]
#: A box ``(x, y, w, h)`` in pixels.
_Box = Tuple[float, float, float, float]

class FacemarkError(ValueError):
    """Bad input: an image, data set, model file or option facemark cannot use."""

class FacemarkIOError(FacemarkError, OSError):
    """A file facemark could not open, read or write."""

@final
class Face:
    """One face found in an image (pixels of that image)."""

    @property
    def box(self) -> _Box:
        """The face detector's box ``(x, y, w, h)`` (the box given to ``landmarks``)."""
    @property
    def score(self) -> Optional[float]:
        """The detector's confidence (its scale depends on the detector); None for a given box."""
    @property
    def landmark_box(self) -> _Box:
        """The box the model framed the face with ``(x, y, w, h)``."""
    @property
    def points(self) -> npt.NDArray[np.float32]:
        """N×2 ``[x, y]`` landmarks in the scheme's order."""
    @property
    def names(self) -> list[str]:
        """The name of each point."""
    def to_dict(self) -> dict[str, Any]:
        """Plain Python values for ``json.dumps``: box, score, landmark_box, points."""
    def __len__(self) -> int: ...

@final
class Detector:
    """Face detector + landmark model, ready to run."""

    def __new__(
        cls,
        model: Optional[_PathLike] = None,
        detector: _PathLike = "seeta",
        threads: Optional[int] = None,
        *,
        min_face: Optional[int] = None,
        refine: int = 0,
        flip: bool = False,
        precision: Literal["auto", "f32", "int8"] = "auto",
        refiner: Optional[_PathLike] = None,
        cascade: bool = True,
    ) -> "Detector": ...
    @property
    def scheme(self) -> str:
        """The landmark scheme: "ibug68", "kaggle15", "helen194", "five" or "n<N>"."""
    @property
    def names(self) -> list[str]:
        """The name of each point."""
    @property
    def threads(self) -> Optional[int]:
        """Worker threads (None: all cores)."""
    def detect(self, image: _ImageLike, bgr: bool = False) -> list[Face]:
        """Faces and their landmarks in one image."""
    def landmarks(
        self,
        image: _ImageLike,
        boxes: Union[Sequence[_Box], npt.NDArray[Any]],
        bgr: bool = False,
    ) -> list[Face]:
        """Landmarks for faces whose landmark boxes ``(x, y, w, h)`` you give."""
    def detect_batch(self, images: Iterable[_ImageLike], bgr: bool = False) -> list[list[Face]]:
        """``detect`` on many images in parallel, GIL released."""
    @overload
    def video_landmarks(self, path: _PathLike, out: None = None) -> list[dict[str, Any]]: ...
    @overload
    def video_landmarks(self, path: _PathLike, out: _PathLike) -> int: ...

@final
class Sample:
    """One annotated face of a data set."""

    @property
    def image(self) -> Optional[str]:
        """The image file, or None when the data set holds the pixels."""
    @property
    def points(self) -> npt.NDArray[np.float32]:
        """N×2 ``[x, y]`` pixels; NaN where missing."""
    @property
    def visible(self) -> npt.NDArray[np.bool_]:
        """N bools, False where a point is missing."""
    @property
    def box(self) -> Optional[_Box]:
        """The face box the format gives (imglab XML), else None."""
    @property
    def name(self) -> str: ...
    @property
    def identity(self) -> str: ...
    def load_image(self, bgr: bool = False) -> npt.NDArray[np.uint8]:
        """H×W×3 RGB (BGR with ``bgr=True``) from a file, H×W gray from the data set."""

def read_dataset(path: _PathLike, format: Optional[str] = None) -> list[Sample]:
    """Read an annotated data set in any format facemark reads."""

def nme(
    pred: npt.ArrayLike,
    truth: npt.ArrayLike,
    scheme: Optional[str] = None,
    norm: Literal["outer", "pupil"] = "outer",
) -> Union[float, npt.NDArray[np.float32]]:
    """NME of N×2 (a float) or M×N×2 (M floats) predictions against the annotation."""

def filter(
    image: _ImageLike,
    effect: str = "sunglasses",
    *,
    faces: Optional[Union[Iterable[Union[Face, npt.ArrayLike]], npt.NDArray[Any]]] = None,
    detector: Optional[Detector] = None,
    overlay: Optional[_PathLike] = None,
    anchors: Optional[_PathLike] = None,
    bgr: bool = False,
    gamma: bool = True,
) -> npt.NDArray[np.uint8]:
    """An effect drawn on every face; returns a new H×W×3 uint8 array."""

def read_image(path: _PathLike, bgr: bool = False) -> npt.NDArray[np.uint8]:
    """Decode a photo upright (EXIF applied) as H×W×3 uint8 RGB (BGR with ``bgr=True``)."""
