"""Finding and loading the user's SMPL / SMPL-H / SMPL-X model file, without unpickling it.

The model files are licensed (registration at the SMPL / SMPL-X websites), so they come from the
user: `--smpl-dir PATH` or the `MOTIONCHAT_SMPL_DIR` environment variable, holding files in
smplx's layout::

    PATH/
    ├── SMPL_NEUTRAL.npz          (or smpl/SMPL_NEUTRAL.npz)
    ├── SMPLH_NEUTRAL.npz         (or smplh/SMPLH_NEUTRAL.npz, or AMASS's smplh/neutral/model.npz)
    └── SMPLX_NEUTRAL.npz         (or smplx/SMPLX_NEUTRAL.npz)

PATH may also be the model file itself. Only `.npz` files are read, with `allow_pickle=False`;
the official `.pkl` files are pickles (some holding chumpy objects) and are refused until the
user converts them knowingly with `convert_model_pickle` (see `pickle_model.py`). smplx builds
the module from the arrays we hand it (`data_struct`), so it never opens the user's file itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motionchat.errors import MotionchatError

SMPL_DIR_ENV = "MOTIONCHAT_SMPL_DIR"
MODEL_TYPES = ("smpl", "smplh", "smplx")
GENDERS = ("neutral", "male", "female")
FILE_PREFIX = {"smpl": "SMPL", "smplh": "SMPLH", "smplx": "SMPLX"}
N_JOINTS = {"smpl": 24, "smplh": 52, "smplx": 55}
BODY_JOINTS = 22  # pelvis + 21 body joints: the same first 22 joints in all three models
POSE_WIDTH = {"smpl": 72, "smplh": 156, "smplx": 165}  # AMASS `poses` columns per frame

_REQUIRED_KEYS = ("v_template", "f", "J_regressor", "weights", "shapedirs", "posedirs", "kintree_table")
_HAND_KEYS = ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr")
_SMPLX_KEYS = ("lmk_faces_idx", "lmk_bary_coords")

WHERE_TO_GET = (
    "download a body model from https://smpl.is.tue.mpg.de (SMPL) or https://smpl-x.is.tue.mpg.de "
    "(SMPL-X) (free registration, licence terms apply)"
)


@dataclass(frozen=True)
class BodyModel:
    """A loaded body model: the smplx module plus what the fitting and export code needs."""

    module: torch.nn.Module
    model_type: str
    gender: str
    path: Path

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) vertex indices of the mesh triangles."""
        return self.module.faces_tensor.numpy()

    @property
    def num_betas(self) -> int:
        return int(self.module.num_betas)

    @property
    def parents(self) -> np.ndarray:
        """(22,) parent of each body joint (-1 for the pelvis)."""
        return self.module.parents[:BODY_JOINTS].numpy().copy()

    def joint_shape_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """Rest body joints as a linear function of betas: J0 (22, 3) and D (22, 3, B).

        rest_joints(betas) = J0 + D @ betas, because joints are J_regressor times the shaped
        template and the template is linear in betas.
        """
        m = self.module
        regressor = m.J_regressor[:BODY_JOINTS].double()
        j0 = regressor @ m.v_template.double()
        basis = torch.einsum("jv,vcb->jcb", regressor, m.shapedirs.double())
        return j0.numpy(), basis.numpy()

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """(22, 3) rest-pose body joints for `betas` (B,)."""
        j0, basis = self.joint_shape_basis()
        return j0 + basis @ np.asarray(betas, dtype=np.float64)

    @torch.no_grad()
    def forward(
        self,
        global_orient: np.ndarray,
        body_pose: np.ndarray,
        transl: np.ndarray,
        betas: np.ndarray,
        chunk_frames: int = 64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Axis-angle (T, 3) root and (T, 21, 3) body rotations, (T, 3) translation, (B,) betas ->
        vertices (T, V, 3) float32 and body joints (T, 22, 3), through smplx's forward.

        Hands (and for SMPL-X jaw, eyes and expression) stay at zero, i.e. flat.
        """
        n_frames = len(global_orient)
        vertices, joints = [], []
        for start in range(0, n_frames, chunk_frames):
            frames = slice(start, min(start + chunk_frames, n_frames))
            out = self.module(**self._forward_kwargs(global_orient[frames], body_pose[frames], transl[frames], betas))
            vertices.append(out.vertices.numpy())
            joints.append(out.joints[:, :BODY_JOINTS].double().numpy())
        return np.concatenate(vertices), np.concatenate(joints)

    def _forward_kwargs(self, global_orient, body_pose, transl, betas) -> dict[str, torch.Tensor]:
        n = len(global_orient)

        def tensor(a):
            return torch.as_tensor(np.asarray(a), dtype=torch.float32)

        def zeros(width):
            return torch.zeros(n, width)

        body = tensor(body_pose).reshape(n, -1)
        kwargs = {
            "global_orient": tensor(global_orient),
            "transl": tensor(transl),
            "betas": tensor(betas)[None].expand(n, -1),
        }
        if self.model_type == "smpl":
            kwargs["body_pose"] = torch.cat([body, zeros(6)], dim=1)  # the two hand joints
            return kwargs
        kwargs.update(body_pose=body, left_hand_pose=zeros(45), right_hand_pose=zeros(45))
        if self.model_type == "smplx":
            kwargs.update(jaw_pose=zeros(3), leye_pose=zeros(3), reye_pose=zeros(3),
                          expression=zeros(self.module.num_expression_coeffs))
        return kwargs


def _missing_model_message(where: str, tried: list[Path]) -> str:
    looked = ""
    if tried:
        looked = " (looked for " + ", ".join(str(p) for p in tried[:4]) + (", ..." if len(tried) > 4 else "") + ")"
    return (
        f"no SMPL body model found {where}{looked}; {WHERE_TO_GET}, put SMPL_NEUTRAL.npz (or SMPLH_/SMPLX_NEUTRAL.npz, "
        f"or smpl/ smplh/ smplx/ folders of them) in a folder and pass --smpl-dir FOLDER (or the file itself) "
        f"or set {SMPL_DIR_ENV}=FOLDER"
    )


def _candidates(folder: Path, model_type: str, gender: str, suffix: str) -> list[Path]:
    name = f"{FILE_PREFIX[model_type]}_{gender.upper()}{suffix}"
    found = [folder / name, folder / model_type / name]
    if model_type == "smplh" and suffix == ".npz":
        found.append(folder / model_type / gender / "model.npz")  # AMASS's body-model layout
    return found


def find_model_file(
    smpl_dir: str | os.PathLike | None, model_type: str | None = None, gender: str = "neutral"
) -> Path:
    """The model file to load: `smpl_dir` (or $MOTIONCHAT_SMPL_DIR) itself, or the first of
    SMPL, SMPL-H, SMPL-X (only `model_type` when given) found inside it for `gender`."""
    if model_type is not None and model_type not in MODEL_TYPES:
        raise MotionchatError(f"body model type '{model_type}' is unknown; use one of {', '.join(MODEL_TYPES)}")
    if gender not in GENDERS:
        raise MotionchatError(f"body model gender '{gender}' is unknown; use one of {', '.join(GENDERS)}")
    if smpl_dir is None:
        smpl_dir = os.environ.get(SMPL_DIR_ENV) or None
        if smpl_dir is None:
            raise MotionchatError(_missing_model_message(f"(no --smpl-dir given and {SMPL_DIR_ENV} is not set)", []))
    root = Path(smpl_dir).expanduser()
    if root.is_file():
        return root
    if not root.is_dir():
        raise MotionchatError(
            f"{root}: no such folder or file for the SMPL body model; check --smpl-dir / {SMPL_DIR_ENV}"
        )
    types = [model_type] if model_type else list(MODEL_TYPES)
    tried = [p for t in types for p in _candidates(root, t, gender, ".npz")]
    for path in tried:
        if path.is_file():
            return path
    pickles = [p for t in types for p in _candidates(root, t, gender, ".pkl") if p.is_file()]
    if pickles:
        return pickles[0]  # load_model_arrays explains how to convert it
    raise MotionchatError(_missing_model_message(f"in {root}", tried))


def load_model_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every plain array in an `.npz` model file; entries that would need unpickling are skipped."""
    if path.suffix.lower() == ".pkl":
        raise MotionchatError(
            f"{path}: is a Python pickle, which motionchat does not load (a pickle can run code); if you "
            f"trust this file, convert it once with `motionchat smpl convert-model {path} --trust-pickle` "
            f"and use the .npz it writes"
        )
    if path.suffix.lower() != ".npz":
        raise MotionchatError(f"{path}: body models are read from .npz files; {WHERE_TO_GET}")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    arrays[key] = npz[key]
                except ValueError:  # an object array (e.g. SMPL-X's joint2num dict): not needed
                    continue
    except (OSError, ValueError, EOFError) as err:
        raise MotionchatError(f"{path}: not a readable .npz body model ({err}); {WHERE_TO_GET}") from None
    return arrays


def _model_type_of(arrays: dict[str, np.ndarray], path: Path) -> str:
    missing = [k for k in _REQUIRED_KEYS if k not in arrays]
    if missing:
        raise MotionchatError(f"{path}: not a SMPL-family model (missing {', '.join(missing)}); {WHERE_TO_GET}")
    n_joints = arrays["kintree_table"].shape[-1]
    by_joints = {n: t for t, n in N_JOINTS.items()}
    if n_joints not in by_joints:
        raise MotionchatError(f"{path}: has {n_joints} joints; SMPL has 24, SMPL-H 52 and SMPL-X 55")
    model_type = by_joints[n_joints]
    n_vertices = arrays["v_template"].shape[0]
    expected = {
        "v_template": (n_vertices, 3),
        "J_regressor": (n_joints, n_vertices),
        "weights": (n_vertices, n_joints),
        "kintree_table": (2, n_joints),
    }
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise MotionchatError(
                f"{path}: '{key}' has shape {arrays[key].shape}, expected {shape}; the file is damaged"
            )
    if arrays["shapedirs"].ndim != 3 or arrays["shapedirs"].shape[:2] != (n_vertices, 3):
        raise MotionchatError(f"{path}: 'shapedirs' has shape {arrays['shapedirs'].shape}; the file is damaged")
    if arrays["posedirs"].shape != (n_vertices, 3, 9 * (n_joints - 1)):
        raise MotionchatError(f"{path}: 'posedirs' has shape {arrays['posedirs'].shape}; the file is damaged")
    if model_type == "smplx":
        missing = [k for k in _SMPLX_KEYS if k not in arrays]
        if missing:
            raise MotionchatError(f"{path}: SMPL-X model without {', '.join(missing)}; the file is damaged")
    return model_type


def load_body_model(
    smpl_dir: str | os.PathLike | None = None, model_type: str | None = None, gender: str = "neutral"
) -> BodyModel:
    """Find (see `find_model_file`) and load a body model through `smplx.create`.

    Hands are axis-angle with a flat mean (no PCA), so zero hand pose means open, flat hands and
    the written `poses` are exactly what is rendered.
    """
    import smplx
    from smplx.utils import Struct

    path = find_model_file(smpl_dir, model_type, gender)
    arrays = load_model_arrays(path)
    found_type = _model_type_of(arrays, path)
    if model_type is not None and found_type != model_type:
        raise MotionchatError(
            f"{path}: is a {found_type.upper()} model, not {model_type.upper()}; drop or fix the model type"
        )
    if found_type == "smplh":
        # AMASS's SMPL-H files have no hand PCA; with PCA off and a flat hand mean these are unused.
        for key in _HAND_KEYS:
            arrays.setdefault(key, np.eye(45) if "components" in key else np.zeros(45))
    kwargs = dict(model_type=found_type, gender=gender, use_pca=False, flat_hand_mean=True, ext="npz")
    # smplx prints a warning for every model with only 10 shape components; keep stdout clean.
    with contextlib.redirect_stdout(io.StringIO()):
        if found_type == "smplx":
            # smplx's SMPL-X class opens a file itself (with allow_pickle=True), so it gets a copy
            # holding only the plain arrays read above, never the user's file.
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / "smplx" / f"SMPLX_{gender.upper()}.npz"
                copy.parent.mkdir()
                np.savez(copy, **arrays)
                module = smplx.create(tmp, **kwargs)
        else:
            module = smplx.create(str(path.parent), data_struct=Struct(**arrays), **kwargs)
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return BodyModel(module=module, model_type=found_type, gender=gender, path=path)
