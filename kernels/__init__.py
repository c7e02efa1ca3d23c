"""Numba kernels that train batches of XOR networks, bit-for-bit deterministic per network.

This package imports neither ``sweep`` nor ``analysis``.
"""
from kernels import _cache  # noqa: F401  (must run before any @njit(cache=True) is defined)
from kernels.train import ARITHS, DTYPES, RULE_DEFAULTS, RULES, TrainResult, Trajectory, train

__all__ = ["ARITHS", "DTYPES", "RULE_DEFAULTS", "RULES", "TrainResult", "Trajectory", "train"]
