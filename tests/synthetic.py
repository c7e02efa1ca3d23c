"""Synthetic datasets shaped like xorsweep stores (dims, ``done``, a class variable with CF
flag attrs, the ``*_start`` variables), with answers known in advance."""
from __future__ import annotations

import numpy as np

from xorsweep.kernels.vocab import n_params
import xarray as xr

from xorsweep.kernels.vocab import GROUP_DIMS, split_groups

NAMES = ["pending", "A", "B", "C", "D"]
FLAGS = {"flag_values": list(range(len(NAMES))), "flag_meanings": " ".join(NAMES), "flag_display_names": NAMES}
H = 1
P = n_params(H)


def classes(values, dims, coords=None, name="solution"):
    return xr.DataArray(np.asarray(values, dtype=np.int16), dims=dims, coords=coords or {}, name=name,
                        attrs={"long_name": "solution", **FLAGS})


def _starts(flat, dims, coords):
    """{'W1_start': ..., ...} DataArrays from (..., P) flat starts."""
    out = {}
    for g, arr in split_groups(flat, H).items():
        out[f"{g}_start"] = xr.DataArray(arr, dims=dims + GROUP_DIMS[g], coords=coords)
    return out


def perturbation_store(label_fn, S=400, ndir=16, eps=None, seed=0, done_share=1.0):
    """Starts x0 on the plane (W1[0,0], W1[1,0]) in [-1, 1]², pushed by eps along random
    unit directions of that plane; ``label_fn(x, start_index, rng)`` -> class per cell."""
    rng = np.random.default_rng(seed)
    eps = np.concatenate([[0.0], np.logspace(-5, -1, 9)]) if eps is None else np.asarray(eps, float)
    x0 = rng.uniform(-1, 1, (S, 2))
    th = rng.uniform(0, 2 * np.pi, (S, ndir))
    u = np.stack([np.cos(th), np.sin(th)], -1)
    x = x0[:, None, None, :] + eps[None, :, None, None] * u[:, None, :, :]
    flat = np.zeros(x.shape[:-1] + (P,))
    flat[..., 0], flat[..., 1] = x[..., 0], x[..., 1]  # W1[0,0], W1[1,0] (H = 1)
    dims = ("start", "eps", "direction")
    coords = {"start": np.arange(S), "eps": eps, "direction": np.arange(ndir)}
    ds = xr.Dataset(_starts(flat, dims, coords), coords=coords)
    ds["solution"] = classes(label_fn(x, rng), dims, coords)
    done = np.ones(x.shape[:-1], bool)
    if done_share < 1:
        done[int(round(S * done_share)):] = False
        ds["solution"] = ds["solution"].where(done, 0).astype(np.int16)
        ds["solution"].attrs = {"long_name": "solution", **FLAGS}
    ds["done"] = (dims, done)
    return ds


def line_label(x, rng):
    return 1 + (x[..., 1] > 0.2 * x[..., 0] + 0.1)


def bernoulli_store(p_of_eps, S=400, ndir=16, eps=None, seed=0, spread=None):
    """Classes flip against the eps = 0 cell with probability p(eps) (per start, times a
    Beta-distributed factor of mean 1 when ``spread`` is given: clustered starts)."""
    def label(x, rng):
        base = rng.integers(1, 3, (x.shape[0], 1, 1))
        e = eps_[None, :, None]
        p = np.broadcast_to(p_of_eps(e), x.shape[:-1]).copy()
        if spread is not None:
            p = np.clip(p * rng.beta(spread, spread, (x.shape[0], 1, 1)) * 2, 0, 1)
        flip = rng.random(x.shape[:-1]) < p
        flip[:, eps_ == 0] = False
        return np.where(flip, 3 - base, base)

    eps_ = np.concatenate([[0.0], np.logspace(-12, -1, 12)]) if eps is None else np.asarray(eps, float)
    return perturbation_store(label, S, ndir, eps_, seed)


def grid_map(fn, n=512, lim=1.0):
    """Classes fn(A, B) (ints from 1) on an n x n grid over [-lim, lim]², dims (a, b)."""
    a = np.linspace(-lim, lim, n)
    A, B = np.meshgrid(a, a, indexing="ij")
    return classes(np.asarray(fn(A, B), int), ("a", "b"), {"a": a, "b": a})


def koch_snowflake(depth):
    """Vertices (k, 2) of the Koch snowflake of circumradius 1 centred at 0."""
    t = np.pi / 2 + np.array([0, -2, -4]) * np.pi / 3
    pts = np.stack([np.cos(t), np.sin(t)], 1)
    rot = np.array([[0.5, -np.sqrt(3) / 2], [np.sqrt(3) / 2, 0.5]])  # +60 degrees
    for _ in range(depth):
        p, q = pts, np.roll(pts, -1, axis=0)
        d = (q - p) / 3
        a, b = p + d, p + 2 * d
        c = a + d @ rot.T
        pts = np.stack([p, a, c, b], 1).reshape(-1, 2)
    return pts


def koch_map(n=1024, depth=7):
    """Two classes, inside (2) and outside (1) the Koch snowflake, rasterised on n x n."""
    from PIL import Image, ImageDraw

    pts = (koch_snowflake(depth) * 0.95 + 1) / 2 * (n - 1)
    img = Image.new("L", (n, n), 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in pts], fill=1)
    a = np.linspace(-1, 1, n)
    return classes(1 + np.asarray(img, int).T, ("a", "b"), {"a": a, "b": a})
