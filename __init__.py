"""xorsweep: map where XOR-network training lands from each start.

Subpackages: ``xorsweep.kernels`` (Numba training, the shared vocabulary),
``xorsweep.sweep`` (specs, grids, Dask runs into Zarr stores, the CLI) and
``xorsweep.analysis`` (outcomes, statistics and figures from stored datasets).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xorsweep")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"
