"""One numeric array in a `.npy` file: read without unpickling (one-line errors), written atomically.

The motion files (`npy.py`), the normaliser's statistics and the datasets all read and write
their arrays here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path

# A sanity limit on what we read, far above any clip the models handle (HumanML3D's longest: 196).
MAX_FILE_FRAMES = 10_000
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def load_npy_array(path: str | Path, what: str = "motion") -> np.ndarray:
    """Read one numeric, finite array from a `.npy` file (never unpickling), or raise a one-line
    `MotionchatError` naming the file and the problem. `what` names the content in messages.

    The file is opened once and its header checked before any data is read (datasets hold tens
    of thousands of these files, so the one open matters)."""
    path = Path(path)
    if path.is_dir():
        raise MotionchatError(f"{path}: is a folder; expected a .npy file holding the {what}")
    try:
        with open(path, "rb") as f:
            array = _read_npy(f, path, what)
    except FileNotFoundError:
        raise MotionchatError(f"{path}: no such file") from None
    except OSError as err:
        raise MotionchatError(f"{path}: cannot be read ({_one_line(err.strerror or err)})") from None
    bad = ~np.isfinite(array)
    if bad.any():
        first = np.argwhere(bad)[0]
        where = f" (first at frame {first[0]})" if array.ndim >= 2 else ""
        raise MotionchatError(f"{path}: contains {int(bad.sum())} NaN/Inf value(s){where}; fix or trim the {what}")
    return array


def _read_npy(f, path: Path, what: str) -> np.ndarray:
    head = f.read(len(_NPY_MAGIC))
    if not head:
        raise MotionchatError(f"{path}: empty file; expected a NumPy .npy array holding the {what}")
    if head.startswith(_ZIP_MAGIC):
        raise MotionchatError(f"{path}: is a .npz archive, not a .npy array; save the {what} with numpy.save")
    if head != _NPY_MAGIC:
        raise MotionchatError(f"{path}: not a NumPy .npy file (no .npy header); save the {what} with numpy.save")
    f.seek(0)
    try:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read_header:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran_order, dtype = read_header[version](f)
    except ValueError as err:
        raise MotionchatError(f"{path}: truncated or corrupt .npy file ({_one_line(err)})") from None
    if dtype.hasobject:
        raise MotionchatError(
            f"{path}: holds Python objects, not numbers; pickled data is never loaded, save a numeric array"
        )
    if dtype.kind not in "iuf":
        raise MotionchatError(f"{path}: has dtype {dtype}; expected a real numeric array holding the {what}")
    if len(shape) >= 1 and shape[0] > MAX_FILE_FRAMES:
        raise MotionchatError(
            f"{path}: {shape[0]} frames is more than the {MAX_FILE_FRAMES} read at once; trim the {what}"
        )
    data = bytearray(int(np.prod(shape)) * dtype.itemsize)
    if f.readinto(data) != len(data):
        raise MotionchatError(f"{path}: truncated or corrupt .npy file (fewer values than its header says)")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def write_npy(path: str | Path, array: np.ndarray, *, durable: bool = True) -> None:
    """Save one array to `path` atomically (a reader never sees a half-written file)."""
    with atomic_path(path, durable=durable) as tmp:
        np.save(tmp, np.asarray(array), allow_pickle=False)
