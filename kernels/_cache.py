"""Point Numba's on-disk cache at a folder keyed by the kernels' own source.

Numba only checks the timestamp of the file that holds a cached function, not of the
files it calls into; keying the folder by a hash of every kernel source file makes a
stale cache impossible. A user-set ``NUMBA_CACHE_DIR`` is respected.
"""
import hashlib
import os
from pathlib import Path

import numba


def _source_digest() -> str:
    h = hashlib.sha256(numba.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


if not os.environ.get("NUMBA_CACHE_DIR"):
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "xorsweep" / "numba"
    numba.config.CACHE_DIR = str(base / _source_digest())
