"""Numba kernels that train batches of XOR networks, bit-for-bit deterministic per network,
and the project's vocabulary (``xorsweep.kernels.vocab``).

This package imports neither ``xorsweep.sweep`` nor ``xorsweep.analysis``. Numba is
imported on first use of ``train``, so reading the vocabulary stays cheap; so are
``kernels.codes`` (Boolean functions of the hidden units) and ``kernels.outcomes`` (the
outcome / solution / label classifier with fixed class tables), pure numpy, shared by the
sweep engine and analysis.
"""
from xorsweep.kernels.vocab import ARITHS, DTYPES, GRADIENTS, RULE_DEFAULTS, RULE_PARTS, RULES, UPDATES

__all__ = ["ARITHS", "DTYPES", "GRADIENTS", "RULE_DEFAULTS", "RULE_PARTS", "RULES", "UPDATES", "TrainResult",
           "Trajectory", "train"]


def __getattr__(name):
    if name in ("train", "TrainResult", "Trajectory"):
        from xorsweep.kernels import batch

        globals().update(train=batch.train, TrainResult=batch.TrainResult, Trajectory=batch.Trajectory)
        return getattr(batch, name)
    raise AttributeError(f"module 'xorsweep.kernels' has no attribute {name!r}")
