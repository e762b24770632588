"""Euler angles in BVH's channel convention, and forward kinematics of a mocap rig."""

from __future__ import annotations

import numpy as np

_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


def euler_to_matrix(angles_rad: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) angles -> (..., 3, 3), BVH channel convention: R = R[order[0]] @ R[order[1]] @ R[order[2]]."""
    angles_rad = np.asarray(angles_rad, dtype=np.float64)
    result = None
    for k, axis in enumerate(order.upper()):
        c, s = np.cos(angles_rad[..., k]), np.sin(angles_rad[..., k])
        one, zero = np.ones_like(c), np.zeros_like(c)
        i = _AXIS_INDEX[axis]
        # Rows of the elementary rotation about axis i, built by cycling (i, i+1, i+2).
        m = np.empty(c.shape + (3, 3))
        a, b = (i + 1) % 3, (i + 2) % 3
        m[..., i, i], m[..., i, a], m[..., i, b] = one, zero, zero
        m[..., a, i], m[..., a, a], m[..., a, b] = zero, c, -s
        m[..., b, i], m[..., b, a], m[..., b, b] = zero, s, c
        result = m if result is None else result @ m
    return result


def matrix_to_euler(m: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) angles in radians with `euler_to_matrix(angles, order) == m`.

    `order` must name three different axes; the middle angle lies in [-pi/2, pi/2].
    """
    i, j, k = (_AXIS_INDEX[a] for a in order.upper())
    if len({i, j, k}) != 3:
        raise ValueError(f"Euler order {order!r} must name three different axes")
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders (XYZ, YZX, ZXY)
    middle = np.arcsin(np.clip(sign * m[..., i, k], -1.0, 1.0))
    first = np.arctan2(-sign * m[..., j, k], m[..., k, k])
    last = np.arctan2(-sign * m[..., i, j], m[..., i, i])
    # At gimbal lock (cos(middle) ~ 0) only first +/- last is defined: put it all in `first`.
    locked = np.abs(sign * m[..., i, k]) > 1 - 1e-12
    if np.any(locked):
        last = np.where(locked, 0.0, last)
        first = np.where(locked, np.arctan2(sign * m[..., k, j], m[..., j, j]), first)
    return np.stack([first, middle, last], axis=-1)


def forward_kinematics_rig(parents: tuple[int, ...], offsets: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """World positions of a rig in BVH's convention.

    parents: parent index per joint (-1 for the root), parents before children.
    offsets: (J, 3) or (T, J, 3) translation of each joint in its parent's frame (the root's is
        its position).
    rotations: (T, J, 3, 3) local rotation of each joint; it turns the offsets of its children.
    Returns (T, J, 3).
    """
    n_frames, n_joints = rotations.shape[:2]
    offsets = np.broadcast_to(offsets, (n_frames, n_joints, 3))
    world_rot = np.empty_like(rotations)
    positions = np.empty((n_frames, n_joints, 3))
    for j, p in enumerate(parents):
        if p < 0:
            world_rot[:, j] = rotations[:, j]
            positions[:, j] = offsets[:, j]
        else:
            world_rot[:, j] = world_rot[:, p] @ rotations[:, j]
            positions[:, j] = positions[:, p] + np.einsum("tab,tb->ta", world_rot[:, p], offsets[:, j])
    return positions
