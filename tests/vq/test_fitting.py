"""MotionCodec.fit: codes searched against the decoded joints, never further from them than encode's."""

from pathlib import Path

import numpy as np
import torch

from motionchat.motion.features import features_to_joints
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import HUMANML3D
from motionchat.vq import MotionVQVAE, VQConfig
from motionchat.vq.codec import MotionCodec


def joint_error_mm(codec: MotionCodec, codes: list[int], features: np.ndarray) -> float:
    decoded = codec.decode(codes, len(features)).joints
    truth = features_to_joints(features, HUMANML3D)
    aligned = [j - j[:, :1] for j in (decoded, truth)]
    return float(np.linalg.norm(aligned[0] - aligned[1], axis=-1).mean() * 1000)


def test_fitted_codes_are_valid_and_no_further_from_the_motion_than_encoded_ones():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    normalizer = Normalizer(rng.normal(scale=0.1, size=263).astype(np.float32), rng.uniform(0.5, 2, 263).astype(np.float32))
    codec = MotionCodec(MotionVQVAE(VQConfig(codebook_size=32, code_dim=16, width=16, depth=1)).eval(), normalizer, HUMANML3D)
    features = normalizer.denormalize(rng.normal(size=(30, 263)).astype(np.float32))
    encoded, fitted = codec.encode(features), codec.fit(features)
    assert len(fitted) == len(encoded) == 8 and all(0 <= c < 32 for c in fitted)
    assert joint_error_mm(codec, fitted, features) <= joint_error_mm(codec, encoded, features) + 1e-3
    assert codec.fit(features) == fitted  # deterministic
    assert all(p.requires_grad for p in codec.vq.parameters())  # the model is left as it was


def test_fitting_brings_the_shipped_tokenizer_closer_to_real_motion(realdata):
    """On every real fixture of the two kinds (CMU BVH, HumanML3D), by at least 10 mm."""
    import motionchat
    from eval.real_motion import load_real_clip
    from motionchat.vq import VQ_FILE, load_vq

    bundle = Path(motionchat.__file__).parent / "assets" / "default_bundle"
    codec = MotionCodec(load_vq(bundle / VQ_FILE), Normalizer.from_dir(bundle), HUMANML3D)
    for name in ("cmu/bvh_mb_release/01_01.bvh", "humanml3d/new_joint_vecs/000000.npy"):
        features = load_real_clip(realdata(name)).features
        encoded = joint_error_mm(codec, codec.encode(features), features)
        fitted = joint_error_mm(codec, codec.fit(features), features)
        assert fitted < encoded - 10, (name, encoded, fitted)
