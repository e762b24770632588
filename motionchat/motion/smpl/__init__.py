"""SMPL-family bodies for generated motion: fit parameters to joints, preview and export meshes.

The user brings the licensed model files (`--smpl-dir` or `MOTIONCHAT_SMPL_DIR`, see `model.py`);
`fit.py` turns (T, 22, 3) joints into SMPL parameters, `preview.py` draws the mesh, `export.py`
writes AMASS-style `.npz` parameters and OBJ sequences, `pickle_model.py` converts a trusted
official `.pkl` model once.
"""

from motionchat.motion.smpl.export import write_obj_sequence, write_smpl_npz
from motionchat.motion.smpl.fit import SmplFit, fit_smpl
from motionchat.motion.smpl.model import SMPL_DIR_ENV, BodyModel, find_model_file, load_body_model
from motionchat.motion.smpl.pickle_model import convert_model_pickle
from motionchat.motion.smpl.preview import render_mesh_frame, render_mesh_video

__all__ = [
    "SMPL_DIR_ENV",
    "BodyModel",
    "SmplFit",
    "convert_model_pickle",
    "find_model_file",
    "fit_smpl",
    "load_body_model",
    "render_mesh_frame",
    "render_mesh_video",
    "write_obj_sequence",
    "write_smpl_npz",
]
