"""Spec -> grid: dimensions, coordinates, blocks, and each cell's start.

A cell's start is base start -> scale -> round to ``decimals`` -> + eps·direction ->
+ a·u + b·v, computed in float64 from the spec and the cell's index alone: elementwise
IEEE operations, per-index seeded generators and exactly-rounded sums (math.fsum), so
any block can be recomputed anywhere with the same bits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xorsweep.sweep.spec import SETTING_AXES, Spec, parse_param


def _unit(v):
    return v / math.sqrt(math.fsum(v * v))


def seeded_direction(seed, index, P):
    """Unit vector in the P-dim parameter space, a pure function of (seed, index)."""
    return _unit(np.random.default_rng([seed, index]).standard_normal(P))


def named_direction(name, H):
    u = np.zeros(5 * H + 2)
    u[parse_param(name, H, "direction")] = 1.0
    return u


def random_start(seed, index, H, std):
    """The author's init for start ``index``: W1 = std·N(0,1) (2, H), then W2 (H, 2); b = 0."""
    rng = np.random.default_rng([seed, index])
    W1 = std * rng.standard_normal((2, H))
    W2 = std * rng.standard_normal((H, 2))
    return np.concatenate([W1.ravel(), np.zeros(H), W2.ravel(), np.zeros(2)])


@dataclass(frozen=True)
class Block:
    index: int
    region: tuple  # one slice per sweep dim
    settings: dict  # rule, dtype, arith, lr, steps for the whole block

    @property
    def shape(self):
        return tuple(s.stop - s.start for s in self.region)

    @property
    def size(self):
        return math.prod(self.shape)


class Grid:
    def __init__(self, spec: Spec):
        self.spec = spec
        t, s, ax = spec.training, spec.start, spec.axes
        self.H = t.hidden
        self.P = 5 * t.hidden + 2
        dims = [(name, len(ax.settings[name])) for name in SETTING_AXES if name in ax.settings]
        if s.random:
            dims.append(("start", s.count))
        if ax.decimals is not None:
            dims.append(("decimals", len(ax.decimals)))
        if ax.eps is not None:
            ndir = len(ax.direction) if isinstance(ax.direction, tuple) else ax.direction["count"]
            dims += [("eps", len(ax.eps)), ("direction", ndir)]
        if ax.slice is not None:
            dims += [("a", ax.slice["resolution"][0]), ("b", ax.slice["resolution"][1])]
        self.dims = tuple(d for d, _ in dims)
        self.shape = tuple(n for _, n in dims)
        self.chunks = self._chunks(spec.block)
        self.block_grid = tuple(-(-n // c) for n, c in zip(self.shape, self.chunks))
        steps = ax.settings.get("steps", (t.steps,))
        self.record_steps = (np.arange(max(steps) // t.record_every + 1) * t.record_every
                             if t.record_every else None)

    def _chunks(self, block):
        chunks, remaining = [], block
        for d, n in reversed(list(zip(self.dims, self.shape))):
            c = 1 if d in SETTING_AXES else max(1, min(n, remaining))
            remaining = max(1, remaining // c)
            chunks.append(c)
        return tuple(reversed(chunks))

    @property
    def cells(self):
        return math.prod(self.shape)

    @property
    def n_blocks(self):
        return math.prod(self.block_grid)

    def block(self, index) -> Block:
        pos = np.unravel_index(index, self.block_grid) if self.dims else ()
        region = tuple(slice(int(p) * c, min(n, (int(p) + 1) * c))
                       for p, c, n in zip(pos, self.chunks, self.shape))
        t = self.spec.training
        settings = {k: getattr(t, k) for k in SETTING_AXES}
        for d, sl in zip(self.dims, region):
            if d in SETTING_AXES:
                settings[d] = self.spec.axes.settings[d][sl.start]
        return Block(int(index), region, settings)

    def coords(self):
        """dim -> 1-D coordinate values (and attrs are added by the store)."""
        ax, out = self.spec.axes, {}
        for d, n in zip(self.dims, self.shape):
            if d in SETTING_AXES:
                vals = ax.settings[d]
                out[d] = np.array(vals, dtype=object) if isinstance(vals[0], str) else np.array(vals)
            elif d == "start":
                out[d] = np.arange(n)
            elif d == "decimals":
                out[d] = np.array([-1 if v == "none" else v for v in ax.decimals], dtype=np.int16)
            elif d == "eps":
                out[d] = np.array(ax.eps)
            elif d == "direction":
                out[d] = np.arange(n)
            elif d in ("a", "b"):
                lo, hi = ax.slice[d]
                out[d] = np.linspace(lo, hi, n)
        return out

    def _base(self):
        s = self.spec.start
        if s.random:
            return None
        z = (0.0,) * self.H
        parts = [np.array(s.W1).ravel(), np.array(s.b1 if s.b1 else z), np.array(s.W2).ravel(),
                 np.array(s.b2 if s.b2 else (0.0, 0.0))]
        return s.scale * np.concatenate(parts)

    def directions(self, region_slice):
        d = self.spec.axes.direction
        idx = range(region_slice.start, region_slice.stop)
        if isinstance(d, tuple):
            return np.array([named_direction(d[i], self.H) for i in idx])
        return np.array([seeded_direction(d["seed"], i, self.P) for i in idx])

    def slice_vectors(self):
        sl = self.spec.axes.slice
        vecs = []
        for k in ("u", "v"):
            src = sl[k]
            vecs.append(named_direction(src, self.H) if isinstance(src, str)
                        else seeded_direction(src["seed"], 0, self.P))
        u, v = vecs
        v = _unit(v - math.fsum(u * v) * u)  # Gram-Schmidt: the plane's second axis
        return u, v

    def starts(self, block: Block) -> np.ndarray:
        """(block.shape + (P,)) float64 starts of every cell in the block."""
        shape = block.shape
        reg = dict(zip(self.dims, block.region))
        ax, s = self.spec.axes, self.spec.start

        def along(dim, values):
            """values (n, ...) broadcast to the block, varying along ``dim``."""
            k = self.dims.index(dim)
            return values.reshape((1,) * k + (values.shape[0],) + (1,) * (len(shape) - k - 1) + values.shape[1:])

        if s.random:
            r = reg["start"]
            base = np.array([random_start(s.seed, i, self.H, s.init_std) for i in range(r.start, r.stop)])
            x = np.broadcast_to(along("start", base), shape + (self.P,)).copy()
        else:
            x = np.broadcast_to(self._base(), shape + (self.P,)).copy()
        if ax.decimals is not None:
            k = self.dims.index("decimals")
            cols = np.r_[0:2 * self.H, 3 * self.H:5 * self.H]
            if ax.decimals_biases:
                cols = np.arange(self.P)
            for j, i in enumerate(range(reg["decimals"].start, reg["decimals"].stop)):
                d = ax.decimals[i]
                if d != "none":
                    sub = (slice(None),) * k + (j,)
                    x[sub + (Ellipsis, cols)] = np.round(x[sub + (Ellipsis, cols)], d)
        if ax.eps is not None:
            r = reg["eps"]
            eps = np.array(ax.eps[r.start:r.stop])
            u = self.directions(reg["direction"])
            x = x + along("eps", eps)[..., None] * along("direction", u)
        if ax.slice is not None:
            u, v = self.slice_vectors()
            a = self.coords()["a"][reg["a"]]
            b = self.coords()["b"][reg["b"]]
            x = (x + along("a", a)[..., None] * u) + along("b", b)[..., None] * v
        return x
