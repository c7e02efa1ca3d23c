"""Sensitivity beside convergence: the finite-time Lyapunov exponent over a 2-D slice, and
the roundoff floor estimated from it on the f(ε) figure."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm

from xorsweep.analysis.figures.style import axes as _axes


def plot_lyapunov_map(lam, ax=None):
    """λ (a 2-D DataArray, dims (y, x)) per pixel, diverging colours centred at 0 (red:
    nearby trainings separate, blue: they converge), NaN (not done, diverged) grey.
    Returns [mesh, colorbar]."""
    ax = _axes(ax, figsize=(6.4, 5.2))
    ydim, xdim = lam.dims
    v = lam.values
    finite = v[np.isfinite(v)]
    span = float(np.max(np.abs(finite))) if finite.size else 1.0
    span = span if span > 0 else 1.0
    ax.set_facecolor("0.8")
    mesh = ax.pcolormesh(lam[xdim].values, lam[ydim].values, np.ma.masked_invalid(v), cmap="RdBu_r",
                         norm=TwoSlopeNorm(0.0, -span, span), shading="nearest", rasterized=True)
    cbar = ax.figure.colorbar(mesh, ax=ax, label="finite-time Lyapunov exponent λ (1/step)")
    ax.set_xlabel(lam[xdim].attrs.get("long_name", xdim))
    ax.set_ylabel(lam[ydim].attrs.get("long_name", ydim))
    ax.set_aspect("auto")
    return [mesh, cbar]


def mark_estimated_floor(unc, ax):
    """The floor estimated from λ (``floor_from_lyapunov`` of ``stats_report``'s
    uncertainty) as a dotted line over its band; nothing when the store has no λ."""
    est = unc.get("floor_from_lyapunov")
    if est is None:
        return []
    lo, hi = unc.get("floor_from_lyapunov_band") or (est, est)
    return [ax.axvspan(lo, hi, color="#fdae6b", alpha=0.45, zorder=0.5, label=f"band {lo:.0e} … {hi:.0e}"),
            ax.axvline(est, color="#e6550d", ls=":", lw=1.6, label=f"floor estimated from λ: {est:.1e}")]
