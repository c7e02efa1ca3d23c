"""Spec -> grid: dimensions, coordinates, blocks, and each cell's start.

A cell's start is base start -> scale -> round to ``decimals`` -> + eps·direction ->
+ a·u + b·v, computed in float64 from the spec and the cell's index alone: elementwise
IEEE operations, per-index seeded generators and exactly-rounded sums (math.fsum), so
any block can be recomputed anywhere with the same bits. A zoomed slice's a and b depend
on the zoom level too (``zoom_coordinates``). The spec knows its own size
(``spec.dims``, ``spec.shape``); this module imports the spec, never the reverse.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from xorsweep.kernels import vocab
from xorsweep.sweep.spec import SETTING_AXES, Spec


def unrounded(values) -> np.ndarray:
    """Where a ``decimals`` coordinate means the unrounded start: NaN (its ``rounded``
    coordinate False), or -1 in stores made before NaN replaced that sentinel."""
    v = np.asarray(values, dtype=np.float64)
    return np.isnan(v) | (v == -1)


def decimals_position(values, v) -> int | None:
    """Position of ``v`` among ``decimals`` coordinate values (None, NaN, -1 and "none"
    name the unrounded start), or None."""
    vals = np.asarray(values, dtype=np.float64)
    if v is None or v == "none" or (isinstance(v, (int, float, np.number)) and (np.isnan(v) or v == -1)):
        hits = np.flatnonzero(unrounded(vals))
    else:
        hits = np.flatnonzero(~unrounded(vals) & (vals == float(v)))
    return int(hits[0]) if len(hits) else None


def decimals_label(v) -> str:
    """'none' for the unrounded start, else the digit."""
    return "none" if unrounded([v])[0] else str(int(v))


def _unit(v):
    return v / math.sqrt(math.fsum(v * v))


def seeded_direction(seed, index, P):
    """Unit vector in the P-dim parameter space, a pure function of (seed, index)."""
    return _unit(np.random.default_rng([seed, index]).standard_normal(P))


def named_direction(name, H):
    u = np.zeros(vocab.n_params(H))
    u[vocab.param_index(name, H)] = 1.0
    return u


def random_start(seed, index, H, std):
    """The author's init for start ``index``: W1 = std·N(0,1) (2, H), then W2 (H, 2); b = 0."""
    rng = np.random.default_rng([seed, index])
    W1 = std * rng.standard_normal((2, H))
    W2 = std * rng.standard_normal((H, 2))
    return vocab.join_groups(W1, np.zeros(H), W2, np.zeros(2))


def zoom_coordinates(lo, hi, n, center, factor, level) -> np.ndarray:
    """The n coordinates of a slice dim at zoom ``level``: level 0 is np.linspace(lo, hi, n)
    (the bits of a slice without zoom); level i moves each of those points towards
    ``center`` by factor**i, c + (x - c) / factor**i, in exact rationals rounded once to the
    nearest double, however deep the level (a linspace between the level's own rounded
    ends misses some points by more than half an ulp: tests/test_zoom.py)."""
    x0 = np.linspace(lo, hi, n)
    if level == 0:
        return x0
    c, k = Fraction(center), Fraction(factor) ** level
    return np.array([float(c + (Fraction(float(x)) - c) / k) for x in x0])


def zoom_extent(lo, hi, factor, level) -> float:
    """(hi - lo) / factor**level, rounded once."""
    return float((Fraction(hi) - Fraction(lo)) / Fraction(factor) ** level)


@dataclass(frozen=True)
class Block:
    index: int
    region: tuple  # one slice per sweep dim
    settings: dict  # rule (None for an unnamed pair), gradient, update, dtype, arith, lr, steps, h

    @property
    def shape(self):
        return tuple(s.stop - s.start for s in self.region)

    @property
    def size(self):
        return math.prod(self.shape)


