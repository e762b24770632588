"""Rotation helpers on numpy arrays.

Quaternions are (w, x, y, z), Hamilton product, acting on column vectors; every function
broadcasts over leading dimensions. The 6-D ("cont6d") representation is the first two columns of
the rotation matrix, concatenated, as HumanML3D stores it.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def qnormalize(q: np.ndarray) -> np.ndarray:
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)


def qinv(q: np.ndarray) -> np.ndarray:
    """Inverse of a unit quaternion (its conjugate)."""
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b first, then a)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    qvec = q[..., 1:]
    uv = np.cross(qvec, v)
    uuv = np.cross(qvec, uv)
    return v + 2.0 * (q[..., :1] * uv + uuv)


def qbetween(v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """Shortest-arc rotation taking direction v0 to direction v1.

    For opposite directions the arc is not unique; we turn by pi about an axis orthogonal to v0
    instead of returning NaN.
    """
    v0, v1 = np.broadcast_arrays(v0, v1)
    axis = np.cross(v0, v1)
    w = np.sqrt((v0**2).sum(-1, keepdims=True) * (v1**2).sum(-1, keepdims=True)) + (v0 * v1).sum(-1, keepdims=True)
    q = np.concatenate([w, axis], axis=-1)
    degenerate = np.linalg.norm(q, axis=-1) < 1e-9 * np.maximum(
        np.linalg.norm(v0, axis=-1) * np.linalg.norm(v1, axis=-1), _EPS
    )
    if np.any(degenerate):
        d = v0[degenerate]
        helper = np.where(np.abs(d[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        ortho = np.cross(d, helper)
        q = q.copy()
        q[degenerate] = np.concatenate([np.zeros((len(d), 1)), ortho], axis=-1)
    return qnormalize(q)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions -> (..., 3, 3) rotation matrices."""
    w, x, y, z = np.moveaxis(qnormalize(q), -1, 0)
    m = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions with w >= 0."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Squared magnitudes of each component, then pick the numerically safest branch.
    four_sq = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = np.argmax(four_sq, axis=-1)
    s = np.sqrt(np.maximum(np.take_along_axis(four_sq, best[..., None], -1)[..., 0], _EPS)) * 2  # 4 * |component|
    candidates = np.stack(
        [
            np.stack([s / 4, (m[..., 2, 1] - m[..., 1, 2]) / s, (m[..., 0, 2] - m[..., 2, 0]) / s, (m[..., 1, 0] - m[..., 0, 1]) / s], -1),
            np.stack([(m[..., 2, 1] - m[..., 1, 2]) / s, s / 4, (m[..., 0, 1] + m[..., 1, 0]) / s, (m[..., 0, 2] + m[..., 2, 0]) / s], -1),
            np.stack([(m[..., 0, 2] - m[..., 2, 0]) / s, (m[..., 0, 1] + m[..., 1, 0]) / s, s / 4, (m[..., 1, 2] + m[..., 2, 1]) / s], -1),
            np.stack([(m[..., 1, 0] - m[..., 0, 1]) / s, (m[..., 0, 2] + m[..., 2, 0]) / s, (m[..., 1, 2] + m[..., 2, 1]) / s, s / 4], -1),
        ],
        axis=-2,
    )
    q = np.take_along_axis(candidates, best[..., None, None].repeat(4, -1), -2)[..., 0, :]
    q = np.where(q[..., :1] < 0, -q, q)
    return qnormalize(q)


def quat_to_cont6d(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 6): the first two columns of the rotation matrix."""
    m = quat_to_matrix(q)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def cont6d_to_matrix(c: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two stored columns."""
    x = c[..., 0:3] / np.maximum(np.linalg.norm(c[..., 0:3], axis=-1, keepdims=True), _EPS)
    z = np.cross(x, c[..., 3:6])
    z = z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), _EPS)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def quat_from_axis_angle(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (axis * angle in radians) -> (..., 4)."""
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)
    half = angle / 2
    # sin(half)/angle, with its limit 1/2 near zero.
    scale = np.where(angle > 1e-8, np.sin(half) / np.maximum(angle, _EPS), 0.5 - angle**2 / 48)
    return np.concatenate([np.cos(half), axis_angle * scale], axis=-1)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 3) rotation vectors with angle in [0, pi]."""
    q = qnormalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(sin_half, q[..., :1])
    scale = np.where(sin_half > 1e-8, angle / np.maximum(sin_half, _EPS), 2.0)
    return q[..., 1:] * scale


def quat_about_y(angle_rad: np.ndarray | float) -> np.ndarray:
    """Rotation about the vertical (Y) axis; handy for headings."""
    angle_rad = np.asarray(angle_rad, dtype=np.float64)
    zeros = np.zeros_like(angle_rad)
    return np.stack([np.cos(angle_rad / 2), zeros, np.sin(angle_rad / 2), zeros], axis=-1)
