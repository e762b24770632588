"""Codes found by analysis by synthesis: the codes whose decoded joints come closest to a clip's.

The encoder maps a pose it never saw in training (real motion capture, for a tokenizer trained on
the synthetic corpus) to a latent the decoder turns into a synthetic-looking pose, yet the decoder
itself reaches much further: fed latents optimised against a real clip's joints, it reproduces the
nine real fixtures at 65 mm where the encoder's latents give 140 (README, "Real motion"). Fitting
keeps the codebook and the decoder and searches the codes instead:

1. the encoder's latent, refined by gradient descent on the root-aligned joint distance between
   the decoded motion and the clip (`LATENT_STEPS` Adam steps);
2. per code place, the `CANDIDATES` codebook entries nearest that latent;
3. coordinate descent over those candidates (`SWEEPS` passes), starting from the better of the
   encoder's codes and the nearest ones, keeping a change only when the whole decoded clip's joint
   distance falls: the result is never further from the clip than the encoder's codes.
"""

from __future__ import annotations

import numpy as np
import torch

LATENT_STEPS = 200
LATENT_RATE = 0.05
CANDIDATES = 16
SWEEPS = 2
FEATURE_WEIGHT = 0.05  # keeps the latent's other outputs (velocities, foot contacts) near the clip's


def fit_codes(vq, mean: np.ndarray, std: np.ndarray, skeleton, features: np.ndarray, codes: list[int]) -> list[int]:
    """Codes for `features` (T, D raw) that decode closer to its joints than `codes` (the
    encoder's), under the VQ-VAE `vq` with the normaliser's `mean` and `std`."""
    from motionchat.motion.features import features_to_joints_torch

    mean_t = torch.as_tensor(np.asarray(mean, np.float32))
    std_t = torch.as_tensor(np.asarray(std, np.float32))
    frames = len(features)

    def joints(normalised: torch.Tensor) -> torch.Tensor:
        j = features_to_joints_torch(normalised * std_t + mean_t, skeleton)
        return j - j[..., :1, :]

    target = (torch.as_tensor(np.asarray(features, np.float32)) - mean_t) / std_t
    target_joints = joints(target)

    def distance(code_rows: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B,) mean joint distance, metres
        return (joints(vq.decode(code_rows, frames)) - target_joints).norm(dim=-1).mean(dim=(-1, -2))

    latent = _fitted_latent(vq, target, target_joints, joints)
    book = vq.quantizer.codebook
    with torch.no_grad():
        nearest = torch.cdist(latent, book).topk(CANDIDATES, largest=False).indices  # (N, CANDIDATES)
        starts = torch.stack([torch.as_tensor(codes), nearest[:, 0]])
        errors = distance(starts)
        best, current = float(errors.min()), starts[int(errors.argmin())].clone()
        for _ in range(SWEEPS):
            for place in range(len(current)):
                options = torch.unique(torch.cat([nearest[place], current[place : place + 1]]))
                trial = current.repeat(len(options), 1)
                trial[:, place] = options
                errors = distance(trial)
                pick = int(errors.argmin())
                if float(errors[pick]) < best:
                    best, current = float(errors[pick]), trial[pick].clone()
    return current.tolist()


def _fitted_latent(vq, target: torch.Tensor, target_joints: torch.Tensor, joints) -> torch.Tensor:
    """The encoder's latent of `target` (T, D normalised) after gradient descent on the decoded
    joints' distance to `target_joints`; (N, code_dim), detached."""
    frames = len(target)
    with torch.no_grad():
        start = vq.latent(target[None])  # (1, code_dim, N)
    latent = start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([latent], lr=LATENT_RATE)
    frozen = [p for p in vq.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            for _ in range(LATENT_STEPS):
                optimiser.zero_grad()
                decoded = vq.decode_latent(latent, frames)[0]
                loss = (joints(decoded) - target_joints).norm(dim=-1).mean()
                loss = loss + FEATURE_WEIGHT * ((decoded - target) ** 2).mean()
                loss.backward()
                optimiser.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return latent.detach()[0].T.contiguous()