class Grid:
    def __init__(self, spec: Spec):
        self.spec = spec
        self._slice_cache = {}
        t = spec.training
        self.H = t.hidden
        self.P = vocab.n_params(t.hidden)
        self.dims, self.shape = spec.dims, spec.shape
        self.chunks = self._chunks(spec.block)
        self.block_grid = tuple(-(-n // c) for n, c in zip(self.shape, self.chunks))
        self.record_steps = (np.arange(spec.max_steps // t.record_every + 1) * t.record_every
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
        if "rule" in self.dims:  # a rule axis sets both parts; gradient/update axes name the rule
            settings["gradient"], settings["update"] = vocab.RULE_PARTS[settings["rule"]]
        else:
            settings["rule"] = vocab.rule_name(settings["gradient"], settings["update"])
        return Block(int(index), region, settings)

    def rule_parts(self) -> list[tuple[str, str]]:
        """The distinct (gradient, update) pairs the grid trains with."""
        ax, t = self.spec.axes.settings, self.spec.training
        if "rule" in ax:
            pairs = [vocab.RULE_PARTS[r] for r in ax["rule"]]
        else:
            pairs = itertools.product(ax.get("gradient", (t.gradient,)), ax.get("update", (t.update,)))
        return list(dict.fromkeys(pairs))

    def coords(self):
        """dim -> 1-D coordinate values (and attrs are added by the store)."""
        ax, out = self.spec.axes, {}
        for d, n in zip(self.dims, self.shape):
            if d in SETTING_AXES:
                vals = ax.settings[d]
                out[d] = np.array(vals, dtype=object) if isinstance(vals[0], str) else np.array(vals)
            elif d in ("start", "direction"):
                out[d] = np.arange(n)
            elif d == "decimals":
                # NaN, not a number on the axis, for the unrounded start (with the ``rounded``
                # coordinate): xarray's own plots then draw no point there
                out[d] = np.array([np.nan if v == "none" else v for v in ax.decimals.values], dtype=np.float64)
            elif d == "eps":
                out[d] = np.array(ax.eps.values)
            elif d in ("a", "b"):
                lo, hi = getattr(ax.slice, d)
                out[d] = np.linspace(lo, hi, n)
            elif d in ("zoom", "a_index", "b_index"):
                out[d] = np.arange(n)
        return out

    def slice_values(self, d) -> np.ndarray:
        """(levels, n) coordinates of slice dim ``d`` ('a' or 'b') at every zoom level."""
        if d in self._slice_cache:
            return self._slice_cache[d]
        sl = self.spec.axes.slice
        lo, hi = getattr(sl, d)
        k = "ab".index(d)
        z = sl.zoom
        out = np.stack([zoom_coordinates(lo, hi, sl.resolution[k], sl.center[k], z.factor if z else 1, i)
                        for i in range(sl.levels)])
        return self._slice_cache.setdefault(d, out)

    def zoom_extents(self, d) -> np.ndarray:
        """(levels,) extent of slice dim ``d`` at every zoom level."""
        sl = self.spec.axes.slice
        return np.array([zoom_extent(*getattr(sl, d), sl.zoom.factor, i) for i in range(sl.levels)])

    def _slice_offsets(self, block: Block, d) -> np.ndarray:
        """Slice coordinate ``d`` of every cell of the block, shaped to broadcast against it."""
        reg = dict(zip(self.dims, block.region))
        if d in reg:
            return self._along(block.shape, d, self.coords()[d][reg[d]])
        values = self.slice_values(d)[reg["zoom"], reg[f"{d}_index"]]
        shape = [1] * len(self.dims)
        for dim in ("zoom", f"{d}_index"):
            shape[self.dims.index(dim)] = block.shape[self.dims.index(dim)]
        return values.reshape(shape)

    @property
    def direction_names(self):
        """The perturbed parameters' names along ``direction`` (None for seeded directions)."""
        d = self.spec.axes.direction
        return d if isinstance(d, tuple) else None

    def _base(self):
        s = self.spec.start
        b1 = np.zeros(self.H) if s.b1 is None else np.array(s.b1)
        b2 = np.zeros(2) if s.b2 is None else np.array(s.b2)
        return s.scale * vocab.join_groups(np.array(s.W1), b1, np.array(s.W2), b2)

    def directions(self, region_slice):
        d = self.spec.axes.direction
        idx = range(region_slice.start, region_slice.stop)
        if isinstance(d, tuple):
            return np.array([named_direction(d[i], self.H) for i in idx])
        return np.array([seeded_direction(d.seed, i, self.P) for i in idx])

    def slice_vectors(self):
        sl = self.spec.axes.slice
        u, v = (named_direction(src, self.H) if isinstance(src, str) else seeded_direction(src.seed, 0, self.P)
                for src in (sl.u, sl.v))
        v = _unit(v - math.fsum(u * v) * u)  # Gram-Schmidt: the plane's second axis
        return u, v

    def _along(self, shape, dim, values):
        """values (n, ...) shaped to broadcast against a block of ``shape``, varying along ``dim``."""
        k = self.dims.index(dim)
        return values.reshape((1,) * k + (values.shape[0],) + (1,) * (len(shape) - k - 1) + values.shape[1:])

    def _rounded(self, block: Block) -> np.ndarray:
        """(block.shape + (P,)) base starts, scaled and rounded: before any eps or slice."""
        shape, reg = block.shape, dict(zip(self.dims, block.region))
        ax, s = self.spec.axes, self.spec.start
        if s.random:
            r = reg["start"]
            base = np.array([random_start(s.seed, i, self.H, s.init_std) for i in range(r.start, r.stop)])
            x = np.broadcast_to(self._along(shape, "start", base), shape + (self.P,)).copy()
        else:
            x = np.broadcast_to(self._base(), shape + (self.P,)).copy()
        if ax.decimals is not None:
            k = self.dims.index("decimals")
            cols = np.arange(self.P) if ax.decimals.biases else vocab.weight_columns(self.H)
            for j, i in enumerate(range(reg["decimals"].start, reg["decimals"].stop)):
                d = ax.decimals.values[i]
                if d != "none":
                    sub = (slice(None),) * k + (j,)
                    x[sub + (Ellipsis, cols)] = np.round(x[sub + (Ellipsis, cols)], d)
        return x

    def _perturbed(self, block: Block, x, zero_eps=False):
        reg = dict(zip(self.dims, block.region))
        r = reg["eps"]
        eps = np.zeros(r.stop - r.start) if zero_eps else np.array(self.spec.axes.eps.values[r.start:r.stop])
        u = self.directions(reg["direction"])
        return x + self._along(block.shape, "eps", eps)[..., None] * self._along(block.shape, "direction", u)

    def starts(self, block: Block) -> np.ndarray:
        """(block.shape + (P,)) float64 starts of every cell in the block."""
        ax, x = self.spec.axes, self._rounded(block)
        if ax.eps is not None:
            x = self._perturbed(block, x)
        if ax.slice is not None:
            u, v = self.slice_vectors()
            a, b = self._slice_offsets(block, "a"), self._slice_offsets(block, "b")
            x = (x + a[..., None] * u) + b[..., None] * v
        return x

    def references(self, block: Block) -> np.ndarray:
        """Each cell's reference start: the same cell with eps = 0 (bit for bit the start of
        the eps = 0 cell, signed zeros included) and without the slice's a·u + b·v."""
        x = self._rounded(block)
        return self._perturbed(block, x, zero_eps=True) if self.spec.axes.eps is not None else x

    def realised(self, block: Block, starts=None) -> tuple[np.ndarray, np.ndarray]:
        """(distance, inert), each block.shape: the Euclidean distance from each cell's start
        to its reference start (``references``), and whether the two are bit-identical.

        Nothing cancels: each x - r is one IEEE subtraction of two exact doubles, so it is
        correctly rounded (relative error <= 2^-53, and exact whenever r/2 <= x <= 2r, by
        Sterbenz); the squares, all positive, are summed with math.fsum after a power-of-two
        rescaling (exact, but for terms 2^-1000 below the largest, which cannot matter), so a
        distance as small as a subnormal neither underflows nor loses digits. A few ulps in
        all, checked against exact rational arithmetic in tests/test_sweep_spec.py.
        """
        x = self.starts(block) if starts is None else np.asarray(starts, dtype=np.float64)
        ref = self.references(block)
        inert = np.all(x.view(np.int64) == ref.view(np.int64), axis=-1)
        diff = (x - ref).reshape(-1, self.P)
        dist = np.zeros(diff.shape[0])
        for i, d in enumerate(diff):
            m = np.max(np.abs(d))
            if m > 0:
                e = math.frexp(m)[1]
                s = np.ldexp(d, -e)  # now max |s| is in [0.5, 1)
                dist[i] = math.ldexp(math.sqrt(math.fsum(s * s)), e)
        return dist.reshape(block.shape), inert
