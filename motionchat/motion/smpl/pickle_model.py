"""One-off conversion of an official `.pkl` body model into the `.npz` motionchat reads.

The SMPL / SMPL-H / SMPL-X downloads are Python pickles (the older ones holding chumpy objects
and a scipy sparse `J_regressor`). Unpickling can run code, so motionchat never does it on its
own: the user asks for it once, for a file they trust (`trust_pickle=True`, wired to
`motionchat smpl convert-model FILE.pkl --trust-pickle`), and every later run reads the `.npz`.

Even then the unpickler is restricted: it resolves only numpy's array reconstruction, plain
builtins, and stand-ins for chumpy arrays and scipy sparse matrices (whose stored state is read as
data; neither library is imported or needed). Any other global in the pickle stops the conversion.
"""

from __future__ import annotations

import codecs
import copyreg
import importlib
import os
import pickle
from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path


class _Stored:
    """Stand-in for a chumpy or scipy sparse object: keeps the pickled state, runs nothing."""

    def __init__(self, *args):  # unpickling passes the original constructor's arguments, if any
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"state": state}


class _ChumpyArray(_Stored):
    pass


class _SparseMatrix(_Stored):
    layout = ""


class _CscMatrix(_SparseMatrix):
    layout = "csc"


class _CsrMatrix(_SparseMatrix):
    layout = "csr"


def _numpy_global(module: str, name: str):
    # Pickles written with numpy < 2 name numpy.core; numpy 2 moved it to numpy._core.
    if module.startswith("numpy.core"):
        module = module.replace("numpy.core", "numpy._core" if hasattr(np, "_core") else "numpy.core", 1)
    return getattr(importlib.import_module(module), name)


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class _ModelUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _numpy_global(module, name)
        if (module, name) in {("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor")}:
            return copyreg._reconstructor
        if module in ("__builtin__", "builtins") and name == "object":
            return object
        if (module, name) == ("_codecs", "encode"):  # how Python 3 stores bytes in protocol-2 pickles
            return codecs.encode
        if module.split(".")[0] == "chumpy":
            return _ChumpyArray
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _CscMatrix if name == "csc_matrix" else _CsrMatrix
        raise pickle.UnpicklingError(f"refers to {module}.{name}, which a body model file has no reason to")


def _as_array(key: str, value, path: Path) -> np.ndarray | None:
    """The stored value as a plain array, or None for entries a model does not need."""
    if isinstance(value, _ChumpyArray):
        x = getattr(value, "state", {}).get("x")
        if not isinstance(x, np.ndarray):
            raise MotionchatError(
                f"{path}: '{key}' is a chumpy expression, not a stored array; convert the file with chumpy "
                "installed (e.g. smplx's tools/clean_ch.py) instead"
            )
        return x
    if isinstance(value, _SparseMatrix):
        import scipy.sparse

        state = getattr(value, "state", {})
        shape = state.get("_shape", state.get("shape"))
        if shape is None or not {"data", "indices", "indptr"} <= state.keys():
            raise MotionchatError(f"{path}: '{key}' is a sparse matrix this converter cannot read")
        matrix = getattr(scipy.sparse, f"{value.layout}_matrix")
        return matrix((state["data"], state["indices"], state["indptr"]), shape=shape).toarray()
    if isinstance(value, np.ndarray) and value.dtype != object:
        return value
    if isinstance(value, (str, bytes)):
        return np.array(value.decode("latin1") if isinstance(value, bytes) else value)
    return None  # dicts and other bookkeeping (e.g. 'pose_training_info')


def convert_model_pickle(
    pkl_path: str | os.PathLike, npz_path: str | os.PathLike | None = None, *, trust_pickle: bool = False
) -> Path:
    """Convert a trusted official `.pkl` model to `.npz` (beside it by default); return the new path."""
    pkl_path = Path(pkl_path)
    npz_path = pkl_path.with_suffix(".npz") if npz_path is None else Path(npz_path)
    if not trust_pickle:
        raise MotionchatError(
            f"{pkl_path}: converting a pickle means unpickling it, which can run code; if the file comes from "
            "the SMPL/SMPL-X website, confirm with --trust-pickle"
        )
    if not pkl_path.is_file():
        raise MotionchatError(f"{pkl_path}: no such file")
    try:
        with open(pkl_path, "rb") as f:
            content = _ModelUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise MotionchatError(f"{pkl_path}: not converted, the pickle {err}") from None
    if not isinstance(content, dict):
        raise MotionchatError(f"{pkl_path}: holds a {type(content).__name__}, not a body model's dictionary")
    arrays = {key: array for key, value in content.items() if (array := _as_array(key, value, pkl_path)) is not None}
    if npz_path.suffix.lower() != ".npz":
        raise MotionchatError(f"{npz_path}: the converted model is written as .npz; change the extension")
    with atomic_path(npz_path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return npz_path
